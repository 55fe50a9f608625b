//! Rule overrides: the tuning an analyst adds from the UI or by hand, kept
//! apart from the rule files in one small YAML file (`overrides.yaml`).
//!
//! ```yaml
//! suppress:
//!   - rule: 110007                 # a rule id of the ruleset
//!     src_ip: 10.200.7.20          # an address or a network; absent: any
//!     dest_ip: 10.200.7.10         # the same; at least one of the two
//!     by: analyst                  # who added it (optional)
//!     at: "2026-12-02T17:00:00Z"   # when (optional)
//!     note: a test bench           # why (optional)
//! ```
//!
//! A suppression stops one rule from alerting on matches from that source,
//! to that destination, or between that pair (`src_ip` is the transaction's
//! client, as in the alert's `src_ip`; for an anomaly in the server's
//! answer, the server, as in its alert). The match still counts: the engine
//! counts what overrides suppressed ([`crate::Engine::suppressed`]), and
//! flow flags the rule sets are still set.
//!
//! [`parse`] and [`load`] read the file with the rule loader's bounded
//! reader and YAML options, every error with file:line:column;
//! [`Ruleset::with_overrides`] checks the rule ids against a ruleset (an
//! unknown id is an error at its position) and attaches them; [`render`]
//! and [`save`] write the file back (atomically, mode 0600).

use std::fmt::Write as _;
use std::path::Path;

use otwatch_proto::event::{AppEvent, Direction};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::compile::parse_yaml;
use crate::cond::Net;
use crate::engine::Ruleset;
use crate::error::{ErrorKind, Errors, Pos};
use crate::load::{read_file, too_large_for, write_private};
use crate::view::FlowInfo;

/// Largest overrides file read, in bytes.
pub const MAX_OVERRIDES_FILE_BYTES: u64 = 4 << 20;

/// Most suppressions in one file.
pub const MAX_SUPPRESSIONS: usize = 10_000;

/// Longest `by` or `note`, in bytes.
pub const MAX_TEXT: usize = 1024;

/// One suppression of an overrides file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The rule it silences.
    pub rule: u32,
    /// The source (client) address or network, as written; `None`: any.
    pub src: Option<String>,
    /// The destination (server) address or network, as written; `None`: any.
    pub dest: Option<String>,
    /// Who added it.
    pub by: String,
    /// When (RFC 3339 text, as written).
    pub at: String,
    /// Why.
    pub note: String,
    /// Where it is in its file (line 0 for one not read from a file).
    pub pos: Pos,
}

impl Suppression {
    /// Checks the addresses and texts; the message of the first problem.
    pub fn check(&self) -> Result<(), String> {
        if self.src.is_none() && self.dest.is_none() {
            return Err(
                "a suppression names `src_ip`, `dest_ip` or both (to silence a whole rule, disable it in its rule file)"
                    .into(),
            );
        }
        for (key, v) in [("src_ip", &self.src), ("dest_ip", &self.dest)] {
            if let Some(text) = v {
                if Net::parse(text).is_none() {
                    return Err(format!(
                        "`{key}`: `{text}` is not an address or a network (10.0.0.5, 10.0.0.0/24, fe80::/10)"
                    ));
                }
            }
        }
        for (key, v) in [("by", &self.by), ("note", &self.note), ("at", &self.at)] {
            if v.len() > MAX_TEXT {
                return Err(format!("`{key}` is longer than {MAX_TEXT} bytes"));
            }
        }
        Ok(())
    }

    /// Whether this suppression names the same rule and addresses as `other`.
    pub fn same_target(&self, other: &Suppression) -> bool {
        let net = |t: &Option<String>| t.as_deref().and_then(Net::parse);
        self.rule == other.rule
            && net(&self.src) == net(&other.src)
            && net(&self.dest) == net(&other.dest)
    }
}

/// The suppressions of one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overrides {
    /// The file's name, for errors.
    pub file: String,
    /// The suppressions, in file order.
    pub suppress: Vec<Suppression>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    suppress: Option<Vec<Spanned<SuppressDef>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressDef {
    rule: Spanned<u32>,
    src_ip: Option<Spanned<String>>,
    dest_ip: Option<Spanned<String>>,
    by: Option<String>,
    at: Option<Spanned<String>>,
    note: Option<String>,
}

/// Reads an overrides file's text; `name` is the file name errors carry.
/// An empty text has no suppression.
pub fn parse(name: &str, text: &str) -> Result<Overrides, Errors> {
    let mut errors = Errors::default();
    if text.len() as u64 > MAX_OVERRIDES_FILE_BYTES {
        let msg = too_large_for(
            text.len() as u64,
            MAX_OVERRIDES_FILE_BYTES,
            "overrides file",
        );
        errors.push(name, Pos::default(), ErrorKind::Io, msg);
        return Err(errors);
    }
    let mut out = Overrides {
        file: name.to_owned(),
        suppress: Vec::new(),
    };
    if text.trim().is_empty() {
        return Ok(out);
    }
    let Some(def) = parse_yaml::<FileDef>(name, text, &mut errors) else {
        return Err(errors);
    };
    for entry in def.suppress.unwrap_or_default() {
        let pos = Pos::from_location(&entry.referenced, 0);
        if out.suppress.len() >= MAX_SUPPRESSIONS {
            errors.push(
                name,
                pos,
                ErrorKind::Invalid,
                format!(
                    "more than {MAX_SUPPRESSIONS} suppressions, the limit of an overrides file"
                ),
            );
            break;
        }
        let d = entry.value;
        let mut bad = false;
        for (key, v) in [("src_ip", &d.src_ip), ("dest_ip", &d.dest_ip)] {
            if let Some(v) = v.as_ref().filter(|v| Net::parse(&v.value).is_none()) {
                errors.push(
                    name,
                    Pos::from_location(&v.referenced, 0),
                    ErrorKind::BadValue,
                    format!(
                        "`{key}`: `{}` is not an address or a network (10.0.0.5, 10.0.0.0/24, fe80::/10)",
                        v.value
                    ),
                );
                bad = true;
            }
        }
        if let Some(at) =
            d.at.as_ref()
                .filter(|at| crate::baseline::file::parse_time(&at.value).is_none())
        {
            errors.push(
                name,
                Pos::from_location(&at.referenced, 0),
                ErrorKind::BadValue,
                format!(
                    "`at`: `{}` is not a time like 2026-12-02T17:00:00Z",
                    at.value
                ),
            );
            bad = true;
        }
        let s = Suppression {
            rule: d.rule.value,
            src: d.src_ip.map(|v| v.value),
            dest: d.dest_ip.map(|v| v.value),
            by: d.by.unwrap_or_default(),
            at: d.at.map(|v| v.value).unwrap_or_default(),
            note: d.note.unwrap_or_default(),
            pos,
        };
        if !bad {
            if let Err(msg) = s.check() {
                errors.push(name, pos, ErrorKind::Invalid, msg);
                bad = true;
            }
        }
        if !bad {
            out.suppress.push(s);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Reads an overrides file of at most [`MAX_OVERRIDES_FILE_BYTES`] bytes.
pub fn load(path: &Path) -> Result<Overrides, Errors> {
    let (name, text) = read_file(path, MAX_OVERRIDES_FILE_BYTES, "overrides file")?;
    parse(&name, &text)
}

/// As [`load`], with a file that does not exist read as one without
/// suppressions (`otwatch run` owns `DATA/overrides.yaml`, made at the
/// first override added).
pub fn load_or_empty(path: &Path) -> Result<Overrides, Errors> {
    if !path.exists() {
        return Ok(Overrides {
            file: path.display().to_string(),
            suppress: Vec::new(),
        });
    }
    load(path)
}

/// A YAML double-quoted string of `s` (every character that is not plain
/// printable ASCII escaped), so that any note reads back unchanged.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// The file's text: a comment header and one suppression per entry.
pub fn render(o: &Overrides) -> String {
    let mut out = String::from(
        "# otwatch rule overrides: matches of a rule from a source, to a destination\n\
         # or between a pair that do not alert (they are counted as suppressed).\n\
         # Written by the analyzer's API; may be edited by hand (`otwatch rules check FILE`).\n",
    );
    if o.suppress.is_empty() {
        out.push_str("suppress: []\n");
        return out;
    }
    out.push_str("suppress:\n");
    for s in &o.suppress {
        let _ = writeln!(out, "  - rule: {}", s.rule);
        if let Some(src) = &s.src {
            let _ = writeln!(out, "    src_ip: {}", quoted(src));
        }
        if let Some(dest) = &s.dest {
            let _ = writeln!(out, "    dest_ip: {}", quoted(dest));
        }
        if !s.by.is_empty() {
            let _ = writeln!(out, "    by: {}", quoted(&s.by));
        }
        if !s.at.is_empty() {
            let _ = writeln!(out, "    at: {}", quoted(&s.at));
        }
        if !s.note.is_empty() {
            let _ = writeln!(out, "    note: {}", quoted(&s.note));
        }
    }
    out
}

/// Writes the file to `path` atomically, mode 0600 (see
/// [`crate::load::write_private`]).
pub fn save(o: &Overrides, path: &Path) -> std::io::Result<()> {
    write_private(path, &render(o))
}

/// One compiled suppression: networks to compare the flow's addresses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair {
    src: Option<Net>,
    dest: Option<Net>,
}

impl Pair {
    fn matches(&self, flow: &FlowInfo) -> bool {
        self.src.is_none_or(|n| n.contains(flow.src))
            && self.dest.is_none_or(|n| n.contains(flow.dest))
    }
}

/// The suppressions attached to a [`Ruleset`], by rule position.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    /// Per rule position: its suppressions (empty for most rules; the list
    /// is looked at only after a rule matched).
    by_rule: Vec<Vec<Pair>>,
    count: usize,
}

impl Applied {
    /// Whether the rule at position `rule` is suppressed for `flow`. The
    /// addresses are those of the alert: an anomaly seen in the server's
    /// answer points from the server (as its EVE alert does).
    pub(crate) fn suppresses(&self, rule: usize, flow: &FlowInfo, app: &AppEvent<'_>) -> bool {
        let Some(list) = self.by_rule.get(rule).filter(|l| !l.is_empty()) else {
            return false;
        };
        let from_server =
            matches!(app, AppEvent::Anomaly(a) if a.direction == Some(Direction::ToClient));
        let flow = if from_server {
            FlowInfo {
                src: flow.dest,
                dest: flow.src,
                ..*flow
            }
        } else {
            *flow
        };
        list.iter().any(|p| p.matches(&flow))
    }
}

impl Ruleset {
    /// The ruleset with the suppressions of `overrides` (replacing any it
    /// had). Every rule id must be one of the ruleset's: an unknown one is
    /// an error at its position in the file.
    pub fn with_overrides(mut self, overrides: &Overrides) -> Result<Ruleset, Errors> {
        let errors = self.apply_overrides(overrides);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(self)
    }

    /// The ruleset with the suppressions of `overrides` whose rule it has,
    /// and an error for each other entry (a rule removed or disabled since
    /// the override was made). A running capture starts with the rest
    /// rather than not at all; `rules check` and `rules test` use
    /// [`Ruleset::with_overrides`], which refuses such a file.
    pub fn with_known_overrides(mut self, overrides: &Overrides) -> (Ruleset, Errors) {
        let errors = self.apply_overrides(overrides);
        (self, errors)
    }

    /// Attaches the entries whose rule the ruleset has; returns an error for
    /// each other one.
    fn apply_overrides(&mut self, overrides: &Overrides) -> Errors {
        let mut errors = Errors::default();
        let ids: Vec<u32> = self.rules().map(|m| m.id).collect();
        let mut applied = Applied {
            by_rule: vec![Vec::new(); ids.len()],
            count: 0,
        };
        for s in &overrides.suppress {
            let Some(i) = ids.iter().position(|id| *id == s.rule) else {
                errors.push(
                    &overrides.file,
                    s.pos,
                    ErrorKind::UnknownValue,
                    format!(
                        "rule {} is not in the ruleset (no enabled rule has this id)",
                        s.rule
                    ),
                );
                continue;
            };
            let net = |t: &Option<String>| t.as_deref().and_then(Net::parse);
            applied.by_rule[i].push(Pair {
                src: net(&s.src),
                dest: net(&s.dest),
            });
            applied.count += 1;
        }
        self.overrides = applied;
        errors
    }

    /// Suppressions attached by [`Ruleset::with_overrides`].
    pub fn overrides_len(&self) -> usize {
        self.overrides.count
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use otwatch_proto::event::{AppEvent, Event, Timestamp};
    use otwatch_proto::modbus::{self, pdu, FunctionCode};

    use super::*;
    use crate::{Engine, ErrorKind};

    const RULES: &str = "rules:\n  - id: 9\n    name: read\n    severity: low\n    protocol: modbus\n    description: d\n    match: {function: 3}\n  - id: 10\n    name: also read\n    severity: low\n    protocol: modbus\n    description: d\n    match: {function: 3}\n";

    fn ruleset() -> Ruleset {
        Ruleset::from_str("t.yaml", RULES).unwrap_or_else(|e| panic!("{e}"))
    }

    fn flow(src: &str, dest: &str) -> FlowInfo {
        FlowInfo {
            id: 7,
            src: src.parse().expect("ip"),
            src_port: 40_000,
            dest: dest.parse().expect("ip"),
            dest_port: 502,
        }
    }

    /// The rules that fire on a read holding registers request of `f`.
    fn fired(e: &mut Engine, f: &FlowInfo) -> Vec<u32> {
        let req: &[u8] = &[0x03, 0x00, 0x64, 0x00, 0x0a];
        let ts = Timestamp::new(1, 0);
        let tx = modbus::Transaction {
            transaction_id: 1,
            unit_id: 1,
            request: Some(modbus::Message {
                ts,
                function: FunctionCode::from(3),
                pdu: req,
                body: pdu::decode_request(req),
            }),
            response: None,
        };
        let mut out = Vec::new();
        e.inspect(
            f,
            &Event {
                ts,
                app: AppEvent::Modbus(&tx),
            },
            &mut |a| out.push(a.rule.id),
        );
        out
    }

    fn errors(text: &str) -> Vec<String> {
        match parse("o.yaml", text) {
            Ok(o) => panic!("parsed: {o:?}"),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn parses_suppressions_of_a_source_and_of_a_pair() {
        let text = "suppress:\n  - rule: 9\n    src_ip: 10.0.0.5\n    by: analyst\n    at: \"2026-12-02T17:00:00Z\"\n    note: the test bench\n  - {rule: 10, src_ip: 10.0.1.0/24, dest_ip: 10.0.0.9}\n";
        let o = parse("o.yaml", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.suppress.len(), 2);
        let s = &o.suppress[0];
        assert_eq!(
            (
                s.rule,
                s.src.as_deref(),
                s.dest.as_deref(),
                s.by.as_str(),
                s.note.as_str()
            ),
            (9, Some("10.0.0.5"), None, "analyst", "the test bench")
        );
        assert_eq!(s.pos, Pos::new(2, 5));
        assert_eq!(o.suppress[1].dest.as_deref(), Some("10.0.0.9"));
        // An empty file, or one without the key, has no suppression.
        assert!(parse("o.yaml", "")
            .map(|o| o.suppress.is_empty())
            .unwrap_or(false));
        assert!(parse("o.yaml", "suppress: []\n").is_ok());
    }

    #[test]
    fn reports_every_bad_entry_with_its_position() {
        let text = "suppress:\n  - rule: 9\n    src_ip: 10.0.0.300\n  - rule: 9\n    dest_ip: 10.0.0.0/40\n  - rule: 9\n    note: no address\n  - rule: 9\n    src_ip: 10.0.0.1\n    at: yesterday\n";
        assert_eq!(
            errors(text),
            [
                "o.yaml:3:13: `src_ip`: `10.0.0.300` is not an address or a network (10.0.0.5, 10.0.0.0/24, fe80::/10)",
                "o.yaml:5:14: `dest_ip`: `10.0.0.0/40` is not an address or a network (10.0.0.5, 10.0.0.0/24, fe80::/10)",
                "o.yaml:6:5: a suppression names `src_ip`, `dest_ip` or both (to silence a whole rule, disable it in its rule file)",
                "o.yaml:10:9: `at`: `yesterday` is not a time like 2026-12-02T17:00:00Z",
            ]
        );
        // Unknown keys and wrong types are syntax errors at their place.
        let e = errors("suppress:\n  - rule: 9\n    src: 10.0.0.1\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("o.yaml:3:5: "), "{e:?}");
        assert!(e[0].contains("src"), "{e:?}");
        let e = errors("suppress:\n  - rule: nine\n    src_ip: 10.0.0.1\n");
        assert!(e[0].starts_with("o.yaml:2:"), "{e:?}");
        let e = errors("suppress: [\n");
        assert!(e[0].starts_with("o.yaml:"), "{e:?}");
    }

    #[test]
    fn an_unknown_rule_id_is_an_error_at_its_entry() {
        let o = parse(
            "o.yaml",
            "suppress:\n  - {rule: 9, src_ip: 10.0.0.5}\n  - {rule: 4242, src_ip: 10.0.0.5}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = ruleset().with_overrides(&o).err().map(|e| {
            e.iter()
                .map(|e| (e.kind, e.to_string()))
                .collect::<Vec<_>>()
        });
        assert_eq!(
            e,
            Some(vec![(
                ErrorKind::UnknownValue,
                "o.yaml:3:5: rule 4242 is not in the ruleset (no enabled rule has this id)".into()
            )])
        );
    }

    #[test]
    fn a_running_capture_keeps_the_overrides_of_known_rules_and_reports_the_others() {
        let o = parse(
            "o.yaml",
            "suppress:\n  - {rule: 9, src_ip: 10.0.0.5}\n  - {rule: 4242, src_ip: 10.0.0.5}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (set, stale) = ruleset().with_known_overrides(&o);
        assert_eq!(set.overrides_len(), 1, "rule 9's entry applies");
        assert_eq!(
            stale.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            ["o.yaml:3:5: rule 4242 is not in the ruleset (no enabled rule has this id)"]
        );
    }

    #[test]
    fn a_source_suppression_silences_one_rule_from_that_source_only() {
        let o = parse("o.yaml", "suppress:\n  - {rule: 9, src_ip: 10.0.0.5}\n").expect("parses");
        let set = ruleset().with_overrides(&o).expect("applies");
        assert_eq!(set.overrides_len(), 1);
        let mut e = Engine::new(Arc::new(set));
        assert_eq!(fired(&mut e, &flow("10.0.0.5", "10.0.0.9")), [10]);
        assert_eq!(fired(&mut e, &flow("10.0.0.5", "10.0.0.1")), [10]);
        assert_eq!(fired(&mut e, &flow("10.0.0.6", "10.0.0.9")), [9, 10]);
        assert_eq!(e.suppressed(), 2, "the suppressed matches are counted");
        assert_eq!(e.alerts(), 4);
    }

    #[test]
    fn a_pair_suppression_needs_both_addresses() {
        let o = parse(
            "o.yaml",
            "suppress:\n  - {rule: 9, src_ip: 10.0.0.5, dest_ip: 10.0.0.9}\n  - {rule: 10, src_ip: 10.1.0.0/16, dest_ip: 10.0.0.9}\n",
        )
        .expect("parses");
        let mut e = Engine::new(Arc::new(ruleset().with_overrides(&o).expect("applies")));
        assert_eq!(fired(&mut e, &flow("10.0.0.5", "10.0.0.9")), [10]);
        assert_eq!(fired(&mut e, &flow("10.0.0.5", "10.0.0.8")), [9, 10]);
        assert_eq!(fired(&mut e, &flow("10.0.0.6", "10.0.0.9")), [9, 10]);
        // A network as the source.
        assert_eq!(fired(&mut e, &flow("10.1.2.3", "10.0.0.9")), [9]);
        assert_eq!(e.suppressed(), 2);
        // A destination alone.
        let o = parse("o.yaml", "suppress:\n  - {rule: 9, dest_ip: 10.0.0.9}\n").expect("parses");
        let mut e = Engine::new(Arc::new(ruleset().with_overrides(&o).expect("applies")));
        assert_eq!(fired(&mut e, &flow("10.0.0.1", "10.0.0.9")), [10]);
        assert_eq!(fired(&mut e, &flow("10.0.0.1", "10.0.0.8")), [9, 10]);
    }

    #[test]
    fn render_reads_back_and_save_writes_a_private_file() {
        let o = Overrides {
            file: "o.yaml".into(),
            suppress: vec![
                Suppression {
                    rule: 9,
                    src: Some("10.0.0.5".into()),
                    dest: None,
                    by: "analyst \"A\"".into(),
                    at: "2026-12-02T17:00:00Z".into(),
                    note: "line one\nline two: été \\ #".into(),
                    pos: Pos::default(),
                },
                Suppression {
                    rule: 10,
                    src: Some("10.0.0.5".into()),
                    dest: Some("fe80::/10".into()),
                    by: String::new(),
                    at: String::new(),
                    note: String::new(),
                    pos: Pos::default(),
                },
            ],
        };
        let text = render(&o);
        let back = parse("o.yaml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let strip = |o: &Overrides| {
            o.suppress
                .iter()
                .map(|s| Suppression {
                    pos: Pos::default(),
                    ..s.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&back), strip(&o), "{text}");
        let dir = std::env::temp_dir().join(format!("otwatch-overrides-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("overrides.yaml");
        save(&o, &path).expect("saves");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        assert_eq!(load(&path).map(|l| strip(&l)).ok(), Some(strip(&o)));
        let missing = dir.join("none.yaml");
        assert!(load_or_empty(&missing).is_ok_and(|o| o.suppress.is_empty()));
        assert!(load(&missing).is_err());
        let _ = std::fs::remove_dir_all(&dir);
        // Any text reads back unchanged.
        for text in [
            "tab\there",
            "cr\r",
            "del\u{7f}",
            "nel\u{85}",
            "ls\u{2028}",
            "emoji \u{1f600}",
            "- list: item",
            " leading and trailing ",
            "'single' \"double\"",
            "#hash",
            "",
            "{flow: [map]}",
            "\\u0041 not an escape",
            "\u{0}nul",
        ] {
            let one = Overrides {
                file: "o.yaml".into(),
                suppress: vec![Suppression {
                    note: text.into(),
                    by: text.into(),
                    ..o.suppress[1].clone()
                }],
            };
            let back = parse("o.yaml", &render(&one)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(back.suppress[0].note, text);
            assert_eq!(back.suppress[0].by, text);
        }
        // The empty file reads back too.
        assert!(
            parse("o.yaml", &render(&Overrides::default())).is_ok_and(|o| o.suppress.is_empty())
        );
    }
}
