//! EtherNet/IP in the protocol registry: its spec, and what the pipeline and
//! the sensor's outputs ask of its dissector and transactions.

use super::codes::Class;
use super::identity::Identity;
use super::vendors::vendor_name;
use super::{encap, pccc, EnipAnomaly, EnipConfig, EnipDissector, Transaction, IO_PORT, PORT};
use crate::event::{DatagramDissector, Direction, StreamDissector};
use crate::json::JsonWriter;
use crate::registry::{
    DeviceIdentity, IdentityText, Ports, ProtocolDissector, ProtocolEvent, Spec, Tally, TallyKey,
};

/// EtherNet/IP in the registry.
pub const SPEC: Spec = Spec {
    name: "enip",
    title: "EtherNet/IP",
    tcp: Some(Ports {
        ports: &[PORT],
        either_side: false,
    }),
    udp: Some(Ports {
        ports: &[PORT, IO_PORT],
        either_side: false,
    }),
    // Probed on client bytes only: a request with success status.
    probe: |first, dir| dir == Direction::ToServer && encap::probe(first),
    eve_objects: &["enip"],
    summary_fields: &[
        "enip.request.cip.service_name",
        "enip.request.cip.tag",
        "enip.request.command_name",
    ],
    color: "#1f5fbf",
    identity_source: Some("cip_identity"),
    anomalies: &EnipAnomaly::NAMES,
};

/// The registry's name for the flow state.
pub type Dissector = EnipDissector;

impl ProtocolDissector for EnipDissector {
    type Config = EnipConfig;

    fn new(config: EnipConfig) -> EnipDissector {
        EnipDissector::new(config)
    }

    fn stream(&mut self) -> Option<&mut dyn StreamDissector> {
        Some(self)
    }

    fn datagram(&mut self) -> Option<&mut dyn DatagramDissector> {
        Some(self)
    }
}

impl ProtocolEvent for Transaction<'_> {
    fn eve_object(&self) -> &'static str {
        "enip"
    }

    fn write_eve(&self, w: &mut JsonWriter<'_>) {
        Transaction::write_eve(self, w);
    }

    /// Encapsulation commands (`function`), CIP services of requests and
    /// replies (`service:N`, embedded ones included), PCCC commands and
    /// functions (`pccc:command/function`) and I/O packets per connection
    /// (`io_connection:ID`).
    fn tally(&self, tally: &mut dyn Tally) {
        tally.transaction();
        if let Some(io) = &self.io {
            tally.key(TallyKey::new("io_connection", u64::from(io.connection)), io.packets);
            return;
        }
        for (m, is_request) in [(self.request, true), (self.response, false)] {
            let Some(m) = m else { continue };
            if is_request {
                tally.request();
            } else {
                tally.response();
            }
            tally.function(u64::from(m.header.command.raw()));
        }
        self.any_request(&mut |r| {
            tally.key(TallyKey::new("service", u64::from(r.service)), 1);
            if r.service == 0x4B && r.path.class == Some(Class::Pccc.raw()) {
                if let Some(p) = pccc::Command::parse(r.data) {
                    let function = p.function.map_or(0, u64::from);
                    tally.key(TallyKey::pair("pccc", u64::from(p.command), function), 1);
                }
            }
            false
        });
        self.any_response(&mut |r| {
            tally.key(TallyKey::new("service", u64::from(r.service)), 1);
            false
        });
    }

    fn identity(&self) -> DeviceIdentity<'_> {
        let from_list = self.response.and_then(|m| m.identities().next());
        let from_attributes = || {
            let request = self.cip_request()?;
            let reply = self.cip_response()?;
            let asks = request.service == 0x01
                && request.path.class == Some(Class::Identity.raw())
                && reply.service == 0x01
                && reply.status == super::GeneralStatus::Success;
            asks.then(|| Identity::parse_attributes(reply.data)).flatten()
        };
        let Some(id) = from_list.or_else(from_attributes) else {
            return DeviceIdentity::default();
        };
        identity_of(id)
    }
}

/// The asset identity of a CIP identity.
fn identity_of(id: Identity<'_>) -> DeviceIdentity<'_> {
    DeviceIdentity {
        vendor: vendor_name(id.vendor).map(str::as_bytes),
        product: Some(id.product_name),
        model: id.device_type.name().map(str::as_bytes),
        firmware: Some(IdentityText::display(&id.revision())),
        serial: Some(IdentityText::display(&format_args!("{:#010x}", id.serial))),
        order_number: Some(IdentityText::display(&id.product_code)),
        source: SPEC.identity_source,
        ..DeviceIdentity::default()
    }
}
