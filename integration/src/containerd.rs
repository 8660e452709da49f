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

/// Run `cmd` with piped stdout/stderr (and `stdin` fed, then closed, if
/// given). If it has not exited after `timeout`, SIGKILL it (our own child)
/// and return [`ContainerdError::WaitTimeout`] with what it printed so far.
pub fn output_with_timeout(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, ContainerdError> {
    use std::io::{Read, Write};
    tracing::debug!(?cmd, "spawn");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(io_err(format!("spawning {cmd:?}")))?;
    let feeder = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
                // Dropping the pipe closes the child's stdin (EOF).
            }))
        }
        _ => None,
    };
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_t = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_t = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(io_err("waiting for child"))? {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    // A grandchild holding the pipes open would block these joins; ctr's
    // children are daemonised shims that do not inherit ctr's stdio.
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(ContainerdError::WaitTimeout {
            what: format!("{cmd:?} to exit"),
            timeout,
            last: format!(
                "stdout: {} stderr: {}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            ),
        }),
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

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Parse `ctr task ls` (header `TASK PID STATUS`).
pub fn parse_task_ls(out: &str) -> Vec<TaskInfo> {
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let id = f.next()?.to_string();
            let pid = f.next()?.parse().ok()?;
            let status = f.next()?.to_string();
            Some(TaskInfo { id, pid, status })
        })
        .collect()
}

/// Directories `/sys/fs/cgroup/<hierarchy>/<namespace>` (v1) and
/// `/sys/fs/cgroup/<namespace>` (pure v2) that exist.
fn namespace_cgroups(namespace: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let mut out = Vec::new();
    if base.join(namespace).is_dir() {
        out.push(base.join(namespace));
    }
    if let Ok(rd) = fs::read_dir(base) {
        for e in rd.flatten() {
            let p = e.path().join(namespace);
            if p.is_dir() {
                out.push(p);
            }
        }
    }
    out
}

/// Every cgroup dir under `top`, deepest first.
fn cgroup_tree(top: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(top) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(cgroup_tree(&e.path()));
            }
        }
    }
    out.push(top.to_path_buf());
    out
}

/// SIGKILL every process left in our namespace's cgroups (thawing frozen ones
/// first, since a frozen task does not act on SIGKILL).
fn kill_cgroup_procs(namespace: &str) {
    for top in namespace_cgroups(namespace) {
        for cg in cgroup_tree(&top) {
            let freezer = cg.join("freezer.state");
            if freezer.exists() {
                let _ = fs::write(&freezer, "THAWED");
            }
            let v2_freeze = cg.join("cgroup.freeze");
            if v2_freeze.exists() {
                let _ = fs::write(&v2_freeze, "0");
            }
            if let Ok(procs) = fs::read_to_string(cg.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    tracing::debug!(pid, cgroup = %cg.display(), "killing leftover container process");
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

/// rmdir our namespace's cgroup dirs, deepest first, retrying briefly while
/// killed processes are still exiting.
fn remove_cgroups(namespace: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut left = false;
        for top in namespace_cgroups(namespace) {
            for cg in cgroup_tree(&top) {
                if fs::remove_dir(&cg).is_err() && cg.exists() {
                    left = true;
                }
            }
        }
        if !left || Instant::now() >= deadline {
            if left {
                tracing::warn!(namespace, "cgroups left behind");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILL shim processes whose command line names our containerd socket
/// (`-address <sock>`): the socket path is unique to this instance, so these
/// are exactly the shims our containerd started.
fn kill_our_shims(address: &Path) {
    let needle = address.as_os_str().as_encoded_bytes();
    let Ok(rd) = fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_shim = args.first().map(|a| a.ends_with(b"-v2")).unwrap_or(false);
        if is_shim && args.contains(&needle) {
            tracing::debug!(pid, "killing leftover shim");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Mount points at or below `dir` (from /proc/self/mountinfo), deepest first.
pub fn mounts_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    Ok(out)
}

fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmount everything mounted at or below `dir`, deepest first, until
/// nothing is left (stacked mounts need several rounds).
pub fn unmount_under(dir: &Path) -> io::Result<()> {
    for _ in 0..16 {
        let mounts = mounts_under(dir)?;
        if mounts.is_empty() {
            return Ok(());
        }
        for m in mounts {
            if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
                tracing::debug!(mount = %m.display(), error = %e, "umount2");
            }
        }
    }
    let left = mounts_under(dir)?;
    if left.is_empty() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "mounts left under {}: {left:?}",
            dir.display()
        )))
    }
}

/// Recursive delete that never leaves the file system `dir` lives on (so a
/// leaked bind of /proc or / under it cannot make us walk into the host).
pub fn remove_tree_same_fs(dir: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    remove_inner(dir, meta.dev())
}

fn remove_inner(path: &Path, dev: u64) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.dev() != dev {
        return Err(io::Error::other(format!(
            "{} is on another file system; not descending",
            path.display()
        )));
    }
    if meta.is_dir() {
        let mut first_err = None;
        for e in fs::read_dir(path)? {
            let e = e?;
            if let Err(err) = remove_inner(&e.path(), dev) {
                first_err.get_or_insert(err);
            }
        }
        if let Some(err) = first_err {
            return Err(err);
        }
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    }
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
