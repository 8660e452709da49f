//! A minimal init for containers that ask for one (Docker's `--init`),
//! chosen by the annotation `io.hull.init: "true"`.
//!
//! Instead of exec'ing the user's program as PID 1, the container's init
//! forks it and stays PID 1 itself, doing what tini does: it forwards every
//! signal it receives to the program, reaps every orphan that is reparented
//! to it, and exits with the program's status (128+signal when killed).
//! So `hull stop` works on programs that ignore SIGTERM as PID 1, and
//! zombies never pile up. No binary is copied into the rootfs: PID 1 is the
//! sealed hullc image already running there, with the same user,
//! capabilities, seccomp filter and no_new_privs as the program, and not
//! dumpable (nothing in the container can ptrace it).

use super::program::{self, Prepared};
use crate::error::{Error, Result};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::Spec;
use std::convert::Infallible;

pub const ANNOTATION: &str = "io.hull.init";

/// Whether the spec asks for an init.
pub fn wanted(spec: &Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .is_some_and(|v| v == "true" || v == "1")
}

/// Fork the program and supervise it as PID 1; never returns on success.
pub fn run(mut p: Prepared<'_>, preserve_fds: i32) -> Result<Infallible> {
    // PID 1 lives under the same filter as the program.
    p.install_late_seccomp()?;
    let all = SigSet::all();
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut old))
        .map_err(Error::BlockSignals)?;
    // SAFETY: the container's init is single-threaded; the child only sets
    // its process group and execs.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(Error::ForkProgram(e)),
        Ok(ForkResult::Child) => {
            // Its own process group, in the terminal's foreground when there
            // is one (SIGTTOU is still blocked, so tcsetpgrp cannot stop us).
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let stdin = std::io::stdin();
            if nix::unistd::isatty(&stdin).unwrap_or(false) {
                let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
            }
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let e = match program::exec(p, preserve_fds) {
                Err(e) => e,
                Ok(never) => match never {},
            };
            eprintln!("hullc: {e}");
            // SAFETY: leave the forked child without running destructors.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            // Keep only stdio: nothing of hullc's stays open in PID 1.
            program::close_fds_from(3);
            let _ = nix::sys::prctl::set_name(c"hull-init");
            scrub_cmdline_and_environ(b"hull-init");
            supervise(child)
        }
    }
}

/// Where this process's argv and environ strings lie: fields 48–51 of
/// /proc/self/stat (arg_start, arg_end, env_start, env_end).
fn argv_environ_areas() -> Option<[usize; 4]> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` starts at field 3.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<usize>().ok();
    let a = [field(48)?, field(49)?, field(50)?, field(51)?];
    (a[0] < a[1] && a[2] <= a[3]).then_some(a)
}

/// Make PID 1's /proc/1/cmdline read `name` and its /proc/1/environ empty:
/// they would show hullc's host path, state directory and environment to
/// the container.
fn scrub_cmdline_and_environ(name: &[u8]) {
    let Some([arg0, arg1, env0, env1]) = argv_environ_areas() else {
        return;
    };
    let n = name.len().min(arg1 - arg0 - 1);
    // SAFETY: the kernel reports these ranges as this process's own argv
    // and environ strings (writable stack memory). PID 1 is single-threaded
    // and reads neither argv nor the environment from here on. The last
    // byte of the argv area stays NUL, so the kernel reads no further.
    unsafe {
        std::ptr::write_bytes(env0 as *mut u8, 0, env1 - env0);
        std::ptr::write_bytes(arg0 as *mut u8, 0, arg1 - arg0);
        std::ptr::copy_nonoverlapping(name.as_ptr(), arg0 as *mut u8, n);
    }
}

/// Forward signals to the program, reap orphans, exit with its status.
fn supervise(child: Pid) -> ! {
    let set = SigSet::all();
    loop {
        // Raw sigwaitinfo and kill, not nix's: real-time signals (which
        // nix's Signal cannot name) are forwarded too.
        // SAFETY: sigwaitinfo with a valid set and no info buffer.
        let sig = unsafe { libc::sigwaitinfo(set.as_ref(), std::ptr::null_mut()) };
        if sig < 0 {
            continue; // EINTR
        }
        if sig != libc::SIGCHLD {
            // SAFETY: plain kill(2) of our own child; it may be gone already.
            unsafe { libc::kill(child.as_raw(), sig) };
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => exit(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => exit(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {} // an orphan, reaped
            }
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends PID 1 (and so the container) at once.
    unsafe { libc::_exit(code) }
}
