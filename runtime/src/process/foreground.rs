//! Waiting in the foreground for a container process (run, exec without
//! -d): hullc is the process's subreaper, takes signals synchronously,
//! forwards them, and returns its exit code (128+N for signal N).

use crate::error::{Result, SysContext};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

pub struct Foreground {
    set: SigSet,
}

impl Foreground {
    /// Call before creating the process: become subreaper, block signals.
    pub fn prepare() -> Result<Self> {
        // SAFETY: prctl with integer args.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        nix::errno::Errno::result(rc).sys("prctl(PR_SET_CHILD_SUBREAPER)")?;
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        for s in FORWARDED {
            set.add(*s);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .sys("sigprocmask")?;
        Ok(Foreground { set })
    }

    /// Forward signals to `pid` until it exits; reap everything else.
    pub fn wait(&self, pid: i32) -> Result<i32> {
        let target = Pid::from_raw(pid);
        // It may already have exited before we got here.
        if let Some(c) = reap(target) {
            return Ok(c);
        }
        loop {
            let sig = self.set.wait().sys("sigwait")?;
            if sig != Signal::SIGCHLD {
                let _ = nix::sys::signal::kill(target, sig);
                continue;
            }
            if let Some(c) = reap(target) {
                return Ok(c);
            }
        }
    }
}

/// Reap every exited child; the exit code of `target` if it was among them.
fn reap(target: Pid) -> Option<i32> {
    let mut done = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p == target => done = Some(c),
            Ok(WaitStatus::Signaled(p, s, _)) if p == target => done = Some(128 + s as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => {}
        }
    }
    done
}
