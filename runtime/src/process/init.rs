//! The container's init, from fork to execve. Runs inside the new
//! namespaces; reports failures to the parent over the sync channel.
//! The user's program is exec'd only after `hullc start` opens exec.fifo.

use super::namespaces::Plan;
use super::program;
use super::sync::{Channel, Msg};
use crate::cgroups::CgroupConfig;
use crate::error::{Call, Error, IoContext, Result, SysContext};
use crate::rootfs::bind_sources::{self, BindSources};
use crate::rootfs::{self, RootfsPlan};
use crate::security;
use crate::syscall::linux::LinuxSyscall;
use nix::fcntl::OFlag;
use nix::sys::personality::Persona;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::convert::Infallible;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

pub struct InitContext<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroup: &'a CgroupConfig,
    /// O_PATH fd of the state dir, to open exec.fifo after pivot_root.
    pub state_dir: &'a OwnedFd,
    pub no_pivot: bool,
    /// Join a fresh session keyring (runc's default; --no-new-keyring skips).
    pub new_keyring: bool,
    /// Fds 3..3+n stay open for the user's program (--preserve-fds).
    pub preserve_fds: i32,
    pub seccomp: Option<&'a hull_seccomp::CompiledFilter>,
    /// Whether prestart/createRuntime hooks exist (saves a round trip).
    pub has_runtime_hooks: bool,
    /// The state JSON hooks inside the container see on stdin.
    pub hook_state: &'a dyn Fn(&str, i32) -> Vec<u8>,
}

pub fn run(ctx: &InitContext<'_>, ns: &Plan, ch: &Channel) -> Result<Infallible> {
    let spec = ctx.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or(Error::InitSetup("process is missing"))?;
    let linux = spec.linux().clone().unwrap_or_default();
    let sys = LinuxSyscall;
    // Stage 1 reports our pid; wait until the parent has it.
    ch.expect_ack()?;

    nix::unistd::setsid().sys(Call::Setsid)?;
    reset_signals();
    if ctx.new_keyring {
        join_session_keyring(ctx.id);
    }
    // Nobody outside may ptrace us or open /proc/<pid>/exe while we still
    // run hullc's code (exec resets this for the user's program).
    security::set_dumpable(false)?;

    if !ns.has(LinuxNamespaceType::Mount) {
        return Err(Error::InitSetup("a mount namespace is required"));
    }
    let bind_sources = if bind_sources::wanted(spec, ns) {
        receive_bind_sources(ch)?
    } else {
        BindSources::default()
    };
    let plan = RootfsPlan {
        spec,
        rootfs: ctx.rootfs,
        bundle: ctx.bundle,
        in_userns: ns.has(LinuxNamespaceType::User),
        cgroupns: ns.is_new(LinuxNamespaceType::Cgroup),
        cgroup: ctx.cgroup,
        bind_sources: &bind_sources,
    };
    // exec.fifo is opened O_PATH now, while the state dir is reachable, and
    // reopened for writing through /proc/self/fd after pivot_root.
    let fifo = nix::fcntl::openat(
        ctx.state_dir.as_fd(),
        crate::container::store::EXEC_FIFO,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(Call::OpenExecFifo)?;
    rootfs::prepare(&sys, &plan)?;
    // The sources are mounted: close them before anything else runs.
    drop(bind_sources);

    if ctx.has_runtime_hooks {
        ch.send(&Msg::RunHooks)?;
        ch.expect_ack()?;
    }
    let hooks = spec.hooks().clone().unwrap_or_default();
    if let Some(h) = hooks.create_container() {
        crate::hooks::run_all(h, &(ctx.hook_state)("creating", std::process::id() as i32))?;
    }

    rootfs::switch_root(&sys, ctx.rootfs, ctx.no_pivot)?;
    // From here on only the container's files are reachable: drop every fd
    // of the host (the state dir among them) but the sync channel and the
    // O_PATH fd of exec.fifo, which names a fifo, not a directory.
    program::close_host_fds(process, ctx.preserve_fds, &[ch.raw_fd(), fifo.as_raw_fd()]);
    rootfs::apply_root_propagation(&sys, spec)?;

    if let Some(sysctls) = linux.sysctl().as_ref().filter(|m| !m.is_empty()) {
        let proc = rootfs::procfs::open_proc()?;
        for (k, v) in sysctls {
            rootfs::procfs::write_sysctl(proc.as_fd(), k, v)?;
        }
    }

    if process.terminal() == Some(true) {
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::setup_in_container(&sys, ch, size)?;
    }

    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|source| Error::Sethostname {
            name: h.to_string(),
            source,
        })?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        crate::syscall::Syscall::setdomainname(&sys, d).map_err(|source| Error::Setdomainname {
            name: d.to_string(),
            source,
        })?;
    }

    rootfs::finalize(&sys, spec)?;

    if let Some(p) = linux.personality() {
        set_personality(p)?;
    }
    let mut prepared = program::prepare(process, ctx.seccomp)?;
    prepared.send_listener(ch)?;
    // As runc: with no_new_privs the filter still goes on before `start`
    // is awaited, so startContainer hooks and the rest run under it.
    prepared.install_late_seccomp()?;

    ch.send(&Msg::Ready)?;

    // Block until `hullc start` opens the other end.
    let mut fifo = std::fs::File::from(rootfs::procfs::reopen_for_write(&fifo)?);
    // startContainer hooks are part of `start`: run them before telling it
    // we are going, and tell it why if one fails.
    if let Some(h) = hooks.start_container() {
        if let Err(e) =
            crate::hooks::run_all(h, &(ctx.hook_state)("created", std::process::id() as i32))
        {
            let _ = fifo.write_all(format!("E{e}").as_bytes());
            return Err(e);
        }
    }
    fifo.write_all(b"0").ctx("exec fifo")?;
    drop(fifo);

    let failed = program::exec(prepared, ctx.preserve_fds);
    // `start` has returned: the container's stderr is the only one left to
    // say why the program did not run (as runc does).
    let e = match failed {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let _ = writeln!(std::io::stderr(), "{}", e.child_message());
    Err(e)
}

/// Ask the parent to open the bind sources (it has the host's privileges)
/// and collect the fds it sends until its Ack.
fn receive_bind_sources(ch: &Channel) -> Result<BindSources> {
    ch.send(&Msg::MountSources)?;
    let mut sources = BindSources::default();
    loop {
        match ch.recv()? {
            Some((Msg::MountSource { index }, Some(fd))) => sources.insert(index, fd),
            Some((Msg::Ack, _)) => return Ok(sources),
            Some((Msg::Abort { msg }, _)) => return Err(Error::Init(msg)),
            Some((other, _)) => return Err(Error::UnexpectedMessage(format!("{other:?}"))),
            None => return Err(Error::ParentGone),
        }
    }
}

/// `linux.personality`: the execution domain (LINUX32 → `uname -m` i686).
fn set_personality(p: &oci_spec::runtime::LinuxPersonality) -> Result<()> {
    // The execution domains (low byte); nix's Persona names only the flags.
    const PER_LINUX: i32 = 0x0000;
    const PER_LINUX32: i32 = 0x0008;
    let domain = match p.domain() {
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux => PER_LINUX,
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::PersonalityFlags);
    }
    nix::sys::personality::set(Persona::from_bits_retain(domain))
        .map(drop)
        .sys(Call::Personality)
}

/// Unblock and default every signal: hullc may have blocked some (run's
/// forwarding) and Rust ignores SIGPIPE; exec keeps both.
pub fn reset_signals() {
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    for sig in nix::sys::signal::Signal::iterator() {
        if matches!(
            sig,
            nix::sys::signal::Signal::SIGKILL | nix::sys::signal::Signal::SIGSTOP
        ) {
            continue;
        }
        // SAFETY: installing SIG_DFL is always sound.
        let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
    }
}

/// A new session keyring so containers do not share the host's keys.
fn join_session_keyring(id: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = CString::new(format!("_ses.{id}")).unwrap_or_default();
    // SAFETY: keyctl with a valid C string; failure (e.g. ENOSYS) is ignored.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if rc < 0 {
        tracing::debug!("session keyring: {}", std::io::Error::last_os_error());
    }
}
