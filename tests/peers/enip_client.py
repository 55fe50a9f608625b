#!/usr/bin/env python3
"""pycomm3 (1.2) Logix client scenarios for the otwatch EtherNet/IP + CIP captures.

    enip_client.py SCENARIO SERVER_IP [PORT] [--polls N] [--interval S]

Scenarios (fixed sequences; every step checks the answer, so a changed peer fails the
recording instead of silently changing the capture):

  session  an engineering/HMI session with reads and writes, one TCP connection:
           RegisterSession; ListIdentity; Get_Attributes_All on the Identity object
           (class 1 instance 1, in an Unconnected Send); Large Forward Open (0x5B);
           Get_Attributes_All class 0x64 instance 1 (pycomm3's program-name request);
           Get_Attribute_Single class 1 instance 1 attribute 7 (product name, unconnected);
           connected reads (Read Tag 0x4c) of every tag one by one, then all in one
           Multiple Service Packet (0x0a); writes (Write Tag 0x4d) of several values one by
           one, one array element, then two tags in one Multiple Service Packet; every tag
           read back and compared; Forward Close (0x4e); UnRegisterSession.
  poller   a read-only HMI poller: RegisterSession, ListIdentity, Get_Attributes_All
           (identity), standard Forward Open (0x54, 500-byte connection), program name,
           then N polls (default 30, every 0.1 s) of one Multiple Service Packet reading
           Motor_Speed, Tank_Level{10}, Batch_Count and Pump_Run; Forward Close;
           UnRegisterSession. No write at all.

The tags are those of enip_server.py (cpppo). pycomm3's LogixDriver normally uploads the
tag list with Get_Instance_Attribute_List (0x55) on the Symbol class 0x6B, which cpppo does
not implement (its parser rejects the request and closes the session), so the driver is
opened with init_tags=False and given the tag definitions as a controller's Symbol objects
would describe them (symbol type word: atomic type code, array dimension bits), built by
pycomm3's own tag-definition code. pycomm3 picks the Forward Open connection serial and
originator serial at random on open(); they are fixed here to keep captures repeatable.
pycomm3 1.2.16 sends a single-tag Write Tag twice in one SendUnitData item (it builds the
message twice); cpppo rejects the trailing copy and ends the session, so Client keeps the
first build (see Client._write_build_single_request). Nothing else of pycomm3 is changed.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time

from pycomm3 import CIPDriver, LogixDriver
from pycomm3.cip import SHORT_STRING
from pycomm3.const import BASE_TAG_BIT
from pycomm3.packets import WriteTagRequestPacket

# Logix atomic type codes (CIP elementary data types).
BOOL, SINT, INT, DINT, REAL = 0xC1, 0xC2, 0xC3, 0xC4, 0xCA

# name -> (type code, array length or 0), as served by enip_server.py.
TAG_TYPES = {
    "Motor_Speed": (REAL, 0),
    "Tank_Level": (INT, 10),
    "Batch_Count": (DINT, 0),
    "Pump_Run": (BOOL, 0),
    "Valve_Open": (SINT, 0),
}

# enip_server.py's start values.
START = {
    "Motor_Speed": 1450.5,
    "Tank_Level": [100 + 10 * i for i in range(10)],
    "Batch_Count": 40213,
    "Pump_Run": True,
    "Valve_Open": 0,
}

ALL_TAGS = ("Motor_Speed", "Tank_Level{10}", "Batch_Count", "Pump_Run", "Valve_Open")
POLL_TAGS = ("Motor_Speed", "Tank_Level{10}", "Batch_Count", "Pump_Run")


def symbol_entries() -> dict[str, dict]:
    """Symbol-object attributes of each tag, as a tag-list upload would return them."""
    entries = {}
    for instance, (name, (code, length)) in enumerate(TAG_TYPES.items(), start=1):
        symbol_type = code | ((1 << 13) if length else 0)
        entries[name] = {
            "instance_id": instance,
            "symbol_type": symbol_type,
            "symbol_address": 0,
            "symbol_object_address": 0,
            "software_control": BASE_TAG_BIT,
            "external_access": "Read/Write",
            "dimensions": [length, 0, 0],
        }
    return entries


class Client(LogixDriver):
    """LogixDriver with tag definitions given up front and fixed connection serials."""

    def __init__(self, path: str, *, extended_forward_open: bool, serial: bytes):
        super().__init__(path, init_tags=False, init_program_tags=False)
        self._cfg["extended forward open"] = extended_forward_open
        if not extended_forward_open:
            self._cfg["connection_size"] = 500
        self._serial = serial

    def open(self):
        if not CIPDriver.open(self):
            return False
        self._cfg["cid"] = self._serial
        self._cfg["vsn"] = self._serial[::-1]
        self._initialize_driver(**self._init_args)
        self._tags = {name: self._create_tag(name, raw) for name, raw in symbol_entries().items()}
        return True

    def _write_build_single_request(self, parsed_tag):
        # pycomm3 1.2.16 builds a single (non-fragmented) Write Tag message once to measure it,
        # then clears its "built" flag, so sending builds it again and appends a second copy:
        # the SendUnitData item carries sequence count + Write Tag twice. Keep the first build.
        request = super()._write_build_single_request(parsed_tag)
        if type(request) is WriteTagRequestPacket:
            request._msg_setup = True
        return request


class Session:
    def __init__(self, plc: Client, name: str):
        self.plc = plc
        self.name = name
        self.log: list[str] = []

    def fail(self, what: str, detail) -> None:
        raise SystemExit(f"{self.name}: {what}: {detail}")

    def read(self, what: str, *tags: str, expect: dict | None = None):
        result = self.plc.read(*tags)
        results = result if isinstance(result, list) else [result]
        for tag in results:
            if tag.error:
                self.fail(what, f"{tag.tag}: {tag.error}")
            if expect is not None:
                want = expect[tag.tag.split("{")[0]]
                if not same(tag.value, want):
                    self.fail(what, f"{tag.tag} = {tag.value!r}, expected {want!r}")
        self.log.append(f"{what}: " + ", ".join(f"{t.tag}={t.value!r}" for t in results))
        return results

    def write(self, what: str, *pairs: tuple[str, object]):
        result = self.plc.write(*pairs)
        results = result if isinstance(result, list) else [result]
        for tag in results:
            if tag.error:
                self.fail(what, f"{tag.tag}: {tag.error}")
        self.log.append(f"{what}: ok")

    def generic(self, what: str, **kwargs):
        tag = self.plc.generic_message(name=what, **kwargs)
        if not tag:
            self.fail(what, tag.error)
        self.log.append(f"{what}: {tag.value!r}")
        return tag.value


def same(got, want) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(same, got, want))
    if isinstance(want, float):
        return isinstance(got, float) and math.isclose(got, want, rel_tol=1e-6)
    return got == want


def opened(s: Session) -> None:
    """What LogixDriver.open() learnt (ListIdentity, Get_Attributes_All, program name)."""
    info = s.plc.info
    if info.get("product_name") != "1756-L61/B LOGIX5561" or info.get("vendor") is None:
        s.fail("identity", info)
    s.log.append(
        f"identity: vendor {info['vendor']!r}, {info['product_type']!r}, product code "
        f"{info['product_code']}, revision {info['revision']}, serial {info['serial']}, "
        f"{info['product_name']!r}, name {info.get('name')!r}"
    )


def scenario_session(s: Session, args) -> None:
    opened(s)
    name = s.generic(
        "Get_Attribute_Single identity product name",
        service=0x0E, class_code=0x01, instance=0x01, attribute=0x07,
        data_type=SHORT_STRING, connected=False, unconnected_send=True,
    )
    if name != "1756-L61/B LOGIX5561":
        s.fail("product name", name)
    state = dict(START)
    for tag in ALL_TAGS:
        s.read(f"read {tag}", tag, expect=state)
    s.read("read all (multiple service packet)", *ALL_TAGS, expect=state)

    state["Motor_Speed"] = 1500.25
    s.write("write Motor_Speed", ("Motor_Speed", 1500.25))
    state["Tank_Level"] = [500 + i for i in range(10)]
    s.write("write Tank_Level{10}", ("Tank_Level{10}", state["Tank_Level"]))
    state["Batch_Count"] = 40214
    s.write("write Batch_Count", ("Batch_Count", 40214))
    state["Pump_Run"] = False
    s.write("write Pump_Run", ("Pump_Run", False))
    state["Valve_Open"] = 1
    s.write("write Valve_Open", ("Valve_Open", 1))
    state["Tank_Level"][3] = 777
    s.write("write Tank_Level[3]", ("Tank_Level[3]", 777))
    s.read("read back Tank_Level[3]", "Tank_Level[3]", expect={"Tank_Level[3]": 777})
    state["Motor_Speed"] = 1725.5
    state["Batch_Count"] = 40215
    s.write("write Motor_Speed + Batch_Count (multiple service packet)",
            ("Motor_Speed", 1725.5), ("Batch_Count", 40215))
    for tag in ALL_TAGS:
        s.read(f"read back {tag}", tag, expect=state)
    s.read("read back all (multiple service packet)", *ALL_TAGS, expect=state)



def scenario_poller(s: Session, args) -> None:
    opened(s)
    for i in range(args.polls):
        s.read(f"poll {i + 1}", *POLL_TAGS, expect=START)
        time.sleep(args.interval)


SCENARIOS = {
    # scenario -> (function, Large Forward Open?, connection serial)
    "session": (scenario_session, True, b"\x01\x4c\x4d\x5b"),
    "poller": (scenario_poller, False, b"\x02\x4c\x0a\x54"),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("host")
    ap.add_argument("port", type=int, nargs="?", default=44818)
    ap.add_argument("--polls", type=int, default=30)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    fn, extended, serial = SCENARIOS[args.scenario]
    plc = Client(f"{args.host}:{args.port}", extended_forward_open=extended, serial=serial)
    plc.socket_timeout = 3.0
    if not plc.open():
        print(f"cannot open a session with {args.host}:{args.port}", file=sys.stderr)
        return 1
    s = Session(plc, args.scenario)
    try:
        fn(s, args)
    finally:
        plc.close()
    if args.verbose:
        print("\n".join(s.log))
    print(f"enip {args.scenario}: {len(s.log)} steps ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
