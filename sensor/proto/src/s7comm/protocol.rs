//! S7comm and S7comm-plus in the protocol registry: the spec, and what the
//! pipeline and the sensor's outputs ask of the dissector and transactions.

use super::{probe, Body, S7Anomaly, S7Config, S7Dissector, Transaction, PORT};
use crate::event::{Direction, StreamDissector};
use crate::json::JsonWriter;
use crate::registry::{
    DeviceIdentity, IdentityText, Ports, ProtocolDissector, ProtocolEvent, Spec, Tally,
    TallyKey,
};

/// S7comm (and S7comm-plus, on the same ISO-on-TCP connections) in the
/// registry.
pub const SPEC: Spec = Spec {
    name: "s7comm",
    title: "S7comm / S7comm-plus",
    tcp: Some(Ports {
        ports: &[PORT],
        either_side: false,
    }),
    udp: None,
    // Probed on client bytes only (a COTP connection request or TPKT data).
    probe: |first, dir| dir == Direction::ToServer && probe(first),
    eve_objects: &["s7comm", "s7commplus"],
    summary_fields: &["s7comm.request.function_name", "s7commplus.opcode_name"],
    color: "#7a4fb0",
    identity_source: Some("s7_szl"),
    anomalies: &S7Anomaly::NAMES,
};

/// The registry's name for the flow state.
pub type Dissector = S7Dissector;

impl ProtocolDissector for S7Dissector {
    type Config = S7Config;

    fn new(config: S7Config) -> S7Dissector {
        S7Dissector::new(config)
    }

    fn stream(&mut self) -> Option<&mut dyn StreamDissector> {
        Some(self)
    }
}

impl ProtocolEvent for Transaction<'_> {
    fn eve_object(&self) -> &'static str {
        if self.plus.is_some() {
            "s7commplus"
        } else {
            "s7comm"
        }
    }

    fn write_eve(&self, w: &mut JsonWriter<'_>) {
        Transaction::write_eve(self, w);
    }

    /// Counts PDUs by type (`rosctr:N`), job function (`func:N`), userdata
    /// group and subfunction (`userdata:G/S`) and S7comm-plus version
    /// (`plus_version:N`), the keys tests compare with tshark.
    fn tally(&self, tally: &mut dyn Tally) {
        tally.transaction();
        let messages = self.request.iter().map(|m| (m, true));
        for (m, is_request) in messages.chain(self.response.iter().map(|m| (m, false))) {
            if is_request {
                tally.request();
            } else {
                tally.response();
            }
            tally.key(TallyKey::new("rosctr", u64::from(m.pdu.header.rosctr.raw())), 1);
            if let Some(f) = m.pdu.function() {
                tally.key(TallyKey::new("func", u64::from(f.raw())), 1);
            }
            if let Ok(Body::Userdata(u)) = m.pdu.body {
                tally.key(
                    TallyKey::pair(
                        "userdata",
                        u64::from(u.group.raw()),
                        u64::from(u.subfunction),
                    ),
                    1,
                );
            }
        }
        for plus in self.plus_messages() {
            if plus.direction == Direction::ToServer {
                tally.request();
            } else {
                tally.response();
            }
            tally.key(TallyKey::new("plus_version", u64::from(plus.pdu.version.raw())), 1);
        }
    }

    fn identity(&self) -> DeviceIdentity<'_> {
        if self.request.is_none() && self.response.is_none() {
            return DeviceIdentity::default();
        }
        let id = Transaction::identity(self);
        let found = DeviceIdentity {
            vendor: None,
            product: id.module_type_name,
            model: id.system_name,
            firmware: id.firmware_version.map(|v| IdentityText::display(&v)),
            serial: id.serial_number.map(IdentityText::Bytes),
            order_number: id.order_number.map(IdentityText::Bytes),
            module_name: id.module_name,
            plant_id: id.plant_id,
            ..DeviceIdentity::default()
        };
        if found.is_empty() {
            return found;
        }
        DeviceIdentity {
            vendor: Some(b"Siemens"),
            source: SPEC.identity_source,
            ..found
        }
    }
}
