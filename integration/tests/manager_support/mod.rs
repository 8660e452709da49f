//! Helpers for the manager suites: a hulld per test (temp root, state and
//! socket, killed by pid and cleaned up on drop), the `hull` CLI, images
//! built with umoci/skopeo from the busybox-static rootfs, hand-made OCI
//! layouts (for hostile layers), and tree comparison of a mounted snapshot.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod cli;
pub mod compose;
pub mod containers;
pub mod faults;
mod images;
pub mod net;
pub mod network_suite;
pub mod proxy;
pub mod pty;

pub use images::*;

use hull_integration::{bin_path, cleanup, is_root};
use sha2::{Digest, Sha256};

/// Skip (return early) when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !hull_integration::is_root() {
            eprintln!("skipping: needs root");
            return;
        }
    };
}

pub fn root_ok() -> bool {
    is_root()
}

/// Run a command, panicking with its output on failure.
pub fn sh(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A private hulld.
pub struct Hulld {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
    pub sock: PathBuf,
    pub config: PathBuf,
    pub home: PathBuf,
    /// Where hulld is run from (and so where it finds the shim, hullc and
    /// hull); `bin_path` when unset.
    pub bin_dir: Option<PathBuf>,
    /// Flags given to hulld after its paths.
    pub args: Vec<String>,
    child: Option<Child>,
}

impl Hulld {
    pub fn start() -> Hulld {
        Self::start_with_config("")
    }

    /// Containers get `--network none` unless `config` sets
    /// `default_network`: suites that do not test networking leave the
    /// host's interfaces and iptables alone (manager_network runs in a
    /// namespace of its own and asks for "bridge").
    pub fn start_with_config(config: &str) -> Hulld {
        Self::start_in(config, None)
    }

    /// hulld whose root is a tmpfs of `size_mib` MiB that this guard
    /// mounts (and unmounts on drop, with everything under its dir).
    pub fn start_on_tmpfs(config: &str, size_mib: u64) -> Hulld {
        Self::start_with(config, None, &[], |root| {
            fs::create_dir_all(root).unwrap();
            let opts = format!("size={size_mib}m,mode=0711");
            nix::mount::mount(
                Some("tmpfs"),
                root,
                Some("tmpfs"),
                nix::mount::MsFlags::empty(),
                Some(opts.as_str()),
            )
            .unwrap_or_else(|e| panic!("mount tmpfs on {}: {e}", root.display()));
        })
    }

    /// hulld run from `bin_dir` (None: the build's).
    pub fn start_in(config: &str, bin_dir: Option<PathBuf>) -> Hulld {
        Self::start_with(config, bin_dir, &[], |_| {})
    }

    /// hulld given `args` after its paths.
    pub fn start_with_args(config: &str, args: &[&str]) -> Hulld {
        Self::start_with(config, None, args, |_| {})
    }

    /// `prepare_root` runs on the root path before hulld starts.
    fn start_with(
        config: &str,
        bin_dir: Option<PathBuf>,
        args: &[&str],
        prepare_root: impl FnOnce(&Path),
    ) -> Hulld {
        let config = if config.contains("default_network") {
            config.to_string()
        } else {
            format!("default_network = \"none\"\n{config}")
        };
        let config = config.as_str();
        let dir = tempfile::Builder::new()
            .prefix("hull-mgr-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("root");
        let state = dir.path().join("state");
        let sock = dir.path().join("hull.sock");
        let cfg = dir.path().join("config.toml");
        let home = dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        fs::write(&cfg, config).unwrap();
        let mut h = Hulld {
            dir,
            root,
            state,
            sock,
            config: cfg,
            home,
            bin_dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        prepare_root(&h.root);
        h.spawn();
        h
    }

    pub fn spawn(&mut self) {
        assert!(self.child.is_none());
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("hulld.log"))
            .unwrap();
        let hulld = match &self.bin_dir {
            Some(d) => d.join("hulld"),
            None => bin_path("hulld"),
        };
        let mut child = Command::new(hulld);
        child
            .arg("--root")
            .arg(&self.root)
            .arg("--state")
            .arg(&self.state)
            .arg("--address")
            .arg(&self.sock)
            .arg("--config")
            .arg(&self.config)
            .arg("--log-level")
            .arg("debug")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // The daemon dies with the test thread that started it, even when the
        // test process is killed before Drop runs.
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            child.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = child.spawn().expect("spawn hulld");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("hulld exited early ({st}): {}", self.log());
                }
            }
            if self.sock.exists() && self.hull(&["version"]).status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "hulld not ready: {}", self.log());
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGKILL our hulld (by its pid) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("hulld.log")).unwrap_or_default()
    }

    pub fn hull_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin_path("hull"));
        c.arg("-H")
            .arg(&self.sock)
            .args(args)
            .env("HOME", &self.home)
            .env_remove("DOCKER_CONFIG")
            .env_remove("HULL_HOST")
            .stdin(Stdio::null());
        c
    }

    pub fn hull(&self, args: &[&str]) -> Output {
        self.hull_cmd(args).output().expect("run hull")
    }

    /// Run hull and insist on success; stdout.
    pub fn hull_ok(&self, args: &[&str]) -> String {
        let out = self.hull(args);
        assert!(
            out.status.success(),
            "hull {args:?} failed: {}\n{}\n--- hulld log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 40)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// hull with stdin.
    pub fn hull_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut c = self.hull_cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut ch = c.spawn().unwrap();
        ch.stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        ch.wait_with_output().unwrap()
    }

    pub fn inspect(&self, reference: &str) -> serde_json::Value {
        let out = self.hull_ok(&["image", "inspect", reference]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0].clone()
    }

    /// Path of a content blob in the daemon's store.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let (algo, hex) = digest.split_once(':').unwrap();
        self.root.join("content/blobs").join(algo).join(hex)
    }

    /// Mount a read-only view of the image's top layer at `target`;
    /// returns a guard that unmounts and removes the view snapshot.
    pub fn mount_image(&self, reference: &str, target: &Path) -> ViewMount<'_> {
        let info = self.inspect(reference);
        let chains = info["ChainIDs"].as_array().unwrap();
        let top = chains.last().unwrap().as_str().unwrap().to_string();
        let key = format!("view-{}", hull_integration::unique_id("v"));
        let out = self.hull_ok(&["snapshot", "view", &key, &top]);
        fs::create_dir_all(target).unwrap();
        mount_from_line(out.trim(), target);
        ViewMount {
            h: self,
            key,
            target: target.to_path_buf(),
        }
    }
}

/// Parse `mount -t TYPE SOURCE <target> -o OPTS` and mount it.
fn mount_from_line(line: &str, target: &Path) {
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert!(parts.len() >= 6, "bad mount line {line:?}");
    let (fstype, source, opts) = (parts[2], parts[3], parts[6]);
    let mut data = Vec::new();
    let mut flags = nix::mount::MsFlags::empty();
    for o in opts.split(',') {
        match o {
            "ro" => flags |= nix::mount::MsFlags::MS_RDONLY,
            "rw" => {}
            "rbind" | "bind" => flags |= nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
            o => data.push(o),
        }
    }
    let data = data.join(",");
    let fstype = if fstype == "bind" { None } else { Some(fstype) };
    nix::mount::mount(
        Some(source),
        target,
        fstype,
        flags,
        if data.is_empty() {
            None
        } else {
            Some(data.as_str())
        },
    )
    .unwrap_or_else(|e| panic!("mount {line}: {e}"));
}

pub struct ViewMount<'a> {
    h: &'a Hulld,
    key: String,
    pub target: PathBuf,
}

impl Drop for ViewMount<'_> {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH);
        let _ = self.h.hull(&["snapshot", "rm", &self.key]);
    }
}

impl Drop for Hulld {
    fn drop(&mut self) {
        self.kill();
        cleanup::unmount_under(self.dir.path());
        let _ = cleanup::remove_tree_one_fs(self.dir.path());
    }
}

/// A directory of its own holding the build's binaries `names` (hard
/// links, else copies), for a hulld started with `Hulld::start_in`: a test
/// can then put a binary of its own beside them.
pub fn bin_dir_with(names: &[&str]) -> tempfile::TempDir {
    let bins = tempfile::Builder::new()
        .prefix("hull-bins-")
        .tempdir()
        .unwrap();
    for b in names {
        let (from, to) = (bin_path(b), bins.path().join(b));
        if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to).unwrap();
        }
    }
    bins
}

pub fn tail(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Removes what a failed test left (containers through hulld, then any
/// process their bundles record, then their cgroups), before the hulld
/// guard tears hulld down. Declare it after the `Hulld` so it drops first.
pub struct Containers {
    sock: PathBuf,
    state: PathBuf,
}

impl Containers {
    pub fn of(h: &Hulld) -> Containers {
        Containers {
            sock: h.sock.clone(),
            state: h.state.clone(),
        }
    }

    fn hull(&self, args: &[&str]) -> Output {
        Command::new(bin_path("hull"))
            .arg("-H")
            .arg(&self.sock)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run hull")
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        let out = self.hull(&["ps", "-a", "-q", "--no-trunc"]);
        for id in stdout(&out).lines() {
            let _ = self.hull(&["rm", "-f", id]);
        }
        let bundles = fs::read_dir(self.state.join("containers/default"));
        for b in bundles.into_iter().flatten().flatten() {
            for f in ["init.pid", "shim.pid"] {
                let pid = fs::read_to_string(b.path().join(f))
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok());
                if let Some(pid) = pid.filter(|p| *p > 1) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            let id = b.file_name().to_string_lossy().into_owned();
            cleanup::remove_cgroup(&format!("/hull/{id}"));
        }
    }
}

/// A command's exit code (-1 when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Free bytes (for unprivileged writers) of the file system holding `p`.
pub fn avail_bytes(p: &Path) -> u64 {
    let st = nix::sys::statvfs::statvfs(p).unwrap();
    st.blocks_available() as u64 * st.fragment_size() as u64
}

/// Send `sig` to a process this test started.
pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// Bytes in the daemon's unfinished downloads (`<root>/content/ingest/*/data`).
pub fn ingest_bytes(root: &Path) -> u64 {
    let dir = root.join("content/ingest");
    let mut n = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(md) = fs::metadata(e.path().join("data")) {
                n += md.len();
            }
        }
    }
    n
}
