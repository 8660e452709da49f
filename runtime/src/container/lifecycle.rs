//! The lifecycle operations behind the CLI: create, start, kill, delete.

use super::status::{proc_stat, Status};
use super::store::{oci_state, rfc3339_now, ContainerState, Store, EXEC_FIFO};
use crate::cgroups::{self, Cgroup};
use crate::config;
use crate::error::{Call, Error, IoContext, Result, SysContext};
use crate::process::init::InitContext;
use crate::process::launch::{launch, Launch};
use crate::process::namespaces;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    /// Foreground run: keep the pty master instead of needing a socket.
    pub capture_console: bool,
    /// `create` and `run -d`: hullc returns once the container runs.
    pub detach: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
}

/// Undo a half-made create (state dir, cgroup) unless disarmed.
struct Rollback<'a> {
    store: &'a Store,
    id: String,
    cgroup: Option<Box<dyn Cgroup>>,
    /// Once the lifecycle began: poststop hooks and the state they see
    /// (a failed create continues at "destroy", then poststop).
    poststop: Option<(Vec<oci_spec::runtime::Hook>, Vec<u8>)>,
    armed: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(cg) = &self.cgroup {
            if let Ok(pids) = cg.pids() {
                for p in pids {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGKILL);
                }
            }
            if let Err(e) = cg.destroy() {
                tracing::warn!(error = %e, "rollback: cgroup not removed");
            }
        }
        let _ = self.store.remove(&self.id);
        if let Some((hooks, state)) = &self.poststop {
            if let Err(e) = crate::hooks::run_all(hooks, state) {
                tracing::warn!(error = %e, "poststop hook failed");
            }
        }
    }
}

fn state_for_hooks(
    id: &str,
    bundle: &Path,
    spec: &oci_spec::runtime::Spec,
    status: &str,
    pid: i32,
) -> Vec<u8> {
    let v = serde_json::json!({
        "ociVersion": spec.version(),
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    });
    v.to_string().into_bytes()
}

pub fn create(store: &Store, o: &CreateOptions<'_>) -> Result<ContainerState> {
    create_with_console(store, o).map(|(st, _)| st)
}

/// `create`, also returning the pty master when `capture_console` is set.
pub fn create_with_console(
    store: &Store,
    o: &CreateOptions<'_>,
) -> Result<(ContainerState, Option<std::os::fd::OwnedFd>)> {
    super::store::validate_id(o.id)?;
    tracing::debug!(id = o.id, bundle = %o.bundle.display(), "creating container");
    let bundle = config::load_bundle(o.bundle)?;
    let spec = &bundle.spec;
    let process = spec.process().as_ref().ok_or(Error::MissingProcess)?;
    check_terminal(
        o.detach,
        process.terminal() == Some(true),
        o.console_socket.is_some(),
    )?;
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(crate::security::seccomp::compile(profile)?),
        None => None,
    };
    let ns_list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let ns = namespaces::plan(&ns_list)?;
    let cg_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let mut cg_cfg = cgroups::resolve(cg_path.as_deref(), o.id)?;
    if cg_cfg == cgroups::CgroupConfig::None && !crate::rootless::is_rootless() {
        return Err(Error::Cgroup {
            path: String::new(),
            msg: "no cgroup hierarchy found on this host".into(),
        });
    }
    check_cgroup(&cg_cfg, spec)?;
    if let Some(sock) = o.console_socket {
        if !sock.exists() {
            return Err(Error::ConsoleSocketMissing(sock.to_path_buf()));
        }
    }

    let dir = store.reserve(o.id)?;
    let mut rollback = Rollback {
        store,
        id: o.id.to_string(),
        cgroup: None,
        poststop: None,
        armed: true,
    };

    let fifo = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622)).map_err(|source| {
        Error::Mkfifo {
            path: fifo.clone(),
            source,
        }
    })?;
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o622)).ctx(&fifo)?;

    let cg = match cgroups::open(&cg_cfg).and_then(|cg| cg.create().map(|()| cg)) {
        Ok(cg) => cg,
        // Rootless (as runc): without a delegated, writable hierarchy the
        // container runs without a cgroup, unless it asks for limits.
        Err(e) if crate::rootless::is_rootless() && !cgroups::asks_for_limits(spec) => {
            tracing::debug!(error = %e, "rootless: no writable cgroup; running without one");
            // A half-made directory set (one controller writable) goes.
            if let Ok(half) = cgroups::open(&cg_cfg) {
                let _ = half.destroy();
            }
            cg_cfg = cgroups::CgroupConfig::None;
            Box::new(cgroups::NoCgroup)
        }
        Err(e) => {
            if let Ok(half) = cgroups::open(&cg_cfg) {
                rollback.cgroup = Some(half);
            }
            return Err(e);
        }
    };
    rollback.cgroup = cgroups::open(&cg_cfg).ok();
    // `state` during create (e.g. from a createRuntime hook) says "creating".
    let mut st = ContainerState {
        id: o.id.to_string(),
        pid: 0,
        pid_start: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: rfc3339_now(),
        owner: String::new(),
        cgroup: cg_cfg.clone(),
        config: spec.clone(),
    };
    store.save(&st)?;

    let state_dir = nix::fcntl::open(
        &dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| Error::Open {
        path: dir.clone(),
        source,
    })?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    let has_runtime_hooks = hooks.prestart().as_ref().is_some_and(|h| !h.is_empty())
        || hooks
            .create_runtime()
            .as_ref()
            .is_some_and(|h| !h.is_empty());
    let bundle_dir = bundle.dir.clone();
    let hook_state = |status: &str, pid: i32| state_for_hooks(o.id, &bundle_dir, spec, status, pid);
    let runtime_hooks = |pid: i32| -> Result<()> {
        let st = state_for_hooks(o.id, &bundle_dir, spec, "creating", pid);
        if let Some(h) = hooks.prestart() {
            crate::hooks::run_all(h, &st)?;
        }
        if let Some(h) = hooks.create_runtime() {
            crate::hooks::run_all(h, &st)?;
        }
        Ok(())
    };
    let console = std::cell::RefCell::new(None);
    let l = Launch {
        init: InitContext {
            id: o.id,
            spec,
            rootfs: &bundle.rootfs,
            bundle: &bundle.dir,
            cgroup: &cg_cfg,
            state_dir: &state_dir,
            no_pivot: o.no_pivot,
            new_keyring: !o.no_new_keyring,
            preserve_fds: o.preserve_fds,
            seccomp: seccomp.as_ref(),
            has_runtime_hooks,
            hook_state: &hook_state,
        },
        cgroup: cg.as_ref(),
        console_socket: o.console_socket,
        console_capture: o.capture_console.then_some(&console),
        run_runtime_hooks: &runtime_hooks,
    };
    if let Some(h) = hooks.poststop() {
        let st = state_for_hooks(o.id, &bundle.dir, spec, "stopped", 0);
        rollback.poststop = Some((h.clone(), st));
    }
    let pid = launch(&l, &ns)?;
    tracing::debug!(id = o.id, pid, "container init created, waiting for start");
    // Resources go on once the init made its device nodes (a device rule
    // denying mknod must not stop the runtime's own /dev setup).
    if let Some(res) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        cg.apply(res)?;
    }
    st.pid = pid;
    st.pid_start = proc_stat(pid).map(|s| s.start_time).unwrap_or(0);
    store.save(&st)?;
    if let Some(pf) = o.pid_file {
        write_pid_file(pf, pid)?;
    }
    rollback.armed = false;
    Ok((st, console.into_inner()))
}

/// runc's checks on the cgroup before using it: `unified` needs cgroup v2,
/// a frozen cgroup is refused (the init would hang in it), and a cgroup
/// that already holds processes is used with a warning.
fn check_cgroup(cfg: &cgroups::CgroupConfig, spec: &oci_spec::runtime::Spec) -> Result<()> {
    let unified = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.unified().as_ref())
        .is_some_and(|u| !u.is_empty());
    if unified && matches!(cfg, cgroups::CgroupConfig::V1 { .. }) {
        return Err(Error::UnifiedOnV1);
    }
    let Ok(cg) = cgroups::open(cfg) else {
        return Ok(());
    };
    let pids = cg.pids().unwrap_or_default();
    if !pids.is_empty() {
        tracing::warn!(
            "container's cgroup is not empty: {} process(es) found",
            pids.len()
        );
    }
    if cg.is_frozen() {
        return Err(Error::CgroupFrozen);
    }
    Ok(())
}

/// runc's rule for terminals and console sockets (run, create, exec): a
/// detached terminal needs a socket to hand the pty to, and a socket is
/// only used for a detached terminal.
pub fn check_terminal(detach: bool, terminal: bool, has_socket: bool) -> Result<()> {
    if detach && terminal && !has_socket {
        return Err(Error::DetachedTtyNeedsConsoleSocket);
    }
    if (!detach || !terminal) && has_socket {
        return Err(Error::ConsoleSocketUnused);
    }
    Ok(())
}

/// Write the pid atomically (containerd reads this file).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ctx(".")?.join(path)
    };
    let tmp = abs.with_file_name(format!(
        ".{}.tmp",
        abs.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string()).ctx(&tmp)?;
    std::fs::rename(&tmp, &abs).ctx(&abs)
}

pub fn start(store: &Store, id: &str) -> Result<()> {
    let st = store.load(id)?;
    let status = store.status(&st);
    if status != Status::Created {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            op: "start",
            wanted: "created",
        });
    }
    tracing::debug!(id, pid = st.pid, "starting container");
    let fifo_path = store.dir(id).join(EXEC_FIFO);
    let fifo = nix::fcntl::open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| Error::Open {
        path: fifo_path.clone(),
        source,
    })?;
    // Wait for the init's byte; if it died instead, say so.
    loop {
        let mut pfd = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&fifo),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)) {
            Ok(0) => {
                if !super::status::is_alive(st.pid, st.pid_start) {
                    return Err(Error::ExitedBeforeStart(id.to_string()));
                }
            }
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                return Err(Error::Syscall {
                    call: Call::PollExecFifo,
                    source: e,
                })
            }
        }
    }
    let mut buf = [0u8; 4096];
    let n = nix::unistd::read(&fifo, &mut buf).sys(Call::ReadExecFifo)?;
    let _ = std::fs::remove_file(&fifo_path);
    match buf[..n].first() {
        Some(b'0') => {}
        Some(b'E') => {
            return Err(Error::Init(
                String::from_utf8_lossy(&buf[1..n]).into_owned(),
            ));
        }
        _ => {
            return Err(Error::ExitedBeforeStart(id.to_string()));
        }
    }
    if let Some(h) = st
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().clone())
    {
        let state = oci_state(&st, Status::Running).to_string();
        if let Err(e) = crate::hooks::run_all(&h, state.as_bytes()) {
            tracing::warn!(error = %e, "poststart hook failed");
            eprintln!("hullc: warning: {e}");
        }
    }
    Ok(())
}

/// A signal name or number; `None` for 0 (only checks that the init exists).
pub fn parse_signal(s: &str) -> Result<Option<Signal>> {
    hull_linux::signal::parse(s).map_err(|e| Error::UnknownSignal(e.0))
}

pub fn kill(store: &Store, id: &str, sig: Option<Signal>, all: bool) -> Result<()> {
    let st = store.load(id)?;
    let status = store.status(&st);
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            op: "kill",
            wanted: "created, running or paused",
        });
    }
    tracing::debug!(
        id,
        signal = sig.map_or("0", Signal::as_str),
        all,
        "signalling container"
    );
    signal_container(&st, sig, all, status == Status::Paused)
}

fn signal_container(
    st: &ContainerState,
    sig: Option<Signal>,
    all: bool,
    paused: bool,
) -> Result<()> {
    let cg = cgroups::open(&st.cgroup).ok();
    if all {
        if let Some(cg) = &cg {
            for p in cg.pids().unwrap_or_default() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig);
            }
        }
    }
    // pid 0 (a create that never got its init) must never reach kill(2):
    // kill(0, …) would signal our own process group.
    if st.pid > 0 {
        let name = sig.map_or("0", Signal::as_str);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(st.pid), sig).map_err(|source| {
            Error::Kill {
                pid: st.pid,
                signal: name,
                source,
            }
        })?;
    }
    if paused && sig == Some(Signal::SIGKILL) {
        // Frozen tasks only die once thawed.
        if let Some(cg) = &cg {
            let _ = cg.thaw();
        }
    }
    Ok(())
}

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let st = match store.load(id) {
        Ok(st) => st,
        Err(Error::NotFound(_)) if force => {
            // A create that died half-way leaves only the dir; a missing
            // container is already deleted (runc: quiet success).
            return store.remove(id);
        }
        Err(e) => return Err(e),
    };
    let status = store.status(&st);
    if status != Status::Stopped {
        if !force {
            return Err(Error::BadState {
                id: id.into(),
                status: status.to_string(),
                op: "delete",
                wanted: "stopped (or use --force)",
            });
        }
        signal_container(&st, Some(Signal::SIGKILL), true, status == Status::Paused)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while super::status::is_alive(st.pid, st.pid_start) {
            if Instant::now() > deadline {
                return Err(Error::InitDidNotDie {
                    id: id.to_string(),
                    pid: st.pid,
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    destroy(store, &st)
}

/// Remove everything of a stopped container; poststop hooks last.
pub fn destroy(store: &Store, st: &ContainerState) -> Result<()> {
    tracing::debug!(id = %st.id, "destroying container");
    if let Ok(cg) = cgroups::open(&st.cgroup) {
        // Stragglers outside the pid namespace (or without one).
        for p in cg.pids().unwrap_or_default() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGKILL);
        }
        cg.destroy()?;
    }
    store.remove(&st.id)?;
    if let Some(h) = st
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().clone())
    {
        let state = oci_state(st, Status::Stopped).to_string();
        if let Err(e) = crate::hooks::run_all(&h, state.as_bytes()) {
            tracing::warn!(error = %e, "poststop hook failed");
            eprintln!("hullc: warning: {e}");
        }
    }
    Ok(())
}

pub fn default_bundle() -> PathBuf {
    PathBuf::from(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::CgroupConfig;

    /// A create that died before its init existed leaves pid 0 behind:
    /// kill must refuse it and delete --force must clean up without ever
    /// calling kill(0, …) (which would hit our own process group).
    #[test]
    fn pid_zero_is_never_signalled() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(&tmp.path().join("root"));
        let dir = store.reserve("half").unwrap();
        std::fs::write(dir.join(EXEC_FIFO), "").unwrap();
        let spec: oci_spec::runtime::Spec =
            serde_json::from_str(r#"{"ociVersion":"1.0.2"}"#).unwrap();
        let st = ContainerState {
            id: "half".into(),
            pid: 0,
            pid_start: 0,
            bundle: tmp.path().into(),
            rootfs: tmp.path().into(),
            created: rfc3339_now(),
            owner: String::new(),
            cgroup: CgroupConfig::None,
            config: spec,
        };
        store.save(&st).unwrap();
        assert_eq!(store.status(&st), Status::Creating);
        assert!(matches!(
            kill(&store, "half", Some(Signal::SIGTERM), true),
            Err(Error::BadState { .. })
        ));
        delete(&store, "half", true).unwrap();
        assert!(!dir.exists());
    }
}
