//! Modbus/TCP in the protocol registry: its spec, and what the pipeline and
//! the sensor's outputs ask of its dissector and transactions.

use super::pdu::Response;
use super::{
    mbap, DeviceObjectId, ModbusAnomaly, ModbusConfig, ModbusDissector, Transaction, PORT,
};
use crate::event::{Direction, StreamDissector};
use crate::json::JsonWriter;
use crate::registry::{
    DeviceIdentity, IdentityText, Ports, ProtocolDissector, ProtocolEvent, Spec, Station, Stations,
    Tally,
};

/// Modbus/TCP in the registry.
pub const SPEC: Spec = Spec {
    name: "modbus",
    title: "Modbus/TCP",
    tcp: Some(Ports {
        ports: &[PORT],
        either_side: false,
    }),
    udp: None,
    // Probed on client bytes only: requests identify it best.
    probe: |first, dir| dir == Direction::ToServer && mbap::probe(first),
    eve_objects: &["modbus"],
    summary_fields: &["modbus.request.function", "modbus.unit_id"],
    color: "#0b7a75",
    identity_source: Some("modbus_device_id"),
    anomalies: &ModbusAnomaly::NAMES,
};

/// The registry's name for the flow state.
pub type Dissector = ModbusDissector;

impl ProtocolDissector for ModbusDissector {
    type Config = ModbusConfig;

    fn new(config: ModbusConfig) -> ModbusDissector {
        ModbusDissector::new(config)
    }

    fn stream(&mut self) -> Option<&mut dyn StreamDissector> {
        Some(self)
    }
}

impl ProtocolEvent for Transaction<'_> {
    fn eve_object(&self) -> &'static str {
        "modbus"
    }

    fn write_eve(&self, w: &mut JsonWriter<'_>) {
        Transaction::write_eve(self, w);
    }

    fn tally(&self, tally: &mut dyn Tally) {
        tally.transaction();
        if let Some(r) = &self.request {
            tally.request();
            tally.function(u64::from(r.pdu.first().copied().unwrap_or(0)));
        }
        if let Some(r) = &self.response {
            tally.response();
            tally.function(u64::from(r.pdu.first().copied().unwrap_or(0)));
        }
    }

    /// The unit id addressed (a gateway's serial slave, or the device
    /// itself).
    fn stations(&self) -> Stations {
        Stations {
            server: Some(Station {
                role: "unit",
                address: u32::from(self.unit_id),
            }),
            client: None,
        }
    }

    fn identity(&self) -> DeviceIdentity<'_> {
        let Some(Ok(Response::DeviceIdentification(id))) = self.response.map(|r| r.body) else {
            return DeviceIdentity::default();
        };
        DeviceIdentity {
            vendor: id.object(DeviceObjectId::VendorName),
            // The product code is the vendor's part number: kept apart from
            // the product name so that a basic stream (objects 0-2) and a
            // regular one (0-6) do not overwrite each other.
            product: id.object(DeviceObjectId::ProductName),
            order_number: id.object(DeviceObjectId::ProductCode).map(IdentityText::Bytes),
            model: id.object(DeviceObjectId::ModelName),
            firmware: id
                .object(DeviceObjectId::MajorMinorRevision)
                .map(IdentityText::Bytes),
            source: SPEC.identity_source,
            ..DeviceIdentity::default()
        }
    }
}
