//! OCI hooks: run a hook with the container state on stdin, in order,
//! each with its optional timeout.

use crate::error::{Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn run_all(hooks: &[Hook], state_json: &[u8]) -> Result<()> {
    for h in hooks {
        run(h, state_json)?;
    }
    Ok(())
}

pub fn run(h: &Hook, state_json: &[u8]) -> Result<()> {
    let path = h.path().display().to_string();
    let err = |msg: String| Error::Hook {
        path: path.clone(),
        msg,
    };
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| err(format!("start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores stdin closes it early: EPIPE is fine.
        let _ = stdin.write_all(state_json);
    }
    let timeout = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let status = match timeout {
        None => child.wait().map_err(|e| err(format!("wait: {e}")))?,
        Some(t) => match wait_timeout(&mut child, t).map_err(|e| err(format!("wait: {e}")))? {
            Some(s) => s,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err(format!("timed out after {}s", t.as_secs())));
            }
        },
    };
    if !status.success() {
        return Err(err(format!("failed: {status}")));
    }
    Ok(())
}

/// Wait for a child with a deadline, using a pidfd (no polling loop).
fn wait_timeout(
    child: &mut std::process::Child,
    t: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by pidfd_open and is owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let deadline = Instant::now() + t;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        match poll(&mut pfd, timeout) {
            Ok(n) if n > 0 => return child.wait().map(Some),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
    }
}
