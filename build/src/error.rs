//! The one error type of the crate: what went wrong, and on which Dockerfile line.

/// A Dockerfile that cannot be used, with the 1-based line the problem is on
/// (for a multi-line instruction, the line it starts on). Displays as Docker
/// does: `Dockerfile:7: unknown instruction: FOOBAR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Dockerfile:{line}: {kind}")]
pub struct Error {
    pub line: usize,
    pub kind: ErrorKind,
}

impl Error {
    pub fn new(line: usize, kind: ErrorKind) -> Self {
        Self { line, kind }
    }
}

/// What is wrong, without the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("invalid escape token {0:?}: it must be \\ or `")]
    InvalidEscape(String),
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    #[error("{instruction} requires {expected}")]
    Arguments {
        instruction: &'static str,
        expected: &'static str,
    },
    #[error("unknown flag: --{flag} (for {instruction})")]
    UnknownFlag {
        instruction: &'static str,
        flag: String,
    },
    #[error("flag --{flag} {problem}")]
    BadFlag { flag: String, problem: String },
    #[error("unterminated heredoc: no line {0:?} before the end of the file")]
    UnterminatedHeredoc(String),
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    #[error("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    #[error("syntax error - can't find = in {0:?}; must be of the form: name=value")]
    MissingEquals(String),
    #[error("{0} requires the arguments to be in JSON form")]
    JsonRequired(&'static str),
    #[error("invalid port {0:?}: expected port[/tcp|udp|sctp] or a range start-end")]
    InvalidPort(String),
    #[error("invalid duration {0:?} (e.g. 30s, 1m30s, 500ms)")]
    InvalidDuration(String),
    #[error("invalid stage name {0:?}: it must start with a letter and hold only letters, digits, '-', '_' and '.'")]
    InvalidStageName(String),
    #[error("duplicate stage name {0:?}")]
    DuplicateStageName(String),
    #[error("no build stage in this Dockerfile: it must have a FROM")]
    NoStage,
    #[error("{0} must come after a FROM (only ARG may come before the first FROM)")]
    BeforeFrom(String),
    #[error("bad substitution in {0:?}")]
    BadSubstitution(String),
    #[error("{name}: {message}")]
    UnsetVariable { name: String, message: String },
    #[error("unterminated quote in {0:?}")]
    UnterminatedQuote(String),
    #[error("stage {0:?} not found")]
    StageNotFound(String),
    #[error("circular dependency detected on stage: {0}")]
    Cycle(String),
}

pub type Result<T> = std::result::Result<T, Error>;
