//! The process's privileges: capabilities, rlimits, user/group switch,
//! no_new_privs. Seccomp lives in the hull-seccomp crate.

pub mod capabilities;
pub mod host_namespaces;
pub mod identity;
pub mod rlimits;
pub mod seccomp;

use crate::error::{Result, SysContext};

pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integer args.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    nix::errno::Errno::result(rc)
        .map(drop)
        .sys("prctl(PR_SET_NO_NEW_PRIVS)")
}

pub fn set_keep_caps(on: bool) -> Result<()> {
    // SAFETY: prctl with PR_SET_KEEPCAPS takes plain integer args.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) };
    nix::errno::Errno::result(rc)
        .map(drop)
        .sys("prctl(PR_SET_KEEPCAPS)")
}

pub fn set_dumpable(on: bool) -> Result<()> {
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integer args.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) };
    nix::errno::Errno::result(rc)
        .map(drop)
        .sys("prctl(PR_SET_DUMPABLE)")
}
