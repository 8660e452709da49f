//! The manager's error type (mapped onto gRPC status codes in `api`).

use std::io;

use crate::untrusted::Escaped;

/// Errors of the manager library. Their text often quotes image, archive or
/// registry content (a tar entry's name, a registry's answer): it is shown
/// with control characters escaped (`untrusted`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found: {}", Escaped(.0))]
    NotFound(String),
    #[error("already exists: {}", Escaped(.0))]
    AlreadyExists(String),
    #[error("invalid argument: {}", Escaped(.0))]
    InvalidArgument(String),
    #[error("failed precondition: {}", Escaped(.0))]
    FailedPrecondition(String),
    /// The runtime could not run the command (a failed precondition, with
    /// the reason sent as typed gRPC metadata).
    #[error("failed precondition: {}", Escaped(.1))]
    CannotRun(hull_types::cannot_run::CannotRun, String),
    #[error(
        "digest mismatch: expected {}, got {}",
        Escaped(expected),
        Escaped(actual)
    )]
    DigestMismatch { expected: String, actual: String },
    #[error(
        "size mismatch for {}: expected {expected} bytes, got {actual}",
        Escaped(digest)
    )]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("unauthorized: {}", Escaped(.0))]
    Unauthorized(String),
    #[error("registry error: {}", Escaped(.0))]
    Registry(String),
    #[error("unpack refused: {}", Escaped(.0))]
    HostileLayer(String),
    #[error("unsupported: {}", Escaped(.0))]
    Unsupported(String),
    #[error("metadata database: {}", Escaped(.0))]
    Db(String),
    #[error("no space left: {}", Escaped(.0))]
    NoSpace(String),
    /// A deadline the caller gave passed (an exec's timeout).
    #[error("{}", Escaped(.0))]
    DeadlineExceeded(String),
    /// Something in hulld itself went wrong (a worker thread panicked).
    #[error("{}", Escaped(.0))]
    Internal(String),
    #[error("{}: {}", Escaped(context), Escaped(&source.to_string()))]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error with a context line (usually the path).
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Extension to attach a context to io::Result.
pub trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self { Error::Db(e.to_string()) }
        }
    )*};
}
db_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<hull_types::InvalidArgument> for Error {
    fn from(e: hull_types::InvalidArgument) -> Self {
        Error::InvalidArgument(e.0)
    }
}

impl From<hull_types::copy::Error> for Error {
    fn from(e: hull_types::copy::Error) -> Self {
        use hull_types::copy::Error as E;
        match e {
            E::NotFound(m) => Error::NotFound(m),
            E::InvalidArgument(m) => Error::InvalidArgument(m),
            E::Io { context, source } => Error::Io { context, source },
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::InvalidArgument(format!("json: {e}"))
    }
}
