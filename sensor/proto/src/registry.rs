//! The protocols otwatch decodes: one line each in the table in the crate
//! root (`lib.rs`), from which everything that lists protocols is derived.
//!
//! A protocol is a module of this crate (`crate::modbus`, …) that provides:
//!
//! * `SPEC`: a [`Spec`] — its name, title, transports and well-known ports,
//!   its probe, the EVE objects it writes, the colour the UI gives it, and its
//!   anomaly names;
//! * `Dissector`: one flow's state, implementing [`ProtocolDissector`]
//!   (which gives its `Config` and whether it reads a byte stream, datagrams
//!   or both);
//! * `Transaction<'a>`: the event it emits, implementing [`ProtocolEvent`]
//!   (EVE rendering, counters, the device identity it reveals).
//!
//! From the table the macro declares the protocol modules and makes
//! [`ProtocolId`] (with `ALL`, names and
//! `from_name`), [`AppEvent`] (one variant per protocol, plus anomalies),
//! [`ProtocolConfig`] (one field per protocol, named after its module) and
//! [`Dissector`] (a flow's dissector, whichever protocol it is). Detection
//! ([`by_port`], [`by_probe`]) walks the specs in table order.
//!
//! Adding a protocol: a module folder, one line in the table, one rules file
//! in the rules crate (see CONTRIBUTING.md).

use crate::event::{DatagramDissector, Direction, StreamDissector};
use crate::json::JsonWriter;

pub use crate::table::{AppEvent, Dissector, ProtocolConfig, ProtocolId};

/// What the registry knows of a protocol besides its code.
#[derive(Debug)]
pub struct Spec {
    /// The name in EVE (`event_type`, `app_proto`), rules (`protocol:`),
    /// anomaly `type`s, counters and the API: lowercase, stable.
    pub name: &'static str,
    /// Human name, for the UI and documentation.
    pub title: &'static str,
    /// Carried over TCP (a reassembled byte stream), and on which ports.
    pub tcp: Option<Ports>,
    /// Carried in UDP datagrams, and on which ports.
    pub udp: Option<Ports>,
    /// Recognises the protocol from the first payload a flow carries in a
    /// direction, on any port (flows on a well-known port skip the probe).
    pub probe: fn(&[u8], Direction) -> bool,
    /// The EVE object keys its events carry (`"modbus": {…}`); the first is
    /// the usual one.
    pub eve_objects: &'static [&'static str],
    /// EVE field paths that summarise an event in a list (the UI's alert
    /// table), most telling first.
    pub summary_fields: &'static [&'static str],
    /// The colour the UI gives the protocol (CSS hex).
    pub color: &'static str,
    /// The `source` its device identities carry in `asset` lines
    /// (`modbus_device_id`), when its events reveal identities.
    pub identity_source: Option<&'static str>,
    /// Every anomaly name its dissector raises (the names of its
    /// `anomaly.rs` enum; anomalies of `type` = `name`); rules may name
    /// only these.
    pub anomalies: &'static [&'static str],
}

/// Well-known ports of a protocol on one transport.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// Server ports.
    pub ports: &'static [u16],
    /// Whether a flow whose *client* uses one of the ports is taken too
    /// (DNP3 outstations open connections and send from port 20000).
    pub either_side: bool,
}

impl Ports {
    fn matches(&self, server: u16, client: u16) -> bool {
        self.ports.contains(&server) || self.either_side && self.ports.contains(&client)
    }
}

/// One flow's state of a protocol, as the pipeline drives it.
pub trait ProtocolDissector {
    /// Limits and options of the protocol.
    type Config: Copy + Default + core::fmt::Debug + PartialEq + Eq;
    /// A dissector for a new flow.
    fn new(config: Self::Config) -> Self;
    /// The stream side (TCP), when the protocol runs over TCP.
    fn stream(&mut self) -> Option<&mut dyn StreamDissector>;
    /// The datagram side (UDP), when the protocol runs over UDP.
    fn datagram(&mut self) -> Option<&mut dyn DatagramDissector> {
        None
    }
    /// Adds the flow's own counters at its end (DNP3 counts link frames).
    fn tally_end(&self, _tally: &mut dyn Tally) {}
}

/// What every protocol event can do.
pub trait ProtocolEvent {
    /// The EVE object key of this event (one of [`Spec::eve_objects`]).
    fn eve_object(&self) -> &'static str;
    /// Writes the body of the event's EVE object.
    fn write_eve(&self, w: &mut JsonWriter<'_>);
    /// Counts the event: transactions, requests, responses, function codes.
    fn tally(&self, tally: &mut dyn Tally);
    /// The identity of the device the event reveals (mostly empty).
    fn identity(&self) -> DeviceIdentity<'_> {
        DeviceIdentity::default()
    }
    /// The protocol's own addresses of the flow's two ends that the event
    /// shows (none for protocols without station addresses).
    fn stations(&self) -> Stations {
        Stations::default()
    }
}

/// A protocol-level address of one end of a conversation — a Modbus unit
/// id, a DNP3 link address, an IEC 104 common or originator address — and
/// the role the protocol gives it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Station {
    /// The role: `unit`, `outstation`, `master`, `controlled`,
    /// `controlling`.
    pub role: &'static str,
    /// The address.
    pub address: u32,
}

/// The station addresses one event shows for the server and the client of
/// its flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stations {
    /// The server's (the unit, outstation or controlled station addressed).
    pub server: Option<Station>,
    /// The client's own (a DNP3 master, an IEC 104 controlling station).
    pub client: Option<Station>,
}

/// Counters a protocol event adds to (the sensor's `stats.app_layer`).
pub trait Tally {
    /// One transaction (event).
    fn transaction(&mut self);
    /// One request.
    fn request(&mut self);
    /// One response (including unsolicited ones).
    fn response(&mut self);
    /// One PDU with function code `code`.
    fn function(&mut self, code: u64);
    /// `n` occurrences of a protocol's own counter key (`rosctr:1`,
    /// `link_pri:4`, `userdata:4/1`).
    fn key(&mut self, key: TallyKey, n: u64);
}

/// A counter key of a protocol's own, rendered `kind:value` or
/// `kind:value/sub` in the `stats` line. Kept as numbers so that counting a
/// PDU formats nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyKey {
    /// What is counted (`rosctr`, `func`, `link_pri`); empty for a bare
    /// number.
    pub kind: &'static str,
    /// The value counted.
    pub value: u64,
    /// A second value (`userdata:<group>/<subfunction>`).
    pub sub: Option<u64>,
}

impl TallyKey {
    /// `kind:value`.
    pub fn new(kind: &'static str, value: u64) -> TallyKey {
        TallyKey {
            kind,
            value,
            sub: None,
        }
    }

    /// `kind:value/sub`.
    pub fn pair(kind: &'static str, value: u64, sub: u64) -> TallyKey {
        TallyKey {
            kind,
            value,
            sub: Some(sub),
        }
    }
}

impl core::fmt::Display for TallyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if !self.kind.is_empty() {
            write!(f, "{}:", self.kind)?;
        }
        write!(f, "{}", self.value)?;
        if let Some(sub) = self.sub {
            write!(f, "/{sub}")?;
        }
        Ok(())
    }
}

/// What a device says of itself (Modbus device identification, S7 SZL, DNP3
/// device attributes), borrowed from the event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceIdentity<'a> {
    /// Vendor name.
    pub vendor: Option<&'a [u8]>,
    /// Product name.
    pub product: Option<&'a [u8]>,
    /// Model name.
    pub model: Option<&'a [u8]>,
    /// Firmware or software version.
    pub firmware: Option<IdentityText<'a>>,
    /// Hardware version.
    pub hardware: Option<&'a [u8]>,
    /// Serial number.
    pub serial: Option<IdentityText<'a>>,
    /// Order number (vendor part number, or product code).
    pub order_number: Option<IdentityText<'a>>,
    /// Module name.
    pub module_name: Option<&'a [u8]>,
    /// Plant identification.
    pub plant_id: Option<&'a [u8]>,
    /// Where it came from (`modbus_device_id`, `s7_szl`, `dnp3_attributes`).
    pub source: Option<&'static str>,
}

/// A value of an identity: bytes from the packet, or a version rendered
/// from a binary field into a small inline buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityText<'a> {
    /// Bytes as the device sent them.
    Bytes(&'a [u8]),
    /// Text rendered by the dissector (at most 32 bytes).
    Inline {
        /// The bytes, of which the first `len` count.
        buf: [u8; 32],
        /// How many bytes of `buf` count.
        len: u8,
    },
}

impl IdentityText<'_> {
    /// Renders `value` (cut at 32 bytes).
    pub fn display(value: &dyn core::fmt::Display) -> IdentityText<'static> {
        use std::io::Write as _;
        let mut buf = [0u8; 32];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(cursor, "{value}");
        let len = cursor.position() as u8;
        IdentityText::Inline { buf, len }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            IdentityText::Bytes(b) => b,
            IdentityText::Inline { buf, len } => &buf[..usize::from(*len).min(buf.len())],
        }
    }
}

impl DeviceIdentity<'_> {
    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        let DeviceIdentity {
            vendor,
            product,
            model,
            firmware,
            hardware,
            serial,
            order_number,
            module_name,
            plant_id,
            source: _,
        } = self;
        // An empty string says nothing either.
        [vendor, product, model, hardware, module_name, plant_id]
            .iter()
            .all(|v| v.is_none_or(<[u8]>::is_empty))
            && [firmware, serial, order_number]
                .iter()
                .all(|v| v.is_none_or(|f| f.as_bytes().is_empty()))
    }
}

/// The protocol whose identities carry `source` (see
/// [`Spec::identity_source`]).
pub fn by_identity_source(source: &str) -> Option<ProtocolId> {
    ProtocolId::ALL
        .into_iter()
        .find(|id| id.spec().identity_source == Some(source))
}

/// The transports a flow can be carried on, for detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// A TCP stream.
    Tcp,
    /// UDP datagrams.
    Udp,
}

impl Spec {
    fn ports(&self, carrier: Carrier) -> Option<&Ports> {
        match carrier {
            Carrier::Tcp => self.tcp.as_ref(),
            Carrier::Udp => self.udp.as_ref(),
        }
    }
}

/// The protocol of a flow on `carrier` between `server` and `client`
/// ports, when one of them is a protocol's well-known port.
pub fn by_port(carrier: Carrier, server: u16, client: u16) -> Option<ProtocolId> {
    ProtocolId::ALL.into_iter().find(|id| {
        id.spec()
            .ports(carrier)
            .is_some_and(|p| p.matches(server, client))
    })
}

/// The protocol whose probe recognises `first`, the first payload of a flow
/// on `carrier` travelling in `dir`.
pub fn by_probe(carrier: Carrier, first: &[u8], dir: Direction) -> Option<ProtocolId> {
    ProtocolId::ALL.into_iter().find(|id| {
        let spec = id.spec();
        spec.ports(carrier).is_some() && (spec.probe)(first, dir)
    })
}

/// Whether `port` is a well-known server port of a decoded protocol (on
/// either transport): the side using it is taken for the server.
pub fn is_service_port(port: u16) -> bool {
    ProtocolId::ALL.into_iter().any(|id| {
        let spec = id.spec();
        [spec.tcp, spec.udp]
            .iter()
            .flatten()
            .any(|p| p.ports.contains(&port))
    })
}

/// Declares the protocol modules and makes the registry's types from the
/// table in `lib.rs`.
macro_rules! protocols {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident ),+ $(,)?) => {
        $( pub mod $module; )+

        /// The registry's types, made from the table (used through
        /// [`registry`](crate::registry)).
        mod table {
            use crate::event::{Anomaly, DatagramDissector, StreamDissector};
            use crate::registry::{ProtocolDissector, ProtocolEvent, Spec, Tally};

            /// A protocol otwatch decodes.
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub enum ProtocolId {
                $( $(#[$doc])* $variant, )+
            }

            impl ProtocolId {
                /// Every protocol, in table order.
                pub const ALL: [ProtocolId; [$(stringify!($variant)),+].len()] =
                    [$(ProtocolId::$variant),+];
                /// How many there are (the size of per-protocol tables).
                pub const COUNT: usize = ProtocolId::ALL.len();

                /// The protocol's facts.
                pub fn spec(self) -> &'static Spec {
                    match self {
                        $( ProtocolId::$variant => &crate::$module::SPEC, )+
                    }
                }

                /// Its name (see [`Spec::name`]).
                pub fn name(self) -> &'static str {
                    self.spec().name
                }

                /// Looks a protocol up by name.
                pub fn from_name(name: &str) -> Option<ProtocolId> {
                    ProtocolId::ALL.into_iter().find(|p| p.name() == name)
                }

                /// Position in [`ProtocolId::ALL`], for per-protocol tables.
                pub fn index(self) -> usize {
                    self as usize
                }
            }

            /// An event from a protocol dissector, borrowed for the time of one
            /// call.
            #[derive(Debug, Clone, Copy)]
            pub enum AppEvent<'a> {
                $( $(#[$doc])* $variant(&'a crate::$module::Transaction<'a>), )+
                /// A protocol anomaly.
                Anomaly(Anomaly<'a>),
            }

            impl<'a> AppEvent<'a> {
                /// The protocol of a protocol event (`None` for anomalies).
                pub fn protocol(&self) -> Option<ProtocolId> {
                    match self {
                        $( AppEvent::$variant(_) => Some(ProtocolId::$variant), )+
                        AppEvent::Anomaly(_) => None,
                    }
                }

                /// The protocol event, whichever protocol it is.
                pub fn protocol_event(&self) -> Option<&'a dyn ProtocolEvent> {
                    match *self {
                        $( AppEvent::$variant(tx) => Some(tx), )+
                        AppEvent::Anomaly(_) => None,
                    }
                }
            }

            /// The limits of every protocol, one field per protocol module.
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
            pub struct ProtocolConfig {
                $(
                    $(#[$doc])*
                    pub $module: <crate::$module::Dissector as ProtocolDissector>::Config,
                )+
            }

            /// A flow's dissector, whichever protocol it is.
            pub enum Dissector {
                $( $(#[$doc])* $variant(Box<crate::$module::Dissector>), )+
            }

            impl Dissector {
                /// A dissector of `id` for a new flow.
                pub fn new(id: ProtocolId, config: &ProtocolConfig) -> Dissector {
                    match id {
                        $(
                            ProtocolId::$variant => Dissector::$variant(Box::new(
                                <crate::$module::Dissector as ProtocolDissector>::new(config.$module),
                            )),
                        )+
                    }
                }

                /// Its protocol.
                pub fn id(&self) -> ProtocolId {
                    match self {
                        $( Dissector::$variant(_) => ProtocolId::$variant, )+
                    }
                }

                /// The stream side, when the protocol runs over TCP.
                pub fn stream(&mut self) -> Option<&mut dyn StreamDissector> {
                    match self {
                        $( Dissector::$variant(d) => d.stream(), )+
                    }
                }

                /// The datagram side, when the protocol runs over UDP.
                pub fn datagram(&mut self) -> Option<&mut dyn DatagramDissector> {
                    match self {
                        $( Dissector::$variant(d) => d.datagram(), )+
                    }
                }

                /// Adds the flow's own counters at its end.
                pub fn tally_end(&self, tally: &mut dyn Tally) {
                    match self {
                        $( Dissector::$variant(d) => d.tally_end(tally), )+
                    }
                }
            }
        }
    };
}

pub(crate) use protocols;

#[cfg(test)]
mod tests {
    use super::*;

    /// The UI tells protocols apart by colour: every two differ clearly,
    /// and each is dark enough for white text on it and for text on white
    /// (WCAG contrast 4.5:1).
    #[test]
    fn colours_are_distinct_and_readable() {
        let rgb = |c: &str| -> [f64; 3] {
            let at = |i: usize| f64::from(u8::from_str_radix(&c[i..i + 2], 16).expect("hex"));
            [at(1), at(3), at(5)]
        };
        let luminance = |c: [f64; 3]| {
            let lin = |v: f64| {
                let v = v / 255.0;
                if v <= 0.039_28 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
        };
        for a in ProtocolId::ALL {
            let ca = rgb(a.spec().color);
            let contrast = 1.05 / (luminance(ca) + 0.05);
            assert!(
                contrast >= 4.5,
                "{}: contrast {contrast:.1} with white",
                a.name()
            );
            for b in ProtocolId::ALL {
                if a.index() >= b.index() {
                    continue;
                }
                let cb = rgb(b.spec().color);
                let distance = ca
                    .iter()
                    .zip(cb)
                    .map(|(x, y)| (x - y).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(
                    distance >= 80.0,
                    "{} and {} look alike ({distance:.0})",
                    a.name(),
                    b.name()
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        for id in ProtocolId::ALL {
            assert_eq!(ProtocolId::from_name(id.name()), Some(id));
            assert_eq!(ProtocolId::ALL[id.index()], id);
            let spec = id.spec();
            assert!(!spec.eve_objects.is_empty(), "{}", spec.name);
            assert!(spec.tcp.is_some() || spec.udp.is_some(), "{}", spec.name);
            assert!(
                spec.color.starts_with('#') && spec.color.len() == 7,
                "{}",
                spec.name
            );
        }
        let mut names: Vec<_> = ProtocolId::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ProtocolId::COUNT);
        assert_eq!(ProtocolId::from_name("http"), None);
        for id in ProtocolId::ALL {
            if let Some(source) = id.spec().identity_source {
                assert_eq!(by_identity_source(source), Some(id));
            }
        }
        assert_eq!(by_identity_source("asset"), None);
    }

    #[test]
    fn anomaly_names_are_unique_snake_case() {
        for id in ProtocolId::ALL {
            let names = id.spec().anomalies;
            assert!(!names.is_empty(), "{}", id.name());
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{}", id.name());
            for name in names {
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn ports_and_probes_find_the_protocols() {
        assert_eq!(by_port(Carrier::Tcp, 502, 40000), Some(ProtocolId::Modbus));
        assert_eq!(by_port(Carrier::Tcp, 102, 40000), Some(ProtocolId::S7comm));
        // DNP3 is taken from either side's port, on both transports.
        assert_eq!(by_port(Carrier::Tcp, 40000, 20000), Some(ProtocolId::Dnp3));
        assert_eq!(by_port(Carrier::Udp, 20000, 40000), Some(ProtocolId::Dnp3));
        // Modbus and S7 are not carried over UDP, nor found by a client port.
        assert_eq!(by_port(Carrier::Udp, 502, 40000), None);
        assert_eq!(by_port(Carrier::Tcp, 40000, 502), None);
        assert!(is_service_port(502) && is_service_port(102) && is_service_port(20000));
        assert!(!is_service_port(80));

        // MBAP: transaction 1, protocol 0, length 6, unit 1, read holding
        // registers 0, count 1.
        let modbus = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1];
        assert_eq!(
            by_probe(Carrier::Tcp, &modbus, Direction::ToServer),
            Some(ProtocolId::Modbus)
        );
        // Modbus is probed on requests only.
        assert_eq!(by_probe(Carrier::Tcp, &modbus, Direction::ToClient), None);
        // TPKT version 3, length 22, COTP connection request.
        let cotp = [
            3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2, 0xc0, 1, 10,
        ];
        assert_eq!(
            by_probe(Carrier::Tcp, &cotp, Direction::ToServer),
            Some(ProtocolId::S7comm)
        );
        assert_eq!(by_probe(Carrier::Udp, &cotp, Direction::ToServer), None);
        assert_eq!(
            by_probe(Carrier::Tcp, b"GET / HTTP/1.1\r\n", Direction::ToServer),
            None
        );
    }

    #[test]
    fn identity_text_renders_and_cuts() {
        let t = IdentityText::display(&format_args!("V{}.{}.{}", 4, 2, 1));
        assert_eq!(t.as_bytes(), b"V4.2.1");
        let long = IdentityText::display(&"x".repeat(40));
        assert_eq!(long.as_bytes().len(), 32);
        assert!(DeviceIdentity::default().is_empty());
        let some = DeviceIdentity {
            firmware: Some(t),
            ..DeviceIdentity::default()
        };
        assert!(!some.is_empty());
    }
}
