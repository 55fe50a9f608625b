//! DNP3 in the protocol registry: its spec, and what the pipeline and the
//! sensor's outputs ask of its dissector and transactions.

use super::{probe, Dnp3Anomaly, Dnp3Config, Dnp3Dissector, Transaction, PORT};
use crate::event::{DatagramDissector, StreamDissector};
use crate::json::JsonWriter;
use crate::registry::{
    Station, Stations,
    DeviceIdentity, IdentityText, Ports, ProtocolDissector, ProtocolEvent, Spec, Tally,
    TallyKey,
};

/// The well-known port on either side: outstations also open connections
/// (and send unsolicited responses) from port 20000.
const PORTS: Ports = Ports {
    ports: &[PORT],
    either_side: true,
};

/// DNP3 in the registry.
pub const SPEC: Spec = Spec {
    name: "dnp3",
    title: "DNP3",
    tcp: Some(PORTS),
    udp: Some(PORTS),
    // Frames carry start octets and CRCs, so either side will do.
    probe: |first, _| probe(first),
    eve_objects: &["dnp3"],
    summary_fields: &["dnp3.request.function", "dnp3.outstation"],
    color: "#b35c00",
    identity_source: Some("dnp3_attributes"),
    anomalies: &Dnp3Anomaly::NAMES,
};

/// The registry's name for the flow state.
pub type Dissector = Dnp3Dissector;

impl ProtocolDissector for Dnp3Dissector {
    type Config = Dnp3Config;

    fn new(config: Dnp3Config) -> Dnp3Dissector {
        Dnp3Dissector::new(config)
    }

    fn stream(&mut self) -> Option<&mut dyn StreamDissector> {
        Some(self)
    }

    fn datagram(&mut self) -> Option<&mut dyn DatagramDissector> {
        Some(self)
    }

    /// Link frames by function (`link_pri:N`, `link_sec:N`).
    fn tally_end(&self, tally: &mut dyn Tally) {
        for (primary, function, n) in self.stats().link_function_counts() {
            let kind = if primary { "link_pri" } else { "link_sec" };
            tally.key(TallyKey::new(kind, u64::from(function)), n);
        }
    }
}

impl ProtocolEvent for Transaction<'_> {
    fn eve_object(&self) -> &'static str {
        "dnp3"
    }

    fn write_eve(&self, w: &mut JsonWriter<'_>) {
        Transaction::write_eve(self, w);
    }

    fn tally(&self, tally: &mut dyn Tally) {
        tally.transaction();
        if let Some(r) = &self.request {
            tally.request();
            tally.function(u64::from(r.function().raw()));
        }
        if let Some(r) = &self.response {
            tally.response();
            tally.function(u64::from(r.function().raw()));
        }
    }

    fn identity(&self) -> DeviceIdentity<'_> {
        // Device attributes are group 0 objects: most transactions have
        // none, and one look at the headers says so.
        let carries = |m: &Option<super::Message<'_>>| m.as_ref().is_some_and(|m| m.has_group(0));
        if !carries(&self.response) && !carries(&self.request) {
            return DeviceIdentity::default();
        }
        let found = DeviceIdentity {
            vendor: self.vendor_name(),
            product: self.product_name(),
            firmware: self.software_version().map(IdentityText::Bytes),
            hardware: self.hardware_version(),
            serial: self.serial_number().map(IdentityText::Bytes),
            ..DeviceIdentity::default()
        };
        if found.is_empty() {
            return found;
        }
        DeviceIdentity {
            source: SPEC.identity_source,
            ..found
        }
    }

    /// The outstation's and the master's link addresses; the reserved
    /// range from 0xFFF0 up (broadcasts, self-address) names no station.
    fn stations(&self) -> Stations {
        let station = |role, address: u16| {
            (address < 0xfff0).then_some(Station {
                role,
                address: u32::from(address),
            })
        };
        Stations {
            server: station("outstation", self.outstation),
            client: station("master", self.master),
        }
    }
}
