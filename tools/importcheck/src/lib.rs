//! hull's floor check: reads the workspace's manifests and the daemon's
//! sources and reports every dependency or import that crosses a floor the
//! wrong way (rules in [`rules`]). Run by `make lint`.

pub mod crates;
pub mod modules;
pub mod rules;

use std::fmt;
use std::path::{Path, PathBuf};

/// Why the check itself could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parse {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("walk {path}: {source}")]
    Walk {
        path: PathBuf,
        source: walkdir::Error,
    },
    #[error("{path}: the daemon crate {name} is not a workspace member")]
    NoDaemon { path: PathBuf, name: String },
}

/// One crossing of a floor, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Relative to the workspace root.
    pub file: PathBuf,
    /// 1-based; 0 when the finding is about a whole manifest entry.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Checks the workspace at `root`: crate dependencies first, then the
/// daemon's module imports.
pub fn check(root: &Path) -> Result<Vec<Violation>, Error> {
    let workspace = crates::Workspace::read(root)?;
    let mut found = workspace.dependency_violations();
    let daemon = workspace
        .member(rules::DAEMON_CRATE)
        .ok_or_else(|| Error::NoDaemon {
            path: root.join("Cargo.toml"),
            name: rules::DAEMON_CRATE.to_string(),
        })?;
    found.extend(modules::check_daemon(root, &daemon.dir)?);
    Ok(found)
}

pub(crate) fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}
