//! Helpers for the containerd-shim-hull-v2 suites: put the built shim on
//! containerd's PATH, name the runtime through ctr's `--runtime-config-path`
//! (the create options the shim reads), find a task's bundle, shim pid and
//! socket, restart a private containerd after it was killed, and read RSS.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::containerd::{output_with_timeout, Containerd, CONTAINERD, CTR};

/// The runtime name containerd maps to `containerd-shim-hull-v2`.
pub const RUNTIME_NAME: &str = "io.containerd.hull.v2";
pub const SHIM_BINARY: &str = "containerd-shim-hull-v2";

/// The built shim.
pub fn shim_bin() -> PathBuf {
    crate::bin_path(SHIM_BINARY)
}

/// Prepend the shim's directory to this process's PATH, once, before any
/// containerd is started (containerd inherits it and looks the shim up on
/// it). Every test of a suite calls this first, so no thread reads the
/// environment while it changes.
pub fn ensure_shim_on_path() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let shim = shim_bin();
        assert!(
            shim.exists(),
            "{} not built (cargo build -p hull-shim)",
            shim.display()
        );
        let dir = shim.parent().expect("shim has a parent dir").to_path_buf();
        let old = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir];
        paths.extend(std::env::split_paths(&old));
        let joined = std::env::join_paths(paths).expect("join PATH");
        std::env::set_var("PATH", joined);
    });
}

/// The runtime options file handed to ctr (`--runtime-config-path`): the
/// shim reads BinaryName and Root from it. Root lives in the containerd's
/// temp dir so every runtime state dir is private to the test.
pub fn write_runtime_config(ctd: &Containerd, runtime: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let root = ctd.dir().join("hull-runtime-root");
    fs::create_dir_all(&root)?;
    let cfg = ctd.dir().join("hull-runtime.toml");
    fs::write(
        &cfg,
        format!(
            "# runtime options for {RUNTIME_NAME}\nBinaryName = \"{}\"\nRoot = \"{}\"\n",
            runtime.display(),
            root.display()
        ),
    )?;
    Ok((cfg, root))
}

/// containerd's bundle dir of a task (holds address, shim.pid, init.pid).
pub fn bundle_dir(ctd: &Containerd, id: &str) -> PathBuf {
    ctd.dir()
        .join("state")
        .join("io.containerd.runtime.v2.task")
        .join(ctd.namespace())
        .join(id)
}

/// Pid of the serving shim of a task.
pub fn shim_pid(ctd: &Containerd, id: &str) -> Option<i32> {
    fs::read_to_string(bundle_dir(ctd, id).join("shim.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Socket path of a task's shim.
pub fn shim_socket(ctd: &Containerd, id: &str) -> Option<PathBuf> {
    let a = fs::read_to_string(bundle_dir(ctd, id).join("address")).ok()?;
    Some(PathBuf::from(a.trim().trim_start_matches("unix://")))
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Poll `cond` every 20 ms until it holds; panic with `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Resident and proportional set size of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    pub rss_kib: u64,
    pub pss_kib: u64,
    pub anon_kib: u64,
}

pub fn mem_of(pid: i32) -> io::Result<Mem> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let pss = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    Ok(Mem {
        rss_kib: field("VmRSS:"),
        pss_kib: pss,
        anon_kib: field("RssAnon:"),
    })
}

/// A containerd restarted on the same root/state/socket/config as a
/// [`Containerd`] whose daemon was killed. Drop stops it (SIGTERM, then
/// SIGKILL): keep it declared after the `Containerd` in a struct so that
/// the `Containerd`'s own cleanup still talks to a live daemon.
pub struct Restarted {
    child: Option<Child>,
}

impl Restarted {
    pub fn start(ctd: &Containerd) -> io::Result<Restarted> {
        let dir = ctd.dir();
        let log = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join("containerd-restarted.log"))?;
        let log2 = log.try_clone()?;
        let child = Command::new(CONTAINERD)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--state")
            .arg(dir.join("state"))
            .arg("--address")
            .arg(ctd.address())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()?;
        let me = Restarted { child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut cmd = Command::new(CTR);
            cmd.arg("-a").arg(ctd.address()).arg("version");
            if let Ok(out) = output_with_timeout(&mut cmd, None, Duration::from_secs(5)) {
                if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Server:")
                {
                    return Ok(me);
                }
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other("restarted containerd did not answer"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
