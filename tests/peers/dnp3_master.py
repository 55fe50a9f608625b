#!/usr/bin/env python3
"""dnp3py 0.6.0 DNP3 master scenarios for the otwatch captures.

    dnp3_master.py SCENARIO OUTSTATION_IP [PORT]

Master address 2, outstation address 1. Every request goes through dnp3py's
MasterTcpRunner (data link framing with CRCs, transport segmentation, application
CONFIRMs); requests dnp3py has no helper for are built with dnp3py's own
RequestHeader/ObjectHeader/ObjectBlock types and sent with runner.request().

  normal   link reset, integrity poll, clear IIN1.7 (WRITE g80v1), time sync
           (DELAY_MEASURE + WRITE g50v1; RECORD_CURRENT_TIME + WRITE g50v3),
           SELECT/OPERATE CROB, DIRECT_OPERATE CROB, DIRECT_OPERATE g41,
           class 1/2/3 event polls, ENABLE_UNSOLICITED, controls that make the
           outstation send unsolicited responses (confirmed by the master),
           class 1/2/3 poll, integrity poll
  restart  link reset, integrity poll, COLD_RESTART (13), WARM_RESTART (14),
           DISABLE_UNSOLICITED (21), STOP_APPLICATION (18), INITIALIZE_DATA (15),
           START_APPLICATION (17), integrity poll
The time written is fixed (2026-01-01T00:00:00Z) so the capture does not depend
on the clock (event timestamps from the outstation still do).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime

from dnp3.application.fragment import ObjectBlock, RequestFragment
from dnp3.application.header import RequestHeader
from dnp3.application.qualifiers import ObjectHeader
from dnp3.core.enums import FunctionCode
from dnp3.core.flags import IIN
from dnp3.core.timestamp import DNP3Timestamp
from dnp3.master import (
    CommandBuilder,
    DefaultSOEHandler,
    Master,
    MasterConfig,
    MasterTcpRunner,
)

FIXED_TIME = DNP3Timestamp.from_datetime(datetime(2026, 1, 1, tzinfo=UTC))


class Script:
    def __init__(self, runner: MasterTcpRunner, master: Master):
        self.runner = runner
        self.master = master
        self.log: list[str] = []

    def _check(self, what: str, infos, *, must_have: IIN = IIN(0), must_not: IIN = IIN(0)):
        iin = IIN(0)
        for info in infos:
            iin |= info.iin
        if must_have and not (iin & must_have):
            raise SystemExit(f"{what}: expected IIN {must_have!r}, got {iin!r}")
        bad = iin & (must_not | IIN.OBJECT_UNKNOWN | IIN.PARAMETER_ERROR)
        if bad:
            raise SystemExit(f"{what}: unexpected IIN {bad!r}")
        self.log.append(f"{what}: {len(infos)} fragment(s), IIN {int(iin):#06x}")
        return infos

    def _request(self, function: FunctionCode, objects=()) -> RequestFragment:
        seq = self.master.next_request_sequence()
        return RequestFragment(header=RequestHeader.build(function=function, seq=seq), objects=tuple(objects))

    async def raw(self, what: str, function: FunctionCode, objects=(), **check):
        return self._check(what, await self.runner.request(self._request(function, objects)), **check)

    async def integrity(self):
        return self._check("READ integrity poll (class 1,2,3,0)", await self.runner.integrity_poll())

    async def class_poll(self, c1: bool, c2: bool, c3: bool):
        name = "/".join(str(n) for n, on in ((1, c1), (2, c2), (3, c3)) if on)
        infos = await self.runner.class_poll(class_1=c1, class_2=c2, class_3=c3)
        return self._check(f"READ class {name} events", infos)

    async def clear_restart(self):
        block = ObjectBlock(header=ObjectHeader(group=80, variation=1, qualifier=0x00), data=bytes([7, 7, 0x00]))
        return await self.raw("WRITE g80v1 clear IIN1.7 device restart", FunctionCode.WRITE, [block])

    async def time_sync(self):
        await self.raw("DELAY_MEASURE", FunctionCode.DELAY_MEASURE)
        g50v1 = ObjectBlock(header=ObjectHeader(group=50, variation=1, qualifier=0x07),
                            data=bytes([1]) + FIXED_TIME.to_bytes())
        await self.raw("WRITE g50v1 absolute time", FunctionCode.WRITE, [g50v1])
        await self.raw("RECORD_CURRENT_TIME", FunctionCode.RECORD_CURRENT_TIME)
        g50v3 = ObjectBlock(header=ObjectHeader(group=50, variation=3, qualifier=0x07),
                            data=bytes([1]) + FIXED_TIME.to_bytes())
        await self.raw("WRITE g50v3 last recorded time", FunctionCode.WRITE, [g50v3])

    async def select_operate(self, builder: CommandBuilder, what: str):
        seq_infos = await self.runner.request(self.master.build_select(builder.build_select()))
        self._check(f"SELECT {what}", seq_infos)
        return self._check(f"OPERATE {what}", await self.runner.request(self.master.build_operate(builder.build_operate())))

    async def direct_operate(self, builder: CommandBuilder, what: str):
        request = self.master.build_direct_operate(builder.build_direct_operate())
        return self._check(f"DIRECT_OPERATE {what}", await self.runner.request(request))

    async def expect_unsolicited(self, what: str):
        info = await self.runner.listen_unsolicited(timeout=3.0)
        if info is None:
            raise SystemExit(f"{what}: no unsolicited response")
        self.log.append(f"unsolicited response {what}: seq {info.sequence}, confirmed")


async def scenario_normal(s: Script):
    await s.integrity()
    await s.clear_restart()
    await s.time_sync()
    await s.select_operate(CommandBuilder().latch_on(0), "CROB g12v1 index 0 LATCH_ON")
    await s.direct_operate(CommandBuilder().pulse_on(1, on_time=500), "CROB g12v1 index 1 PULSE_ON")
    await s.direct_operate(CommandBuilder().add_analog(0, 1234.0), "g41 analog output index 0 = 1234")
    await s.select_operate(CommandBuilder().add_analog(1, 42.0), "g41 analog output index 1 = 42")
    await s.class_poll(True, False, False)
    await s.class_poll(False, True, False)
    await s.class_poll(False, False, True)
    await s.raw("ENABLE_UNSOLICITED class 1,2,3", FunctionCode.ENABLE_UNSOLICITED,
                [ObjectBlock(header=ObjectHeader(group=60, variation=v, qualifier=0x06)) for v in (2, 3, 4)])
    await s.direct_operate(CommandBuilder().latch_off(0), "CROB g12v1 index 0 LATCH_OFF")
    await s.expect_unsolicited("after CROB index 0")
    await s.direct_operate(CommandBuilder().add_analog(0, 2345.0), "g41 analog output index 0 = 2345")
    await s.expect_unsolicited("after g41 index 0")
    await s.class_poll(True, True, True)
    await s.integrity()


async def scenario_restart(s: Script):
    await s.integrity()
    await s.clear_restart()
    await s.raw("COLD_RESTART", FunctionCode.COLD_RESTART)
    await s.raw("WARM_RESTART", FunctionCode.WARM_RESTART)
    await s.raw("DISABLE_UNSOLICITED class 1,2,3", FunctionCode.DISABLE_UNSOLICITED,
                [ObjectBlock(header=ObjectHeader(group=60, variation=v, qualifier=0x06)) for v in (2, 3, 4)])
    await s.raw("STOP_APPLICATION", FunctionCode.STOP_APPLICATION, must_have=IIN.NO_FUNC_CODE_SUPPORT)
    await s.raw("INITIALIZE_DATA", FunctionCode.INITIALIZE_DATA, must_have=IIN.NO_FUNC_CODE_SUPPORT)
    await s.raw("START_APPLICATION", FunctionCode.START_APPLICATION, must_have=IIN.NO_FUNC_CODE_SUPPORT)
    await s.integrity()


SCENARIOS = {"normal": scenario_normal, "restart": scenario_restart}


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("host")
    ap.add_argument("port", type=int, nargs="?", default=20000)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    master = Master(handler=DefaultSOEHandler(), config=MasterConfig(address=2, outstation_address=1))
    async with MasterTcpRunner(master=master, host=args.host, port=args.port, response_timeout=5.0) as runner:
        s = Script(runner, master)
        await SCENARIOS[args.scenario](s)
    if args.verbose:
        print("\n".join(s.log))
    print(f"dnp3 {args.scenario}: {len(s.log)} steps ok")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
