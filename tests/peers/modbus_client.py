#!/usr/bin/env python3
"""pymodbus (3.16) Modbus/TCP client scenarios for the otwatch test captures.

    modbus_client.py SCENARIO SERVER_IP [PORT]

Scenarios (each one a fixed, deterministic sequence; every step checks that the
answer is a normal response or the expected exception, so a changed peer fails
the recording instead of silently changing the capture):

  polling          normal polling with every common public function code
  diagnostics      function 8 sub-functions 0, 1, 4, 10, 11..18 plus 11/12
  recon            device identification, report server id, function-code
                   scan (raw PDUs), holding-register address scan
  rogue-master     the legitimate master: reads only
  rogue-writer     an unlisted host writing (6, 16, 5, 15)
  umas             Schneider UMAS (function 90) requests as raw PDUs

Addresses in this file are the 0-based protocol addresses that go on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import struct
import sys

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU

UNIT = 1

# Function codes the pymodbus 3.16 server implements (modbus_server.py answers every
# other code 1..127 with exception 1 to that code).
PYMODBUS_FCS = (1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43)


class RawRequest(ModbusPDU):
    """A request PDU given as raw bytes (function code + data)."""

    def __init__(self, pdu: bytes, dev_id: int = UNIT, transaction_id: int = 0):
        super().__init__(dev_id=dev_id, transaction_id=transaction_id)
        self.function_code = pdu[0]
        self.payload = pdu[1:]

    def encode(self) -> bytes:
        return self.payload


class Session:
    def __init__(self, client: AsyncModbusTcpClient, name: str):
        self.client = client
        self.name = name
        self.log: list[str] = []

    async def ok(self, what: str, coro):
        rsp = await coro
        if rsp.isError():
            raise SystemExit(f"{self.name}: {what}: unexpected exception response {rsp}")
        self.log.append(f"{what}: ok")
        return rsp

    async def exc(self, what: str, coro, code: int):
        rsp = await coro
        if not rsp.isError() or rsp.exception_code != code:
            raise SystemExit(f"{self.name}: {what}: expected exception {code}, got {rsp}")
        self.log.append(f"{what}: exception {code}")
        return rsp

    async def raw(self, what: str, pdu: bytes, code: int | None):
        """Send a raw PDU; code=None accepts any answer."""
        rsp = await self.client.execute(False, RawRequest(pdu))
        if code is not None and (not rsp.isError() or rsp.exception_code != code):
            raise SystemExit(f"{self.name}: {what}: expected exception {code}, got {rsp}")
        self.log.append(f"{what}: {'exception %d' % rsp.exception_code if rsp.isError() else 'ok'}")
        return rsp


async def pause(seconds: float = 0.05):
    await asyncio.sleep(seconds)


# --------------------------------------------------------------------------- scenarios


async def identify(s: Session, read_codes=(1, 2)):
    c = s.client
    for code in read_codes:
        await s.ok(f"43/14 read device id code {code}", c.read_device_information(read_code=code, object_id=0))
    await s.ok("17 report server id", c.report_device_id())


async def polling_round(s: Session, r: int, with_exceptions: bool):
    c = s.client
    await s.ok("1 read coils", c.read_coils(0, count=16))
    await s.ok("2 read discrete inputs", c.read_discrete_inputs(0, count=16))
    await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))
    await s.ok("4 read input registers", c.read_input_registers(0, count=10))
    await s.ok("5 write single coil", c.write_coil(r, r % 2 == 0))
    await s.ok("6 write single register", c.write_register(10 + r, 500 + r))
    await s.ok("15 write multiple coils", c.write_coils(20, [True, False, True, True, False, False, True, r % 2 == 1]))
    await s.ok("16 write multiple registers", c.write_registers(30, [r, r + 1, r + 2]))
    await s.ok("22 mask write register", c.mask_write_register(address=40, and_mask=0x00F2, or_mask=0x0025))
    await s.ok("23 read/write multiple registers",
               c.readwrite_registers(read_address=0, read_count=4, write_address=50, values=[0x0100 + r, 0x0200 + r]))
    await s.ok("24 read fifo queue", c.read_fifo_queue(address=60))
    await s.ok("7 read exception status", c.read_exception_status())
    await s.ok("11 get comm event counter", c.diag_get_comm_event_counter())
    await s.ok("12 get comm event log", c.diag_get_comm_event_log())
    if with_exceptions:
        await s.exc("3 read holding registers out of range", c.read_holding_registers(500, count=2), 2)
        await s.exc("1 read coils out of range", c.read_coils(300, count=8), 2)
        await s.exc("6 write single register out of range", c.write_register(1000, 1), 2)


async def scenario_polling(s: Session):
    await identify(s, read_codes=(1, 2))
    for r in range(5):
        await polling_round(s, r, with_exceptions=(r % 2 == 1))
        await pause(0.2)
    await identify(s, read_codes=(1,))


async def scenario_diagnostics(s: Session):
    c = s.client
    await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))
    await s.ok("8/0 return query data", c.diag_query_data(b"\x12\x34\x56\x78"))
    await s.ok("8/1 restart communications", c.diag_restart_communication(False))
    await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))
    # Listen-only: per the spec the server must not answer; pymodbus does (it sets
    # the flag and returns an echo) - the client does not wait for it.
    await c.diag_force_listen_only(no_response_expected=True)
    s.log.append("8/4 force listen only mode: sent")
    await pause(0.3)
    await s.ok("8/1 restart communications (clear log)", c.diag_restart_communication(True))
    await s.ok("8/10 clear counters", c.diag_clear_counters())
    await s.ok("8/11 bus message count", c.diag_read_bus_message_count())
    await s.ok("8/12 bus comm error count", c.diag_read_bus_comm_error_count())
    await s.ok("8/13 bus exception error count", c.diag_read_bus_exception_error_count())
    await s.ok("8/14 server message count", c.diag_read_device_message_count())
    await s.ok("8/15 server no response count", c.diag_read_device_no_response_count())
    await s.ok("8/16 server NAK count", c.diag_read_device_nak_count())
    await s.ok("8/17 server busy count", c.diag_read_device_busy_count())
    await s.ok("8/18 bus character overrun count", c.diag_read_bus_char_overrun_count())
    await s.ok("11 get comm event counter", c.diag_get_comm_event_counter())
    await s.ok("12 get comm event log", c.diag_get_comm_event_log())
    await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))


async def scenario_recon(s: Session):
    c = s.client
    # Device identification: basic, regular, extended stream, then individual objects.
    for code in (1, 2, 3):
        await s.ok(f"43/14 read device id code {code}", c.read_device_information(read_code=code, object_id=0))
    for obj in range(0, 7):
        await s.ok(f"43/14 individual object {obj}", c.read_device_information(read_code=4, object_id=obj))
    await s.ok("17 report server id", c.report_device_id())
    # Function-code scan: every code 1..127 that the server does not implement.
    for fc in range(1, 128):
        if fc in PYMODBUS_FCS:
            continue
        await s.raw(f"fc scan {fc}", bytes([fc]) + b"\x00\x00\x00\x01", 1)
    # Address scan: holding registers 0, 50, 100, 150, ... 1950 (only 0 and 50 exist).
    for addr in range(0, 2000, 50):
        rsp = await c.read_holding_registers(addr, count=1)
        if addr < 100 and rsp.isError():
            raise SystemExit(f"address scan {addr}: unexpected {rsp}")
        if addr >= 100 and (not rsp.isError() or rsp.exception_code != 2):
            raise SystemExit(f"address scan {addr}: expected exception 2, got {rsp}")
        s.log.append(f"address scan {addr}: {'exception 2' if rsp.isError() else 'ok'}")


async def scenario_rogue_master(s: Session):
    c = s.client
    for _ in range(10):
        await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))
        await s.ok("4 read input registers", c.read_input_registers(0, count=10))
        await s.ok("1 read coils", c.read_coils(0, count=16))
        await s.ok("2 read discrete inputs", c.read_discrete_inputs(0, count=16))
        await pause(0.2)


async def scenario_rogue_writer(s: Session):
    c = s.client
    await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))
    await s.ok("6 write single register", c.write_register(5, 0xDEAD))
    await pause(0.2)
    await s.ok("16 write multiple registers", c.write_registers(10, [0xBAD0, 0xBAD1, 0xBAD2, 0xBAD3]))
    await pause(0.2)
    await s.ok("5 write single coil", c.write_coil(3, True))
    await pause(0.2)
    await s.ok("15 write multiple coils", c.write_coils(8, [True] * 8))
    await pause(0.2)
    await s.ok("6 write single register", c.write_register(6, 0xBEEF))


# Schneider UMAS (Modbus function 90 = 0x5A). PDU: 0x5A, session byte, UMAS code, data.
# Codes as commonly documented for Unity/EcoStruxure PLCs:
#   0x01 INIT_COMM, 0x02 READ_ID, 0x03 READ_PROJECT_INFO, 0x04 READ_PLC_INFO,
#   0x10 TAKE_PLC_RESERVATION, 0x11 RELEASE_PLC_RESERVATION, 0x12 KEEP_ALIVE,
#   0x20 READ_MEMORY_BLOCK, 0x22 READ_VARIABLES, 0x23 WRITE_VARIABLES,
#   0x30 INITIALIZE_UPLOAD, 0x31 UPLOAD_BLOCK, 0x32 END_STRATEGY_UPLOAD,
#   0x33 INITIALIZE_DOWNLOAD, 0x34 DOWNLOAD_BLOCK, 0x35 END_STRATEGY_DOWNLOAD,
#   0x40 START_PLC, 0x41 STOP_PLC, 0x58 CHECK_PLC, 0x70 READ_IO_OBJECT.
UMAS_SEQUENCE = [
    ("umas 0x01 init comm", b"\x5a\x00\x01\x00"),
    ("umas 0x02 read id", b"\x5a\x00\x02"),
    ("umas 0x03 read project info", b"\x5a\x00\x03\x00"),
    ("umas 0x04 read plc info", b"\x5a\x00\x04"),
    ("umas 0x10 take plc reservation", b"\x5a\x00\x10\x3b\x01\x00\x00" + b"OTWATCH-ROGUE"),
    ("umas 0x12 keep alive", b"\x5a\x01\x12"),
    ("umas 0x20 read memory block", b"\x5a\x01\x20\x01\x14\x00\x00\x00\x00\x00\x64\x00"),
    ("umas 0x22 read variables", b"\x5a\x01\x22\x00\x01\x01\x01\x00\x00\x00\x00\x00"),
    ("umas 0x30 initialize upload", b"\x5a\x01\x30\x00\x00"),
    ("umas 0x31 upload block", b"\x5a\x01\x31\x00\x00\x01\x00\xfb\x03"),
    ("umas 0x32 end strategy upload", b"\x5a\x01\x32\x00\x00"),
    ("umas 0x33 initialize download", b"\x5a\x01\x33\x00\x00"),
    ("umas 0x34 download block", b"\x5a\x01\x34\x00\x00\x01\x00\x04\x00\xde\xad\xbe\xef"),
    ("umas 0x35 end strategy download", b"\x5a\x01\x35\x00\x00"),
    ("umas 0x41 stop plc", b"\x5a\x01\x41\xff\x00"),
    ("umas 0x40 start plc", b"\x5a\x01\x40\xff\x00"),
    ("umas 0x58 check plc", b"\x5a\x01\x58"),
    ("umas 0x11 release plc reservation", b"\x5a\x01\x11"),
]


async def scenario_umas(s: Session):
    c = s.client
    await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))
    for what, pdu in UMAS_SEQUENCE:
        await s.raw(what, pdu, 1)
        await pause(0.05)
    await s.ok("3 read holding registers", c.read_holding_registers(0, count=10))


SCENARIOS = {
    "polling": scenario_polling,
    "diagnostics": scenario_diagnostics,
    "recon": scenario_recon,
    "rogue-master": scenario_rogue_master,
    "rogue-writer": scenario_rogue_writer,
    "umas": scenario_umas,
}


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("host")
    ap.add_argument("port", type=int, nargs="?", default=502)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    client = AsyncModbusTcpClient(args.host, port=args.port, timeout=2, retries=0)
    if not await client.connect():
        print(f"cannot connect to {args.host}:{args.port}", file=sys.stderr)
        return 1
    s = Session(client, args.scenario)
    try:
        await SCENARIOS[args.scenario](s)
    finally:
        client.close()
    await asyncio.sleep(0.1)
    if args.verbose:
        print("\n".join(s.log))
    print(f"modbus {args.scenario}: {len(s.log)} steps ok")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
