//! Seccomp profiles: compiled by the hull-seccomp crate before fork (so a
//! bad profile fails create cleanly), loaded in the container process. A
//! profile with SCMP_ACT_NOTIFY rules needs `listenerPath`: the listener fd
//! the kernel returns goes there, with the container process state, over
//! SCM_RIGHTS (the OCI runtime spec's ContainerProcessState, as runc sends).

use crate::error::{Error, Result};
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, Spec};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};

/// Compile `linux.seccomp`. NOTIFY rules without a `listenerPath` are
/// refused: the container would block in its first notified syscall.
pub fn compile(profile: &LinuxSeccomp) -> Result<hull_seccomp::CompiledFilter> {
    let notify = profile
        .syscalls()
        .iter()
        .flatten()
        .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify);
    match profile.listener_path() {
        None if notify => return Err(Error::NotifyNeedsListenerPath),
        Some(p) if notify && !p.exists() => return Err(Error::ListenerPathMissing(p.clone())),
        _ => {}
    }
    hull_seccomp::compile(profile).map_err(Error::SeccompCompile)
}

/// Connect to the spec's listenerPath and send the ContainerProcessState
/// (`fds: ["seccompFd"]`, pid, listenerMetadata, the container's `state`)
/// with the listener fd attached.
pub fn send_listener(spec: &Spec, pid: i32, state: serde_json::Value, fd: &OwnedFd) -> Result<()> {
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().clone())
        .ok_or(Error::ListenerWithoutProfile)?;
    let path = seccomp
        .listener_path()
        .clone()
        .ok_or(Error::NotifyNeedsListenerPath)?;
    let err = |source| Error::ListenerPath {
        path: path.clone(),
        source,
    };
    let msg = serde_json::json!({
        "ociVersion": spec.version(),
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": seccomp.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    })
    .to_string();
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(err)?;
    connect(s.as_raw_fd(), &UnixAddr::new(&path).map_err(err)?).map_err(err)?;
    let fds = [fd.as_raw_fd()];
    sendmsg::<UnixAddr>(
        s.as_raw_fd(),
        &[IoSlice::new(msg.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(err)?;
    Ok(())
}

/// Actions hullc can honour: all of the compiler's.
pub fn supported_actions() -> Vec<&'static str> {
    hull_seccomp::supported_actions().to_vec()
}

/// Flags hullc can pass to the kernel.
pub fn supported_flags() -> Vec<&'static str> {
    hull_seccomp::supported_flags().to_vec()
}
