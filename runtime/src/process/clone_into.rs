//! Forking into a cgroup: clone3(CLONE_INTO_CGROUP) puts the child in its
//! cgroup2 directory at birth. Moving a running process there instead (a
//! write to cgroup.procs) takes the cgroup threadgroup lock for writing,
//! which waits for an RCU grace period: about 10 ms on this kind of host,
//! paid by every create that joins a pid namespace and by every exec.

use nix::sched::CloneFlags;
use std::os::fd::AsRawFd;
use std::path::Path;

#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A fork-like clone into new namespaces. With a cgroup2 directory, clone3
/// puts the child straight into it (CLONE_INTO_CGROUP: no migration, no
/// global lock); otherwise, or if the kernel refuses, plain clone(2).
/// Returns the raw result: 0 in the child, the pid in the parent, -1.
pub fn fork_into(flags: CloneFlags, v2_dir: Option<&Path>) -> libc::c_long {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    if let Some(dir) = v2_dir {
        if let Ok(cg) = nix::fcntl::open(
            dir,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            let args = CloneArgs {
                flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
                pidfd: 0,
                child_tid: 0,
                parent_tid: 0,
                exit_signal: libc::SIGCHLD as u64,
                stack: 0,
                stack_size: 0,
                tls: 0,
                set_tid: 0,
                set_tid_size: 0,
                cgroup: cg.as_raw_fd() as u64,
            };
            // SAFETY: fork-like clone3 (no CLONE_VM, no new stack): the child
            // gets a copy-on-write copy of this single-threaded process.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_clone3,
                    &args as *const CloneArgs,
                    std::mem::size_of::<CloneArgs>(),
                )
            };
            if rc >= 0 {
                return rc;
            }
            tracing::debug!(
                "clone3 into {}: {}; falling back to clone",
                dir.display(),
                std::io::Error::last_os_error()
            );
        }
    }
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack), as above.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    }
}

/// What a fork-like clone gave: the child side, or the child's pid.
pub enum Forked {
    Child,
    Parent(nix::unistd::Pid),
}

/// `fork_into` with its result checked: an errno-carrying error when the
/// clone failed.
pub fn fork_checked(flags: CloneFlags, v2_dir: Option<&Path>) -> nix::Result<Forked> {
    match fork_into(flags, v2_dir) {
        rc if rc < 0 => Err(nix::errno::Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(nix::unistd::Pid::from_raw(pid as i32))),
    }
}
