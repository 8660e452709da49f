//! `hullc exec`: a new process inside a running container. It joins the
//! container's cgroup and every namespace of its init, then becomes the
//! requested process exactly as the init did (process::program).

use super::clone_into::{fork_checked, Forked};
use super::program;
use super::sync::{self, Channel, Msg};
use crate::cgroups;
use crate::container::ContainerState;
use crate::error::{Call, Error, Result, SysContext};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::Process;
use std::convert::Infallible;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub struct ExecRequest<'a> {
    pub state: &'a ContainerState,
    pub process: &'a Process,
    pub console_socket: Option<&'a Path>,
    /// Keep the pty master here instead of sending it to a socket.
    pub console_capture: Option<&'a std::cell::RefCell<Option<OwnedFd>>>,
    pub preserve_fds: i32,
    pub seccomp: Option<&'a hull_seccomp::CompiledFilter>,
}

/// Namespace files of /proc/<pid>/ns, user first, mount last.
const NS: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// The init's namespaces that differ from ours, opened now.
fn open_namespaces(pid: i32) -> Result<Vec<(CloneFlags, OwnedFd)>> {
    let mut out = Vec::new();
    for (name, flag) in NS {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let ours = format!("/proc/self/ns/{name}");
        let (Ok(t), Ok(o)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue;
        };
        if t.ino() == o.ino() && t.dev() == o.dev() {
            continue;
        }
        let fd = nix::fcntl::open(
            theirs.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| Error::Open {
            path: theirs.clone().into(),
            source,
        })?;
        out.push((*flag, fd));
    }
    Ok(out)
}

/// Start the process; returns its host pid once it has exec'd.
pub fn spawn(req: &ExecRequest<'_>) -> Result<i32> {
    let namespaces = open_namespaces(req.state.pid)?;
    let cg = cgroups::open(&req.state.cgroup)?;
    let (parent, child) = sync::pair()?;
    // Born in the container's cgroup2 directory (see clone_into); hullc is
    // single-threaded.
    match fork_checked(CloneFlags::empty(), cg.v2_dir()).sys(Call::Fork)? {
        Forked::Child => {
            drop(parent);
            child.exit_child(stage1(req, cg.as_ref(), &namespaces, &child))
        }
        Forked::Parent(stage1_pid) => {
            drop(child);
            let mut pid = None;
            let res = serve(req, &parent, &mut pid);
            let _ = waitpid(stage1_pid, None);
            match (res, pid) {
                (Ok(()), Some(p)) => Ok(p),
                (Ok(()), None) => Err(Error::Protocol("exec: process pid never reported")),
                (Err(e), p) => {
                    if let Some(p) = p {
                        // Not our child (stage 1 left it to the caller's
                        // subreaper): gone from the container (its cgroup,
                        // `ps`) before the error is reported.
                        let pidfd = open_pidfd(p);
                        let _ = nix::sys::signal::kill(Pid::from_raw(p), nix::sys::signal::SIGKILL);
                        if let Some(fd) = pidfd {
                            wait_exited(&fd, FAILED_EXIT_WAIT);
                        }
                    }
                    Err(e)
                }
            }
        }
    }
}

/// How long a failed exec waits for its killed process to be gone.
const FAILED_EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A pidfd of `pid`, which tells of its exit even though it is not our
/// child; None when the kernel has none (it is gone, or pre-5.3).
fn open_pidfd(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative fd was just returned by pidfd_open and is
    // owned by nobody else.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Wait (at most `limit`) until the process of `pidfd` exited.
fn wait_exited(pidfd: &std::os::fd::OwnedFd, limit: std::time::Duration) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let mut pfd = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        match poll(&mut pfd, timeout) {
            Ok(n) if n > 0 => return,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

fn serve(req: &ExecRequest<'_>, ch: &Channel, pid: &mut Option<i32>) -> Result<()> {
    let mut ready = false;
    loop {
        match ch.recv()? {
            // The channel is close-on-exec: EOF after Ready means exec'd.
            None if ready => return Ok(()),
            None => return Err(Error::Protocol("exec: process exited before it was ready")),
            Some((Msg::InitPid { pid: p }, _)) => *pid = Some(p),
            Some((Msg::Console { name }, fd)) => {
                let r = match (fd, req.console_socket, req.console_capture) {
                    (Some(fd), Some(sock), _) => crate::console::send_to_socket(sock, &fd, &name),
                    (Some(fd), None, Some(slot)) => {
                        *slot.borrow_mut() = Some(fd);
                        Ok(())
                    }
                    (Some(_), None, None) => Err(Error::ExecTtyNeedsConsoleSocket),
                    (None, _, _) => Err(Error::Protocol("console message without a pty fd")),
                };
                match r {
                    Ok(()) => ch.send(&Msg::Ack)?,
                    Err(e) => {
                        let _ = ch.send(&Msg::Abort { msg: e.to_string() });
                        return Err(e);
                    }
                }
            }
            Some((Msg::SeccompListener, fd)) => {
                let state = crate::container::store::oci_state(
                    req.state,
                    crate::container::Status::Running,
                );
                let r = match (fd, *pid) {
                    (Some(fd), Some(p)) => {
                        crate::security::seccomp::send_listener(&req.state.config, p, state, &fd)
                    }
                    _ => Err(Error::Protocol(
                        "seccomp listener message without fd or pid",
                    )),
                };
                match r {
                    Ok(()) => ch.send(&Msg::Ack)?,
                    Err(e) => {
                        let _ = ch.send(&Msg::Abort { msg: e.to_string() });
                        return Err(e);
                    }
                }
            }
            Some((Msg::Ready, _)) => ready = true,
            Some((Msg::Error { msg }, _)) => return Err(Error::Init(msg)),
            Some((other, _)) => return Err(Error::UnexpectedMessage(format!("{other:?}"))),
        }
    }
}

fn stage1(
    req: &ExecRequest<'_>,
    cg: &dyn cgroups::Cgroup,
    namespaces: &[(CloneFlags, OwnedFd)],
    ch: &Channel,
) -> Result<()> {
    cg.add_self()?;
    for (flag, fd) in namespaces {
        nix::sched::setns(fd, *flag).map_err(|source| Error::JoinNamespace {
            flag: *flag,
            source,
        })?;
    }
    // SAFETY: still single-threaded.
    match unsafe { fork() }.sys(Call::Fork)? {
        ForkResult::Child => ch.exit_child(stage2(req, ch).map(|never| match never {})),
        ForkResult::Parent { child } => ch.send(&Msg::InitPid {
            pid: child.as_raw(),
        }),
    }
}

fn stage2(req: &ExecRequest<'_>, ch: &Channel) -> Result<Infallible> {
    crate::security::set_dumpable(false)?;
    super::init::reset_signals();
    if req.process.terminal() == Some(true) {
        nix::unistd::setsid().sys(Call::Setsid)?;
        let size = req
            .process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::open_pty_as_stdio(ch, size)?;
    }
    // Nothing of the host (namespace fds, cgroup or state dir fds) may be
    // reachable while the cwd and program are resolved.
    program::close_host_fds(req.process, req.preserve_fds, &[ch.raw_fd()]);
    let mut prepared = program::prepare(req.process, req.seccomp)?;
    prepared.send_listener(ch)?;
    ch.send(&Msg::Ready)?;
    program::exec(prepared, req.preserve_fds)
}
