//! Where rule text comes from: a file, a folder of `*.yaml` / `*.yml`
//! files, or the bundled default ruleset compiled into the binary.

use std::path::{Path, PathBuf};

use crate::compile::Source;
use crate::engine::Ruleset;
use crate::error::{ErrorKind, Errors, Pos};

/// The bundled default ruleset (`rules/default/*.yaml`), file by file.
pub const BUNDLED: &[(&str, &str)] = &[
    ("vars.yaml", include_str!("../default/vars.yaml")),
    ("modbus.yaml", include_str!("../default/modbus.yaml")),
    ("s7comm.yaml", include_str!("../default/s7comm.yaml")),
    ("dnp3.yaml", include_str!("../default/dnp3.yaml")),
    ("enip.yaml", include_str!("../default/enip.yaml")),
    ("iec104.yaml", include_str!("../default/iec104.yaml")),
    ("evasion.yaml", include_str!("../default/evasion.yaml")),
    ("baseline.yaml", include_str!("../default/baseline.yaml")),
];

/// Largest rule file read, in bytes (the whole bundled ruleset is a few
/// tens of kilobytes).
pub const MAX_RULE_FILE_BYTES: u64 = 8 << 20;

/// The error for a rule file of `size` bytes, over [`MAX_RULE_FILE_BYTES`].
pub(crate) fn too_large(size: u64) -> String {
    too_large_for(size, MAX_RULE_FILE_BYTES, "rule file")
}

/// The error for a `what` of `size` bytes, over its limit `max`.
pub(crate) fn too_large_for(size: u64, max: u64, what: &str) -> String {
    format!("file is {size} bytes, more than the limit of {max} bytes for a {what}")
}

/// Reads a rule file of at most [`MAX_RULE_FILE_BYTES`] bytes.
fn read_limited(path: &Path) -> Result<String, String> {
    read_at_most(path, MAX_RULE_FILE_BYTES, "rule file")
}

/// Reads a `what` of at most `max` bytes (never more into memory, even if
/// it grows while read).
pub(crate) fn read_at_most(path: &Path, max: u64, what: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if size > max {
        return Err(too_large_for(size, max, what));
    }
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read: {e}"))?;
    let read = text.len() as u64;
    if read > max {
        return Err(too_large_for(read, max, what));
    }
    Ok(text)
}

/// Reads a file of at most `max` bytes ([`read_at_most`]), with an error
/// at the file (no position) when it cannot: its name and its text.
pub(crate) fn read_file(path: &Path, max: u64, what: &str) -> Result<(String, String), Errors> {
    let name = path.display().to_string();
    match read_at_most(path, max, what) {
        Ok(text) => Ok((name, text)),
        Err(msg) => {
            let mut e = Errors::default();
            e.push(&name, Pos::default(), ErrorKind::Io, msg);
            Err(e)
        }
    }
}

/// Writes `text` to `path` atomically (a temporary file beside it, written
/// and synced, then a rename), so that a reader never sees half a file;
/// mode 0600: baselines and overrides describe the plant, and are readable
/// by their owner only, as the alert store is.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "otwatch.yaml".to_owned());
    let tmp = dir
        .unwrap_or_else(|| Path::new("."))
        .join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The folder of the bundled ruleset in the source tree; test captures of
/// the bundled rules are relative to it.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("default")
}

/// The bundled ruleset's sources.
pub fn bundled_sources() -> Vec<Source> {
    BUNDLED
        .iter()
        .map(|(name, text)| Source {
            name: format!("rules/default/{name}"),
            text: (*text).to_owned(),
            base: bundled_dir(),
        })
        .collect()
}

/// Reads a rule file, or every `*.yaml` / `*.yml` file of a folder (sorted
/// by name, not recursive).
pub fn sources_from_path(path: &Path) -> Result<Vec<Source>, Errors> {
    let mut errors = Errors::default();
    let io_err = |errors: &mut Errors, p: &Path, e: String| {
        errors.push(&p.display().to_string(), Pos::default(), ErrorKind::Io, e);
    };
    let files = if path.is_dir() {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                    })
                    .collect();
                files.sort();
                if files.is_empty() {
                    errors.push(
                        &path.display().to_string(),
                        Pos::default(),
                        ErrorKind::Io,
                        "no *.yaml or *.yml rule files in this folder",
                    );
                }
                files
            }
            Err(e) => {
                io_err(&mut errors, path, format!("cannot read: {e}"));
                Vec::new()
            }
        }
    } else {
        vec![path.to_path_buf()]
    };
    let mut sources = Vec::new();
    for file in files {
        match read_limited(&file) {
            Ok(text) => sources.push(Source {
                name: file.display().to_string(),
                text,
                base: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            }),
            Err(e) => io_err(&mut errors, &file, e),
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(errors)
    }
}

impl Ruleset {
    /// Loads and compiles a rule file or folder.
    pub fn load(path: &Path) -> Result<Ruleset, Errors> {
        Ruleset::from_sources(&sources_from_path(path)?)
    }

    /// The bundled default ruleset.
    pub fn bundled() -> Result<Ruleset, Errors> {
        Ruleset::from_sources(&bundled_sources())
    }

    /// Compiles one YAML text (for tests and tools).
    pub fn from_str(name: &str, text: &str) -> Result<Ruleset, Errors> {
        Ruleset::from_sources(&[Source {
            name: name.to_owned(),
            text: text.to_owned(),
            base: PathBuf::new(),
        }])
    }
}
