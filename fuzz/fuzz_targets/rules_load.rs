//! The rule loader and compiler on arbitrary text: YAML parsing with its
//! budgets, schema checks, variables, content patterns. It answers with
//! rules or with errors that carry positions, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_rules::Ruleset;

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
});
