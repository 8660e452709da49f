//! The container's init, from fork to execve. Runs inside the new
//! namespaces; reports failures to the parent over the sync channel.
//! The user's program is exec'd only after `hullc start` opens exec.fifo.

use super::namespaces::Plan;
use super::sync::{Channel, Msg};
use crate::cgroups::CgroupConfig;
use crate::error::{Error, IoContext, Result, SysContext};
use crate::rootfs::{self, RootfsPlan};
use crate::security;
use crate::syscall::linux::LinuxSyscall;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::convert::Infallible;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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
    pub hook_state: &'a dyn Fn(i32) -> Vec<u8>,
}

pub fn run(ctx: &InitContext<'_>, ns: &Plan, ch: &Channel) -> Result<Infallible> {
    let spec = ctx.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Init("process is missing".into()))?;
    let linux = spec.linux().clone().unwrap_or_default();
    let sys = LinuxSyscall;

    nix::unistd::setsid().sys("setsid")?;
    reset_signals();
    if ctx.new_keyring {
        join_session_keyring(ctx.id);
    }
    // Nobody outside may ptrace us or open /proc/<pid>/exe while we still
    // run hullc's code (exec resets this for the user's program).
    security::set_dumpable(false)?;

    if !ns.has(LinuxNamespaceType::Mount) {
        return Err(Error::Init("a mount namespace is required".into()));
    }
    let plan = RootfsPlan {
        spec,
        rootfs: ctx.rootfs,
        bundle: ctx.bundle,
        in_userns: ns.has(LinuxNamespaceType::User),
        cgroupns: ns.is_new(LinuxNamespaceType::Cgroup),
        cgroup: ctx.cgroup,
    };
    rootfs::prepare(&sys, &plan)?;

    if ctx.has_runtime_hooks {
        ch.send(&Msg::RunHooks)?;
        ch.expect_ack()?;
    }
    let hooks = spec.hooks().clone().unwrap_or_default();
    if let Some(h) = hooks.create_container() {
        crate::hooks::run_all(h, &(ctx.hook_state)(std::process::id() as i32))?;
    }

    rootfs::switch_root(&sys, ctx.rootfs, ctx.no_pivot)?;
    rootfs::apply_root_propagation(&sys, spec)?;

    for (k, v) in linux.sysctl().iter().flatten() {
        let path = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&path, v).map_err(|e| Error::Other(format!("sysctl {k}={v}: {e}")))?;
    }

    if process.terminal() == Some(true) {
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::setup_in_container(&sys, ch, size)?;
    }

    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).sys(format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        crate::syscall::Syscall::setdomainname(&sys, d).sys(format!("setdomainname {d:?}"))?;
    }

    rootfs::finalize(&sys, spec)?;

    if let Some(r) = process.rlimits() {
        security::rlimits::apply(r)?;
    }

    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let args = process.args().clone().unwrap_or_default();
    let nnp = process.no_new_privileges() == Some(true);

    // Seccomp without no_new_privs needs CAP_SYS_ADMIN: load it while we
    // still have it. With no_new_privs, load it last (below).
    if let (Some(f), false) = (ctx.seccomp, nnp) {
        f.install().map_err(|e| Error::Seccomp(e.to_string()))?;
    }

    let user = process.user();
    security::set_keep_caps(true)?;
    if let Some(c) = process.capabilities() {
        security::capabilities::apply_bounding(c)?;
    }
    security::identity::switch_user(user)?;
    match process.capabilities() {
        Some(c) => security::capabilities::apply_sets(c)?,
        None => {
            for set in [
                caps::CapSet::Effective,
                caps::CapSet::Permitted,
                caps::CapSet::Inheritable,
                caps::CapSet::Ambient,
            ] {
                caps::clear(None, set)
                    .map_err(|e| Error::Other(format!("clear capabilities: {e}")))?;
            }
        }
    }
    security::set_keep_caps(false)?;
    if nnp {
        security::set_no_new_privs()?;
    }

    nix::unistd::chdir(process.cwd()).sys(format!("chdir to cwd {}", process.cwd().display()))?;
    let exe = find_executable(&args[0], &env)?;
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    } else {
        nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    }

    ch.send(&Msg::Ready)?;

    // Block until `hullc start` opens the other end.
    let fifo = nix::fcntl::openat(
        ctx.state_dir.as_fd(),
        crate::container::store::EXEC_FIFO,
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys("open exec fifo")?;
    let mut fifo = std::fs::File::from(fifo);
    fifo.write_all(b"0").ctx("exec fifo")?;
    drop(fifo);

    if let Some(h) = hooks.start_container() {
        crate::hooks::run_all(h, &(ctx.hook_state)(std::process::id() as i32))?;
    }

    if let (Some(f), true) = (ctx.seccomp, nnp) {
        f.install().map_err(|e| Error::Seccomp(e.to_string()))?;
    }
    close_fds_on_exec(3 + ctx.preserve_fds.max(0) + listen_fds(&env));
    exec(&exe, &args, &env)
}

/// Unblock and default every signal: hullc may have blocked some (run's
/// forwarding) and Rust ignores SIGPIPE; exec keeps both.
fn reset_signals() {
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

/// systemd socket activation: keep LISTEN_FDS fds open.
fn listen_fds(env: &[String]) -> i32 {
    env.iter()
        .find_map(|kv| kv.strip_prefix("LISTEN_FDS="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Mark every fd >= `from` close-on-exec, so nothing of hullc's (or of its
/// caller's) reaches the user's program.
pub fn close_fds_on_exec(from: i32) {
    // SAFETY: close_range only changes fd flags; CLOSE_RANGE_CLOEXEC never closes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        // Old kernels: walk /proc/self/fd.
        if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
            let fds: Vec<i32> = rd
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect();
            for fd in fds.into_iter().filter(|fd| *fd >= from) {
                // SAFETY: setting FD_CLOEXEC on a possibly-closed fd is harmless.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
        }
    }
}

/// PATH lookup as execvp does, inside the container.
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf> {
    let is_exec = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file())
            && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        if is_exec(&p) {
            return Ok(p);
        }
        return Err(Error::Init(format!(
            "exec {name:?}: no such executable file"
        )));
    }
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(name);
        if is_exec(&p) {
            return Ok(p);
        }
    }
    Err(Error::Init(format!(
        "exec {name:?}: executable file not found in $PATH"
    )))
}

fn exec(exe: &Path, args: &[String], env: &[String]) -> Result<Infallible> {
    let c = |s: &str| CString::new(s).map_err(|_| Error::Init(format!("NUL byte in {s:?}")));
    let path =
        CString::new(exe.as_os_str().as_bytes()).map_err(|_| Error::Init("NUL in path".into()))?;
    let argv: Vec<CString> = args.iter().map(|a| c(a)).collect::<Result<_>>()?;
    let envp: Vec<CString> = env.iter().map(|a| c(a)).collect::<Result<_>>()?;
    let e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(Error::Init(format!("exec {}: {e}", exe.display())))
}

/// Keep the fd number of an OwnedFd (for logs).
pub fn fdnum(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}
