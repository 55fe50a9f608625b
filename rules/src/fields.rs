//! The rule field vocabulary: the fields every layer has, here, and each
//! protocol's own fields in its file of [`crate::protocols`], so that
//! validation can list the valid names and `rules/README.md` documents
//! exactly what exists.
//!
//! A field has a [`Kind`] (how its values compare) and says whether it may
//! be prefixed with `request.` / `response.` ([`FieldDef::scoped`]).
//! [`lookup`] finds a field of a layer and says how the matcher reads it
//! ([`Reader`]).

use std::net::IpAddr;

use otwatch_proto::event::AppEvent;

use crate::cond::Val;
use crate::protocols::{self, Layer, Visit};
use crate::view::FlowInfo;

/// How a field's values compare, and which literals a rule may give.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An unsigned number up to `max`.
    Int {
        /// Largest value the field can take.
        max: u64,
    },
    /// A code with names: names and numbers are both accepted.
    Enum(EnumDef),
    /// A bit set with a name per bit (DNP3 IIN): a name tests its bit.
    Bits(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
    /// Bytes from the packet, compared as text (`eq`, `in`, `contains`).
    Text,
    /// An IP address: addresses, CIDR networks, `$var` lists.
    Ip,
    /// A TCP/UDP port: numbers, `a-b` ranges, `$var` lists.
    Port,
    /// Raw payload: byte-string patterns found by the protocol's automaton.
    Content,
    /// An anomaly name of the rule's protocol.
    Anomaly,
}

/// The names of an enum field.
#[derive(Clone, Copy)]
pub struct EnumDef {
    /// The value of a name.
    pub lookup: fn(&str) -> Option<u64>,
    /// Every name, for error messages and docs.
    pub names: fn() -> Vec<&'static str>,
    /// Largest number.
    pub max: u64,
}

impl core::fmt::Debug for EnumDef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries((self.names)()).finish()
    }
}

/// One field of the vocabulary.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Name in rules, without the protocol prefix (`diagnostic.subfunction`).
    pub name: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// Whether `request.` / `response.` may prefix it.
    pub scoped: bool,
    /// One line for docs.
    pub doc: &'static str,
}

impl FieldDef {
    /// A field.
    pub const fn new(name: &'static str, kind: Kind, scoped: bool, doc: &'static str) -> FieldDef {
        FieldDef {
            name,
            kind,
            scoped,
            doc,
        }
    }
}

/// A number up to 255.
pub(crate) const INT8: Kind = Kind::Int { max: 0xff };
/// A number up to 65535.
pub(crate) const INT16: Kind = Kind::Int { max: 0xffff };
/// A number up to 2^32 - 1.
pub(crate) const INT32: Kind = Kind::Int { max: 0xffff_ffff };

/// The fields every layer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Common {
    SrcIp,
    DestIp,
    AnyIp,
    SrcPort,
    DestPort,
    AnyPort,
    Anomaly,
    Content,
    Answered,
}

impl Common {
    /// Whether the field is an address or a port of the flow (the only
    /// fields an anomaly rule may add to `anomaly`).
    pub(crate) fn is_address(self) -> bool {
        matches!(
            self,
            Common::SrcIp
                | Common::DestIp
                | Common::AnyIp
                | Common::SrcPort
                | Common::DestPort
                | Common::AnyPort
        )
    }

    /// Calls `f` with each value of the field until it returns true.
    fn read(self, flow: &FlowInfo, app: &AppEvent<'_>, scope: Scope, f: Visit<'_>) -> bool {
        let ip = |a: IpAddr| Val::Ip(a);
        let port = |p: u16| Val::Int(u64::from(p));
        match self {
            Common::SrcIp => f(ip(flow.src)),
            Common::DestIp => f(ip(flow.dest)),
            Common::AnyIp => f(ip(flow.src)) || f(ip(flow.dest)),
            Common::SrcPort => f(port(flow.src_port)),
            Common::DestPort => f(port(flow.dest_port)),
            Common::AnyPort => f(port(flow.src_port)) || f(port(flow.dest_port)),
            Common::Anomaly => match app {
                AppEvent::Anomaly(a) => f(Val::Name(a.name)),
                _ => false,
            },
            Common::Content => {
                let [req, rsp] = protocols::buffers(app);
                (scope != Scope::Response && req.is_some() && f(Val::Buf(0)))
                    || (scope != Scope::Request && rsp.is_some() && f(Val::Buf(1)))
            }
            Common::Answered => protocols::answered(app).is_some_and(|a| f(Val::Bool(a))),
        }
    }
}

/// The fields every layer has, in documentation order (before each
/// protocol's own).
pub(crate) const COMMON: [(FieldDef, Common); 9] = [
    (
        FieldDef::new(
            "src_ip",
            Kind::Ip,
            false,
            "client (master) address, as EVE `src_ip`",
        ),
        Common::SrcIp,
    ),
    (
        FieldDef::new(
            "dest_ip",
            Kind::Ip,
            false,
            "server (PLC, outstation) address, as EVE `dest_ip`",
        ),
        Common::DestIp,
    ),
    (
        FieldDef::new("ip", Kind::Ip, false, "either address"),
        Common::AnyIp,
    ),
    (
        FieldDef::new("src_port", Kind::Port, false, "client port"),
        Common::SrcPort,
    ),
    (
        FieldDef::new("dest_port", Kind::Port, false, "server port"),
        Common::DestPort,
    ),
    (
        FieldDef::new("port", Kind::Port, false, "either port"),
        Common::AnyPort,
    ),
    (
        FieldDef::new(
            "anomaly",
            Kind::Anomaly,
            false,
            "anomaly name (the rule then matches anomaly events of its protocol)",
        ),
        Common::Anomaly,
    ),
    (
        FieldDef::new(
            "content",
            Kind::Content,
            true,
            "raw PDU bytes: every pattern must occur (request, response or either)",
        ),
        Common::Content,
    ),
    (
        FieldDef::new(
            "answered",
            Kind::Bool,
            false,
            "the transaction has both a request and a response",
        ),
        Common::Answered,
    ),
];

/// How the matcher reads a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Reader {
    /// A field every layer has.
    Common(Common),
    /// Row `n` of the rule's protocol's own fields.
    Own(usize),
}

impl Reader {
    /// Calls `f` with each value of the field in the event until it
    /// returns true.
    pub(crate) fn each_value(
        self,
        flow: &FlowInfo,
        app: &AppEvent<'_>,
        scope: Scope,
        f: Visit<'_>,
    ) -> bool {
        match self {
            Reader::Common(c) => c.read(flow, app, scope, f),
            Reader::Own(row) => protocols::read(app, row, scope, f),
        }
    }
}

/// Every field of a layer, common ones first, with how each is read.
pub(crate) fn fields(layer: Layer) -> impl Iterator<Item = (&'static FieldDef, Reader)> {
    let common = COMMON.iter().map(|(d, c)| (d, Reader::Common(*c)));
    common.chain(layer.own_fields().map(|(i, d)| (d, Reader::Own(i))))
}

/// Looks a field up by name (with or without the `protocol.` prefix, with
/// an optional `request.` / `response.` scope). Returns the field, how it
/// is read, and the scope.
pub(crate) fn lookup(layer: Layer, name: &str) -> Option<(&'static FieldDef, Reader, Scope)> {
    let name = name
        .strip_prefix(layer.name())
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(name);
    let (scope, bare) = if let Some(rest) = name.strip_prefix("request.") {
        (Scope::Request, rest)
    } else if let Some(rest) = name.strip_prefix("response.") {
        (Scope::Response, rest)
    } else {
        (Scope::Either, name)
    };
    let (def, reader) = fields(layer).find(|(f, _)| f.name == bare)?;
    if scope != Scope::Either && !def.scoped {
        return None;
    }
    Some((def, reader, scope))
}

/// Which message of a transaction a field is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The request when it carries the field, else the response.
    Either,
    /// Only the request.
    Request,
    /// Only the response.
    Response,
}

#[cfg(test)]
mod tests {
    use super::*;
    use otwatch_proto::registry::ProtocolId;

    #[test]
    fn looks_up_prefixed_scoped_names() {
        let modbus = Layer::App(ProtocolId::Modbus);
        let (f, _, s) = lookup(modbus, "modbus.response.function").expect("field");
        assert_eq!((f.name, s), ("function", Scope::Response));
        let (f, _, s) = lookup(modbus, "diagnostic.subfunction").expect("field");
        assert_eq!((f.name, s), ("diagnostic.subfunction", Scope::Either));
        let (_, r, _) = lookup(modbus, "modbus.src_ip").expect("field");
        assert_eq!(r, Reader::Common(Common::SrcIp));
        assert!(lookup(modbus, "request.unit_id").is_none());
        assert!(lookup(Layer::App(ProtocolId::Dnp3), "diagnostic.subfunction").is_none());
        assert!(lookup(Layer::Stream, "function").is_none());
    }

    #[test]
    fn field_names_are_unique_per_layer() {
        for l in Layer::ALL {
            let names: Vec<_> = fields(l).map(|(f, _)| f.name).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{}", l.name());
        }
    }
}
