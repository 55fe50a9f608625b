#!/usr/bin/env python3
"""python-snap7 2.1 (libsnap7) S7comm server used as the PLC in the otwatch captures.

    s7_server.py IP [PORT]

Registered areas (fixed contents so captures are deterministic):
  DB1  64 bytes  0x00,0x01,...,0x3f      DB2  32 bytes  "OTWATCH-DB2" padded with 0x20
  PE (inputs)  32 bytes 0xA0+i           PA (outputs) 32 bytes 0xB0+i
  MK (merkers) 32 bytes 0xC0+i           TM, CT       16 bytes zero
The SZL answers (module name, order code, ...) are libsnap7's built-in ones: the
server API has no way to change them.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from snap7.server import Server
from snap7.type import SrvArea, WordLen


def area(values: bytes):
    buf = (WordLen.Byte.ctype * len(values))()
    for i, b in enumerate(values):
        buf[i] = b
    return buf


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int, nargs="?", default=102)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)

    server = Server(log=True)
    keep = {
        "db1": area(bytes(range(64))),
        "db2": area(b"OTWATCH-DB2".ljust(32, b" ")),
        "pe": area(bytes(0xA0 + i for i in range(32))),
        "pa": area(bytes(0xB0 + i for i in range(32))),
        "mk": area(bytes(0xC0 + i for i in range(32))),
        "tm": area(bytes(16)),
        "ct": area(bytes(16)),
    }
    server.register_area(SrvArea.DB, 1, keep["db1"])
    server.register_area(SrvArea.DB, 2, keep["db2"])
    server.register_area(SrvArea.PE, 0, keep["pe"])
    server.register_area(SrvArea.PA, 0, keep["pa"])
    server.register_area(SrvArea.MK, 0, keep["mk"])
    server.register_area(SrvArea.TM, 0, keep["tm"])
    server.register_area(SrvArea.CT, 0, keep["ct"])
    server.start_to(args.ip, args.port)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.1)
    server.stop()
    server.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
