//! The shim processes: finding the helper binaries, starting a shim
//! (`… -id ID start`), asking it to exit and waiting until it is gone.

use super::*;

/// A helper binary next to our own executable, else on PATH.
pub fn find_binary(name: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error::NotFound(format!(
        "{name} not found next to hulld or on PATH"
    )))
}

pub(in crate::containers) fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// Wait until process `pid` (not our child) ended: on its pidfd, so the
/// wait ends as the process does; by looking every 2 ms where the kernel
/// has no pidfd_open.
pub(in crate::containers) fn wait_gone(pid: i32, timeout: Duration) -> bool {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let deadline = Instant::now() + timeout;
    // SAFETY: pidfd_open(2) takes a pid and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd >= 0 {
        // SAFETY: pidfd_open returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        loop {
            if !alive(pid) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: poll(2) on one pollfd that lives across the call.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r > 0 {
                return true;
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

pub(in crate::containers) fn runtime_options(m: &Manager) -> Result<Any> {
    let mut o = RuncOptions::new();
    o.binary_name = find_binary(RUNTIME_BINARY)?.display().to_string();
    o.root = m.state.join("runtime").display().to_string();
    let mut a = Any::new();
    a.type_url = "containerd.runc.v1.Options".into();
    a.value = o
        .write_to_bytes()
        .map_err(|e| Error::InvalidArgument(format!("encode runtime options: {e}")))?;
    Ok(a)
}

/// `shim … start` in the bundle: the ttrpc address and the shim's pid.
pub(in crate::containers) fn start_shim(
    m: &Manager,
    ns: &str,
    id: &str,
    bundle: &Path,
) -> Result<(String, i32)> {
    let shim = find_binary(SHIM_BINARY)?;
    let mut cmd = Command::new(&shim);
    crate::private::usual_umask(&mut cmd);
    cmd.arg("-namespace")
        .arg(ns)
        .arg("-address")
        .arg(&m.address);
    // The shim publishes its events with `hull --address A publish …`.
    match find_binary(PUBLISH_BINARY) {
        Ok(p) => {
            cmd.arg("-publish-binary").arg(p);
        }
        Err(e) => tracing::warn!("no shim events: {e}"),
    }
    // …or, first, over ttrpc to hulld's Events service (containerd's way).
    match m.events_ttrpc.get() {
        Some(p) => cmd.env("TTRPC_ADDRESS", p),
        None => cmd.env_remove("TTRPC_ADDRESS"),
    };
    let out = cmd
        .arg("-id")
        .arg(id)
        .arg("start")
        .current_dir(bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io(format!("run {}", shim.display()), e))?;
    if !out.status.success() {
        return Err(Error::FailedPrecondition(format!(
            "shim start failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let address = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let pid = std::fs::read_to_string(bundle.join("shim.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .ok_or_else(|| Error::FailedPrecondition("shim wrote no shim.pid".into()))?;
    Ok((address, pid))
}

/// The shim's `delete` action: cleanup after a shim that died.
pub(in crate::containers) fn shim_delete(m: &Manager, ns: &str, id: &str, bundle: &Path) {
    let Ok(shim) = find_binary(SHIM_BINARY) else {
        return;
    };
    let mut cmd = Command::new(shim);
    crate::private::usual_umask(&mut cmd);
    let _ = cmd
        .arg("-namespace")
        .arg(ns)
        .arg("-address")
        .arg(&m.address)
        .arg("-id")
        .arg(id)
        .arg("delete")
        .current_dir(bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stop a shim we started: ask it to shut down, then make sure it is gone.
pub(in crate::containers) fn stop_shim(client: &TaskClient, id: &str, pid: i32) {
    request_shutdown(client, id);
    finish_shim(pid);
}

/// Ask a shim to exit (it publishes its last events first).
pub(in crate::containers) fn request_shutdown(client: &TaskClient, id: &str) {
    let mut r = api::ShutdownRequest::new();
    r.id = id.to_string();
    r.now = true;
    let _ = call("shutdown", client.shutdown(ctx(), &r));
}

/// Wait for a shim asked to exit to be gone; SIGKILL it after 5 s.
pub(in crate::containers) fn finish_shim(pid: i32) {
    if !wait_gone(pid, Duration::from_secs(5)) {
        tracing::warn!(pid, "shim did not exit; killing it");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        wait_gone(pid, Duration::from_secs(5));
    }
}
