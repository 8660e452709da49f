//! What hull-init decides without touching the process table: which program
//! its command line names, and which exit code a wait status becomes.
//! `main.rs` does the rest (fork, signals, reaping).

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;

use nix::sys::wait::WaitStatus;

/// Where hulld puts this binary in a container run with `--init` (Docker
/// puts its docker-init at /sbin/docker-init).
pub const CONTAINER_PATH: &str = "/sbin/hull-init";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UsageError {
    #[error("no program given (usage: hull-init -- PROGRAM [ARG...])")]
    NoProgram,
    #[error("unknown option {0:?} (usage: hull-init -- PROGRAM [ARG...])")]
    UnknownOption(String),
    #[error("argument {0:?} holds a NUL byte")]
    Nul(String),
}

/// The program and its arguments from hull-init's own arguments (without
/// argv[0]): everything after a leading `--`, or all of them when the first
/// does not start with `-`.
pub fn program(args: &[OsString]) -> Result<Vec<CString>, UsageError> {
    let rest = match args.first().map(|a| a.to_string_lossy()) {
        Some(a) if a == "--" => &args[1..],
        Some(a) if a.starts_with('-') => return Err(UsageError::UnknownOption(a.into_owned())),
        _ => args,
    };
    if rest.is_empty() {
        return Err(UsageError::NoProgram);
    }
    rest.iter()
        .map(|a| {
            CString::new(a.clone().into_vec())
                .map_err(|_| UsageError::Nul(a.to_string_lossy().into_owned()))
        })
        .collect()
}

/// The exit code that reports the program's end as a shell would: its own
/// code, or 128+N when signal N killed it. None for a status that is not an
/// end (stopped, continued).
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// The exit code when the program could not be executed: 127 when it was
/// not found, 126 when it was found but could not run (as shells report).
pub fn exec_failure_code(errno: nix::errno::Errno) -> i32 {
    match errno {
        nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => 127,
        _ => 126,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn c(v: &[&str]) -> Vec<CString> {
        v.iter().map(|s| CString::new(*s).unwrap()).collect()
    }

    #[test]
    fn program_follows_the_double_dash() {
        assert_eq!(
            program(&os(&["--", "sh", "-c", "exit 3"])),
            Ok(c(&["sh", "-c", "exit 3"]))
        );
        // A second `--` belongs to the program.
        assert_eq!(program(&os(&["--", "echo", "--"])), Ok(c(&["echo", "--"])));
        assert_eq!(program(&os(&["sleep", "1"])), Ok(c(&["sleep", "1"])));
    }

    #[test]
    fn program_refuses_nothing_options_and_nul() {
        assert_eq!(program(&[]), Err(UsageError::NoProgram));
        assert_eq!(program(&os(&["--"])), Err(UsageError::NoProgram));
        assert_eq!(
            program(&os(&["-g", "sh"])),
            Err(UsageError::UnknownOption("-g".into()))
        );
        let nul = OsString::from_vec(b"a\0b".to_vec());
        assert!(matches!(
            program(&[OsString::from("--"), nul]),
            Err(UsageError::Nul(_))
        ));
    }

    #[test]
    fn exit_codes_are_the_shells() {
        let p = Pid::from_raw(7);
        assert_eq!(exit_code(WaitStatus::Exited(p, 0)), Some(0));
        assert_eq!(exit_code(WaitStatus::Exited(p, 7)), Some(7));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGTERM, false)),
            Some(143)
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGKILL, true)),
            Some(137)
        );
        assert_eq!(exit_code(WaitStatus::Stopped(p, Signal::SIGSTOP)), None);
        assert_eq!(exec_failure_code(nix::errno::Errno::ENOENT), 127);
        assert_eq!(exec_failure_code(nix::errno::Errno::EACCES), 126);
    }
}
