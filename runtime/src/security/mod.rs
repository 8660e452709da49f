//! The process's privileges: capabilities, rlimits, user/group switch,
//! no_new_privs. Seccomp lives in the hull-seccomp crate.

pub mod capabilities;
pub mod host_namespaces;
pub mod identity;
pub mod rlimits;
pub mod seccomp;

use crate::error::{Call, Result, SysContext};
use nix::sys::prctl;

pub fn set_no_new_privs() -> Result<()> {
    prctl::set_no_new_privs().sys(Call::SetNoNewPrivs)
}

pub fn set_keep_caps(on: bool) -> Result<()> {
    prctl::set_keepcaps(on).sys(Call::SetKeepCaps)
}

pub fn set_dumpable(on: bool) -> Result<()> {
    prctl::set_dumpable(on).sys(Call::SetDumpable)
}
