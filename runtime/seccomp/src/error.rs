//! Errors of compiling and installing a seccomp profile.

use std::io;

/// Everything that can go wrong between an OCI `linux.seccomp` profile and an installed filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile text is not a valid `linux.seccomp` object (this is where an unknown action,
    /// operator, architecture or flag name ends up: serde names the bad value).
    #[error("invalid seccomp profile: {0}")]
    Parse(#[from] serde_json::Error),

    /// An architecture oci-spec knows but hull-seccomp has no syscall table for.
    #[error("seccomp architecture {0} is not supported (supported: {supported})", supported = crate::supported_archs().join(", "))]
    UnsupportedArch(String),

    /// `SCMP_ACT_NOTIFY` as `defaultAction`: the process installing the filter must still make
    /// syscalls afterwards (hand the listener fd over, execve), which would all wait for an agent.
    #[error("SCMP_ACT_NOTIFY cannot be used as the default action")]
    NotifyAsDefault,

    /// A condition on an argument index beyond the six a syscall has.
    #[error("syscall {syscall}: argument index {index} is out of range (0..=5)")]
    ArgIndex {
        /// The syscall names of the rule.
        syscall: String,
        /// The bad index.
        index: usize,
    },

    /// An errnoRet that does not fit in SECCOMP_RET_DATA (16 bits).
    #[error("{what}: errnoRet {value} does not fit in 16 bits")]
    ErrnoRange {
        /// Which rule (or "defaultErrnoRet").
        what: String,
        /// The bad value.
        value: u32,
    },

    /// The compiled program is longer than the kernel accepts (BPF_MAXINSNS).
    #[error("compiled seccomp program has {0} instructions, the kernel accepts at most 4096")]
    TooLong(usize),

    /// A bug in the compiler (a jump it could not place).
    #[error("internal seccomp compiler error: {0}")]
    Internal(String),

    /// The kernel refused the filter because the caller has neither CAP_SYS_ADMIN nor
    /// no_new_privs set (EACCES from seccomp(2)).
    #[error(
        "seccomp(2) refused the filter with EACCES: the process needs no_new_privs set \
         (noNewPrivileges: true) or CAP_SYS_ADMIN in its user namespace"
    )]
    NeedsNoNewPrivs,

    /// TSYNC could not synchronise another thread of the process.
    #[error("seccomp TSYNC failed: thread {0} could not be synchronised")]
    ThreadSync(i64),

    /// Any other failure of seccomp(2).
    #[error("seccomp(2) failed (flags {flags:#x}): {source}")]
    Install {
        /// The flags passed to seccomp(2).
        flags: u32,
        /// The errno.
        #[source]
        source: io::Error,
    },
}
