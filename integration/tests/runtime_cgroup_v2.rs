//! hullc on a pure cgroup v2 host. This machine is v1-hybrid, so each hullc
//! command runs in a private mount namespace where the host's cgroup2
//! hierarchy (normally at /sys/fs/cgroup/unified) is mounted at
//! /sys/fs/cgroup, which is what a v2 host looks like. Controllers bound to
//! v1 (memory, cpu, pids, …) are absent from that hierarchy here, so these
//! tests use what v2 always has: cgroup.procs, cgroup.freeze, and the clear
//! error for a controller that is missing.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{describe, output_of, wait_until};
use serde_json::json;

fn require_root() {
    assert!(hull_integration::is_root(), "integration tests need root");
}

/// Where the host sees the cgroup2 hierarchy.
const HOST_V2: &str = "/sys/fs/cgroup/unified";

fn host_v2_available() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .any(|l| l.contains(" /sys/fs/cgroup/unified ") && l.contains(" - cgroup2 "))
        })
        .unwrap_or(false)
}

/// A hullc command that sees a pure-v2 host.
fn hullc_v2(root: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(hull_integration::runtime_bin());
    c.arg("--root").arg(root).args(args);
    // SAFETY: only async-signal-safe syscalls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            use nix::mount::{mount, MsFlags};
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            mount(
                Some("tmpfs"),
                "/sys/fs/cgroup",
                Some("tmpfs"),
                MsFlags::empty(),
                Some("mode=755"),
            )?;
            mount(
                Some("cgroup2"),
                "/sys/fs/cgroup",
                Some("cgroup2"),
                MsFlags::empty(),
                None::<&str>,
            )?;
            Ok(())
        });
    }
    output_of(c, Duration::from_secs(60))
}

struct V2Container {
    root: PathBuf,
    id: String,
    cgroup: PathBuf,
}

impl Drop for V2Container {
    fn drop(&mut self) {
        let _ = hullc_v2(&self.root, &["delete", "--force", &self.id]);
        let _ = std::fs::remove_dir(&self.cgroup);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn setup(tag: &str, args: &[&str]) -> (Bundle, V2Container) {
    let mut b = Bundle::new(tag, args);
    let id = b.id().to_string();
    let rel = format!("hull-test-v2/{id}");
    b.linux_mut()["cgroupsPath"] = json!(format!("/{rel}"));
    // No device rules: v2 needs an eBPF device filter, which hullc reports
    // as not enforced; keep the output of these tests clean.
    b.resources_mut().as_object_mut().unwrap().remove("devices");
    b.linux_mut()["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    b.write().unwrap();
    let root = tempfile::Builder::new()
        .prefix("hull-v2root-")
        .tempdir_in("/tmp")
        .unwrap()
        .keep();
    let c = V2Container {
        root,
        id,
        cgroup: Path::new(HOST_V2).join(rel),
    };
    (b, c)
}

#[test]
fn container_lives_in_the_unified_hierarchy_and_freezes() {
    require_root();
    if !host_v2_available() {
        eprintln!("no cgroup2 mount at {HOST_V2}: nothing to test");
        return;
    }
    let (b, c) = setup(
        "v2life",
        &["/bin/sh", "-c", "cat /proc/self/cgroup; sleep 1000"],
    );
    let o = hullc_v2(
        &c.root,
        &[
            "run",
            "-d",
            "--bundle",
            &b.dir().display().to_string(),
            &c.id,
        ],
    );
    assert!(o.status.success(), "run -d: {}", describe(&o));
    let st: serde_json::Value =
        serde_json::from_slice(&hullc_v2(&c.root, &["state", &c.id]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    // Seen from the host: the init is in <unified>/hull-test-v2/<id>.
    let procs = std::fs::read_to_string(c.cgroup.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "{procs}"
    );
    let host_view = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        host_view
            .lines()
            .any(|l| l.starts_with("0::/hull-test-v2/")),
        "{host_view}"
    );

    // pause → cgroup.freeze, and the state says so
    let o = hullc_v2(&c.root, &["pause", &c.id]);
    assert!(o.status.success(), "pause: {}", describe(&o));
    assert_eq!(
        std::fs::read_to_string(c.cgroup.join("cgroup.freeze"))
            .unwrap()
            .trim(),
        "1"
    );
    let events = std::fs::read_to_string(c.cgroup.join("cgroup.events")).unwrap();
    assert!(events.contains("frozen 1"), "{events}");
    let st: serde_json::Value =
        serde_json::from_slice(&hullc_v2(&c.root, &["state", &c.id]).stdout).unwrap();
    assert_eq!(st["status"], "paused");
    let o = hullc_v2(&c.root, &["resume", &c.id]);
    assert!(o.status.success(), "resume: {}", describe(&o));
    assert_eq!(
        std::fs::read_to_string(c.cgroup.join("cgroup.freeze"))
            .unwrap()
            .trim(),
        "0"
    );

    // ps lists the init from cgroup.procs
    let o = hullc_v2(&c.root, &["ps", "--format", "json", &c.id]);
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert!(pids.contains(&pid), "{}", describe(&o));

    let o = hullc_v2(&c.root, &["delete", "--force", &c.id]);
    assert!(o.status.success(), "delete: {}", describe(&o));
    assert!(
        wait_until(Duration::from_secs(5), || !c.cgroup.exists()),
        "cgroup {} left behind",
        c.cgroup.display()
    );
}

#[test]
fn missing_v2_controller_is_a_clear_error_and_leaves_nothing() {
    require_root();
    if !host_v2_available() {
        eprintln!("no cgroup2 mount at {HOST_V2}: nothing to test");
        return;
    }
    let controllers =
        std::fs::read_to_string(Path::new(HOST_V2).join("cgroup.controllers")).unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "pids") {
        eprintln!("pids is a v2 controller here: this host is not hybrid");
        return;
    }
    let (mut b, c) = setup("v2err", &["/bin/true"]);
    b.resources_mut()["pids"] = json!({"limit": 10});
    b.write().unwrap();
    let o = hullc_v2(
        &c.root,
        &["create", "--bundle", &b.dir().display().to_string(), &c.id],
    );
    assert!(
        !o.status.success(),
        "create with pids.max on a v2 host without pids: {}",
        describe(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains("pids.max"), "names the file: {err:?}");
    assert!(!c.root.join(&c.id).exists(), "state dir left behind");
    assert!(
        !c.cgroup.exists(),
        "cgroup {} left behind",
        c.cgroup.display()
    );
}
