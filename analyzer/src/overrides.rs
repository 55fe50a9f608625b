//! The analyst's rule overrides (`overrides.yaml`, see
//! `otwatch_rules::overrides`): the file the embedder lets the analyzer
//! change ([`OverridesHook`]), listed, added to and removed from by
//! `/api/v1/overrides`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::baseline::Reload;

/// The overrides file the analyzer may change, set by the embedder
/// (`otwatch run`: `DATA/overrides.yaml` or `--overrides FILE`) with
/// [`crate::Analyzer::set_overrides`]. Without one, the API lists nothing
/// and refuses changes: a standalone analyzer has no sensor to apply them.
#[derive(Clone)]
pub struct OverridesHook {
    /// The YAML file (a missing file has no suppression; it is made at the
    /// first one added), saved atomically with mode 0600.
    pub path: PathBuf,
    /// Called after each change has saved the file, on the blocking pool:
    /// the sensor reloads its rules. Its message is shown to the analyst.
    pub reload: Reload,
}

impl OverridesHook {
    /// A hook on `path` whose changes call `reload`.
    pub fn new(
        path: impl Into<PathBuf>,
        reload: impl Fn() -> Result<String, String> + Send + Sync + 'static,
    ) -> OverridesHook {
        OverridesHook {
            path: path.into(),
            reload: Arc::new(reload),
        }
    }
}

impl std::fmt::Debug for OverridesHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverridesHook")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
