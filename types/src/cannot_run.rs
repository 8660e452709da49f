//! Why a container's or exec's command could not be run, as a typed marker
//! on hulld's gRPC status, so that `hull` picks Docker's exit code (127
//! not found, 126 not executable) without reading message text.
//!
//! Below hulld the reason travels only as text: runc's command line (the
//! border between shim and runtime) reports it on stderr, in runc's own
//! wording, which hullc shares and containerd and Docker match too. hulld
//! reads it once, with [`classify`], where a failure becomes a gRPC
//! status, and sends [`CannotRun::as_str`] in the [`METADATA_KEY`]
//! metadata entry; clients read it back with [`CannotRun::parse`].

/// The gRPC metadata key carrying a [`CannotRun`].
pub const METADATA_KEY: &str = "hull-cannot-run";

/// Why the command could not be run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannotRun {
    /// No such command (Docker's exit code 127).
    NotFound,
    /// There, but not executable (Docker's exit code 126).
    NotExecutable,
}

impl CannotRun {
    /// The metadata value.
    pub fn as_str(self) -> &'static str {
        match self {
            CannotRun::NotFound => "not-found",
            CannotRun::NotExecutable => "not-executable",
        }
    }

    /// A metadata value back.
    pub fn parse(s: &str) -> Option<CannotRun> {
        match s {
            "not-found" => Some(CannotRun::NotFound),
            "not-executable" => Some(CannotRun::NotExecutable),
            _ => None,
        }
    }

    /// Docker's exit code for it.
    pub fn exit_code(self) -> i32 {
        match self {
            CannotRun::NotFound => 127,
            CannotRun::NotExecutable => 126,
        }
    }
}

/// The reason in a runtime's error text (runc's and hullc's wording:
/// `exec "x": executable file not found in $PATH`, `no such file or
/// directory`, `permission denied`, `exec format error`), if it is one.
pub fn classify(runtime_error: &str) -> Option<CannotRun> {
    let m = runtime_error.to_ascii_lowercase();
    if m.contains("no such file")
        || m.contains("no such executable")
        || m.contains("executable file not found")
        || m.contains("command not found")
    {
        Some(CannotRun::NotFound)
    } else if m.contains("permission denied") || m.contains("exec format") {
        Some(CannotRun::NotExecutable)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_wordings_and_round_trip() {
        let nf = r#"start: OCI runtime: exec "nope": executable file not found in $PATH"#;
        assert_eq!(classify(nf), Some(CannotRun::NotFound));
        assert_eq!(
            classify(r#"exec "/x": no such executable file"#),
            Some(CannotRun::NotFound)
        );
        assert_eq!(
            classify(r#"exec "/etc": Permission denied"#),
            Some(CannotRun::NotExecutable)
        );
        assert_eq!(
            classify("exec format error"),
            Some(CannotRun::NotExecutable)
        );
        assert_eq!(classify("cgroup: device or resource busy"), None);
        for c in [CannotRun::NotFound, CannotRun::NotExecutable] {
            assert_eq!(CannotRun::parse(c.as_str()), Some(c));
        }
        assert_eq!(CannotRun::parse("other"), None);
        assert_eq!(CannotRun::NotFound.exit_code(), 127);
        assert_eq!(CannotRun::NotExecutable.exit_code(), 126);
    }
}
