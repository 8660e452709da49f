//! Rootless (issue 17, group L): an unprivileged user runs a bundle made by
//! `spec --rootless` (a user namespace mapping the caller's ids, no
//! cgroups the user may not write), with hullc and with runc, and both
//! give the same container: root inside, the caller's uid outside.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hull_integration::cleanup::{kill_procs_rooted_in, remove_tree};
use hull_integration::rootfs::build_busybox_rootfs;
use hull_integration::runtime::{describe, output_of, require_root, wait_until, COMMAND_TIMEOUT};

/// An unprivileged uid/gid of this test (no account needed: setpriv).
fn test_ids() -> u32 {
    40_000 + std::process::id() % 10_000
}

/// A directory tree owned by the test's user, removed on drop.
struct UserDir(PathBuf);

impl Drop for UserDir {
    fn drop(&mut self) {
        kill_procs_rooted_in(&self.0, &self.0.join("rootfs"));
        let _ = remove_tree(&self.0);
    }
}

fn chown_tree(p: &Path, id: u32) {
    let ok = Command::new("chown")
        .args(["-hR", &format!("{id}:{id}")])
        .arg(p)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// `bin ARGS` as the test's user in `dir`, with XDG_RUNTIME_DIR there.
fn as_user(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    let id = test_ids().to_string();
    let mut c = Command::new("setpriv");
    c.args(["--reuid", &id, "--regid", &id, "--clear-groups", "--"])
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", dir.join("xdg"))
        .stdin(Stdio::null());
    output_of(c, COMMAND_TIMEOUT)
}

fn bundle_for(tag: &str, bin: &Path) -> UserDir {
    let dir = PathBuf::from(format!(
        "/tmp/hull-rootless-{tag}-{}",
        hull_integration::unique_id("r")
    ));
    let d = UserDir(dir.clone());
    build_busybox_rootfs(&dir.join("rootfs")).unwrap();
    fs::create_dir_all(dir.join("xdg")).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    chown_tree(&dir, test_ids());
    let o = as_user(bin, &dir, &["spec", "--rootless"]);
    assert!(o.status.success(), "spec --rootless: {}", describe(&o));
    // Non-interactive, and a command that shows who we are.
    let cfg = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&cfg).unwrap()).unwrap();
    v["process"]["terminal"] = serde_json::json!(false);
    v["process"]["args"] = serde_json::json!([
        "sh",
        "-c",
        "id -u; tr -s ' ' < /proc/self/uid_map; hostname"
    ]);
    fs::write(&cfg, v.to_string()).unwrap();
    chown(&cfg, Some(test_ids()), Some(test_ids())).unwrap();
    d
}

#[test]
fn rootless_run_matches_runc() {
    require_root();
    let runc = PathBuf::from("/usr/sbin/runc");
    let mut outputs = Vec::new();
    for bin in std::iter::once(hull_integration::runtime_bin()).chain(runc.exists().then_some(runc))
    {
        let d = bundle_for("run", &bin);
        let id = hull_integration::unique_id("rl");
        let o = as_user(&bin, &d.0, &["run", &id]);
        assert!(o.status.success(), "{}: {}", bin.display(), describe(&o));
        let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let uid = test_ids();
        assert_eq!(
            out.lines().collect::<Vec<_>>()[..2],
            ["0", &format!(" 0 {uid} 1")],
            "{}: {out}",
            bin.display()
        );
        // The state went to $XDG_RUNTIME_DIR, and is gone after run.
        let state_dir = d.0.join("xdg").join(bin.file_name().unwrap());
        assert!(
            state_dir.is_dir(),
            "{}: no {}",
            bin.display(),
            state_dir.display()
        );
        assert_eq!(fs::read_dir(&state_dir).unwrap().count(), 0);
        outputs.push(out);
    }
    if outputs.len() == 2 {
        // Same uid and map; the hostname differs only by runtime name.
        let first2 = |s: &str| s.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(first2(&outputs[0]), first2(&outputs[1]));
    }
}

#[test]
fn rootless_detached_lifecycle() {
    require_root();
    let bin = hull_integration::runtime_bin();
    let d = bundle_for("life", &bin);
    let cfg = d.0.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&cfg).unwrap()).unwrap();
    v["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    fs::write(&cfg, v.to_string()).unwrap();
    let id = hull_integration::unique_id("rl");
    let o = as_user(&bin, &d.0, &["run", "-d", &id]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = as_user(&bin, &d.0, &["exec", &id, "id", "-u"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "0",
        "{}",
        describe(&o)
    );
    let o = as_user(&bin, &d.0, &["state", &id]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(st["status"], "running", "{}", describe(&o));
    // Limits without a writable cgroup are refused, not ignored.
    let o = as_user(&bin, &d.0, &["update", "--memory", "64m", &id]);
    assert!(
        !o.status.success(),
        "update without a cgroup: {}",
        describe(&o)
    );
    let o = as_user(&bin, &d.0, &["delete", "--force", &id]);
    assert!(o.status.success(), "{}", describe(&o));
    let pid = st["pid"].as_i64().unwrap_or(0);
    // Gone, or a zombie waiting for whoever adopted it.
    let dead = || {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    };
    assert!(
        pid > 0 && wait_until(std::time::Duration::from_secs(10), dead),
        "init {pid} left"
    );
}
