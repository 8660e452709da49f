//! The parent side of `create`: fork stage 1 (joins/unshares namespaces and
//! forks the init into them), serve the init's requests (id maps, hooks,
//! console), and return the init's host pid once it is ready.
//!
//! In the common case (no user namespace, no pid namespace to join) the
//! init is cloned straight into its new namespaces. Otherwise two forks:
//! a new pid namespace applies to children only, and a new user namespace
//! must have its maps written (by us, outside it) before the other
//! namespaces are created inside it.

use super::clone_into::{fork_checked, fork_into, Forked};
use super::init::{self, InitContext};
use super::namespaces::{self, Plan};
use super::sync::{self, Channel, Msg};
use crate::cgroups::Cgroup;
use crate::error::{Call, Error, Result, SysContext};
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

pub struct Launch<'a> {
    pub init: InitContext<'a>,
    pub cgroup: &'a dyn Cgroup,
    pub console_socket: Option<&'a Path>,
    /// Without a console socket, keep the pty master here (foreground run).
    pub console_capture: Option<&'a std::cell::RefCell<Option<OwnedFd>>>,
    /// Called with the init's pid for prestart/createRuntime hooks.
    pub run_runtime_hooks: &'a dyn Fn(i32) -> Result<()>,
}

/// Returns the init's host pid. On error, anything started is killed.
pub fn launch(l: &Launch<'_>, ns: &Plan) -> Result<i32> {
    if direct_clone_possible(ns) {
        return launch_direct(l, ns);
    }
    let (parent, child) = sync::pair()?;
    // Stage 1 is born in the container's cgroup2 directory (see clone_into);
    // hullc is single-threaded, so the child may run arbitrary code.
    match fork_checked(CloneFlags::empty(), l.cgroup.v2_dir()).sys(Call::Fork)? {
        Forked::Child => {
            drop(parent);
            child.exit_child(stage1(l, ns, &child))
        }
        Forked::Parent(stage1_pid) => {
            drop(child);
            let mut init_pid: Option<i32> = None;
            let res = serve(l, ns, &parent, stage1_pid, &mut init_pid);
            let _ = waitpid(stage1_pid, None);
            match res {
                Ok(()) => init_pid.ok_or(Error::Protocol("init pid was never reported")),
                Err(e) => {
                    if let Some(pid) = init_pid {
                        let _ =
                            nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
                        let _ = waitpid(Pid::from_raw(pid), None);
                    }
                    Err(e)
                }
            }
        }
    }
}

/// No user namespace and no pid namespace to join: one clone suffices.
fn direct_clone_possible(ns: &Plan) -> bool {
    // clone(2) cannot take CLONE_NEWTIME (it collides with CSIGNAL).
    !ns.new_user
        && !ns.new.contains(nix::sched::CloneFlags::from_bits_retain(
            libc::CLONE_NEWTIME,
        ))
        && !ns
            .join
            .iter()
            .any(|j| matches!(j.typ, LinuxNamespaceType::User | LinuxNamespaceType::Pid))
}

/// clone(2) the init straight into its new namespaces (all but cgroup,
/// which must be unshared after joining the container's cgroup).
fn launch_direct(l: &Launch<'_>, ns: &Plan) -> Result<i32> {
    let (parent, child) = sync::pair()?;
    let flags = ns.new & !nix::sched::CloneFlags::CLONE_NEWCGROUP;
    let rc = fork_into(flags, l.cgroup.v2_dir());
    if rc < 0 {
        return Err(Error::Clone {
            flags,
            source: nix::errno::Errno::last(),
        });
    }
    if rc == 0 {
        drop(parent);
        child.exit_child(direct_child(l, ns, &child).map(|never| match never {}))
    }
    drop(child);
    let pid = rc as i32;
    let mut init_pid = Some(pid);
    let res = reply(&parent, set_oom_score_adj(l, pid))
        .and_then(|()| serve(l, ns, &parent, Pid::from_raw(pid), &mut init_pid));
    match res {
        Ok(()) => Ok(pid),
        Err(e) => {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            Err(e)
        }
    }
}

fn direct_child(l: &Launch<'_>, ns: &Plan, ch: &Channel) -> Result<std::convert::Infallible> {
    l.cgroup.add_self()?;
    namespaces::join_all(&ns.join)?;
    if ns.new.contains(nix::sched::CloneFlags::CLONE_NEWCGROUP) {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).sys(Call::UnshareCgroupNs)?;
    }
    init::run(&l.init, ns, ch)
}

/// Both children closed their ends of the channel without Ready: why.
fn children_gone(stage1: Pid) -> Error {
    match waitpid(stage1, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Signaled(_, sig, _)) => Error::SetupKilled(sig),
        _ => Error::Protocol("container init exited before it was ready"),
    }
}

fn serve(
    l: &Launch<'_>,
    ns: &Plan,
    ch: &Channel,
    stage1: Pid,
    init_pid: &mut Option<i32>,
) -> Result<()> {
    serve_messages(l, ns, ch, stage1, init_pid).map_err(|e| match e {
        // An answer nobody is left to read: say why the children went
        // instead of the broken pipe.
        Error::Syscall {
            call: Call::SyncSend,
            source: nix::errno::Errno::EPIPE,
        } => children_gone(stage1),
        e => e,
    })
}

fn serve_messages(
    l: &Launch<'_>,
    ns: &Plan,
    ch: &Channel,
    stage1: Pid,
    init_pid: &mut Option<i32>,
) -> Result<()> {
    loop {
        let Some((msg, fd)) = ch.recv()? else {
            return Err(children_gone(stage1));
        };
        match msg {
            Msg::MapIds { pid } => {
                let linux = l.init.spec.linux().clone().unwrap_or_default();
                let r = namespaces::write_id_maps(
                    pid,
                    linux.uid_mappings().as_deref().unwrap_or_default(),
                    linux.gid_mappings().as_deref().unwrap_or_default(),
                );
                reply(ch, r)?;
            }
            Msg::InitPid { pid } => {
                *init_pid = Some(pid);
                // The init waits for this Ack, so nothing it sends can
                // overtake the pid, and its oom_score_adj is set first.
                reply(ch, set_oom_score_adj(l, pid))?;
            }
            Msg::MountSources => {
                let pid = init_pid.ok_or(Error::Protocol("mount sources before init pid"))?;
                let bundle = l.init.bundle;
                for (index, fd) in crate::rootfs::bind_sources::open_for(pid, l.init.spec, bundle) {
                    ch.send_with_fd(&Msg::MountSource { index }, Some(raw(&fd)))?;
                }
                ch.send(&Msg::Ack)?;
            }
            Msg::RunHooks => {
                let pid = init_pid.ok_or(Error::Protocol("hooks before init pid"))?;
                reply(ch, (l.run_runtime_hooks)(pid))?;
            }
            Msg::Console { name } => {
                let r = match (fd, l.console_socket) {
                    (Some(fd), Some(sock)) => crate::console::send_to_socket(sock, &fd, &name),
                    (Some(fd), None) if l.console_capture.is_some() => {
                        if let Some(slot) = l.console_capture {
                            *slot.borrow_mut() = Some(fd);
                        }
                        Ok(())
                    }
                    (_, None) => Err(Error::TerminalNeedsConsoleSocket),
                    (None, _) => Err(Error::Protocol("console message without a pty fd")),
                };
                reply(ch, r)?;
            }
            Msg::SeccompListener => {
                let pid = init_pid.ok_or(Error::Protocol("listener before init pid"))?;
                let r = match fd {
                    Some(fd) => {
                        let state = (l.init.hook_state)("creating", pid);
                        serde_json::from_slice(&state)
                            .map_err(Error::StateJson)
                            .and_then(|state| {
                                crate::security::seccomp::send_listener(
                                    l.init.spec,
                                    pid,
                                    state,
                                    &fd,
                                )
                            })
                    }
                    None => Err(Error::Protocol("seccomp listener message without an fd")),
                };
                reply(ch, r)?;
            }
            Msg::Ready => {
                let _ = ns;
                return Ok(());
            }
            Msg::Error { msg } => return Err(Error::Init(msg)),
            other => return Err(Error::UnexpectedMessage(format!("{other:?}"))),
        }
    }
}

/// Written from outside: the init is not dumpable, so its /proc files are
/// not its own to write in a user namespace.
fn set_oom_score_adj(l: &Launch<'_>, pid: i32) -> Result<()> {
    let Some(adj) = l
        .init
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.oom_score_adj())
    else {
        return Ok(());
    };
    let path = format!("/proc/{pid}/oom_score_adj");
    std::fs::write(&path, adj.to_string())
        .map_err(|source| Error::OomScoreAdj { value: adj, source })
}

/// Ack an ok result; on error tell the child to abort and return the error.
fn reply(ch: &Channel, r: Result<()>) -> Result<()> {
    match r {
        Ok(()) => ch.send(&Msg::Ack),
        Err(e) => {
            let _ = ch.send(&Msg::Abort { msg: e.to_string() });
            Err(e)
        }
    }
}

/// Stage 1: join the cgroup, join/unshare namespaces, fork the init.
fn stage1(l: &Launch<'_>, ns: &Plan, ch: &Channel) -> Result<()> {
    l.cgroup.add_self()?;
    namespaces::join_all(&ns.join)?;
    if ns.new_user {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).sys(Call::UnshareUserNs)?;
        ch.send(&Msg::MapIds {
            pid: std::process::id() as i32,
        })?;
        ch.expect_ack()?;
        let root_u = nix::unistd::Uid::from_raw(0);
        let root_g = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(root_g, root_g, root_g).sys(Call::SetresgidRoot)?;
        nix::unistd::setresuid(root_u, root_u, root_u).sys(Call::SetresuidRoot)?;
    }
    if !ns.new.is_empty() {
        nix::sched::unshare(ns.new).map_err(|source| Error::Unshare {
            flags: ns.new,
            source,
        })?;
    }
    if ns.new.contains(nix::sched::CloneFlags::from_bits_retain(
        libc::CLONE_NEWTIME,
    )) {
        write_time_offsets(l.init.spec)?;
    }
    // SAFETY: still single-threaded.
    match unsafe { fork() }.sys(Call::ForkInit)? {
        ForkResult::Child => ch.exit_child(init::run(&l.init, ns, ch).map(|never| match never {})),
        ForkResult::Parent { child } => {
            ch.send(&Msg::InitPid {
                pid: child.as_raw(),
            })?;
            Ok(())
        }
    }
}

/// `linux.timeOffsets` for the new time namespace (before anyone enters it).
fn write_time_offsets(spec: &Spec) -> Result<()> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().clone()) else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in &offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::TimeOffsetClock(clock.clone()));
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text)
        .map_err(|e| Error::io("/proc/self/timens_offsets", e))
}

/// Whether the spec asks for a namespace type at all.
pub fn wants(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .is_some_and(|l| l.namespaces().iter().flatten().any(|n| n.typ() == t))
}

/// Keep fds alive in the child and readable as raw numbers.
pub fn raw(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}
