#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target from the project's own captures
(pcaps/*.pcap), rule files (rules/default) and the hand-made seeds in
fuzz/seeds/, in the input layouts the targets read (fuzz/src/lib.rs and each
target's doc). Deterministic: the same files give the same seeds.

    fuzz/make_seeds.py OUT_DIR
"""
import hashlib
import os
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTS = {502: "modbus", 102: "s7comm", 20000: "dnp3", 44818: "enip", 2404: "iec104"}
MAX_FRAMES = 400        # frames per pipeline seed
MAX_PER_TARGET = 400    # seed files per target


def packets(path):
    """(link type, frame bytes) of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        return
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    at = 24
    while at + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + incl]
        at += 16 + incl
        yield linktype, frame


def tcp_of(frame):
    """(src port, dst port, seq, ack, flags, payload) of an Ethernet/IPv4/TCP
    frame (VLAN tags skipped), else None."""
    at, ethertype = 12, frame[12:14]
    while ethertype in (b"\x81\x00", b"\x88\xa8", b"\x91\x00"):
        at += 4
        ethertype = frame[at:at + 2]
    ip = frame[at + 2:]
    if ethertype != b"\x08\x00" or len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl = (ip[0] & 15) * 4
    total = struct.unpack(">H", ip[2:4])[0]
    if ip[9] != 6:
        return None
    tcp = ip[ihl:total]
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack = struct.unpack(">HHII", tcp[:12])
    off = (tcp[12] >> 4) * 4
    return sport, dport, seq, ack, tcp[13], tcp[off:]


def chunk_records(pieces):
    """Stream-chunk layout: [dir bit | len][bytes], at most 127 bytes each."""
    out = bytearray()
    for to_server, payload in pieces:
        for i in range(0, len(payload), 127):
            part = payload[i:i + 127]
            out.append((0x80 if to_server else 0) | len(part))
            out += part
    return bytes(out)


def dnp3_user_data(payload):
    """Application fragments of single-frame DNP3 messages (CRCs removed,
    transport header skipped) found in a TCP payload."""
    at = 0
    while at + 10 <= len(payload):
        if payload[at:at + 2] != b"\x05\x64":
            at += 1
            continue
        n = max(payload[at + 2] - 5, 0)
        body, pos = bytearray(), at + 10
        while n > 0 and pos < len(payload):
            k = min(n, 16)
            body += payload[pos:pos + k]
            pos += k + 2
            n -= k
        at = pos
        if len(body) >= 2 and body[0] & 0xC0 == 0xC0:
            yield bytes(body[1:])


class Seeds:
    def __init__(self, out):
        self.out = out
        self.count = {}

    def add(self, target, data):
        if not data:
            return
        n = self.count.get(target, 0)
        if n >= MAX_PER_TARGET:
            return
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        self.count[target] = n + 1


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    seeds = Seeds(sys.argv[1])
    pcap_dir = os.path.join(ROOT, "pcaps")
    for name in sorted(os.listdir(pcap_dir)):
        if not name.endswith(".pcap"):
            continue
        path = os.path.join(pcap_dir, name)
        if os.path.getsize(path) < 64 * 1024:
            with open(path, "rb") as f:
                seeds.add("capture_file", f.read())
        frames = bytearray()
        streams = {}
        for i, (linktype, frame) in enumerate(packets(path)):
            if linktype != 1:
                continue
            if i < MAX_FRAMES:
                frames += struct.pack(">H", len(frame)) + frame
            if i < 64:
                seeds.add("wire_decode", b"\x00" + frame)
            t = tcp_of(frame)
            if t is None:
                continue
            sport, dport, seq, ack, flags, payload = t
            proto = PORTS.get(dport) or PORTS.get(sport)
            if proto is None:
                continue
            key = (proto, min(sport, dport), max(sport, dport))
            s = streams.setdefault(key, {"pieces": [], "segs": bytearray(), "base": None})
            if payload:
                s["pieces"].append((dport in PORTS, payload))
            if dport in PORTS:
                base = s["base"] = s["base"] if s["base"] is not None else seq
                rel = (seq - base) & 0xFFFFFFFF
                rec = bytes([(flags & 2 and 1) | (flags & 1 and 2) | (4 if flags & 16 else 0)])
                rec += struct.pack(">II", rel & 0xFFFF, ((ack - base) & 0xFFFF))
                rec += bytes([min(len(payload), 255)]) + payload[:255]
                s["segs"] += rec
            if proto == "modbus" and len(payload) > 7:
                seeds.add("modbus_pdu", bytes([0 if dport == 502 else 1]) + payload[7:])
            if proto == "s7comm" and len(payload) > 4:
                seeds.add("s7comm_pdu", b"\x00" + payload[4:])
                if len(payload) > 7 and payload[7] == 0x32:
                    seeds.add("s7comm_pdu", b"\x02" + payload[7:])
                if len(payload) > 7 and payload[7] == 0x72:
                    seeds.add("s7comm_pdu", b"\x03" + payload[7:])
            if proto == "dnp3":
                for fragment in dnp3_user_data(payload):
                    seeds.add("dnp3_app", fragment)
        if frames:
            seeds.add("pipeline", bytes(frames))
        for (proto, _, _), s in sorted(streams.items()):
            stream = chunk_records(s["pieces"])
            if proto in ("dnp3", "enip"):
                seeds.add(proto + "_stream", b"\x00" + stream)
            else:
                seeds.add(proto + "_stream", stream)
            seeds.add("tcp_reassembly", bytes(s["segs"]))
    rules = os.path.join(ROOT, "rules", "default")
    for name in sorted(os.listdir(rules)):
        if name.endswith(".yaml"):
            with open(os.path.join(rules, name), "rb") as f:
                seeds.add("rules_load", f.read())
    hand = os.path.join(ROOT, "fuzz", "seeds")
    for target in sorted(os.listdir(hand)):
        for name in sorted(os.listdir(os.path.join(hand, target))):
            with open(os.path.join(hand, target, name), "rb") as f:
                seeds.add(target, f.read())
    for target, n in sorted(seeds.count.items()):
        print(f"seeds: {target}: {n}")


if __name__ == "__main__":
    main()
