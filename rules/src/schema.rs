//! The YAML schema of a rule file, as serde structs with
//! `deny_unknown_fields`, and [`Node`]: a generic YAML value that keeps the
//! position of every scalar, key and collection, for the parts (`vars`,
//! `match`, `suppress.ip`) whose names are checked against the field
//! vocabulary after parsing.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::protocols::Layer;

/// A YAML value with positions.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl Node {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "a number",
            Node::Float(_) => "a decimal number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(i128::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Int(i128::from(v)))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
                Ok(Node::Int(i128::try_from(v).unwrap_or(i128::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// The top level of a rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileDef {
    #[serde(default)]
    pub(crate) vars: Option<Spanned<Node>>,
    #[serde(default)]
    pub(crate) rules: Option<Vec<Spanned<Node>>>,
}

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Name in rules and EVE metadata.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Suricata's numeric severity: critical = 1 … info = 5.
    pub fn suricata(self) -> u8 {
        match self {
            Severity::Critical => 1,
            Severity::High => 2,
            Severity::Medium => 3,
            Severity::Low => 4,
            Severity::Info => 5,
        }
    }
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDef {
    pub(crate) id: Spanned<u32>,
    #[serde(default = "one")]
    pub(crate) rev: u32,
    pub(crate) name: String,
    pub(crate) severity: Severity,
    pub(crate) protocol: Layer,
    #[serde(default)]
    pub(crate) category: Option<String>,
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) attack: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) references: Vec<String>,
    #[serde(rename = "match")]
    pub(crate) match_: Spanned<Node>,
    #[serde(default)]
    pub(crate) threshold: Option<ThresholdDef>,
    #[serde(default)]
    pub(crate) detection_filter: Option<FilterDef>,
    #[serde(default)]
    pub(crate) suppress: Vec<SuppressDef>,
    #[serde(default)]
    pub(crate) flow: Option<FlowDef>,
    #[serde(default)]
    pub(crate) noalert: bool,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    #[serde(default)]
    pub(crate) tests: Vec<Spanned<TestDef>>,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// What a threshold or filter counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    /// The source (client) address.
    BySrc,
    /// The destination (server) address.
    ByDst,
    /// The (source, destination) pair.
    ByPair,
    /// The source and the server: destination address and port (one
    /// service of a device: a PLC's Modbus apart from its S7).
    ByServer,
    /// The flow.
    ByFlow,
    /// The rule as a whole.
    ByRule,
}

/// Threshold types, as in Suricata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdType {
    /// At most `count` alerts per window.
    Limit,
    /// One alert every `count` matches within a window.
    Threshold,
    /// One alert per window, once `count` matches were seen in it.
    Both,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThresholdDef {
    #[serde(rename = "type")]
    pub(crate) kind: ThresholdType,
    pub(crate) track: Track,
    pub(crate) count: Spanned<u32>,
    pub(crate) seconds: Spanned<u32>,
    /// Count distinct values of this field instead of matches.
    #[serde(default)]
    pub(crate) distinct: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterDef {
    pub(crate) track: Track,
    pub(crate) count: Spanned<u32>,
    pub(crate) seconds: Spanned<u32>,
    /// Count distinct values of this field instead of matches.
    #[serde(default)]
    pub(crate) distinct: Option<Spanned<String>>,
}

/// Which address a suppression compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressTrack {
    /// The source address.
    BySrc,
    /// The destination address.
    ByDst,
    /// Either address.
    ByEither,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuppressDef {
    pub(crate) track: SuppressTrack,
    pub(crate) ip: Spanned<Node>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowDef {
    #[serde(default)]
    pub(crate) set: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) unset: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) require: Vec<Spanned<String>>,
}

/// A rule's own test: a capture and how many alerts of this rule it must
/// raise (0: must not raise any).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestDef {
    /// Capture file, relative to the rule file.
    pub pcap: String,
    /// Exact number of alerts of this rule.
    pub alerts: u32,
    /// How the capture was made, when it matters (e.g. synthesized).
    #[serde(default)]
    pub note: Option<String>,
    /// Variables replaced for this test (`{modbus_masters: [10.0.0.1]}`).
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, Vec<String>>,
    /// A baseline file (relative to the rule file) enforced while the
    /// capture is replayed: for the rules of the `baseline` layer.
    #[serde(default)]
    pub baseline: Option<String>,
}
