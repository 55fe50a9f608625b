"""Counts the records and captured bytes of a pcap or pcapng file.

Used by scripts/bench to turn wall times into packets/s and Mbit/s with
numbers that come from the file itself rather than from either tool under
test. Standard library only; the file is memory-mapped and walked record by
record without copying packet data.
"""

import mmap
import struct

# Classic pcap magic numbers as read little-endian: microsecond and
# nanosecond resolution, native and swapped byte order.
PCAP_MAGICS = {
    0xA1B2C3D4: "<",
    0xA1B23C4D: "<",
    0xD4C3B2A1: ">",
    0x4D3CB2A1: ">",
}
# pcapng block types and the section header's byte-order magic.
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D
PCAPNG_EPB = 0x00000006
PCAPNG_SPB = 0x00000003
PCAPNG_OPB = 0x00000002


class PcapError(Exception):
    """The file is not a pcap or pcapng capture, or is cut short."""


def count(path):
    """Returns (records, captured_bytes, original_bytes) of a capture file."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 24:
            raise PcapError(f"{path}: {size} bytes, too short for a capture")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            (magic,) = struct.unpack_from("<I", m, 0)
            if magic in PCAP_MAGICS:
                return _count_pcap(m, PCAP_MAGICS[magic], path)
            if magic == PCAPNG_SHB:
                return _count_pcapng(m, path)
            raise PcapError(f"{path}: unknown magic 0x{magic:08x}")


def _count_pcap(m, endian, path):
    # Global header: magic, version (2+2), thiszone, sigfigs, snaplen,
    # linktype: 24 bytes. Record header: ts_sec, ts_frac, incl_len,
    # orig_len: 16 bytes, then incl_len bytes of packet.
    rec = struct.Struct(endian + "IIII")
    pos, end = 24, len(m)
    records = captured = original = 0
    while pos + 16 <= end:
        _, _, incl, orig = rec.unpack_from(m, pos)
        pos += 16 + incl
        if pos > end:
            raise PcapError(f"{path}: record {records + 1} is cut short")
        records += 1
        captured += incl
        original += orig
    if pos != end:
        raise PcapError(f"{path}: {end - pos} trailing bytes after the last record")
    return records, captured, original


def _count_pcapng(m, path):
    # Every block: type (4), total length (4), body, total length (4).
    # EPB body: interface id, timestamp high, timestamp low, captured
    # length, original length, then data. SPB body: original length, data
    # (captured length = block length - 16). The byte order is set by each
    # section header block.
    pos, end = 0, len(m)
    endian = "<"
    records = captured = original = 0
    while pos + 12 <= end:
        (btype,) = struct.unpack_from(endian + "I", m, pos)
        if btype == PCAPNG_SHB:
            (bom,) = struct.unpack_from("<I", m, pos + 8)
            endian = "<" if bom == PCAPNG_BOM else ">"
        (blen,) = struct.unpack_from(endian + "I", m, pos + 4)
        if blen < 12 or blen % 4 or pos + blen > end:
            raise PcapError(f"{path}: bad block length {blen} at offset {pos}")
        if btype in (PCAPNG_EPB, PCAPNG_OPB) and blen >= 32:
            incl, orig = struct.unpack_from(endian + "II", m, pos + 20)
            records += 1
            captured += incl
            original += orig
        elif btype == PCAPNG_SPB and blen >= 16:
            (orig,) = struct.unpack_from(endian + "I", m, pos + 8)
            records += 1
            captured += min(orig, blen - 16)
            original += orig
        pos += blen
    if pos != end:
        raise PcapError(f"{path}: {end - pos} trailing bytes after the last block")
    return records, captured, original
