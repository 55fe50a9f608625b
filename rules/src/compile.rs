//! From YAML text to compiled rules: parsing with serde-saphyr, semantic
//! checks with positions, and compilation of every `match` entry to a
//! [`Cond`] over a [`Field`].
//!
//! Each rule is parsed on its own (its lines, cut from the file and padded so
//! that columns stay right, with the line offset added back to every
//! position), so one bad rule does not hide the errors of the next: a file's
//! errors are all reported at once, and the file is rejected as a whole.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_saphyr::Spanned;

use crate::cond::{Cond, Leaf, Net};
use crate::error::{choices, ErrorKind, Errors, Pos};
use crate::fields::{fields, lookup, Common, FieldDef, Kind, Reader, Scope};
use crate::protocols::{self, Layer};
use crate::schema::{
    FileDef, FlowDef, Node, RuleDef, Severity, SuppressTrack, TestDef, ThresholdType, Track,
};

/// One rule file's text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Name used in errors (the path, or `default/NAME.yaml`).
    pub name: String,
    /// The YAML text.
    pub text: String,
    /// Folder that relative test capture paths start from.
    pub base: PathBuf,
}

/// What a rule is, for alerts and listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// Signature id.
    pub id: u32,
    /// Revision.
    pub rev: u32,
    /// Signature text.
    pub name: String,
    /// Severity.
    pub severity: Severity,
    /// Alert category.
    pub category: String,
    /// Protocol (or anomaly-only layer).
    pub protocol: Layer,
    /// ATT&CK for ICS technique ids.
    pub attack: Vec<String>,
    /// References (URLs, advisories).
    pub references: Vec<String>,
    /// What the alert means, for an operator.
    pub description: String,
    /// File the rule came from.
    pub file: String,
    /// Line of the rule in its file.
    pub line: u32,
}

/// A rule test with its capture path resolved.
#[derive(Debug, Clone)]
pub struct RuleTest {
    /// Capture file.
    pub pcap: PathBuf,
    /// Exact number of alerts of the rule the capture must raise.
    pub alerts: u32,
    /// How the capture was made.
    pub note: Option<String>,
    /// Where the test is written.
    pub pos: Pos,
    /// Variables replaced for this test.
    pub vars: VarOverrides,
    /// The baseline enforced during the test.
    pub baseline: Option<PathBuf>,
}

/// Variable values that replace those of the rule files (rule tests, site
/// configuration): name → list of addresses, networks or ports.
pub type VarOverrides = std::collections::BTreeMap<String, Vec<String>>;

/// A condition on one field.
#[derive(Debug, Clone)]
pub(crate) struct FieldCond {
    pub(crate) reader: Reader,
    pub(crate) scope: Scope,
    /// Index base when rules are indexed by this field.
    pub(crate) index: Option<u32>,
    pub(crate) cond: Cond,
}

/// What a rule's `threshold` or `detection_filter` counts, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    /// A threshold of a type, or a detection filter.
    pub(crate) kind: LimitKind,
    pub(crate) track: Track,
    pub(crate) count: u32,
    pub(crate) seconds: u32,
    /// The field whose distinct values are counted instead of matches.
    pub(crate) distinct: Option<Distinct>,
}

/// A threshold of a type, or a detection filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitKind {
    Threshold(ThresholdType),
    Filter,
}

/// A field counted by its distinct values (`distinct: dest_ip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Distinct {
    pub(crate) reader: Reader,
    pub(crate) scope: Scope,
}

/// Largest `count` of a threshold or filter with `distinct`: a window
/// remembers at most this many values (one more for a detection filter).
pub const MAX_DISTINCT_COUNT: u32 = 1024;

/// A compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) meta: RuleMeta,
    pub(crate) conds: Vec<FieldCond>,
    pub(crate) anomaly: bool,
    pub(crate) limit: Option<Limit>,
    pub(crate) suppress: Vec<(SuppressTrack, Cond)>,
    pub(crate) flow_set: u64,
    pub(crate) flow_unset: u64,
    pub(crate) flow_require: u64,
    pub(crate) noalert: bool,
    pub(crate) tests: Vec<RuleTest>,
}

/// Longest content pattern, in bytes once `|hex|` runs are decoded. The
/// longest PDU a pattern searches is a few kilobytes (Modbus 253 bytes, an
/// S7 PDU up to the negotiated size, 960 bytes on most PLCs, a DNP3
/// application fragment 2048 bytes by default): a longer pattern can never
/// match.
pub const MAX_CONTENT_LEN: usize = 4096;
/// Most content patterns in one rule (entries of its `content` lists and
/// `$var` lists together).
pub const MAX_CONTENT_PER_RULE: usize = 64;
/// Most distinct content patterns of one protocol in a ruleset.
pub const MAX_CONTENT_PER_PROTOCOL: usize = 4096;
/// Most bytes of distinct content patterns of one protocol in a ruleset:
/// bounds the automaton's size.
pub const MAX_CONTENT_BYTES_PER_PROTOCOL: usize = 1 << 20;

/// Content patterns of one protocol.
#[derive(Debug, Default, Clone)]
pub(crate) struct Patterns {
    pub(crate) list: Vec<Vec<u8>>,
    /// Position of each pattern in `list`, so that interning stays linear
    /// in the number of patterns.
    ids: HashMap<Vec<u8>, u32>,
    /// Bytes of the patterns in `list`.
    pub(crate) bytes: usize,
    /// Patterns of the rule being compiled (reset per rule).
    in_rule: usize,
    /// Whether a protocol-wide limit was reported (it is said once).
    full: bool,
}

/// Why a pattern was not added.
enum InternError {
    /// The protocol has [`MAX_CONTENT_PER_PROTOCOL`] patterns already.
    Count,
    /// The pattern would take the protocol past
    /// [`MAX_CONTENT_BYTES_PER_PROTOCOL`].
    Bytes,
}

impl Patterns {
    fn intern(&mut self, bytes: Vec<u8>) -> Result<u32, InternError> {
        if let Some(&i) = self.ids.get(&bytes) {
            return Ok(i);
        }
        if self.list.len() >= MAX_CONTENT_PER_PROTOCOL {
            return Err(InternError::Count);
        }
        if self.bytes + bytes.len() > MAX_CONTENT_BYTES_PER_PROTOCOL {
            return Err(InternError::Bytes);
        }
        let id = u32::try_from(self.list.len()).map_err(|_| InternError::Count)?;
        self.bytes += bytes.len();
        self.ids.insert(bytes.clone(), id);
        self.list.push(bytes);
        Ok(id)
    }
}

/// Everything compilation produces.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) rules: Vec<Rule>,
    /// Content patterns per layer ([`Layer::index`]).
    pub(crate) patterns: [Patterns; Layer::COUNT],
    pub(crate) flags: Vec<String>,
}

impl Default for Compiled {
    fn default() -> Compiled {
        Compiled {
            rules: Vec::new(),
            patterns: std::array::from_fn(|_| Patterns::default()),
            flags: Vec::new(),
        }
    }
}

struct Var {
    node: Spanned<Node>,
    file: String,
    line_offset: u32,
}

struct Ctx<'a> {
    file: String,
    line_offset: u32,
    errors: &'a mut Errors,
    vars: &'a HashMap<String, Var>,
}

impl Ctx<'_> {
    fn pos(&self, loc: &serde_saphyr::Location) -> Pos {
        Pos::from_location(loc, self.line_offset)
    }

    fn err(&mut self, loc: &serde_saphyr::Location, kind: ErrorKind, msg: impl Into<String>) {
        let pos = self.pos(loc);
        self.errors.push(&self.file, pos, kind, msg);
    }
}

pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! { with_snippet: false }
}

/// Parses a whole YAML file of `name` into `T`; a syntax or type error goes
/// into `errors` at its position.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    name: &str,
    text: &str,
    errors: &mut Errors,
) -> Option<T> {
    match serde_saphyr::from_str_with_options(text, yaml_options()) {
        Ok(v) => Some(v),
        Err(e) => {
            let pos = e
                .location()
                .map(|l| Pos::from_location(&l, 0))
                .unwrap_or_default();
            errors.push(name, pos, ErrorKind::Syntax, plain_message(&e));
            None
        }
    }
}

/// serde-saphyr's message without its trailing ` at line L, column C`.
pub(crate) fn plain_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let line = text.lines().next().unwrap_or("");
    match line.rfind(" at line ") {
        Some(i) => line[..i].to_owned(),
        None => line.to_owned(),
    }
}

/// The text of one rule: from its first key to the last line indented at
/// least as deep, padded on the left so that columns are unchanged.
fn rule_text(text: &str, byte: usize, column: u32) -> String {
    let indent = column.saturating_sub(1) as usize;
    let mut out = " ".repeat(indent);
    let rest = text.get(byte..).unwrap_or("");
    let mut lines = rest.split_inclusive('\n');
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    for line in lines {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start_matches(' ');
        let depth = body.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') || depth >= indent {
            out.push_str(line);
        } else {
            break;
        }
    }
    out
}

/// Parses and compiles every source; all errors or nothing.
pub(crate) fn compile(sources: &[Source], overrides: &VarOverrides) -> Result<Compiled, Errors> {
    let mut errors = Errors::default();
    let mut vars: HashMap<String, Var> = HashMap::new();
    let mut defs: Vec<(usize, RuleDef, u32)> = Vec::new();
    for (si, src) in sources.iter().enumerate() {
        if src.text.len() as u64 > crate::load::MAX_RULE_FILE_BYTES {
            let msg = crate::load::too_large(src.text.len() as u64);
            errors.push(&src.name, Pos::default(), ErrorKind::Io, msg);
            continue;
        }
        let Some(file) = parse_yaml::<FileDef>(&src.name, &src.text, &mut errors) else {
            continue;
        };
        if let Some(v) = file.vars {
            collect_vars(&src.name, v, &mut vars, &mut errors);
        }
        for node in file.rules.unwrap_or_default() {
            let loc = node.referenced;
            if !matches!(node.value, Node::Map(_)) {
                errors.push(
                    &src.name,
                    Pos::from_location(&loc, 0),
                    ErrorKind::Syntax,
                    format!(
                        "a rule is a mapping (id, name, …), found {}",
                        node.value.type_name()
                    ),
                );
                continue;
            }
            let Some(byte) = loc.span().byte_offset() else {
                continue;
            };
            let column = u32::try_from(loc.column()).unwrap_or(1);
            let line_offset = u32::try_from(loc.line()).unwrap_or(1).saturating_sub(1);
            let text = rule_text(&src.text, byte as usize, column);
            match serde_saphyr::from_str_with_options::<RuleDef>(&text, yaml_options()) {
                Ok(def) => defs.push((si, def, line_offset)),
                Err(e) => {
                    let pos = e
                        .location()
                        .map(|l| Pos::from_location(&l, line_offset))
                        .unwrap_or(Pos::from_location(&loc, 0));
                    errors.push(&src.name, pos, ErrorKind::Syntax, plain_message(&e));
                }
            }
        }
    }
    for (name, values) in overrides {
        let loc = vars
            .get(name)
            .map_or(serde_saphyr::Location::UNKNOWN, |v| v.node.referenced);
        let items = values
            .iter()
            .map(|v| Spanned::new(Node::Str(v.clone()), loc, loc))
            .collect();
        vars.insert(
            name.clone(),
            Var {
                node: Spanned::new(Node::Seq(items), loc, loc),
                file: "<override>".to_owned(),
                line_offset: 0,
            },
        );
    }
    let mut out = Compiled::default();
    let mut ids: HashMap<u32, (String, Pos)> = HashMap::new();
    for (si, def, line_offset) in defs {
        let src = &sources[si];
        let id_pos = Pos::from_location(&def.id.referenced, line_offset);
        if let Some((file, pos)) = ids.get(&def.id.value) {
            errors.push(
                &src.name,
                id_pos,
                ErrorKind::DuplicateId,
                format!(
                    "rule id {} is already used at {}:{}:{}",
                    def.id.value, file, pos.line, pos.column
                ),
            );
        } else {
            ids.insert(def.id.value, (src.name.clone(), id_pos));
        }
        let mut cx = Ctx {
            file: src.name.clone(),
            line_offset,
            errors: &mut errors,
            vars: &vars,
        };
        if let Some(rule) = compile_rule(&mut cx, src, def, &mut out) {
            out.rules.push(rule);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.sort();
        Err(errors)
    }
}

fn collect_vars(
    file: &str,
    node: Spanned<Node>,
    vars: &mut HashMap<String, Var>,
    errors: &mut Errors,
) {
    let Node::Map(entries) = node.value else {
        if !matches!(node.value, Node::Null) {
            errors.push(
                file,
                Pos::from_location(&node.referenced, 0),
                ErrorKind::Syntax,
                "`vars` is a mapping of names to lists of addresses, networks or ports",
            );
        }
        return;
    };
    for (name, value) in entries {
        let pos = Pos::from_location(&name.referenced, 0);
        let valid = !name.value.is_empty()
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            errors.push(
                file,
                pos,
                ErrorKind::Invalid,
                format!(
                    "variable name `{}` must be letters, digits and `_`",
                    name.value
                ),
            );
            continue;
        }
        if let Some(prev) = vars.get(&name.value) {
            let p = Pos::from_location(&prev.node.referenced, prev.line_offset);
            errors.push(
                file,
                pos,
                ErrorKind::Invalid,
                format!(
                    "variable `{}` is already defined at {}:{}:{}",
                    name.value, prev.file, p.line, p.column
                ),
            );
            continue;
        }
        vars.insert(
            name.value,
            Var {
                node: value,
                file: file.to_owned(),
                line_offset: 0,
            },
        );
    }
}

fn check_attack_id(id: &str) -> bool {
    let b = id.as_bytes();
    let base = b.len() >= 5 && b[0] == b'T' && b[1..5].iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => base,
        9 => base && b[5] == b'.' && b[6..9].iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Checks and compiles a `threshold` or `detection_filter`.
fn compile_limit(
    cx: &mut Ctx<'_>,
    protocol: Layer,
    kind: LimitKind,
    track: Track,
    count: &Spanned<u32>,
    seconds: &Spanned<u32>,
    distinct: Option<&Spanned<String>>,
) -> Option<Limit> {
    check_positive(cx, count, "count");
    check_positive(cx, seconds, "seconds");
    let distinct = match distinct {
        None => None,
        Some(name) => {
            if count.value > MAX_DISTINCT_COUNT {
                cx.err(
                    &count.referenced,
                    ErrorKind::BadValue,
                    format!(
                        "`count` is {}, more than {MAX_DISTINCT_COUNT}, the most distinct values a window remembers",
                        count.value
                    ),
                );
            }
            match lookup(protocol, &name.value) {
                Some((fdef, _, _)) if matches!(fdef.kind, Kind::Content) => {
                    cx.err(
                        &name.referenced,
                        ErrorKind::Invalid,
                        format!(
                            "`distinct: {}`: a payload buffer cannot be counted; name a field",
                            name.value
                        ),
                    );
                    None
                }
                Some((_, reader, scope)) => Some(Distinct { reader, scope }),
                None => {
                    let names = fields(protocol).map(|(f, _)| f.name);
                    cx.err(
                        &name.referenced,
                        ErrorKind::UnknownField,
                        format!(
                            "`distinct: {}`: unknown field for protocol {}; valid fields: {}",
                            name.value,
                            protocol.name(),
                            choices(names, 100)
                        ),
                    );
                    None
                }
            }
        }
    };
    Some(Limit {
        kind,
        track,
        count: count.value.max(1),
        seconds: seconds.value.max(1),
        distinct,
    })
}

fn compile_rule(cx: &mut Ctx<'_>, src: &Source, def: RuleDef, out: &mut Compiled) -> Option<Rule> {
    let errors_before = cx.errors.len();
    let protocol = def.protocol;
    for a in &def.attack {
        if !check_attack_id(&a.value) {
            cx.err(
                &a.referenced,
                ErrorKind::BadValue,
                format!(
                    "`{}` is not an ATT&CK technique id (T0801, T0843, T0836.001)",
                    a.value
                ),
            );
        }
    }
    let mut conds = Vec::new();
    let mut anomaly = false;
    let mut only_common = None;
    out.patterns[protocol.index()].in_rule = 0;
    match &def.match_.value {
        Node::Map(entries) => {
            for (key, value) in entries {
                let Some((fdef, reader, scope)) = lookup(protocol, &key.value) else {
                    let names = fields(protocol).map(|(f, _)| f.name);
                    let scoped_hint =
                        if key.value.contains("request.") || key.value.contains("response.") {
                            " (only some fields take request./response.)"
                        } else {
                            ""
                        };
                    let msg = format!(
                        "unknown field `{}` for protocol {}{}; valid fields: {}",
                        key.value,
                        protocol.name(),
                        scoped_hint,
                        choices(names, 100)
                    );
                    cx.err(&key.referenced, ErrorKind::UnknownField, msg);
                    continue;
                };
                if reader == Reader::Common(Common::Anomaly) {
                    anomaly = true;
                } else if !matches!(reader, Reader::Common(c) if c.is_address())
                    && only_common.is_none()
                {
                    only_common = Some((key.referenced, key.value.clone()));
                }
                let mut patterns = std::mem::take(&mut out.patterns[protocol.index()]);
                let cond = compile_cond(cx, protocol, fdef, value, &mut patterns);
                out.patterns[protocol.index()] = patterns;
                if let Some(cond) = cond {
                    let index = match (protocol, reader) {
                        (Layer::App(p), Reader::Own(row)) => protocols::index_base(p, row),
                        _ => None,
                    };
                    conds.push(FieldCond {
                        reader,
                        scope,
                        index,
                        cond,
                    });
                }
            }
        }
        other => cx.err(
            &def.match_.referenced,
            ErrorKind::Syntax,
            format!(
                "`match` is a mapping of field names to conditions, found {}",
                other.type_name()
            ),
        ),
    }
    if anomaly {
        if let Some((loc, name)) = only_common {
            cx.err(
                &loc,
                ErrorKind::Invalid,
                format!("`{name}` cannot be combined with `anomaly`: anomaly events carry only addresses, ports and the anomaly name"),
            );
        }
    } else if protocol.anomaly_only() {
        cx.err(
            &def.match_.referenced,
            ErrorKind::Invalid,
            format!(
                "protocol {} has only anomaly events: `match` needs `anomaly`",
                protocol.name()
            ),
        );
    }
    let limit = match (def.threshold, def.detection_filter) {
        (Some(_), Some(f)) => {
            cx.err(
                &f.count.referenced,
                ErrorKind::Invalid,
                "a rule takes `threshold` or `detection_filter`, not both",
            );
            None
        }
        (Some(t), None) => compile_limit(
            cx,
            protocol,
            LimitKind::Threshold(t.kind),
            t.track,
            &t.count,
            &t.seconds,
            t.distinct.as_ref(),
        ),
        (None, Some(f)) => compile_limit(
            cx,
            protocol,
            LimitKind::Filter,
            f.track,
            &f.count,
            &f.seconds,
            f.distinct.as_ref(),
        ),
        (None, None) => None,
    };
    let ip_field = FieldDef::new("ip", Kind::Ip, false, "");
    let mut suppress = Vec::new();
    for s in &def.suppress {
        let mut none = Patterns::default();
        if let Some(c) = compile_cond(cx, protocol, &ip_field, &s.ip, &mut none) {
            suppress.push((s.track, c));
        }
    }
    let flow = def.flow.unwrap_or_default();
    let FlowDef {
        set,
        unset,
        require,
    } = flow;
    let flow_set = flags(cx, &set, &mut out.flags);
    let flow_unset = flags(cx, &unset, &mut out.flags);
    let flow_require = flags(cx, &require, &mut out.flags);
    let tests = def
        .tests
        .iter()
        .map(|t| {
            let TestDef {
                pcap,
                alerts,
                note,
                vars,
                baseline,
            } = t.value.clone();
            RuleTest {
                pcap: src.base.join(pcap),
                alerts,
                note,
                vars,
                baseline: baseline.map(|b| src.base.join(b)),
                pos: cx.pos(&t.referenced),
            }
        })
        .collect();
    if cx.errors.len() > errors_before || !def.enabled {
        return None;
    }
    Some(Rule {
        meta: RuleMeta {
            id: def.id.value,
            rev: def.rev,
            name: def.name,
            severity: def.severity,
            category: def
                .category
                .unwrap_or_else(|| "Potentially Bad Traffic".to_owned()),
            protocol,
            attack: def.attack.into_iter().map(|a| a.value).collect(),
            references: def.references,
            description: def.description.trim().to_owned(),
            file: src.name.clone(),
            line: cx.pos(&def.id.referenced).line,
        },
        conds,
        anomaly,
        limit,
        suppress,
        flow_set,
        flow_unset,
        flow_require,
        noalert: def.noalert,
        tests,
    })
}

fn check_positive(cx: &mut Ctx<'_>, v: &Spanned<u32>, what: &str) {
    if v.value == 0 {
        cx.err(
            &v.referenced,
            ErrorKind::BadValue,
            format!("`{what}` must be at least 1"),
        );
    }
}

fn flags(cx: &mut Ctx<'_>, names: &[Spanned<String>], table: &mut Vec<String>) -> u64 {
    let mut bits = 0u64;
    for n in names {
        let i = match table.iter().position(|t| *t == n.value) {
            Some(i) => i,
            None if table.len() < 64 => {
                table.push(n.value.clone());
                table.len() - 1
            }
            None => {
                cx.err(
                    &n.referenced,
                    ErrorKind::Invalid,
                    "at most 64 distinct flow flags",
                );
                continue;
            }
        };
        bits |= 1 << i;
    }
    bits
}

/// Operators, and the kinds they apply to.
const OPERATORS: &[&str] = &[
    "eq", "in", "not", "not_in", "lt", "le", "lte", "gt", "ge", "gte", "range", "mask", "value",
    "any_bits", "contains", "exists",
];

fn operators_for(kind: &Kind) -> Vec<&'static str> {
    OPERATORS
        .iter()
        .copied()
        .filter(|op| match *op {
            "lt" | "le" | "lte" | "gt" | "ge" | "gte" | "range" => {
                matches!(kind, Kind::Int { .. } | Kind::Enum(_) | Kind::Port)
            }
            "mask" | "value" | "any_bits" => {
                matches!(kind, Kind::Int { .. } | Kind::Enum(_) | Kind::Bits(_))
            }
            "contains" => matches!(kind, Kind::Text),
            _ => true,
        })
        .collect()
}

fn kind_label(kind: &Kind) -> String {
    match kind {
        Kind::Int { max } => format!("a number from 0 to {max}"),
        Kind::Enum(e) => format!("a name or a number up to {}", e.max),
        Kind::Bits(_) => "a bit name or a number".to_owned(),
        Kind::Bool => "true or false".to_owned(),
        Kind::Text => "a string".to_owned(),
        Kind::Ip => "an address or network (10.0.0.1, 10.0.0.0/8) or $var".to_owned(),
        Kind::Port => "a port or range (502, 1024-65535) or $var".to_owned(),
        Kind::Content => "a text or byte pattern (\"|de ad| text\")".to_owned(),
        Kind::Anomaly => "an anomaly name".to_owned(),
    }
}

fn as_u64(n: i128) -> Option<u64> {
    u64::try_from(n).ok()
}

fn parse_number_text(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// A number literal of a numeric field (names resolve for enums).
fn number(cx: &mut Ctx<'_>, protocol: Layer, fdef: &FieldDef, node: &Spanned<Node>) -> Option<u64> {
    let max = match fdef.kind {
        Kind::Int { max } => max,
        Kind::Enum(e) => e.max,
        Kind::Port => 0xffff,
        Kind::Bits(_) => 0xffff,
        _ => u64::MAX,
    };
    let v = match &node.value {
        Node::Int(n) => as_u64(*n),
        Node::Str(s) => match (fdef.kind, parse_number_text(s)) {
            (_, Some(n)) => Some(n),
            (Kind::Enum(e), None) => match (e.lookup)(s) {
                Some(v) => Some(v),
                None => {
                    let msg = format!(
                        "unknown value `{s}` for {}.{}; valid names: {}",
                        protocol.name(),
                        fdef.name,
                        choices((e.names)(), 200)
                    );
                    cx.err(&node.referenced, ErrorKind::UnknownValue, msg);
                    return None;
                }
            },
            _ => None,
        },
        _ => None,
    };
    match v {
        Some(v) if v <= max => Some(v),
        _ => {
            let msg = format!(
                "{}.{} takes {}, found {}",
                protocol.name(),
                fdef.name,
                kind_label(&fdef.kind),
                describe(&node.value)
            );
            cx.err(&node.referenced, ErrorKind::BadValue, msg);
            None
        }
    }
}

fn describe(node: &Node) -> String {
    match node {
        Node::Int(n) => format!("`{n}`"),
        Node::Str(s) => format!("`{s}`"),
        Node::Bool(b) => format!("`{b}`"),
        Node::Float(f) => format!("`{f}`"),
        other => other.type_name().to_owned(),
    }
}

/// Parses a content pattern: text with `|hex bytes|` runs.
pub(crate) fn parse_pattern(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut hex = false;
    let mut nibble: Option<u8> = None;
    for c in text.chars() {
        if c == '|' {
            if nibble.is_some() {
                return Err("odd number of hex digits between `|`".to_owned());
            }
            hex = !hex;
            continue;
        }
        if hex {
            if c == ' ' {
                if nibble.is_some() {
                    return Err("odd number of hex digits between `|`".to_owned());
                }
                continue;
            }
            let d = c
                .to_digit(16)
                .ok_or_else(|| format!("`{c}` is not a hex digit"))? as u8;
            match nibble.take() {
                Some(h) => out.push(h << 4 | d),
                None => nibble = Some(d),
            }
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    if hex {
        return Err("unclosed `|`".to_owned());
    }
    if out.is_empty() {
        return Err("empty pattern".to_owned());
    }
    Ok(out)
}

/// A pattern as shown in an error: the text, or its start and length when
/// it is long.
fn shown_pattern(s: &str) -> String {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("`{}…` ({} characters)", &s[..cut], s.chars().count()),
        None => format!("`{s}`"),
    }
}

/// The leaf of one content pattern, within the length and count limits.
fn content_leaf(
    cx: &mut Ctx<'_>,
    protocol: Layer,
    node: &Spanned<Node>,
    s: &str,
    patterns: &mut Patterns,
) -> Option<Vec<Leaf>> {
    let bytes = match parse_pattern(s) {
        Ok(bytes) => bytes,
        Err(e) => {
            let msg = format!("bad content pattern {}: {e}", shown_pattern(s));
            cx.err(&node.referenced, ErrorKind::BadValue, msg);
            return None;
        }
    };
    if bytes.len() > MAX_CONTENT_LEN {
        let msg = format!(
            "content pattern {} is {} bytes, more than the limit of {MAX_CONTENT_LEN} bytes (no {} PDU is that long)",
            shown_pattern(s),
            bytes.len(),
            protocol.name()
        );
        cx.err(&node.referenced, ErrorKind::BadValue, msg);
        return None;
    }
    patterns.in_rule += 1;
    if patterns.in_rule > MAX_CONTENT_PER_RULE {
        // Said once per rule, at the first pattern over the limit.
        if patterns.in_rule == MAX_CONTENT_PER_RULE + 1 {
            let msg = format!(
                "more than {MAX_CONTENT_PER_RULE} content patterns in one rule; split the rule"
            );
            cx.err(&node.referenced, ErrorKind::Invalid, msg);
        }
        return None;
    }
    match patterns.intern(bytes) {
        Ok(id) => Some(vec![Leaf::Pattern(id)]),
        Err(_) if patterns.full => None,
        Err(e) => {
            patterns.full = true;
            let msg = match e {
                InternError::Count => format!(
                    "more than {MAX_CONTENT_PER_PROTOCOL} distinct content patterns for protocol {} in the ruleset",
                    protocol.name()
                ),
                InternError::Bytes => format!(
                    "the distinct content patterns of protocol {} exceed {MAX_CONTENT_BYTES_PER_PROTOCOL} bytes in the ruleset",
                    protocol.name()
                ),
            };
            cx.err(&node.referenced, ErrorKind::Invalid, msg);
            None
        }
    }
}

/// Leaves of one scalar literal (not `$var`, not `any`).
fn leaves(
    cx: &mut Ctx<'_>,
    protocol: Layer,
    fdef: &FieldDef,
    node: &Spanned<Node>,
    patterns: &mut Patterns,
) -> Option<Vec<Leaf>> {
    let bad = |cx: &mut Ctx<'_>| {
        let msg = format!(
            "{}.{} takes {}, found {}",
            protocol.name(),
            fdef.name,
            kind_label(&fdef.kind),
            describe(&node.value)
        );
        cx.err(&node.referenced, ErrorKind::BadValue, msg);
        None
    };
    match (fdef.kind, &node.value) {
        (Kind::Int { .. } | Kind::Enum(_), _) => {
            Some(vec![Leaf::Eq(number(cx, protocol, fdef, node)?)])
        }
        (Kind::Bits(names), Node::Str(s)) if parse_number_text(s).is_none() => {
            match names.iter().position(|n| n == s) {
                Some(i) => Some(vec![Leaf::Mask {
                    mask: 1 << i,
                    want: 1 << i,
                }]),
                None => {
                    let msg = format!(
                        "unknown value `{s}` for {}.{}; valid names: {}",
                        protocol.name(),
                        fdef.name,
                        choices(names.iter().copied(), 100)
                    );
                    cx.err(&node.referenced, ErrorKind::UnknownValue, msg);
                    None
                }
            }
        }
        (Kind::Bits(_), _) => Some(vec![Leaf::Eq(number(cx, protocol, fdef, node)?)]),
        (Kind::Bool, Node::Bool(b)) => Some(vec![Leaf::Bool(*b)]),
        (Kind::Text, Node::Str(s)) => Some(vec![Leaf::Text(s.as_bytes().into())]),
        (Kind::Ip, Node::Str(s)) => match Net::parse(s) {
            Some(n) => Some(vec![Leaf::Net(n)]),
            None => bad(cx),
        },
        (Kind::Port, Node::Str(s)) if parse_number_text(s).is_some_and(|p| p <= 0xffff) => {
            Some(vec![Leaf::Eq(parse_number_text(s).unwrap_or(0))])
        }
        (Kind::Port, Node::Str(s)) => {
            let range = s
                .split_once('-')
                .and_then(|(a, b)| Some((parse_number_text(a)?, parse_number_text(b)?)));
            match range {
                Some((a, b)) if a <= b && b <= 0xffff => Some(vec![Leaf::Range(a, b)]),
                _ => bad(cx),
            }
        }
        (Kind::Port, Node::Int(n)) => match as_u64(*n) {
            Some(p) if p <= 0xffff => Some(vec![Leaf::Eq(p)]),
            _ => bad(cx),
        },
        (Kind::Content, Node::Str(s)) => content_leaf(cx, protocol, node, s, patterns),
        (Kind::Anomaly, Node::Str(s)) => {
            match protocol.anomalies().iter().find(|n| **n == s.as_str()) {
                Some(n) => Some(vec![Leaf::Name(n)]),
                None => {
                    let msg = format!(
                        "unknown anomaly `{s}` for protocol {}; valid names: {}",
                        protocol.name(),
                        choices(protocol.anomalies().iter().copied(), 100)
                    );
                    cx.err(&node.referenced, ErrorKind::UnknownValue, msg);
                    None
                }
            }
        }
        _ => bad(cx),
    }
}

/// The items of a list: a sequence, a `$var`, or one scalar.
fn list_items(
    cx: &mut Ctx<'_>,
    node: &Spanned<Node>,
    depth: u8,
) -> Option<Vec<(Spanned<Node>, u32, String)>> {
    match &node.value {
        Node::Seq(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(list_items(cx, item, depth)?);
            }
            Some(out)
        }
        Node::Str(s) if s.starts_with('$') => {
            let name = &s[1..];
            let Some(var) = cx.vars.get(name) else {
                let mut names: Vec<&str> = cx.vars.keys().map(String::as_str).collect();
                names.sort_unstable();
                let msg = format!(
                    "unknown variable `${name}`; defined: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        choices(names, 100)
                    }
                );
                cx.err(&node.referenced, ErrorKind::UnknownVar, msg);
                return None;
            };
            if depth > 8 {
                cx.err(
                    &node.referenced,
                    ErrorKind::Invalid,
                    format!("variable `${name}` refers to itself"),
                );
                return None;
            }
            let var_node = var.node.clone();
            let saved = (
                cx.line_offset,
                std::mem::replace(&mut cx.file, var.file.clone()),
            );
            cx.line_offset = var.line_offset;
            let items = match &var_node.value {
                Node::Null => Some(Vec::new()),
                _ => list_items(cx, &var_node, depth + 1),
            };
            (cx.line_offset, cx.file) = saved;
            items
        }
        _ => Some(vec![(node.clone(), cx.line_offset, cx.file.clone())]),
    }
}

fn leaves_of_list(
    cx: &mut Ctx<'_>,
    protocol: Layer,
    fdef: &FieldDef,
    node: &Spanned<Node>,
    patterns: &mut Patterns,
) -> Option<Vec<Leaf>> {
    let items = list_items(cx, node, 0)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (item, offset, file) in items {
        let saved = (cx.line_offset, std::mem::replace(&mut cx.file, file));
        cx.line_offset = offset;
        match leaves(cx, protocol, fdef, &item, patterns) {
            Some(l) => out.extend(l),
            None => ok = false,
        }
        (cx.line_offset, cx.file) = saved;
    }
    ok.then_some(out)
}

fn compile_cond(
    cx: &mut Ctx<'_>,
    protocol: Layer,
    fdef: &FieldDef,
    node: &Spanned<Node>,
    patterns: &mut Patterns,
) -> Option<Cond> {
    match &node.value {
        Node::Str(s) if s == "any" && !matches!(fdef.kind, Kind::Content) => Some(Cond::Exists),
        Node::Seq(_) if matches!(fdef.kind, Kind::Content) => {
            // Content lists: every pattern must occur.
            let Node::Seq(items) = &node.value else {
                return None;
            };
            let mut all = Vec::new();
            for item in items {
                all.push(Cond::Any(leaves(cx, protocol, fdef, item, patterns)?));
            }
            Some(Cond::All(all))
        }
        Node::Seq(_) | Node::Str(_) | Node::Int(_) | Node::Bool(_) => Some(Cond::Any(
            leaves_of_list(cx, protocol, fdef, node, patterns)?,
        )),
        Node::Map(entries) => {
            let mut conds = Vec::new();
            let mut mask: Option<(u64, Option<u64>)> = None;
            let mut value: Option<u64> = None;
            let mut ok = true;
            for (op, arg) in entries {
                let allowed = operators_for(&fdef.kind);
                if !allowed.contains(&op.value.as_str()) {
                    let msg = format!(
                        "unknown operator `{}` for {}.{}; valid operators: {}",
                        op.value,
                        protocol.name(),
                        fdef.name,
                        choices(allowed, 100)
                    );
                    cx.err(&op.referenced, ErrorKind::BadOperator, msg);
                    ok = false;
                    continue;
                }
                let c = match op.value.as_str() {
                    "eq" => leaves(cx, protocol, fdef, arg, patterns).map(Cond::Any),
                    "in" => leaves_of_list(cx, protocol, fdef, arg, patterns).map(Cond::Any),
                    "not" => compile_cond(cx, protocol, fdef, arg, patterns)
                        .map(|c| Cond::Not(Box::new(c))),
                    "not_in" => leaves_of_list(cx, protocol, fdef, arg, patterns).map(|l| {
                        if l.is_empty() {
                            // An allow-list not configured yet flags nothing.
                            Cond::Never
                        } else {
                            Cond::Not(Box::new(Cond::Any(l)))
                        }
                    }),
                    "lt" | "le" | "lte" | "gt" | "ge" | "gte" => number(cx, protocol, fdef, arg)
                        .map(|n| {
                            let r = match op.value.as_str() {
                                "lt" => n.checked_sub(1).map(|m| (0, m)),
                                "le" | "lte" => Some((0, n)),
                                "gt" => n.checked_add(1).map(|m| (m, u64::MAX)),
                                _ => Some((n, u64::MAX)),
                            };
                            match r {
                                Some((a, b)) => Cond::Any(vec![Leaf::Range(a, b)]),
                                None => Cond::Never,
                            }
                        }),
                    "range" => range(cx, protocol, fdef, arg),
                    "mask" => {
                        if let Some(m) = number(cx, protocol, fdef, arg) {
                            mask = Some((m, None));
                        } else {
                            ok = false;
                        }
                        continue;
                    }
                    "value" => {
                        if let Some(v) = number(cx, protocol, fdef, arg) {
                            value = Some(v);
                        } else {
                            ok = false;
                        }
                        continue;
                    }
                    "any_bits" => {
                        number(cx, protocol, fdef, arg).map(|m| Cond::Any(vec![Leaf::AnyBits(m)]))
                    }
                    "contains" => match &arg.value {
                        Node::Str(s) => Some(Cond::Any(vec![Leaf::Contains(s.as_bytes().into())])),
                        other => {
                            cx.err(
                                &arg.referenced,
                                ErrorKind::BadValue,
                                format!("`contains` takes a string, found {}", other.type_name()),
                            );
                            None
                        }
                    },
                    "exists" => match arg.value {
                        Node::Bool(true) => Some(Cond::Exists),
                        Node::Bool(false) => Some(Cond::Not(Box::new(Cond::Exists))),
                        ref other => {
                            cx.err(
                                &arg.referenced,
                                ErrorKind::BadValue,
                                format!(
                                    "`exists` takes true or false, found {}",
                                    other.type_name()
                                ),
                            );
                            None
                        }
                    },
                    _ => None,
                };
                match c {
                    Some(c) => conds.push(c),
                    None => ok = false,
                }
            }
            match (mask, value) {
                (Some((m, _)), v) => conds.push(Cond::Any(vec![Leaf::Mask {
                    mask: m,
                    want: v.unwrap_or(m),
                }])),
                (None, Some(_)) => {
                    cx.err(
                        &node.referenced,
                        ErrorKind::BadOperator,
                        "`value` needs `mask`",
                    );
                    ok = false;
                }
                (None, None) => {}
            }
            if !ok {
                return None;
            }
            match conds.len() {
                0 => {
                    cx.err(&node.referenced, ErrorKind::BadOperator, "empty condition");
                    None
                }
                1 => conds.pop(),
                _ => Some(Cond::All(conds)),
            }
        }
        other => {
            let msg = format!(
                "{}.{} takes {}, found {}",
                protocol.name(),
                fdef.name,
                kind_label(&fdef.kind),
                other.type_name()
            );
            cx.err(&node.referenced, ErrorKind::BadValue, msg);
            None
        }
    }
}

fn range(cx: &mut Ctx<'_>, protocol: Layer, fdef: &FieldDef, arg: &Spanned<Node>) -> Option<Cond> {
    let bounds = match &arg.value {
        Node::Seq(items) if items.len() == 2 => {
            let a = number(cx, protocol, fdef, &items[0]);
            let b = number(cx, protocol, fdef, &items[1]);
            Some((a?, b?))
        }
        Node::Str(s) => match s.split_once('-') {
            Some((a, b)) => match (parse_number_text(a), parse_number_text(b)) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            },
            None => None,
        },
        _ => None,
    };
    match bounds {
        Some((a, b)) if a <= b => Some(Cond::Any(vec![Leaf::Range(a, b)])),
        Some((a, b)) => {
            cx.err(
                &arg.referenced,
                ErrorKind::BadValue,
                format!("range {a}-{b} is empty: the first bound is above the second"),
            );
            None
        }
        None => {
            cx.err(
                &arg.referenced,
                ErrorKind::BadValue,
                "`range` takes [low, high] or \"low-high\"",
            );
            None
        }
    }
}
