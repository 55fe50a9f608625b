#!/usr/bin/env python3
"""cpppo (5.2) simulated Logix controller: the EtherNet/IP + CIP server of the otwatch captures.

    enip_server.py IP [PORT]

Runs cpppo's own server, `python -m cpppo.server.enip` (its `main()`), on IP:PORT over TCP
and UDP (default 44818), with these controller-scoped tags (Logix type, start value):

  Motor_Speed   REAL       1450.5
  Tank_Level    INT[10]    100, 110, ..., 190
  Batch_Count   DINT       40213
  Pump_Run      BOOL       1
  Valve_Open    SINT       0

The Identity object (class 1 instance 1) is cpppo's built-in one, as no config file is
read (`--no-config`): vendor 1 (Rockwell Automation/Allen-Bradley), device type 0x0e
(Programmable Logic Controller), product code 0x36 (54), revision 20.11, status 0x3160,
serial 0x006c061a, product name "1756-L61/B LOGIX5561", state 0xff.

Determinism: cpppo draws session handles and Forward Open connection ids from Python's
`random` module, which is seeded with a fixed value here, so one server run with the same
client sequence hands out the same handles and ids every time. The start values are given
through cpppo's `attribute_class` hook (cpppo's command line has no syntax for them).
"""

from __future__ import annotations

import argparse
import random
import sys

from cpppo.server.enip import device
from cpppo.server.enip.main import main as cpppo_main

# name -> (cpppo tag type, start value); an array type has a list of values.
TAGS: dict[str, tuple[str, object]] = {
    "Motor_Speed": ("REAL", 1450.5),
    "Tank_Level": ("INT[10]", [100 + 10 * i for i in range(10)]),
    "Batch_Count": ("DINT", 40213),
    "Pump_Run": ("BOOL", 1),
    "Valve_Open": ("SINT", 0),
}

SEED = 0x0A0C8080


class SeededAttribute(device.Attribute):
    """A cpppo Attribute that starts with this file's value for its tag name."""

    def __init__(self, name, type_cls, default=0, error=0x00, mask=0):
        if name in TAGS:
            default = TAGS[name][1]
            default = list(default) if isinstance(default, list) else default
        super().__init__(name, type_cls, default=default, error=error, mask=mask)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int, nargs="?", default=44818)
    ap.add_argument("-v", "--verbose", action="store_true", help="cpppo's own request log")
    args = ap.parse_args()
    random.seed(SEED)
    argv = ["--no-config", "--address", f"{args.ip}:{args.port}"]
    if args.verbose:
        argv.append("-v")
    argv += [f"{name}={kind}" for name, (kind, _) in TAGS.items()]
    return cpppo_main(argv=argv, attribute_class=SeededAttribute) or 0


if __name__ == "__main__":
    sys.exit(main())
