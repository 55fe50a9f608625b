//! otwatch-rules: the YAML rule language of otwatch, its validation with
//! file:line:column positions, its compiler and its matcher.
//!
//! * [`schema`]: the serde structs of a rule file (`deny_unknown_fields`)
//!   and severities, tracking modes, threshold types.
//! * [`fields`]: the field vocabulary: the fields every protocol has, the
//!   value kinds, field look-up.
//! * [`protocols`]: what `protocol:` names ([`Layer`]: a protocol of the
//!   proto registry, `stream` or `decode`) and one file per protocol with
//!   its fields, each beside the code that reads it from the event.
//! * [`compile`]: parsing (serde-saphyr), semantic checks, compilation of
//!   `match` conditions.
//! * [`engine`]: the indexed [`Ruleset`] and the per-worker [`Engine`]
//!   (thresholds, detection filters, suppression, per-flow flags).
//! * [`baseline`]: the learned baseline: its model, learning, the check of
//!   a transaction against it (deviations), and its YAML file.
//! * [`load`]: rule files, folders and the bundled default ruleset.
//! * [`overrides`]: the analyst's suppressions of a rule for a source, a
//!   destination or a pair (`overrides.yaml`), applied to a [`Ruleset`].
//! * [`error`]: every error with its position.
//!
//! The crate produces [`Alert`]s (which rule fired, when); writing them as
//! EVE JSON lines is the sensor's job. The language is documented in
//! `rules/README.md`.

#![forbid(unsafe_code)]

pub mod baseline;
pub mod compile;
mod cond;
pub mod engine;
pub mod error;
pub mod fields;
pub mod load;
pub mod overrides;
pub mod protocols;
pub mod schema;
mod view;

pub use compile::{RuleMeta, RuleTest, Source, VarOverrides};
pub use engine::{Alert, Engine, Ruleset, Thresholds};
pub use error::{ErrorKind, Errors, Pos, RuleError};
pub use fields::{FieldDef, Kind, Scope};
pub use protocols::Layer;
pub use schema::{Severity, TestDef, ThresholdType, Track};
pub use view::FlowInfo;

#[cfg(test)]
mod tests;
