#!/usr/bin/env python3
"""python-snap7 2.1 (libsnap7) S7comm client scenarios for the otwatch captures.

    s7_client.py SCENARIO SERVER_IP [PORT]

  normal      connect (COTP CR/CC, setup communication), CPU state, SZL reads,
              block listing, then 3 polling rounds of DB/PE/PA/MK reads and a DB write
  stop-start  connect, CPU state, PLC STOP, state, hot start (warm restart), cold
              start, session password set/clear, block delete, block upload
              (start upload) and block download (request download); the snap7
              server refuses upload and download ("not authorized"): the requests
              and the refusals are on the wire all the same.
Rack 0, slot 1 (destination TSAP 0x0101); each step is fixed, in a fixed order.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time

import snap7
from snap7.type import Area, Block


def step(log: list[str], what: str, fn, *args, expect_error: bool = False):
    try:
        result = fn(*args)
    except RuntimeError as exc:
        if not expect_error:
            raise SystemExit(f"{what}: unexpected error {exc!r}")
        log.append(f"{what}: refused ({exc})")
        return None
    if expect_error:
        raise SystemExit(f"{what}: expected a refusal, got {result!r}")
    if isinstance(result, int) and result != 0:
        raise SystemExit(f"{what}: error code {result:#x}")
    log.append(f"{what}: ok")
    return result


def mc7_block(number: int) -> bytearray:
    """A small but well-formed MC7 DB image (header, body, footer) for download."""
    body = bytes(range(16))
    total = 36 + len(body) + 56
    header = struct.pack(">HBBBBHI", 0x7070, 0x01, 0x01, 0x05, 0x0A, number, total)
    header += bytes(16)  # security, code/interface timestamps
    header += struct.pack(">HHHH", 20, 0, 0, len(body))
    footer = b"OTWATCH".ljust(56, b"\0")
    return bytearray(header + body + footer)


def scenario_normal(c: snap7.client.Client, log: list[str]):
    state = step(log, "SZL 0x0424 cpu state", c.get_cpu_state)
    if state != "S7CpuStatusRun":
        raise SystemExit(f"cpu state {state}")
    step(log, "SZL 0x0011 read", c.read_szl, 0x0011, 0)
    step(log, "SZL 0x001C read", c.read_szl, 0x001C, 0)
    info = step(log, "cpu info (SZL 0x001C)", c.get_cpu_info)
    step(log, "order code (SZL 0x0011)", c.get_order_code)
    step(log, "list blocks", c.list_blocks)
    step(log, "list blocks of type DB", c.list_blocks_of_type, Block.DB, 16)
    step(log, "block info DB1", c.get_block_info, Block.DB, 1)
    for r in range(3):
        data = step(log, "read DB1.0 16 bytes", c.db_read, 1, 0, 16)
        if bytes(data) != bytes(range(16)):
            raise SystemExit(f"DB1 contents {bytes(data)!r}")
        step(log, "write DB1.16 4 bytes", c.db_write, 1, 16, bytearray([0xA5, r, 0x5A, r]))
        step(log, "read DB2.0 32 bytes", c.db_read, 2, 0, 32)
        step(log, "read inputs (PE) 0..7", c.read_area, Area.PE, 0, 0, 8)
        step(log, "read outputs (PA) 0..7", c.read_area, Area.PA, 0, 0, 8)
        step(log, "read merkers (MK) 0..7", c.read_area, Area.MK, 0, 0, 8)
        time.sleep(0.2)
    step(log, "SZL 0x0424 cpu state", c.get_cpu_state)
    log.append(f"module: {info.ModuleTypeName!r}")


def scenario_stop_start(c: snap7.client.Client, log: list[str]):
    step(log, "SZL 0x0424 cpu state", c.get_cpu_state)
    step(log, "read DB1.0 8 bytes", c.db_read, 1, 0, 8)
    step(log, "PLC stop", c.plc_stop)
    if step(log, "SZL 0x0424 cpu state", c.get_cpu_state) != "S7CpuStatusStop":
        raise SystemExit("PLC did not stop")
    step(log, "PLC hot start", c.plc_hot_start)
    step(log, "SZL 0x0424 cpu state", c.get_cpu_state)
    step(log, "PLC stop", c.plc_stop)
    step(log, "PLC cold start", c.plc_cold_start)
    step(log, "SZL 0x0424 cpu state", c.get_cpu_state)
    step(log, "set session password", c.set_session_password, "otwatch")
    step(log, "delete block DB2", c.delete, Block.DB, 2)
    step(log, "upload DB1", c.upload, 1, expect_error=True)
    step(log, "full upload DB1", c.full_upload, Block.DB, 1, expect_error=True)
    step(log, "download DB3", c.download, mc7_block(3), 3, expect_error=True)
    step(log, "clear session password", c.clear_session_password)
    step(log, "read DB1.0 8 bytes", c.db_read, 1, 0, 8)


SCENARIOS = {"normal": scenario_normal, "stop-start": scenario_stop_start}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("host")
    ap.add_argument("port", type=int, nargs="?", default=102)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    c = snap7.client.Client()
    c.connect(args.host, 0, 1, args.port)
    log: list[str] = [f"connect: pdu length {c.get_pdu_length()}"]
    try:
        SCENARIOS[args.scenario](c, log)
    finally:
        c.disconnect()
        c.destroy()
    if args.verbose:
        print("\n".join(log))
    print(f"s7 {args.scenario}: {len(log)} steps ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
