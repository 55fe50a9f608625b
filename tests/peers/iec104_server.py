#!/usr/bin/env python3
"""A c104 (lib60870) controlled station (RTU) for the otwatch IEC 60870-5-104 captures.

    iec104_server.py IP [PORT]

One station, common address 47, with the points of a small substation bay:

  monitoring                              control (each returns its state point)
  IOA 100  M_SP_NA_1  breaker Q0 closed    IOA 2100  C_SC_NA_1  breaker Q0 (select/execute)
  IOA 101  M_DP_TB_1  disconnector Q1      IOA 2101  C_DC_NA_1  disconnector Q1
  IOA 200  M_ME_NC_1  bus voltage (kV)     IOA 2200  C_SE_NC_1  voltage set point (kV)
  IOA 201  M_ME_NB_1  feeder current (A)   IOA 2201  C_SE_NB_1  current limit (A)
  IOA 202  M_ME_NA_1  load (normalised)
  IOA 300  M_ST_NA_1  tap position         IOA 2300  C_RC_NA_1  tap changer
  IOA 400  M_IT_NA_1  energy counter
  IOA 500  M_BO_NA_1  protection flags

Measured values are reported periodically (bus voltage every 1 s, current every 2 s) with
cause periodic. Commands are accepted and their state point is sent back spontaneously;
select-and-execute commands are checked by lib60870 itself. Clock synchronisation is
accepted. Runs until SIGTERM/SIGINT; prints "iec104 server: listening" once it listens.
"""

import argparse
import datetime
import signal
import sys
import threading

import c104

COMMON_ADDRESS = 47


def build(server: c104.Server) -> None:
    st = server.add_station(common_address=COMMON_ADDRESS)
    breaker = st.add_point(io_address=100, type=c104.Type.M_SP_NA_1)
    breaker.value = True
    disconnector = st.add_point(io_address=101, type=c104.Type.M_DP_TB_1)
    disconnector.value = c104.Double.ON
    voltage = st.add_point(io_address=200, type=c104.Type.M_ME_NC_1, report_ms=1000)
    voltage.value = 110.4
    current = st.add_point(io_address=201, type=c104.Type.M_ME_NB_1, report_ms=2000)
    current.value = c104.Int16(412)
    load = st.add_point(io_address=202, type=c104.Type.M_ME_NA_1)
    load.value = c104.NormalizedFloat(0.62)
    tap = st.add_point(io_address=300, type=c104.Type.M_ST_NA_1)
    tap.value = c104.Int7(5)
    energy = st.add_point(io_address=400, type=c104.Type.M_IT_NA_1)
    energy.value = 123456
    flags = st.add_point(io_address=500, type=c104.Type.M_BO_NA_1)
    flags.value = c104.Byte32(0x00000005)

    controls = [
        (2100, c104.Type.C_SC_NA_1, 100, c104.CommandMode.SELECT_AND_EXECUTE),
        (2101, c104.Type.C_DC_NA_1, 101, c104.CommandMode.DIRECT),
        (2200, c104.Type.C_SE_NC_1, 200, c104.CommandMode.DIRECT),
        (2201, c104.Type.C_SE_NB_1, 201, c104.CommandMode.DIRECT),
        (2300, c104.Type.C_RC_NA_1, 300, c104.CommandMode.DIRECT),
    ]
    for ioa, type_id, state, mode in controls:
        cmd = st.add_point(io_address=ioa, type=type_id, related_io_address=state,
                           related_io_autoreturn=True, command_mode=mode)
        cmd.on_receive(callable=on_command)


def on_command(point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage) -> c104.ResponseState:
    """Applies a command to its state point, which lib60870 then reports (autoreturn)."""
    state = point.station.get_point(io_address=point.related_io_address)
    if state is None:
        return c104.ResponseState.FAILURE
    if message.is_select_command:
        return c104.ResponseState.SUCCESS
    if point.type == c104.Type.C_RC_NA_1:
        step = point.value
        tap = int(state.value.value if hasattr(state.value, "value") else state.value)
        if step == c104.Step.HIGHER:
            tap += 1
        elif step == c104.Step.LOWER:
            tap -= 1
        else:
            return c104.ResponseState.FAILURE
        state.value = c104.Int7(max(-64, min(63, tap)))
    else:
        state.value = point.value
    return c104.ResponseState.SUCCESS

def on_clock_sync(server: c104.Server, ip: str, date_time: datetime.datetime) -> c104.ResponseState:
    # c104 checks a callback's parameter names and annotations against its own (so no
    # `from __future__ import annotations` in this file).
    return c104.ResponseState.SUCCESS


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ip")
    p.add_argument("port", nargs="?", type=int, default=2404)
    args = p.parse_args()

    server = c104.Server(ip=args.ip, port=args.port, tick_rate_ms=50, select_timeout_ms=5000)
    build(server)
    server.on_clock_sync(callable=on_clock_sync)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    if not server.is_running:
        print("iec104 server: could not start", file=sys.stderr)
        return 1
    print("iec104 server: listening", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
