//! What a rule's `protocol:` names, and the registry of the rule fields of
//! each protocol.
//!
//! A rule's [`Layer`] is a protocol of the proto registry
//! ([`ProtocolId`]) or one of the anomaly-only layers (`stream`, `decode`,
//! see [`anomaly`], and `baseline`, the deviations of [`crate::baseline`]). Each protocol of the proto registry has one
//! file here (`modbus.rs`, `s7comm.rs`, `dnp3.rs`) that holds its field
//! table: every row is a field's name, kind, documentation *and* the
//! function that reads it from the protocol's transaction, so a field cannot
//! be declared without its extraction. Besides `FIELDS`, a protocol file
//! gives `answered` (both messages seen), `buffers` (the bytes `content`
//! searches), `index_key` (the number rules are indexed by), and for the
//! learned baseline `operations` (what a transaction does, as
//! [`crate::baseline::Op`]s) and `station` (unit id, outstation address).
//!
//! The table at the end of this file maps each [`ProtocolId`] to its file.
//! Its matches are exhaustive: a protocol added to the proto registry does
//! not compile until it has a line here and a rules file.

pub(crate) mod anomaly;

use std::sync::OnceLock;

use otwatch_proto::event::AppEvent;
use otwatch_proto::registry::ProtocolId;
use serde::de::{self, Deserializer, EnumAccess, VariantAccess, Visitor};
use serde::Deserialize;

use crate::cond::Val;
use crate::fields::{FieldDef, Kind, Scope};

/// Where a field reader hands the values it finds; it returns true to stop
/// ("found").
pub(crate) type Visit<'f> = &'f mut dyn FnMut(Val<'_>) -> bool;

/// One field of a protocol: its vocabulary entry and how it is read. `R` is
/// the protocol's reader type, a function over its own transaction.
pub(crate) struct Row<R> {
    /// Name, kind, scope and documentation.
    pub(crate) def: FieldDef,
    /// Calls the visitor with each value of the field in a transaction until
    /// it returns true.
    pub(crate) read: R,
    /// For the fields rules are indexed by (the function code): what is
    /// added to a value to make the index key.
    pub(crate) index: Option<u32>,
}

/// A field of a protocol table: its name, kind, whether `request.` /
/// `response.` may prefix it, its documentation and its reader.
pub(crate) const fn field<R: Copy>(
    name: &'static str,
    kind: Kind,
    scoped: bool,
    doc: &'static str,
    read: R,
) -> Row<R> {
    Row {
        def: FieldDef::new(name, kind, scoped, doc),
        read,
        index: None,
    }
}

/// `row`, indexing rules by its value plus `base`.
pub(crate) const fn indexed<R: Copy>(base: u32, row: Row<R>) -> Row<R> {
    Row {
        index: Some(base),
        ..row
    }
}

/// Calls `req` then, unless the scope forbids it, `rsp`: for fields read
/// from both messages of a transaction.
pub(crate) fn both(
    scope: Scope,
    f: Visit<'_>,
    req: impl FnOnce(Visit<'_>) -> bool,
    rsp: impl FnOnce(Visit<'_>) -> bool,
) -> bool {
    if scope != Scope::Response && req(f) {
        return true;
    }
    scope != Scope::Request && rsp(f)
}

/// Like [`both`], but unscoped the response is read only when the request
/// carried no value: for fields that say what the transaction *is*
/// (function, sequence number), which are the request's unless there is no
/// request (an unsolicited response, an unmatched reply).
pub(crate) fn request_first(
    scope: Scope,
    f: Visit<'_>,
    req: impl FnOnce(Visit<'_>) -> bool,
    rsp: impl FnOnce(Visit<'_>) -> bool,
) -> bool {
    let mut seen = false;
    if scope != Scope::Response {
        let hit = req(&mut |v| {
            seen = true;
            f(v)
        });
        if hit {
            return true;
        }
        if scope == Scope::Request || seen {
            return false;
        }
    }
    rsp(f)
}

/// Hands one number to the visitor.
pub(crate) fn int(v: impl Into<u64>, f: Visit<'_>) -> bool {
    f(Val::Int(v.into()))
}

/// Values of the request and the response of a transaction whose two
/// messages have one type: read as [`request_first`] when `first`, else as
/// [`both`].
pub(crate) fn messages<M>(
    req: Option<&M>,
    rsp: Option<&M>,
    scope: Scope,
    f: Visit<'_>,
    first: bool,
    read: fn(&M, Visit<'_>) -> bool,
) -> bool {
    let req = |f: Visit<'_>| req.is_some_and(|m| read(m, f));
    let rsp = |f: Visit<'_>| rsp.is_some_and(|m| read(m, f));
    if first {
        request_first(scope, f, req, rsp)
    } else {
        both(scope, f, req, rsp)
    }
}

/// What a rule's `protocol:` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// A protocol the sensor decodes: its transactions and its anomalies.
    App(ProtocolId),
    /// TCP stream anomalies (gaps, overlaps) of any flow.
    Stream,
    /// Decode anomalies of frames (malformed headers, fragments).
    Decode,
    /// Deviations from the learned baseline (of any protocol).
    Baseline,
}

impl Layer {
    /// How many layers there are (the size of per-layer tables).
    pub const COUNT: usize = ProtocolId::COUNT + 3;

    /// Every layer: the registry's protocols in its order, then `stream`,
    /// `decode` and `baseline`.
    pub const ALL: [Layer; Layer::COUNT] = {
        let mut all = [Layer::Stream; Layer::COUNT];
        let mut i = 0;
        while i < ProtocolId::COUNT {
            all[i] = Layer::App(ProtocolId::ALL[i]);
            i += 1;
        }
        all[ProtocolId::COUNT + 1] = Layer::Decode;
        all[ProtocolId::COUNT + 2] = Layer::Baseline;
        all
    };

    /// The name used in rules and EVE (`app_proto`, anomaly `type`).
    pub fn name(self) -> &'static str {
        match self {
            Layer::App(p) => p.name(),
            Layer::Stream => "stream",
            Layer::Decode => "decode",
            Layer::Baseline => crate::baseline::LAYER,
        }
    }

    /// Looks a layer up by name.
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Position in [`Layer::ALL`], for per-layer tables.
    pub fn index(self) -> usize {
        match self {
            Layer::App(p) => p.index(),
            Layer::Stream => ProtocolId::COUNT,
            Layer::Decode => ProtocolId::COUNT + 1,
            Layer::Baseline => ProtocolId::COUNT + 2,
        }
    }

    /// Every layer's name, in [`Layer::ALL`] order.
    pub fn names() -> &'static [&'static str] {
        static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
        NAMES.get_or_init(|| Layer::ALL.iter().map(|l| l.name()).collect())
    }

    /// Whether the layer has only anomaly events.
    pub(crate) fn anomaly_only(self) -> bool {
        !matches!(self, Layer::App(_))
    }

    /// The anomaly protocols (`Anomaly::protocol`) that belong to this
    /// layer.
    pub(crate) fn owns_anomaly(self, anomaly_protocol: &str) -> bool {
        match self {
            Layer::App(p) => p.name() == anomaly_protocol,
            Layer::Stream => anomaly::stream_owns(anomaly_protocol),
            Layer::Decode => anomaly::decode_owns(anomaly_protocol),
            Layer::Baseline => anomaly_protocol == crate::baseline::LAYER,
        }
    }

    /// Anomaly names the rules of this layer may name.
    pub fn anomalies(self) -> &'static [&'static str] {
        match self {
            Layer::App(p) => p.spec().anomalies,
            Layer::Stream => anomaly::STREAM,
            Layer::Decode => anomaly::DECODE,
            Layer::Baseline => &crate::baseline::DeviationKind::NAMES,
        }
    }

    /// The vocabulary entry of the layer's own field `row` (after the
    /// common fields).
    pub(crate) fn own_field(self, row: usize) -> Option<&'static FieldDef> {
        match self {
            Layer::App(p) => field_def(p, row),
            Layer::Stream | Layer::Decode | Layer::Baseline => None,
        }
    }

    /// The layer's own fields (after the common ones), with their row.
    pub(crate) fn own_fields(self) -> impl Iterator<Item = (usize, &'static FieldDef)> {
        (0..).map_while(move |i| self.own_field(i).map(|d| (i, d)))
    }
}

impl<'de> Deserialize<'de> for Layer {
    /// Read like a unit-only enum, so that a wrong name gets serde's
    /// message listing the valid ones.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Layer, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = Layer;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a protocol name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Layer, E> {
                Layer::from_name(v).ok_or_else(|| E::unknown_variant(v, Layer::names()))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Layer, E> {
                self.visit_str(&String::from_utf8_lossy(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Layer, E> {
                usize::try_from(v)
                    .ok()
                    .and_then(|i| Layer::ALL.get(i).copied())
                    .ok_or_else(|| {
                        let msg = format!("variant index 0 <= i < {}", Layer::COUNT);
                        E::invalid_value(de::Unexpected::Unsigned(v), &msg.as_str())
                    })
            }
        }
        impl<'de> de::DeserializeSeed<'de> for Name {
            type Value = Layer;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Layer, D::Error> {
                d.deserialize_identifier(self)
            }
        }
        struct Unit;
        impl<'de> Visitor<'de> for Unit {
            type Value = Layer;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a protocol name")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, a: A) -> Result<Layer, A::Error> {
                let (layer, rest) = a.variant_seed(Name)?;
                rest.unit_variant()?;
                Ok(layer)
            }
        }
        d.deserialize_enum("Layer", Layer::names(), Unit)
    }
}

/// Bytes of a transaction that `content` searches: the request's (0) and
/// the response's (1) PDU or fragment.
pub(crate) type Buffers<'a> = [Option<&'a [u8]>; 2];

macro_rules! rule_protocols {
    ($( $variant:ident => $module:ident ),+ $(,)?) => {
        $( pub(crate) mod $module; )+

        /// The vocabulary entry of field `row` of protocol `p`.
        fn field_def(p: ProtocolId, row: usize) -> Option<&'static FieldDef> {
            match p {
                $( ProtocolId::$variant => $module::FIELDS.get(row).map(|r| &r.def), )+
            }
        }

        /// The index base of field `row` of protocol `p`, when rules are
        /// indexed by it.
        pub(crate) fn index_base(p: ProtocolId, row: usize) -> Option<u32> {
            match p {
                $( ProtocolId::$variant => $module::FIELDS.get(row).and_then(|r| r.index), )+
            }
        }

        /// Reads field `row` of the event's protocol (nothing from an
        /// anomaly).
        pub(crate) fn read(app: &AppEvent<'_>, row: usize, scope: Scope, f: Visit<'_>) -> bool {
            match app {
                $(
                    AppEvent::$variant(tx) => {
                        $module::FIELDS.get(row).is_some_and(|r| (r.read)(tx, scope, f))
                    }
                )+
                AppEvent::Anomaly(_) => false,
            }
        }

        /// Whether the transaction has both a request and a response.
        pub(crate) fn answered(app: &AppEvent<'_>) -> Option<bool> {
            match app {
                $( AppEvent::$variant(tx) => Some($module::answered(tx)), )+
                AppEvent::Anomaly(_) => None,
            }
        }

        /// The bytes `content` searches.
        pub(crate) fn buffers<'a>(app: &AppEvent<'a>) -> Buffers<'a> {
            match app {
                $( AppEvent::$variant(tx) => $module::buffers(tx), )+
                AppEvent::Anomaly(_) => [None, None],
            }
        }

        /// What the transaction does, for the baseline: each operation of
        /// its request (or of an unsolicited message), to `out`.
        pub(crate) fn operations<'a>(app: &AppEvent<'a>, out: &mut dyn FnMut(crate::baseline::Op<'a>)) {
            match app {
                $( AppEvent::$variant(tx) => $module::operations(tx, out), )+
                AppEvent::Anomaly(_) => {}
            }
        }

        /// The station a transaction addresses within its server (Modbus
        /// unit id, DNP3 outstation address), when the protocol has one.
        pub(crate) fn station(app: &AppEvent<'_>) -> Option<u32> {
            match app {
                $( AppEvent::$variant(tx) => $module::station(tx), )+
                AppEvent::Anomaly(_) => None,
            }
        }

        /// The protocol of a transaction and the key its candidate rules
        /// are indexed by (`None` for anomalies).
        pub(crate) fn index_key(app: &AppEvent<'_>) -> Option<(ProtocolId, u32)> {
            match app {
                $( AppEvent::$variant(tx) => Some((ProtocolId::$variant, $module::index_key(tx))), )+
                AppEvent::Anomaly(_) => None,
            }
        }
    };
}

/// Like the proto crate's `open_enum!` types: an enum field's names and
/// their values.
macro_rules! open_enum_def {
    ($t:ty, $max:expr) => {
        $crate::fields::EnumDef {
            lookup: |s| <$t>::from_name(s).map(|v| u64::from(v.raw())),
            names: || <$t>::KNOWN.iter().map(|(_, n)| *n).collect(),
            max: $max,
        }
    };
}

// The table: one line per protocol of the proto registry, naming its rules
// file in this folder.
rule_protocols! {
    Modbus => modbus,
    Dnp3 => dnp3,
    S7comm => s7comm,
    Enip => enip,
    Iec104 => iec104,
}

/// Test support: real frames through the proto crate's dissectors.
#[cfg(test)]
pub(crate) mod fixture {
    use otwatch_proto::event::{Context, Direction, Event, EventSink, Timestamp};
    use otwatch_proto::registry::{Dissector, ProtocolConfig, ProtocolId};
    use otwatch_proto::stream::StreamBuffer;

    use super::{read, Layer};
    use crate::fields::Scope;

    /// One TCP conversation: payloads in capture order.
    pub(crate) type Conversation<'a> = &'a [(Direction, &'a [u8])];

    /// Reads hex bytes: on each line, the leading two-digit hex tokens are
    /// bytes and the rest of the line is a comment.
    pub(crate) fn unhex(text: &str) -> Vec<u8> {
        text.lines()
            .flat_map(|line| {
                line.split_whitespace()
                    .take_while(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(|t| u8::from_str_radix(t, 16).unwrap_or_default())
            })
            .collect()
    }

    struct Yields {
        protocol: ProtocolId,
        seen: Vec<bool>,
        events: usize,
        anomalies: Vec<&'static str>,
    }

    impl EventSink for Yields {
        fn emit(&mut self, event: &Event<'_>) {
            if let otwatch_proto::AppEvent::Anomaly(a) = event.app {
                self.anomalies.push(a.name);
                return;
            }
            assert_eq!(event.app.protocol(), Some(self.protocol));
            self.events += 1;
            for (row, seen) in self.seen.iter_mut().enumerate() {
                *seen |= read(&event.app, row, Scope::Either, &mut |_| true);
            }
        }
    }

    /// Feeds each conversation to a new dissector of `protocol` (over TCP)
    /// and asserts that every one of the protocol's own fields yields a
    /// value on at least one of the transactions, and that the frames raise
    /// no anomaly.
    pub(crate) fn assert_every_field_yields(
        protocol: ProtocolId,
        conversations: &[Conversation<'_>],
    ) {
        assert_every_field_yields_on(protocol, conversations, &[]);
    }

    /// Like [`assert_every_field_yields`], with conversations over UDP
    /// too (each payload one datagram).
    pub(crate) fn assert_every_field_yields_on(
        protocol: ProtocolId,
        conversations: &[Conversation<'_>],
        datagrams: &[Conversation<'_>],
    ) {
        let rows = Layer::App(protocol).own_fields().count();
        let mut sink = Yields {
            protocol,
            seen: vec![false; rows],
            events: 0,
            anomalies: Vec::new(),
        };
        for conversation in conversations {
            let mut d = Dissector::new(protocol, &ProtocolConfig::default());
            let Some(stream) = d.stream() else {
                panic!("{} has no TCP side", protocol.name());
            };
            let mut bufs = [StreamBuffer::default(), StreamBuffer::default()];
            for (i, (dir, bytes)) in conversation.iter().enumerate() {
                let mut cx = Context {
                    ts: Timestamp::new(i as i64, 0),
                    sink: &mut sink,
                };
                let fed = bufs[dir.index()].feed(stream, *dir, bytes, 1 << 16, &mut cx);
                assert!(fed.is_ok(), "{}: frame {i} overflowed", protocol.name());
            }
            let mut cx = Context {
                ts: Timestamp::new(1000, 0),
                sink: &mut sink,
            };
            stream.flush(&mut cx);
        }
        for conversation in datagrams {
            let mut d = Dissector::new(protocol, &ProtocolConfig::default());
            let Some(datagram) = d.datagram() else {
                panic!("{} has no UDP side", protocol.name());
            };
            for (i, (dir, bytes)) in conversation.iter().enumerate() {
                let mut cx = Context {
                    ts: Timestamp::new(i as i64, 0),
                    sink: &mut sink,
                };
                datagram.parse_datagram(*dir, bytes, &mut cx);
            }
            let mut cx = Context {
                ts: Timestamp::new(1000, 0),
                sink: &mut sink,
            };
            datagram.flush(&mut cx);
        }
        assert!(sink.events > 0, "{}: no transaction", protocol.name());
        assert_eq!(sink.anomalies, Vec::<&str>::new(), "{}", protocol.name());
        let silent: Vec<&str> = Layer::App(protocol)
            .own_fields()
            .filter(|(row, _)| !sink.seen[*row])
            .map(|(_, def)| def.name)
            .collect();
        assert_eq!(
            silent,
            Vec::<&str>::new(),
            "{} fields that yield no value on any fixture",
            protocol.name()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table rows `rules/README.md` must have for a protocol's own
    /// fields, in code order.
    fn readme_rows(p: ProtocolId) -> Vec<String> {
        Layer::App(p)
            .own_fields()
            .map(|(_, d)| {
                let scoped = if d.scoped { "yes" } else { "" };
                format!("| `{}.{}` | {scoped} | {} |", p.name(), d.name, d.doc)
            })
            .collect()
    }

    #[test]
    fn the_readme_tables_list_every_field_as_the_code_declares_it() {
        let readme = include_str!("../../README.md");
        let start = readme.find("Every protocol has:").expect("common fields");
        let common = readme[start..].split("\n\n").next().unwrap_or_default();
        for (def, _) in crate::fields::COMMON {
            assert!(
                common.contains(&format!("`{}`", def.name)),
                "rules/README.md does not name the common field `{}`",
                def.name
            );
        }
        for p in ProtocolId::ALL {
            let heading = format!("\n### {}\n", p.name());
            let Some(start) = readme.find(&heading) else {
                panic!("rules/README.md has no `### {}` section", p.name());
            };
            let table: Vec<String> = readme[start + heading.len()..]
                .lines()
                .skip_while(|l| !l.starts_with('|'))
                .take_while(|l| l.starts_with('|'))
                .skip(2) // header and separator
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            let want: Vec<String> = readme_rows(p)
                .iter()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            assert_eq!(
                table,
                want,
                "rules/README.md `### {}` table; the rows from the code:\n{}",
                p.name(),
                readme_rows(p).join("\n")
            );
        }
    }

    #[test]
    fn the_readme_lists_the_anomalies_of_stream_and_decode() {
        let readme = include_str!("../../README.md");
        for layer in [Layer::Stream, Layer::Decode, Layer::Baseline] {
            let bullet = format!("\n* `{}`:", layer.name());
            let Some(start) = readme.find(&bullet) else {
                panic!("rules/README.md has no {bullet:?} list");
            };
            let text = &readme[start + bullet.len()..];
            let end = text.find("\n*").into_iter().chain(text.find("\n\n")).min();
            let listed: Vec<&str> = text[..end.unwrap_or(text.len())]
                .split('`')
                .skip(1)
                .step_by(2)
                .collect();
            assert_eq!(listed, layer.anomalies(), "rules/README.md {bullet:?}");
        }
    }

    #[test]
    fn layers_are_the_registry_protocols_then_stream_and_decode() {
        assert_eq!(Layer::ALL.len(), ProtocolId::COUNT + 3);
        for (i, layer) in Layer::ALL.into_iter().enumerate() {
            assert_eq!(layer.index(), i);
            assert_eq!(Layer::from_name(layer.name()), Some(layer));
            assert_eq!(Layer::names()[i], layer.name());
        }
        for p in ProtocolId::ALL {
            assert_eq!(Layer::ALL[p.index()], Layer::App(p));
            assert_eq!(Layer::App(p).anomalies(), p.spec().anomalies);
            assert!(Layer::App(p).owns_anomaly(p.name()));
        }
        assert_eq!(Layer::ALL[ProtocolId::COUNT], Layer::Stream);
        assert_eq!(Layer::ALL[ProtocolId::COUNT + 1], Layer::Decode);
        assert_eq!(Layer::ALL[ProtocolId::COUNT + 2], Layer::Baseline);
        assert!(Layer::Baseline.owns_anomaly("baseline"));
        assert!(Layer::Decode.owns_anomaly("ipv4") && Layer::Decode.owns_anomaly("ipv6"));
        assert!(!Layer::Stream.owns_anomaly("decode"));
        assert_eq!(Layer::from_name("http"), None);
    }
}
