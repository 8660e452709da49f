//! The runtime's error type. Every variant renders as one line naming the
//! thing that was wrong (a file, an id, a path, a syscall).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: {1}")]
    Sys(String, #[source] nix::Error),
    #[error("{path}: invalid config: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-', '.'")]
    InvalidId(String),
    #[error("container {id:?} is {status}: {op} needs it {wanted}")]
    BadState {
        id: String,
        status: String,
        op: &'static str,
        wanted: &'static str,
    },
    #[error("cgroup {path}: {msg}")]
    Cgroup { path: String, msg: String },
    #[error("mount {dest}: {msg}")]
    Mount { dest: String, msg: String },
    #[error("hook {path}: {msg}")]
    Hook { path: String, msg: String },
    #[error("container init: {0}")]
    Init(String),
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn sys(what: impl Into<String>, e: nix::Error) -> Self {
        Error::Sys(what.into(), e)
    }

    /// The text a child process sends to its parent, which wraps it in
    /// `Error::Init` (so an Init error is not prefixed twice).
    pub fn child_message(&self) -> String {
        match self {
            Error::Init(m) => m.clone(),
            other => other.to_string(),
        }
    }
}

/// Attach a path to io errors: `fs::read(p).ctx(p)?`.
pub trait IoContext<T> {
    fn ctx(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

/// Attach a description to nix errors: `mount(..).sys("mount /proc")?`.
pub trait SysContext<T> {
    fn sys(self, what: impl Into<String>) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::sys(what, e))
    }
}
