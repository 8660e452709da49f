//! hull-pause: the process of a CRI pod sandbox (Kubernetes' pause). hulld
//! runs it as PID 1 of the pod's namespaces (network, IPC, UTS, and PID when
//! the pod shares it), which live as long as it does; the pod's containers
//! join them. It waits for signals and does nothing else: it reaps every
//! process reparented to it (a pod sharing its PID namespace leaves its
//! orphans here) and exits 0 on SIGINT or SIGTERM. It is linked statically
//! (see build.rs), so its root file system holds nothing but itself.

use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

/// What a signal makes hull-pause do.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Exit,
    Reap,
    Ignore,
}

fn action(sig: i32) -> Action {
    match sig {
        libc::SIGINT | libc::SIGTERM => Action::Exit,
        libc::SIGCHLD => Action::Reap,
        _ => Action::Ignore,
    }
}

fn main() {
    if std::env::args_os().len() > 1 {
        eprintln!("hull-pause: takes no arguments");
        std::process::exit(2);
    }
    // Not PID 1 (a pod sharing the host's PID namespace): still the one
    // the pod's orphans are reparented to.
    if std::process::id() != 1 {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    // Every signal waits in the queue until the loop takes it.
    if let Err(e) = SigSet::all().thread_swap_mask(SigmaskHow::SIG_SETMASK) {
        eprintln!("hull-pause: block signals: {e}");
        std::process::exit(1);
    }
    let all = SigSet::all();
    loop {
        // SAFETY: sigwaitinfo with a valid signal set and no info buffer.
        let sig = unsafe { libc::sigwaitinfo(all.as_ref(), std::ptr::null_mut()) };
        if sig < 0 {
            continue; // EINTR
        }
        match action(sig) {
            Action::Exit => std::process::exit(0),
            Action::Reap => reap(),
            Action::Ignore => {}
        }
    }
}

/// Reap every child that has ended.
fn reap() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_and_int_end_it_child_reaps_the_rest_wait() {
        assert_eq!(action(libc::SIGTERM), Action::Exit);
        assert_eq!(action(libc::SIGINT), Action::Exit);
        assert_eq!(action(libc::SIGCHLD), Action::Reap);
        for s in [libc::SIGHUP, libc::SIGUSR1, libc::SIGQUIT, libc::SIGRTMIN()] {
            assert_eq!(action(s), Action::Ignore, "signal {s}");
        }
    }
}
