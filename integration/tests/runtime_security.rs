//! Security floor: no fd leaks into the container (CVE-2024-21626 class),
//! the init's /proc/<pid>/exe is not writable (CVE-2019-5736 class), and
//! symlinks in the rootfs cannot redirect mounts or cwd onto the host.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::cleanup::{mountinfo, parse_mountinfo, remove_tree};
use hull_integration::runtime::{describe, require_root, Runtime};
use serde_json::json;

/// A host path outside every bundle that a buggy runtime might create;
/// removed (after unmounting) on drop.
struct HostPath(PathBuf);

impl HostPath {
    fn new(tag: &str) -> HostPath {
        let p = PathBuf::from(format!(
            "/tmp/hull-{}-{}",
            tag,
            hull_integration::unique_id("h")
        ));
        assert!(!p.exists());
        HostPath(p)
    }
}

impl Drop for HostPath {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

/// Install `fd` as fd 7 (no CLOEXEC) in the child of `c`.
fn leak_as_fd7(c: &mut Command, fd: &File) {
    let raw = fd.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; `raw` stays open in the parent
    // until spawn returns.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The leak mechanism works: a plain host process does see fd 7.
fn assert_fd7_leaks(fd: &File) {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", "readlink /proc/self/fd/7"]);
    leak_as_fd7(&mut c, fd);
    let o = c.output().unwrap();
    assert!(
        o.status.success() && !o.stdout.is_empty(),
        "fd 7 not inherited by a plain child: {}",
        describe(&o)
    );
}

/// `run` (foreground) with `fd` dup'ed to fd 7 without CLOEXEC in the
/// runtime process; container stdout goes to a file, returned with the Output.
fn run_with_fd7(rt: &Runtime, b: &Bundle, fd: &File) -> (std::process::Output, String) {
    assert_fd7_leaks(fd);
    let dir = b.dir().to_string_lossy().into_owned();
    let id = b.id();
    let o = rt.spawn_detached_with(id, b, &["run", "--bundle", &dir, id], |c| {
        leak_as_fd7(c, fd)
    });
    let out = Runtime::container_stdout(b, id);
    (o, out)
}

#[test]
fn fd_leaked_by_the_caller_is_not_visible_in_the_container() {
    require_root();
    let b = Bundle::sh(
        "fdleak",
        "ls /proc/self/fd | tr '\\n' ' '; echo; for f in /proc/self/fd/*; do readlink $f; done; [ -e /proc/self/fd/7 ] && echo FD7-PRESENT; true",
    );
    let secret = b.dir().join("leaked-secret-file");
    fs::write(&secret, "secret").unwrap();
    let f = File::open(&secret).unwrap();
    let rt = Runtime::new();
    let (o, out) = run_with_fd7(&rt, &b, &f);
    assert!(o.status.success(), "run: {} / {out}", describe(&o));
    assert!(
        !out.contains("FD7-PRESENT"),
        "fd 7 leaked into the container: {out}"
    );
    assert!(
        !out.contains("leaked-secret-file"),
        "the leaked file is reachable: {out}"
    );
    let fds: Vec<u32> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    // 0-2 plus the one ls uses to read the directory.
    assert!(
        fds.iter().all(|&n| n <= 3),
        "unexpected fds in the container (runtime leak?): {out}"
    );
}

#[test]
fn leaked_dir_fd_as_cwd_does_not_reach_the_host() {
    require_root();
    let mut b = Bundle::sh("fdcwd", "ls; pwd");
    let hostdir = b.host_dir("hostdir");
    fs::write(hostdir.join("HOST-SECRET"), "x").unwrap();
    b.process_mut()["cwd"] = json!("/proc/self/fd/7");
    b.write().unwrap();
    let d = File::open(&hostdir).unwrap();
    let rt = Runtime::new();
    let (o, out) = run_with_fd7(&rt, &b, &d);
    // Refusing the cwd is fine; running with the host dir as cwd is not.
    assert!(
        !out.contains("HOST-SECRET"),
        "container cwd is a host directory: {} / {out}",
        describe(&o)
    );
    eprintln!(
        "runtime with cwd=/proc/self/fd/7: {} / container: {out:?}",
        describe(&o)
    );
    rt.assert_nothing_left(b.id(), &b);
}

#[test]
fn init_exe_is_not_writable_from_the_host_while_created() {
    require_root();
    let b = Bundle::new("exe", &["/bin/sleep", "1000"]);
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    let pid = rt.pid(id);
    let exe = format!("/proc/{pid}/exe");
    let target = fs::read_link(&exe).unwrap_or_default();
    // No O_TRUNC: if the open wrongly succeeds, nothing is modified.
    let r = OpenOptions::new().write(true).open(&exe);
    assert!(
        r.is_err(),
        "opened {exe} (-> {}) for writing while created",
        target.display()
    );
    rt.start_ok(id);
    rt.expect_status(id, "running");
}

#[test]
fn bind_mount_onto_absolute_symlink_stays_inside_the_rootfs() {
    require_root();
    let escape = HostPath::new("escape");
    let e = escape.0.to_string_lossy().into_owned();
    let mut b = Bundle::sh(
        "symmnt",
        &format!("cat {e}/payload; cat /evil/payload; grep -c ' {e} ' /proc/self/mountinfo; exec sleep 1000"),
    );
    let src = b.host_dir("src");
    fs::write(src.join("payload"), "payload-ok\n").unwrap();
    symlink(&escape.0, b.rootfs().join("evil")).unwrap();
    b.add_bind(&src, "/evil", false);
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    let o = rt.run_detached(id, &b);
    if o.status.success() {
        let out = Runtime::wait_stdout_lines(&b, id, 3, Duration::from_secs(10));
        assert_eq!(
            out.lines().take(2).collect::<Vec<_>>(),
            ["payload-ok", "payload-ok"],
            "{out}"
        );
        // Inside, the mount sits at the symlink's target within the rootfs.
        let pid = rt.pid(id);
        let mi = parse_mountinfo(&fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap());
        assert!(
            mi.iter().any(|m| m.mount_point == escape.0),
            "no mount at {e} inside: {mi:?}"
        );
        assert!(
            b.rootfs()
                .join(escape.0.strip_prefix("/").unwrap())
                .is_dir(),
            "target not created in the rootfs"
        );
    }
    // Never on the host, whether or not the runtime accepted the config.
    assert!(!escape.0.exists(), "{e} was created on the host");
    assert!(
        !mountinfo()
            .iter()
            .any(|m| m.mount_point.starts_with(&escape.0)),
        "{e} is mounted on the host"
    );
}

#[test]
fn cwd_through_absolute_symlink_stays_inside_the_rootfs() {
    require_root();
    let host = HostPath::new("cwd");
    fs::create_dir(&host.0).unwrap();
    fs::write(host.0.join("HOST-SIDE"), "").unwrap();
    let mut b = Bundle::sh("symcwd", "ls");
    let inside = b.rootfs().join(host.0.strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    fs::write(inside.join("INSIDE"), "").unwrap();
    symlink(&host.0, b.rootfs().join("work")).unwrap();
    // A relative symlink climbing above the root must stop at the root too.
    symlink(
        Path::new("../../../../..").join(host.0.strip_prefix("/").unwrap()),
        b.rootfs().join("work2"),
    )
    .unwrap();
    for (i, cwd) in ["/work", "/work2"].iter().enumerate() {
        b.process_mut()["cwd"] = json!(cwd);
        b.write().unwrap();
        let rt = Runtime::new();
        let id = format!("{}-{i}", b.id());
        let o = rt.run_container(&id, &b, &[]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "cwd {cwd}: {}", describe(&o));
        assert_eq!(
            out.trim(),
            "INSIDE",
            "cwd {cwd} resolved outside the rootfs: {}",
            describe(&o)
        );
    }
}
