//! The rules the sensors run, as the analyzer shows them (with hit counts).

use serde::{Deserialize, Serialize};

/// One rule as loaded by the sensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInfo {
    /// Rule id (the alerts' `signature_id`).
    pub id: u32,
    /// Revision.
    #[serde(default)]
    pub rev: u32,
    /// Name (the alerts' `signature`).
    pub name: String,
    /// `critical`, `high`, `medium`, `low` or `info`.
    pub severity: String,
    /// `modbus`, `s7comm`, `dnp3`, …
    pub protocol: String,
    /// What the rule is about.
    #[serde(default)]
    pub description: String,
    /// ATT&CK for ICS technique ids.
    #[serde(default)]
    pub attack: Vec<String>,
    /// The rule's YAML source.
    #[serde(default)]
    pub yaml: String,
}

/// Severity names by number (1 critical … 5 info).
pub const SEVERITY_NAMES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// The name of severity `n` (1–5).
pub fn severity_name(n: u8) -> &'static str {
    SEVERITY_NAMES
        .get(usize::from(n).wrapping_sub(1))
        .copied()
        .unwrap_or("unknown")
}

/// The number of a severity given as a name or a number.
pub fn parse_severity(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (1..=5).contains(&n).then_some(n);
    }
    SEVERITY_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .and_then(|i| u8::try_from(i + 1).ok())
}
