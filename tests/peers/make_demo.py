#!/usr/bin/env python3
"""Builds pcaps/demo.pcap, the capture `otwatch run` replays by default.

It joins the real-peer captures of this folder into one plant: the Modbus
PLC keeps 10.200.7.10, the S7 PLC becomes 10.200.7.11 and the DNP3
outstation 10.200.7.12 (addresses rewritten in IPv4 and ARP headers, IPv4
and TCP checksums adjusted incrementally per RFC 1624), then merges them in
time order with mergecap. The XSS capture is left out: it is for UI tests.

    python3 tests/peers/make_demo.py     (needs mergecap, from wireshark-common)
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.join(HERE, "..", "..", "pcaps")
PLC = bytes([10, 200, 7, 10])
PLAN = [
    ("modbus_pymodbus_polling.pcap", PLC),
    ("modbus_attack_recon.pcap", PLC),
    ("modbus_attack_diagnostics.pcap", PLC),
    ("modbus_attack_rogue_write.pcap", PLC),
    ("modbus_attack_umas.pcap", PLC),
    ("s7comm_snap7.pcap", bytes([10, 200, 7, 11])),
    ("s7comm_attack_stop_start.pcap", bytes([10, 200, 7, 11])),
    ("dnp3_dnp3py.pcap", bytes([10, 200, 7, 12])),
    ("dnp3_attack_restart.pcap", bytes([10, 200, 7, 12])),
]


def fold(x):
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return x


def adjust(checksum, old, new):
    """RFC 1624 incremental update of a one's-complement checksum."""
    total = (~checksum & 0xFFFF)
    for i in range(0, len(old), 2):
        total += (~struct.unpack("!H", old[i:i + 2])[0] & 0xFFFF)
        total += struct.unpack("!H", new[i:i + 2])[0]
    return ~fold(total) & 0xFFFF


def rewrite_frame(frame, new_ip):
    frame = bytearray(frame)
    if len(frame) < 14:
        return bytes(frame)
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x0806 and len(frame) >= 42:  # ARP sender and target IP
        for at in (28, 38):
            if frame[at:at + 4] == PLC:
                frame[at:at + 4] = new_ip
        return bytes(frame)
    if ethertype != 0x0800 or len(frame) < 34:
        return bytes(frame)
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    for at in (26, 30):
        if frame[at:at + 4] != PLC:
            continue
        old = bytes(frame[at:at + 4])
        frame[at:at + 4] = new_ip
        ip_sum = struct.unpack("!H", frame[24:26])[0]
        frame[24:26] = struct.pack("!H", adjust(ip_sum, old, new_ip))
        l4 = 14 + ihl
        sum_at = {6: l4 + 16, 17: l4 + 6}.get(proto)
        if sum_at is not None and len(frame) >= sum_at + 2:
            l4_sum = struct.unpack("!H", frame[sum_at:sum_at + 2])[0]
            if not (proto == 17 and l4_sum == 0):
                frame[sum_at:sum_at + 2] = struct.pack("!H", adjust(l4_sum, old, new_ip))
    return bytes(frame)


def rewrite(src, dst, new_ip):
    data = open(src, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic != 0xA1B2C3D4:
        sys.exit(f"{src}: expected a little-endian microsecond pcap")
    out = bytearray(data[:24])
    pos = 24
    while pos + 16 <= len(data):
        ts_sec, ts_usec, caplen, origlen = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + caplen]
        if new_ip != PLC:
            frame = rewrite_frame(frame, new_ip)
        out += struct.pack("<IIII", ts_sec, ts_usec, len(frame), origlen) + frame
        pos += 16 + caplen
    open(dst, "wb").write(out)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        for name, ip in PLAN:
            dst = os.path.join(tmp, name)
            rewrite(os.path.join(PCAPS, name), dst, ip)
            parts.append(dst)
        target = os.path.join(PCAPS, "demo.pcap")
        subprocess.run(["mergecap", "-F", "pcap", "-w", target, *parts], check=True)
        print("wrote", os.path.normpath(target))


if __name__ == "__main__":
    main()
