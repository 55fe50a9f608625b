#!/usr/bin/env python3
"""dnp3py 0.6.0 DNP3 outstation (TCP/20000) used in the otwatch captures.

    dnp3_outstation.py IP [PORT]

Outstation address 1, master address 2. Points:
  binary inputs  0..3  class 1     binary outputs 0..3 (g10, status only)
  analog inputs  0..3  class 2     analog outputs 0..1 (g40, g41 commands)
  counters       0..1  class 3
Controls are accepted and turned into events, so event polls and unsolicited
responses carry data whose order follows the master's requests:
  CROB (g12v1) index i          -> binary output i latched/pulsed, binary input i
                                   toggled (class 1 event), counter 0 += 1 (class 3)
  analog output (g41) index i   -> analog input i = value (class 2 event)
Cold restart answers a 5000 ms delay, warm restart 1000 ms.

dnp3py's OutstationTcpRunner answers requests only; it never transmits the
unsolicited responses that Outstation.generate_unsolicited() builds.  This
script adds that: a task per connection polls generate_unsolicited() every
50 ms and frames the fragment with the connection's own transport segmenter
(shared with the runner) and dnp3py's data-link builder.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import dnp3.outstation.tcp_runner as tcp_runner_module
from dnp3.database import (
    AnalogInputConfig,
    AnalogOutputConfig,
    BinaryInputConfig,
    BinaryOutputConfig,
    CounterConfig,
    Database,
)
from dnp3.database.point import EventClass
from dnp3.datalink.builder import build_unconfirmed_user_data
from dnp3.outstation import Outstation, OutstationConfig, OutstationTcpRunner
from dnp3.outstation.handler import CommandResult, DefaultCommandHandler
from dnp3.transport.segmenter import Segmenter

OUTSTATION_ADDRESS = 1
MASTER_ADDRESS = 2

log = logging.getLogger("otw-outstation")


class Handler(DefaultCommandHandler):
    def __init__(self, db: Database):
        self.db = db
        self.controls = 0

    def _crob(self, index: int, code) -> CommandResult:
        if index not in self.db.binary_outputs:
            return CommandResult.out_of_range(f"no binary output {index}")
        self.db.update_binary_output(index, not self.db.binary_outputs[index].value)
        self.db.update_binary_input(index, not self.db.binary_inputs[index].value)
        self.controls += 1
        self.db.update_counter(0, self.controls)
        log.info("CROB index %d code %s", index, int(code))
        return CommandResult.success()

    def _analog(self, index: int, value: float) -> CommandResult:
        if index not in self.db.analog_outputs:
            return CommandResult.out_of_range(f"no analog output {index}")
        self.db.update_analog_input(index, value)
        log.info("AO index %d value %s", index, value)
        return CommandResult.success()

    def select_binary_output(self, index, code, count, on_time, off_time):
        if index not in self.db.binary_outputs:
            return CommandResult.out_of_range(f"no binary output {index}")
        return CommandResult.success()

    def operate_binary_output(self, index, code, count, on_time, off_time, select_sequence):
        return self._crob(index, code)

    def direct_operate_binary_output(self, index, code, count, on_time, off_time):
        return self._crob(index, code)

    def select_analog_output(self, index, value):
        if index not in self.db.analog_outputs:
            return CommandResult.out_of_range(f"no analog output {index}")
        return CommandResult.success()

    def operate_analog_output(self, index, value, select_sequence):
        return self._analog(index, value)

    def direct_operate_analog_output(self, index, value):
        return self._analog(index, value)

    def cold_restart(self):
        log.info("cold restart requested")
        return 5000

    def warm_restart(self):
        log.info("warm restart requested")
        return 1000


class LockedChannel:
    """Serialises writes of the runner and of the unsolicited task."""

    def __init__(self, channel):
        self._channel = channel
        self._lock = asyncio.Lock()

    async def read(self, n):
        return await self._channel.read(n)

    async def write_all(self, data):
        async with self._lock:
            await self._channel.write_all(data)

    async def close(self):
        await self._channel.close()


class UnsolicitedOutstationRunner(OutstationTcpRunner):
    async def _handle_connection(self, channel):
        segmenter = Segmenter()
        locked = LockedChannel(channel)
        original = tcp_runner_module.Segmenter
        # The base handler builds its segmenter before its first await: hand it ours.
        tcp_runner_module.Segmenter = lambda: segmenter
        try:
            handler = asyncio.ensure_future(super()._handle_connection(locked))
            await asyncio.sleep(0)
        finally:
            tcp_runner_module.Segmenter = original
        pump = asyncio.create_task(self._unsolicited_pump(locked, segmenter))
        try:
            await handler
        finally:
            pump.cancel()

    async def _unsolicited_pump(self, channel: LockedChannel, segmenter: Segmenter):
        while True:
            await asyncio.sleep(0.05)
            fragment = self.outstation.generate_unsolicited()
            if fragment is None:
                continue
            log.info("sending unsolicited response seq %d", fragment.sequence)
            for seg in segmenter.segment(fragment.to_bytes()):
                frame = build_unconfirmed_user_data(
                    destination=MASTER_ADDRESS,
                    source=OUTSTATION_ADDRESS,
                    dir_from_master=False,
                    user_data=seg.to_bytes(),
                )
                await channel.write_all(frame.to_bytes())


def build_database() -> Database:
    db = Database()
    for i in range(4):
        db.add_binary_input(i, BinaryInputConfig(event_class=EventClass.CLASS_1), value=(i % 2 == 0))
        db.add_binary_output(i, BinaryOutputConfig(event_class=EventClass.NONE))
        db.add_analog_input(i, AnalogInputConfig(event_class=EventClass.CLASS_2), value=100 * (i + 1))
    for i in range(2):
        db.add_analog_output(i, AnalogOutputConfig())
        db.add_counter(i, CounterConfig(event_class=EventClass.CLASS_3), value=0)
    return db


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int, nargs="?", default=20000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    db = build_database()
    outstation = Outstation(
        database=db,
        config=OutstationConfig(address=OUTSTATION_ADDRESS, master_address=MASTER_ADDRESS),
        handler=Handler(db),
    )
    runner = UnsolicitedOutstationRunner(outstation=outstation, host=args.ip, port=args.port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(runner.stop()))
    await runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
