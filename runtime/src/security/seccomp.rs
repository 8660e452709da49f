//! Seccomp profiles: compiled by the hull-seccomp crate before fork (so a
//! bad profile fails create cleanly), loaded in the container process.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

/// Compile `linux.seccomp`. SCMP_ACT_NOTIFY needs a listener (listenerPath)
/// that hullc does not provide yet, so profiles using it are refused rather
/// than leaving the container blocked in its first notified syscall.
pub fn compile(profile: &LinuxSeccomp) -> Result<hull_seccomp::CompiledFilter> {
    let notify = profile.default_action() == LinuxSeccompAction::ScmpActNotify
        || profile
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify);
    if notify || profile.listener_path().is_some() {
        return Err(Error::Seccomp(
            "SCMP_ACT_NOTIFY / listenerPath is not supported by hullc".into(),
        ));
    }
    hull_seccomp::compile(profile).map_err(|e| Error::Seccomp(e.to_string()))
}

/// Actions hullc can honour (the compiler's, minus NOTIFY).
pub fn supported_actions() -> Vec<&'static str> {
    hull_seccomp::supported_actions()
        .iter()
        .copied()
        .filter(|a| *a != "SCMP_ACT_NOTIFY")
        .collect()
}

/// Flags hullc can pass to the kernel (the notify-only one needs a listener).
pub fn supported_flags() -> Vec<&'static str> {
    hull_seccomp::supported_flags()
        .iter()
        .copied()
        .filter(|f| {
            *f != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
                && *f != "SECCOMP_FILTER_FLAG_NEW_LISTENER"
        })
        .collect()
}
