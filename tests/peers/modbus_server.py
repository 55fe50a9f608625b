#!/usr/bin/env python3
"""pymodbus (3.16) Modbus/TCP server used as the PLC in the otwatch test captures.

    modbus_server.py IP PORT [--identity normal|xss]

Data model (pymodbus SimDevice with four separate blocks, addresses are the
on-the-wire 0-based protocol addresses; anything outside raises exception 2):
  coils             0..99     pattern True/False/False/...
  discrete inputs   0..99     every 3rd on
  holding registers 0..99     value 1000 + address
  input registers   0..99     value 2000 + address
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from pymodbus.constants import ExcCodes
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

IDENTITIES = {
    "normal": {
        "VendorName": "otwatch-test-vendor",
        "ProductCode": "OTW-PLC-1",
        "MajorMinorRevision": "1.2.3",
        "VendorUrl": "https://otwatch.invalid/plc",
        "ProductName": "otwatch test PLC",
        "ModelName": "OTW-PLC-1 model A",
        "UserApplicationName": "otwatch-peer-recorder",
    },
    "xss": {
        "VendorName": "<script>alert(1)</script>",
        "ProductCode": "OTW-PLC-1",
        "MajorMinorRevision": "1.2.3",
        "VendorUrl": "javascript:alert(1)",
        "ProductName": "<img src=x onerror=alert(1)>",
        "ModelName": "OTW-PLC-1 \"'&<>",
        "UserApplicationName": "otwatch-peer-recorder",
    },
}

SIZE = 100


def illegal_function_pdus() -> list[type[ModbusPDU]]:
    """Handlers answering exception 1 for every function code pymodbus lacks.

    Out of the box pymodbus 3.16 answers an unknown function code with function
    code 0x80 (not code|0x80), exception 1.  Real devices answer code|0x80, so the
    server registers one tiny handler per unknown code 1..127 that does that.
    """
    known = set(DecodePDU(True).list_function_codes())
    classes = []
    for fc in range(1, 128):
        if fc in known:
            continue

        class Unsupported(ModbusPDU):
            function_code = fc

            def decode(self, data: bytes) -> None:
                self.data = data

            async def datastore_update(self, context, device_id):
                _ = context, device_id
                return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_FUNCTION)

        Unsupported.__name__ = f"Unsupported{fc}"
        classes.append(Unsupported)
    return classes


def build_device() -> SimDevice:
    coils = [i % 3 == 0 for i in range(SIZE)]
    discretes = [i % 3 == 0 for i in range(SIZE)]
    holding = [1000 + i for i in range(SIZE)]
    inputs = [2000 + i for i in range(SIZE)]
    return SimDevice(
        id=0,  # answer for every unit id
        simdata=(
            [SimData(0, values=coils, datatype=DataType.BITS)],
            [SimData(0, values=discretes, datatype=DataType.BITS)],
            [SimData(0, values=holding, datatype=DataType.REGISTERS)],
            [SimData(0, values=inputs, datatype=DataType.REGISTERS)],
        ),
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int)
    ap.add_argument("--identity", choices=sorted(IDENTITIES), default="normal")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    identity = ModbusDeviceIdentification(
        info={0x80: "otwatch private object 0x80"},
        info_name=IDENTITIES[args.identity],
    )
    server = ModbusTcpServer(
        build_device(),
        identity=identity,
        address=(args.ip, args.port),
        custom_pdu=illegal_function_pdus(),
    )
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
