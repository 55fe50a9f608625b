//! IEC 104 in the protocol registry: its spec, and what the pipeline and
//! the sensor's outputs ask of its dissector and transactions.

use super::apci::{self, Control};
use super::session::Side;
use super::{Iec104Anomaly, Iec104Config, Iec104Dissector, Transaction, PORT};
use crate::event::{Direction, StreamDissector};
use crate::json::JsonWriter;
use crate::registry::{
    Ports, ProtocolDissector, ProtocolEvent, Spec, Station, Stations, Tally, TallyKey,
};

/// IEC 104 in the registry.
pub const SPEC: Spec = Spec {
    name: "iec104",
    title: "IEC 60870-5-104",
    tcp: Some(Ports {
        ports: &[PORT],
        either_side: false,
    }),
    udp: None,
    // Probed on the controlling station's bytes: STARTDT, TESTFR or data.
    probe: |first, dir| dir == Direction::ToServer && apci::probe(first),
    eve_objects: &["iec104"],
    summary_fields: &[
        "iec104.asdu.type_name",
        "iec104.asdu.cause_name",
        "iec104.apci.function",
    ],
    color: "#a3326b",
    identity_source: None,
    anomalies: &Iec104Anomaly::NAMES,
};

/// The registry's name for the flow state.
pub type Dissector = Iec104Dissector;

impl ProtocolDissector for Iec104Dissector {
    type Config = Iec104Config;

    fn new(config: Iec104Config) -> Iec104Dissector {
        Iec104Dissector::new(config)
    }

    fn stream(&mut self) -> Option<&mut dyn StreamDissector> {
        Some(self)
    }
}

impl ProtocolEvent for Transaction<'_> {
    fn eve_object(&self) -> &'static str {
        "iec104"
    }

    fn write_eve(&self, w: &mut JsonWriter<'_>) {
        Transaction::write_eve(self, w);
    }

    /// APDUs from the controlling station are requests, from the
    /// controlled one responses; I-frames count by type id (`function`),
    /// U-frames by their control octet (`u:N`), S-frames as `s:0`.
    fn tally(&self, tally: &mut dyn Tally) {
        tally.transaction();
        match self.side {
            Side::Controlling => tally.request(),
            Side::Controlled => tally.response(),
        }
        match self.apci.control {
            Control::I { .. } => {
                if let Some(t) = self.apdu.get(apci::APCI_LEN) {
                    tally.function(u64::from(*t));
                }
            }
            Control::U { octet } => tally.key(TallyKey::new("u", u64::from(octet)), 1),
            Control::S { .. } => tally.key(TallyKey::new("s", 0), 1),
        }
    }

    /// The common address is the controlled station's (the server); the
    /// originator address, when the controlling station sets one, its own.
    /// The broadcast common address (65535) and the unused value 0 name
    /// no station.
    fn stations(&self) -> Stations {
        let Some(a) = self.asdu() else {
            return Stations::default();
        };
        Stations {
            server: (!matches!(a.common_address, 0 | BROADCAST_ADDRESS)).then_some(Station {
                role: "controlled",
                address: u32::from(a.common_address),
            }),
            client: (a.originator != 0).then_some(Station {
                role: "controlling",
                address: u32::from(a.originator),
            }),
        }
    }
}

/// The common address every station answers to.
const BROADCAST_ADDRESS: u16 = 0xffff;
