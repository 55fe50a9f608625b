//! Rule errors: every problem in a rule file, each with its file, line and
//! column, collected so that one `otwatch rules check` reports them all.

use std::fmt;

/// A position in a rule file (1-based line and column, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Line, from 1 (0 when unknown).
    pub line: u32,
    /// Column, from 1 (0 when unknown).
    pub column: u32,
}

impl Pos {
    /// A position.
    pub fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    pub(crate) fn from_location(loc: &serde_saphyr::Location, line_offset: u32) -> Pos {
        let line = u32::try_from(loc.line()).unwrap_or(u32::MAX);
        let column = u32::try_from(loc.column()).unwrap_or(u32::MAX);
        if line == 0 {
            return Pos::default();
        }
        Pos {
            line: line.saturating_add(line_offset),
            column,
        }
    }
}

/// What kind of problem a rule file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// Not YAML, or YAML that does not fit the schema (serde-saphyr's message).
    Syntax,
    /// A field name in `match` that the protocol does not have.
    UnknownField,
    /// A name that is not one of the field's enum values.
    UnknownValue,
    /// A value of the wrong type or out of range.
    BadValue,
    /// An operator that does not exist or does not apply to the field.
    BadOperator,
    /// A `$name` that no `vars` entry defines.
    UnknownVar,
    /// Two rules with one id.
    DuplicateId,
    /// Anything else that makes a rule unusable.
    Invalid,
}

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file (as given, or `<default>/NAME` for the bundled ruleset).
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// What kind of problem.
    pub kind: ErrorKind,
    /// What is wrong, with the valid choices where there are some.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.pos.line, self.pos.column, self.message
            )
        }
    }
}

impl std::error::Error for RuleError {}

/// Every problem found while loading rules. Loading fails when this is not
/// empty: a bad rule file never half-loads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors(pub Vec<RuleError>);

impl Errors {
    /// Whether there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &RuleError> {
        self.0.iter()
    }

    pub(crate) fn push(
        &mut self,
        file: &str,
        pos: Pos,
        kind: ErrorKind,
        message: impl Into<String>,
    ) {
        self.0.push(RuleError {
            file: file.to_owned(),
            pos,
            kind,
            message: message.into(),
        });
    }

    pub(crate) fn sort(&mut self) {
        self.0
            .sort_by(|a, b| (a.file.as_str(), a.pos).cmp(&(b.file.as_str(), b.pos)));
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// Lists choices for a message: `a, b, c` (at most `max`, then `… (N more)`).
pub(crate) fn choices<'a>(names: impl IntoIterator<Item = &'a str>, max: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut extra = 0;
    for name in names {
        if n < max {
            if n > 0 {
                out.push_str(", ");
            }
            out.push_str(name);
            n += 1;
        } else {
            extra += 1;
        }
    }
    if extra > 0 {
        out.push_str(&format!(" … ({extra} more)"));
    }
    out
}
