//! `run`: create + start; in the foreground, forward signals to the
//! container, wait for it, delete it, and exit with its code.

use super::create::CreateArgs;
use crate::container::{lifecycle, Store};
use crate::error::{Error, Result, SysContext};
use clap::Args;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Return after start instead of waiting for the container.
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

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

/// Returns the exit code hullc should exit with.
pub fn run(store: &Store, a: &RunArgs) -> Result<i32> {
    if a.detach {
        lifecycle::create(store, &a.create.options())?;
        if let Err(e) = lifecycle::start(store, &a.create.id) {
            let _ = lifecycle::delete(store, &a.create.id, true);
            return Err(e);
        }
        return Ok(0);
    }
    // Become the init's reaper, and take signals synchronously from now on.
    // SAFETY: prctl with integer args.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    nix::errno::Errno::result(rc).sys("prctl(PR_SET_CHILD_SUBREAPER)")?;
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(*s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).sys("sigprocmask")?;

    let st = lifecycle::create(store, &a.create.options())?;
    if let Err(e) = lifecycle::start(store, &a.create.id) {
        let _ = lifecycle::delete(store, &a.create.id, true);
        return Err(e);
    }
    let init = Pid::from_raw(st.pid);
    let code = loop {
        let sig = set.wait().sys("sigwait")?;
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(init, sig);
            continue;
        }
        let mut done = None;
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, c)) if p == init => done = Some(c),
                Ok(WaitStatus::Signaled(p, s, _)) if p == init => done = Some(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if let Some(c) = done {
            break c;
        }
    };
    let st = store.load(&a.create.id)?;
    lifecycle::destroy(store, &st).map_err(|e| Error::Other(format!("cleanup after exit: {e}")))?;
    Ok(code)
}
