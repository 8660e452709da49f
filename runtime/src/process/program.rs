//! Becoming the user's program, shared by the container's init and by
//! `hullc exec`: rlimits, seccomp, capabilities, user, no_new_privs, cwd,
//! umask, then execve with every other fd closed.

use crate::error::{Error, Result};
use crate::security;
use nix::sys::stat::Mode;
use oci_spec::runtime::Process;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What is left to do right before execve.
pub struct Prepared<'a> {
    exe: PathBuf,
    args: Vec<String>,
    env: Vec<String>,
    /// Seccomp still to load (when no_new_privs lets us load it last).
    late_seccomp: Option<&'a hull_seccomp::CompiledFilter>,
    /// The SCMP_ACT_NOTIFY listener, to hand to the runtime's parent, which
    /// passes it to `linux.seccomp.listenerPath`.
    pub listener: Option<std::os::fd::OwnedFd>,
}

/// Everything up to (not including) execve that needs no further wait.
pub fn prepare<'a>(
    process: &Process,
    seccomp: Option<&'a hull_seccomp::CompiledFilter>,
) -> Result<Prepared<'a>> {
    if let Some(r) = process.rlimits() {
        security::rlimits::apply(r)?;
    }
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        // As runc does: HOME from the container's /etc/passwd, else "/".
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::InitSetup("process.args is empty"));
    }
    let nnp = process.no_new_privileges() == Some(true);

    // Seccomp without no_new_privs needs CAP_SYS_ADMIN: load it while we
    // still have it. With no_new_privs, load it as late as possible, but a
    // filter with a notify listener before `start` (while hullc's parent
    // can still pass the listener on).
    let notify = seccomp.is_some_and(|f| f.uses_notify());
    let mut listener = None;
    if let (Some(f), false) = (seccomp, nnp) {
        listener = f.install().map_err(Error::SeccompInstall)?;
    }

    let user = process.user();
    // As runc: the cwd first while still root (a directory only root may
    // enter works), again as the user only if root was refused.
    let cwd_err = |source| Error::Cwd {
        path: process.cwd().to_path_buf(),
        source,
    };
    let chdir = || nix::unistd::chdir(process.cwd()).map_err(cwd_err);
    let chdir_again = match nix::unistd::chdir(process.cwd()) {
        Ok(()) => false,
        Err(nix::errno::Errno::EACCES) => true,
        Err(e) => return Err(cwd_err(e)),
    };
    security::identity::fix_stdio_owner(user)?;
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
                caps::clear(None, set).map_err(Error::CapsClear)?;
            }
        }
    }
    security::set_keep_caps(false)?;
    if nnp {
        security::set_no_new_privs()?;
        if let (Some(f), true) = (seccomp, notify) {
            listener = f.install().map_err(Error::SeccompInstall)?;
        }
    }

    if chdir_again {
        chdir()?;
    }
    verify_cwd(process.cwd())?;
    let exe = find_executable(&args[0], &env)?;
    nix::sys::stat::umask(Mode::from_bits_truncate(user.umask().unwrap_or(0o022)));
    Ok(Prepared {
        exe,
        args,
        env,
        late_seccomp: if nnp && !notify { seccomp } else { None },
        listener,
    })
}

impl Prepared<'_> {
    /// Hand the notify listener (if any) to the parent over `ch`, which
    /// passes it on to the listener socket before answering.
    pub fn send_listener(&mut self, ch: &super::sync::Channel) -> Result<()> {
        if let Some(fd) = self.listener.take() {
            use std::os::fd::AsRawFd;
            ch.send_with_fd(&super::sync::Msg::SeccompListener, Some(fd.as_raw_fd()))?;
            ch.expect_ack()?;
        }
        Ok(())
    }

    /// Load the late seccomp filter now (before a fork that must share it).
    pub fn install_late_seccomp(&mut self) -> Result<()> {
        if let Some(f) = self.late_seccomp.take() {
            f.install().map_err(Error::SeccompInstall)?;
        }
        Ok(())
    }
}

/// The working directory must be reachable from the container's root: a
/// cwd reached through an fd of the host (`/proc/self/fd/N`) makes getcwd
/// answer "(unreachable)/…" (CVE-2024-21626 class).
fn verify_cwd(cwd: &Path) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(p) => Err(Error::CwdOutsideRoot {
            cwd: cwd.to_path_buf(),
            getcwd: p.display().to_string(),
        }),
        Err(e) => Err(Error::CwdOutsideRoot {
            cwd: cwd.to_path_buf(),
            getcwd: format!("getcwd: {e}"),
        }),
    }
}

/// Close every fd of hullc's own (state dir, log file, namespace and
/// cgroup fds, whatever the caller leaked), keeping stdio, the preserved
/// fds (`--preserve-fds`, `LISTEN_FDS`) and `keep`. Called before anything
/// the user controls (cwd, args[0], sysctl names) is resolved, so no path
/// can reach the host through `/proc/self/fd/N` (CVE-2024-21626 class).
/// The log sink is closed first: nothing writes into a reused fd number.
pub fn close_host_fds(process: &Process, preserve_fds: i32, keep: &[RawFd]) {
    crate::logging::detach();
    let env = process.env().clone().unwrap_or_default();
    let first = 3 + preserve_fds.max(0) + listen_fds(&env);
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= first).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut lo = first;
    for k in keep {
        if k > lo {
            close_range(lo, k - 1);
        }
        lo = k + 1;
    }
    close_range(lo, RawFd::MAX);
}

/// close_range(lo, hi); on kernels without it, close each open fd of the
/// range listed in /proc/self/fd.
fn close_range(lo: RawFd, hi: RawFd) {
    // SAFETY: close_range takes integers only and acts on our fd table.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            lo as libc::c_uint,
            hi as libc::c_uint,
            0 as libc::c_uint,
        )
    };
    if rc == 0 {
        return;
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| (lo..=hi).contains(fd)) {
        let _ = nix::unistd::close(fd);
    }
}

/// Close every fd >= `from` now.
pub fn close_fds_from(from: i32) {
    // SAFETY: closing descriptors of ours (the /proc walk's own is gone by then).
    fds_from(from, 0, |fd| unsafe {
        libc::close(fd);
    });
}

/// Load late seccomp, close every fd beyond stdio and the preserved ones,
/// and execve.
pub fn exec(p: Prepared<'_>, preserve_fds: i32) -> Result<Infallible> {
    if let Some(f) = p.late_seccomp {
        f.install().map_err(Error::SeccompInstall)?;
    }
    close_fds_on_exec(3 + preserve_fds.max(0) + listen_fds(&p.env));
    let c = |s: &str| CString::new(s).map_err(|_| Error::NulByte(s.to_string()));
    let path = CString::new(p.exe.as_os_str().as_bytes())
        .map_err(|_| Error::NulByte(p.exe.display().to_string()))?;
    let argv: Vec<CString> = p.args.iter().map(|a| c(a)).collect::<Result<_>>()?;
    let envp: Vec<CString> = p.env.iter().map(|a| c(a)).collect::<Result<_>>()?;
    let e = match nix::unistd::execve(&path, &argv, &envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    Err(Error::Exec {
        path: p.exe.clone(),
        reason: e.desc().to_lowercase(),
    })
}

/// The home directory of `uid` in the container's /etc/passwd.
fn home_of(uid: u32) -> Option<String> {
    hull_linux::passwd::by_uid_in("/etc/passwd", uid)
        .map(|e| e.home)
        .filter(|h| !h.is_empty())
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
    // SAFETY: setting FD_CLOEXEC on a possibly-closed fd is harmless.
    fds_from(from, libc::CLOSE_RANGE_CLOEXEC, |fd| unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    });
}

/// close_range(from, ~0, flags); on old kernels `each` on every fd >= from
/// listed in /proc/self/fd.
fn fds_from(from: i32, flags: libc::c_uint, each: impl Fn(i32)) {
    // SAFETY: close_range takes integers only; it acts on our own fd table.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from as libc::c_uint,
            libc::c_uint::MAX,
            flags,
        )
    };
    if rc != 0 {
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        fds.into_iter().filter(|fd| *fd >= from).for_each(each);
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
        // There but not runnable (no x bit, a directory): execve's EACCES,
        // as runc words it (Docker's exit code 126, not 127).
        if p.exists() {
            return Err(Error::ExecPermission(name.to_string()));
        }
        return Err(Error::ExecNoSuchFile(name.to_string()));
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
    Err(Error::ExecNotInPath(name.to_string()))
}
