//! Driving an OCI runtime binary (hullc, or runc via `HULL_RUNTIME`) from
//! tests, with a per-test `--root` state dir and a Drop guard that removes
//! every container the test created and everything they may have left.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::cleanup;

mod console;
mod output;

pub use console::*;
pub use output::*;

#[derive(Clone, Debug)]
struct Tracked {
    id: String,
    bundle: PathBuf,
    rootfs: PathBuf,
    cgroups_path: Option<String>,
}

/// An OCI runtime binary with a private `--root`. Every container created
/// through it is force-removed when it drops, along with its cgroup dirs,
/// mounts under its bundle and processes rooted in it.
pub struct Runtime {
    bin: PathBuf,
    root: PathBuf,
    tracked: Mutex<Vec<Tracked>>,
    /// Extra global flags put before the subcommand (e.g. `--debug`).
    pub global_args: Vec<String>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// The runtime under test (`crate::runtime_bin()`) with a fresh state root.
    pub fn new() -> Runtime {
        Runtime::with_bin(crate::runtime_bin())
    }

    pub fn with_bin(bin: PathBuf) -> Runtime {
        assert!(
            bin.exists(),
            "runtime binary {} does not exist (build hullc or set HULL_RUNTIME)",
            bin.display()
        );
        let root = tempfile::Builder::new()
            .prefix("hull-root-")
            .tempdir_in("/tmp")
            .expect("create state root")
            .keep();
        Runtime {
            bin,
            root,
            tracked: Mutex::new(Vec::new()),
            global_args: Vec::new(),
        }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The `--root` state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `BIN --root ROOT [global args]`, ready for a subcommand.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(&self.global_args);
        c
    }

    /// Run `BIN --root ROOT args...` and collect its output (stdin null).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.args(args);
        output_of(c, COMMAND_TIMEOUT)
    }

    /// Remember a container for the Drop guard (create/run do it for you).
    pub fn track(&self, id: &str, bundle: &Bundle) {
        let mut t = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        if !t.iter().any(|x| x.id == id) {
            t.push(Tracked {
                id: id.to_string(),
                bundle: bundle.dir().to_path_buf(),
                rootfs: bundle.default_rootfs(),
                cgroups_path: bundle.cgroups_path(),
            });
        }
    }

    /// Where `create`/`run -d` send the container's stdout.
    pub fn stdout_path(bundle: &Bundle, id: &str) -> PathBuf {
        bundle.dir().join(format!("{id}.stdout"))
    }

    /// Where `create`/`run -d` send the container's (and the runtime's) stderr.
    pub fn stderr_path(bundle: &Bundle, id: &str) -> PathBuf {
        bundle.dir().join(format!("{id}.stderr"))
    }

    /// What the container wrote to stdout so far (create/run -d only).
    pub fn container_stdout(bundle: &Bundle, id: &str) -> String {
        fs::read_to_string(Self::stdout_path(bundle, id)).unwrap_or_default()
    }

    /// Wait until the container (create/run -d) has written at least `n`
    /// complete lines to stdout; returns those lines' text, or panics with
    /// what there is after `timeout`.
    pub fn wait_stdout_lines(bundle: &Bundle, id: &str, n: usize, timeout: Duration) -> String {
        let complete = |t: &str| {
            t.split_inclusive('\n')
                .filter(|l| l.ends_with('\n'))
                .count()
        };
        let ok = wait_until(timeout, || {
            complete(&Self::container_stdout(bundle, id)) >= n
        });
        let text = Self::container_stdout(bundle, id);
        assert!(ok, "container {id} wrote fewer than {n} lines: {text:?}");
        text
    }

    /// Run a subcommand whose container outlives it (create, run -d): the
    /// container's stdio goes to files next to the bundle, stdin is null.
    /// The returned Output holds what the runtime wrote before exiting.
    pub fn spawn_detached(&self, id: &str, bundle: &Bundle, args: &[&str]) -> Output {
        self.spawn_detached_with(id, bundle, args, |_| {})
    }

    /// Like `spawn_detached`, letting the caller adjust the Command first
    /// (e.g. add a pre_exec hook).
    pub fn spawn_detached_with(
        &self,
        id: &str,
        bundle: &Bundle,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Output {
        self.track(id, bundle);
        let open = |p: PathBuf| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .expect("open stdio file")
        };
        let out = open(Self::stdout_path(bundle, id));
        let err_path = Self::stderr_path(bundle, id);
        let err = open(err_path.clone());
        let (out_start, err_start) = (len(&out), len(&err));
        let mut c = self.command();
        c.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        adjust(&mut c);
        let what = format!("{c:?}");
        let child = c.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let o = collect(child, COMMAND_TIMEOUT, &what);
        let tail = |p: &Path, from: u64| {
            let all = fs::read(p).unwrap_or_default();
            all.get(from as usize..).unwrap_or_default().to_vec()
        };
        Output {
            status: o.status,
            stdout: tail(&Self::stdout_path(bundle, id), out_start),
            stderr: tail(&err_path, err_start),
        }
    }

    /// `create --bundle DIR id`.
    pub fn create(&self, id: &str, bundle: &Bundle) -> Output {
        let dir = bundle.dir().to_string_lossy().into_owned();
        self.spawn_detached(id, bundle, &["create", "--bundle", &dir, id])
    }

    /// `create` with extra flags (e.g. `--console-socket P`, `--no-pivot`).
    pub fn create_with(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> Output {
        let dir = bundle.dir().to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &dir];
        args.extend_from_slice(extra);
        args.push(id);
        self.spawn_detached(id, bundle, &args)
    }

    /// `create`, asserting success.
    pub fn create_ok(&self, id: &str, bundle: &Bundle) {
        let o = self.create(id, bundle);
        assert!(o.status.success(), "create {id} failed: {}", describe(&o));
    }

    /// `run -d --bundle DIR id`.
    pub fn run_detached(&self, id: &str, bundle: &Bundle) -> Output {
        let dir = bundle.dir().to_string_lossy().into_owned();
        self.spawn_detached(id, bundle, &["run", "-d", "--bundle", &dir, id])
    }

    /// `run --bundle DIR [extra] id` in the foreground, collecting the
    /// container's output (the runtime exits when the container does).
    pub fn run_container(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> Output {
        self.track(id, bundle);
        let mut c = self.command();
        c.arg("run")
            .arg("--bundle")
            .arg(bundle.dir())
            .args(extra)
            .arg(id);
        output_of(c, COMMAND_TIMEOUT)
    }

    /// `run` in the foreground, asserting exit 0, returning stdout.
    pub fn run_ok(&self, id: &str, bundle: &Bundle) -> String {
        let o = self.run_container(id, bundle, &[]);
        assert!(o.status.success(), "run {id} failed: {}", describe(&o));
        stdout_of(&o)
    }

    pub fn start(&self, id: &str) -> Output {
        self.run(&["start", id])
    }

    pub fn start_ok(&self, id: &str) {
        let o = self.start(id);
        assert!(o.status.success(), "start {id} failed: {}", describe(&o));
    }

    pub fn state(&self, id: &str) -> Output {
        self.run(&["state", id])
    }

    /// `state id` parsed; panics if it fails or is not JSON.
    pub fn state_json(&self, id: &str) -> Value {
        let o = self.state(id);
        assert!(o.status.success(), "state {id} failed: {}", describe(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("state {id} is not JSON ({e}): {}", describe(&o)))
    }

    /// The container's status, or None if `state` fails.
    pub fn status(&self, id: &str) -> Option<String> {
        let o = self.state(id);
        if !o.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        v["status"].as_str().map(str::to_string)
    }

    /// The init pid from `state`.
    pub fn pid(&self, id: &str) -> i32 {
        let v = self.state_json(id);
        v["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state {id} has no pid: {v}")) as i32
    }

    /// Wait (bounded) until `state` reports `status`.
    pub fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.status(id).as_deref() == Some(status))
    }

    /// Like `wait_status`, panicking with the last state on timeout.
    pub fn expect_status(&self, id: &str, status: &str) {
        if !self.wait_status(id, status, Duration::from_secs(10)) {
            panic!(
                "container {id} never became {status}: {}",
                describe(&self.state(id))
            );
        }
    }

    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.run(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.run(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.run(&["delete", "--force", id])
    }

    /// `list --format json` parsed (runc prints `null` when empty).
    pub fn list_json(&self) -> Value {
        let o = self.run(&["list", "--format", "json"]);
        assert!(o.status.success(), "list failed: {}", describe(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("list output is not JSON ({e}): {}", describe(&o)))
    }

    /// What container `id` of `bundle` left behind (see `cleanup::leftovers`).
    pub fn leftovers(&self, id: &str, bundle: &Bundle) -> Vec<String> {
        cleanup::leftovers(
            &self.root,
            id,
            bundle.dir(),
            &bundle.default_rootfs(),
            bundle.cgroups_path().as_deref(),
        )
    }

    /// Assert nothing of container `id` is left, waiting briefly for
    /// asynchronous teardown (exiting processes) to settle.
    pub fn assert_nothing_left(&self, id: &str, bundle: &Bundle) {
        let mut last = Vec::new();
        let clean = wait_until(Duration::from_secs(5), || {
            last = self.leftovers(id, bundle);
            last.is_empty()
        });
        assert!(clean, "container {id} left things behind: {last:#?}");
    }
}

fn len(f: &File) -> u64 {
    f.metadata().map(|m| m.len()).unwrap_or(0)
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let tracked = std::mem::take(&mut *self.tracked.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tracked.iter().rev() {
            let mut c = self.command();
            c.args(["kill", &t.id, "KILL"]);
            let _ = output_quiet(c);
            let mut c = self.command();
            c.args(["delete", "--force", &t.id]);
            let _ = output_quiet(c);
            cleanup::kill_procs_rooted_in(&t.bundle, &t.rootfs);
            if let Some(cg) = &t.cgroups_path {
                cleanup::remove_cgroup(cg);
            }
            cleanup::unmount_under(&t.bundle);
        }
        if let Err(e) = cleanup::remove_tree(&self.root) {
            eprintln!("state root cleanup of {}: {e}", self.root.display());
        }
    }
}

/// Run a cleanup command, bounded in time, never panicking.
fn output_quiet(mut cmd: Command) -> Option<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().ok()?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        collect(child, Duration::from_secs(20), "cleanup")
    }))
    .ok()
}

/// Integration tests need root (namespaces, cgroups, mounts): fail loudly
/// rather than pass vacuously.
pub fn require_root() {
    assert!(crate::is_root(), "this integration test must run as root");
}

/// Read the host's view of a file, trimmed (e.g. a cgroup knob).
pub fn read_trim(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}
