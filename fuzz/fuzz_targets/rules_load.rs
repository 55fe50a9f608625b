//! The rule loader and compiler on arbitrary text: YAML parsing with its
//! budgets, schema checks, variables, content patterns; and the same text
//! as a rule overrides file, applied to a small ruleset and rendered
//! back. It answers with rules or with errors that carry positions, never a
//! panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_rules::{overrides, Ruleset};

/// Rules 9 and 110007, for overrides to name.
const ONE_RULE: &str = "rules:\n  - {id: 9, name: a, severity: low, protocol: modbus, description: d, match: {function: 3}}\n  - {id: 110007, name: b, severity: low, protocol: modbus, description: d, match: {function: 6}}\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Ruleset::from_str("fuzz.yaml", text) {
        Ok(set) => {
            for rule in set.rules() {
                assert!(!rule.name.is_empty() || rule.id > 0);
            }
        }
        Err(errors) => {
            let _ = errors.to_string();
        }
    }
    if let Ok(o) = overrides::parse("fuzz.yaml", text) {
        // What parses renders back to a file that parses to the same.
        let again = overrides::parse("fuzz.yaml", &overrides::render(&o));
        assert_eq!(again.map(|a| a.suppress.len()).ok(), Some(o.suppress.len()));
        // Applied to a small ruleset (compiled each time: `with_overrides`
        // takes the ruleset).
        if let Ok(set) = Ruleset::from_str("one.yaml", ONE_RULE) {
            let _ = set.with_overrides(&o);
        }
    }
});
