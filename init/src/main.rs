//! hull-init: the init hulld puts in containers run with `--init` (Docker's
//! docker-init, after tini). hulld bind-mounts this binary read-only at
//! /sbin/hull-init and makes the container's process
//! `/sbin/hull-init -- PROGRAM ARG...`.
//!
//! It forks PROGRAM (in a process group of its own, in the terminal's
//! foreground when there is one), forwards every signal it receives to it,
//! reaps every process that is reparented to it, and exits with PROGRAM's
//! status: its exit code, or 128+N when signal N killed it. So `hull stop`
//! works on programs that ignore SIGTERM as PID 1, and zombies never pile
//! up. It is linked statically (see build.rs), so it runs in any image.

use std::convert::Infallible;
use std::ffi::CString;
use std::io::Write;

use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let program = match hull_init::program(&args) {
        Ok(p) => p,
        Err(e) => fail(2, &e.to_string()),
    };
    match run(&program) {
        Ok(never) => match never {},
        Err(e) => fail(1, &e),
    }
}

fn fail(code: i32, msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "hull-init: {msg}");
    std::process::exit(code)
}

/// Fork the program and supervise it; returns only on failure.
fn run(program: &[CString]) -> Result<Infallible, String> {
    // Not PID 1 (a runtime sharing the host's PID namespace): still the
    // one orphans are reparented to.
    if std::process::id() != 1 {
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| format!("become a child subreaper: {e}"))?;
    }
    // Every signal waits in the queue until `supervise` takes it.
    let old = SigSet::all()
        .thread_swap_mask(SigmaskHow::SIG_SETMASK)
        .map_err(|e| format!("block signals: {e}"))?;
    // SAFETY: hull-init is single-threaded; the child only moves to its own
    // process group, restores the signal mask and execs.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(format!("fork {}: {e}", program[0].to_string_lossy())),
        Ok(ForkResult::Child) => exec_program(program, &old),
        Ok(ForkResult::Parent { child }) => supervise(child),
    }
}

/// In the child: own process group, the terminal's foreground, the signal
/// mask hull-init was started with, then the program.
fn exec_program(program: &[CString], mask: &SigSet) -> ! {
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // SIGTTOU is still blocked, so taking the foreground cannot stop us.
    let stdin = std::io::stdin();
    if nix::unistd::isatty(&stdin).unwrap_or(false) {
        let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
    }
    let _ = mask.thread_set_mask();
    let errno = match nix::unistd::execvp(&program[0], program) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let _ = writeln!(
        std::io::stderr(),
        "hull-init: exec {}: {errno}",
        program[0].to_string_lossy()
    );
    // SAFETY: end the forked child without running the parent's atexit
    // handlers or flushing its buffers.
    unsafe { libc::_exit(hull_init::exec_failure_code(errno)) }
}

/// Forward signals to the program, reap orphans, exit with its status.
fn supervise(child: Pid) -> ! {
    let all = SigSet::all();
    loop {
        // SAFETY: sigwaitinfo with a valid signal set and no info buffer.
        let sig = unsafe { libc::sigwaitinfo(all.as_ref(), std::ptr::null_mut()) };
        if sig < 0 {
            continue; // EINTR
        }
        if sig != libc::SIGCHLD {
            // SAFETY: kill(2) of our own child (real-time signals included,
            // which nix's Signal cannot name); it may be gone already.
            unsafe { libc::kill(child.as_raw(), sig) };
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) if status.pid() == Some(child) => {
                    if let Some(code) = hull_init::exit_code(status) {
                        std::process::exit(code);
                    }
                }
                Ok(_) => {} // an orphan, reaped
            }
        }
    }
}
