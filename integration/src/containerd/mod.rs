//! A private containerd for one test: its own root, state, socket, config and
//! `ctr` namespace, torn down (tasks, containers, mounts, cgroups, dirs) on drop.
//!
//! The instance runs the real `containerd` binary from the distribution. It is
//! the reference the hull pieces are checked against: containerd's own runc
//! shim driving `hullc` (`ctr run --runc-binary`), and later containerd loading
//! `containerd-shim-hull-v2`.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

mod ctr;
mod teardown;

pub use ctr::*;
pub use teardown::*;

/// containerd and ctr binaries (Debian's containerd package).
pub const CONTAINERD: &str = "containerd";
pub const CTR: &str = "ctr";

/// How long to wait for containerd to answer `ctr version` after spawning it.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long containerd gets to exit after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for any single `ctr` invocation made through this module.
pub const CTR_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum ContainerdError {
    #[error("io error while {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("containerd exited early ({status}); log tail:\n{log}")]
    EarlyExit { status: String, log: String },
    #[error("containerd did not answer `ctr version` within {0:?}; log tail:\n{1}")]
    StartTimeout(Duration, String),
    #[error("`ctr {args}` failed ({status}):\nstdout: {stdout}\nstderr: {stderr}")]
    Ctr {
        args: String,
        status: String,
        stdout: String,
        stderr: String,
    },
    #[error("timed out after {timeout:?} waiting for {what}; last seen: {last}")]
    WaitTimeout {
        what: String,
        timeout: Duration,
        last: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ContainerdError {
    let what = what.into();
    move |source| ContainerdError::Io { what, source }
}

/// One row of `ctr task ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: String,
    pub pid: u32,
    pub status: String,
}

/// A running private containerd. Everything it creates lives under `dir`,
/// except the shim sockets containerd 1.6 always places in /run/containerd/s
/// (named by a hash of our unique address, removed by the shims on exit) and
/// the cgroups of containers, which live under `/<namespace>/` in each
/// hierarchy and are removed on drop.
pub struct Containerd {
    child: Option<Child>,
    dir: PathBuf,
    address: PathBuf,
    namespace: String,
    runc_root: PathBuf,
    fifo_dir: PathBuf,
    log: PathBuf,
}

impl Containerd {
    /// Start containerd in a fresh temp dir with a per-test namespace and wait
    /// until it answers.
    pub fn start() -> Result<Self, ContainerdError> {
        let tmp = tempfile::Builder::new()
            .prefix("hull-ctd-")
            .tempdir()
            .map_err(io_err("creating containerd temp dir"))?;
        // The Drop guard below owns the directory from here on.
        let dir = tmp.keep();
        let namespace = format!("hull-{}", crate::unique_id("ns"));
        let mut me = Containerd {
            child: None,
            address: dir.join("containerd.sock"),
            runc_root: dir.join("runc-root"),
            fifo_dir: dir.join("fifo"),
            log: dir.join("containerd.log"),
            dir,
            namespace,
        };
        me.spawn()?;
        Ok(me)
    }

    fn spawn(&mut self) -> Result<(), ContainerdError> {
        let root = self.dir.join("root");
        let state = self.dir.join("state");
        for d in [
            &root,
            &state,
            &self.runc_root,
            &self.fifo_dir,
            &self.dir.join("opt"),
        ] {
            fs::create_dir_all(d).map_err(io_err(format!("creating {}", d.display())))?;
        }
        let config = self.dir.join("config.toml");
        fs::write(
            &config,
            config_toml(&self.dir, &root, &state, &self.address),
        )
        .map_err(io_err("writing containerd config"))?;
        let log = fs::File::create(&self.log).map_err(io_err("creating containerd log"))?;
        let log2 = log.try_clone().map_err(io_err("dup containerd log"))?;

        let mut cmd = Command::new(CONTAINERD);
        cmd.arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(&root)
            .arg("--state")
            .arg(&state)
            .arg("--address")
            .arg(&self.address)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
        // memory of the parent; it only makes the kernel SIGKILL containerd if
        // the test thread that spawned it dies without running Drop.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(io_err("spawning containerd"))?;
        tracing::debug!(pid = child.id(), address = %self.address.display(), "containerd spawned");
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), ContainerdError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut delay = Duration::from_millis(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().map_err(io_err("waiting for containerd"))? {
                    self.child = None;
                    return Err(ContainerdError::EarlyExit {
                        status: status.to_string(),
                        log: self.log_tail(40),
                    });
                }
            }
            if self.address.exists() {
                let mut cmd = Command::new(CTR);
                cmd.arg("-a")
                    .arg(&self.address)
                    .arg("version")
                    .stdin(Stdio::null());
                if let Ok(out) = output_with_timeout(&mut cmd, None, Duration::from_secs(5)) {
                    if out.status.success()
                        && String::from_utf8_lossy(&out.stdout).contains("Server:")
                    {
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(ContainerdError::StartTimeout(
                    START_TIMEOUT,
                    self.log_tail(40),
                ));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(250));
        }
    }

    /// The grpc socket.
    pub fn address(&self) -> &Path {
        &self.address
    }

    /// This test's containerd namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Temp dir holding root, state, config, log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Root dir to give the runc shim (`ctr run --runc-root`): the shim keeps
    /// the runtime's state under `<runc_root>/<namespace>/`.
    pub fn runc_root(&self) -> &Path {
        &self.runc_root
    }

    /// Private fifo dir for ctr's stdio fifos (`--fifo-dir`).
    pub fn fifo_dir(&self) -> &Path {
        &self.fifo_dir
    }

    /// containerd's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Last `lines` lines of containerd's log (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// A `ctr` command bound to this instance and namespace.
    pub fn ctr(&self) -> Command {
        let mut cmd = Command::new(CTR);
        cmd.arg("-a")
            .arg(&self.address)
            .arg("-n")
            .arg(&self.namespace);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Run `ctr ARGS…` and return its raw output, whatever the exit status
    /// (killed after [`CTR_TIMEOUT`]).
    pub fn ctr_output<I, S>(&self, args: I) -> Result<Output, ContainerdError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.ctr();
        cmd.args(args);
        output_with_timeout(&mut cmd, None, CTR_TIMEOUT)
    }

    /// Run `ctr ARGS…`, require success and return stdout.
    pub fn ctr_ok<I, S>(&self, args: I) -> Result<String, ContainerdError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let out = self.ctr_output(&args)?;
        if !out.status.success() {
            return Err(ContainerdError::Ctr {
                args: args
                    .iter()
                    .map(|a| a.as_ref().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                status: out.status.to_string(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ctr images import --base-name BASE ARCHIVE`; returns the image refs
    /// created (e.g. `localhost/hull-busybox:latest`).
    pub fn import_image(
        &self,
        archive: &Path,
        base_name: &str,
    ) -> Result<Vec<String>, ContainerdError> {
        let before = self.image_refs()?;
        self.ctr_ok([
            OsStr::new("images"),
            OsStr::new("import"),
            OsStr::new("--base-name"),
            OsStr::new(base_name),
            archive.as_os_str(),
        ])?;
        let refs: Vec<String> = self
            .image_refs()?
            .into_iter()
            .filter(|r| r.starts_with(base_name) && !before.contains(r))
            .collect();
        Ok(refs)
    }

    /// Import the cached busybox test image and return its ref.
    pub fn import_busybox(&self) -> Result<String, crate::image::ImageError> {
        let img = crate::image::busybox_image()?;
        self.import_image(&img.archive, crate::image::BUSYBOX_BASE_NAME)?;
        Ok(img.containerd_ref())
    }

    /// `ctr images ls -q`.
    pub fn image_refs(&self) -> Result<Vec<String>, ContainerdError> {
        Ok(lines(&self.ctr_ok(["images", "ls", "-q"])?))
    }

    /// `ctr containers ls -q`.
    pub fn containers(&self) -> Result<Vec<String>, ContainerdError> {
        Ok(lines(&self.ctr_ok(["containers", "ls", "-q"])?))
    }

    /// Parsed `ctr task ls`.
    pub fn tasks(&self) -> Result<Vec<TaskInfo>, ContainerdError> {
        let out = self.ctr_ok(["task", "ls"])?;
        Ok(parse_task_ls(&out))
    }

    /// The task with this id, if any.
    pub fn task(&self, id: &str) -> Result<Option<TaskInfo>, ContainerdError> {
        Ok(self.tasks()?.into_iter().find(|t| t.id == id))
    }

    /// Poll `ctr task ls` until the task shows `status` (e.g. "STOPPED").
    pub fn wait_task_status(
        &self,
        id: &str,
        status: &str,
        timeout: Duration,
    ) -> Result<TaskInfo, ContainerdError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.task(id)? {
                Some(t) if t.status == status => return Ok(t),
                Some(t) => format!("{t:?}"),
                None => "task not listed".to_string(),
            };
            if Instant::now() >= deadline {
                return Err(ContainerdError::WaitTimeout {
                    what: format!("task {id} to be {status}"),
                    timeout,
                    last,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Best-effort removal of every task, container and image in our
    /// namespace, then of the namespace itself.
    fn clean_namespace(&self) {
        if let Ok(tasks) = self.tasks() {
            for t in tasks {
                if t.status == "PAUSED" {
                    let _ = self.ctr_output(["task", "resume", &t.id]);
                }
                if t.status != "STOPPED" {
                    let _ = self.ctr_output(["task", "kill", "-a", "-s", "SIGKILL", &t.id]);
                    let _ = self.wait_task_status(&t.id, "STOPPED", Duration::from_secs(5));
                }
                let _ = self.ctr_output(["task", "delete", "-f", &t.id]);
            }
        }
        if let Ok(cs) = self.containers() {
            for c in cs {
                let _ = self.ctr_output(["containers", "rm", &c]);
            }
        }
        if let Ok(imgs) = self.image_refs() {
            for i in imgs {
                let _ = self.ctr_output(["images", "rm", &i]);
            }
        }
        let mut cmd = Command::new(CTR);
        cmd.arg("-a")
            .arg(&self.address)
            .args(["namespaces", "rm", &self.namespace])
            .stdin(Stdio::null());
        let _ = output_with_timeout(&mut cmd, None, CTR_TIMEOUT);
    }

    fn stop_daemon(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        // Only the pid we spawned, and only while it is still our unreaped child.
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.clean_namespace();
        }
        // Anything the namespace cleanup missed: kill what is left in our
        // namespace's cgroups (containers started by our containerd only).
        kill_cgroup_procs(&self.namespace);
        self.stop_daemon();
        // Shims whose task is gone exit on their own; one still serving a
        // task we could not delete is identified by our unique socket path.
        kill_our_shims(&self.address);
        remove_cgroups(&self.namespace);
        if let Err(e) = unmount_under(&self.dir) {
            tracing::warn!(error = %e, "unmounting under {}", self.dir.display());
        }
        if let Err(e) = remove_tree_same_fs(&self.dir) {
            tracing::warn!(error = %e, "removing {}", self.dir.display());
        }
    }
}

fn config_toml(dir: &Path, root: &Path, state: &Path, address: &Path) -> String {
    // Plugins a test never needs are disabled so start-up is quick and no
    // state is written outside `dir` (CRI would want /opt/cni, /etc/cni…).
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
oom_score = 0
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.restart",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{address}"
  tcp_address = ""

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
        root = root.display(),
        state = state.display(),
        address = address.display(),
        opt = dir.join("opt").display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_task_ls() {
        let out = "TASK    PID      STATUS    \nd1      12438    RUNNING\nd2 7 STOPPED\n";
        let t = parse_task_ls(out);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0],
            TaskInfo {
                id: "d1".into(),
                pid: 12438,
                status: "RUNNING".into()
            }
        );
        assert_eq!(t[1].status, "STOPPED");
    }

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn config_names_private_paths() {
        let c = config_toml(
            Path::new("/t"),
            Path::new("/t/root"),
            Path::new("/t/state"),
            Path::new("/t/c.sock"),
        );
        assert!(c.contains(r#"address = "/t/c.sock""#));
        assert!(c.contains(r#""io.containerd.grpc.v1.cri""#));
        assert!(c.contains(r#"path = "/t/opt""#));
    }
}
