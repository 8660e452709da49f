//! Known container-escape techniques, each built as a hostile bundle or
//! image and run with hullc; the host must stay untouched (marker files,
//! copies of host binaries, host sysctl values read before and after).
//! Where a test is about the runc contract it also runs runc and notes
//! where runc 1.1.5 differs. These attack copies and markers only.
//!
//! Classes: CVE-2024-21626 (a host fd as cwd or program), CVE-2019-16884 /
//! CVE-2019-19921 (mounts over /proc through symlinks), CVE-2025-52881
//! (sysctl writes redirected), sysctls in the host's namespaces,
//! CVE-2025-52565 (/dev/console through a symlink), and an execve failure
//! after `start` that must say why.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::cleanup::{mountinfo, remove_tree};
use hull_integration::runtime::{describe, require_root, stderr_of, ConsoleSocket, Runtime};
use serde_json::json;

/// The fd numbers a runtime's own fds could have in the container's init.
const FDS: std::ops::RangeInclusive<u32> = 3..=12;

fn runc() -> Option<Runtime> {
    let p = PathBuf::from("/usr/sbin/runc");
    p.exists().then(|| Runtime::with_bin(p))
}

/// A host directory outside every bundle, with a marker file; removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> HostDir {
        let p = PathBuf::from(format!(
            "/tmp/hull-escape-{tag}-{}",
            hull_integration::unique_id("e")
        ));
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("HOST-MARKER"), "host-secret\n").unwrap();
        HostDir(p)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

/// A host sysctl's value, restored on drop if a test changed it.
struct HostSysctl {
    path: PathBuf,
    before: String,
}

impl HostSysctl {
    fn save(key: &str) -> HostSysctl {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        let before = fs::read_to_string(&path).unwrap();
        HostSysctl { path, before }
    }
    fn assert_unchanged(&self) {
        let now = fs::read_to_string(&self.path).unwrap();
        assert_eq!(
            now.trim(),
            self.before.trim(),
            "host {} changed",
            self.path.display()
        );
    }
}

impl Drop for HostSysctl {
    fn drop(&mut self) {
        if fs::read_to_string(&self.path).ok().as_deref() != Some(self.before.as_str()) {
            let _ = fs::write(&self.path, self.before.trim_end_matches('\n'));
        }
    }
}

/// Run `b` detached; whatever the runtime answers, the container's output
/// and the runtime's stderr never show `marker`. Returns (runtime ok, all text).
fn run_never_shows(rt: &Runtime, b: &Bundle, id: &str, marker: &str) -> (bool, String) {
    let o = rt.run_detached(id, b);
    let mut text = format!("{}\n", describe(&o));
    if o.status.success() {
        rt.wait_status(id, "stopped", Duration::from_secs(10));
        text.push_str(&Runtime::container_stdout(b, id));
    }
    text.push_str(&fs::read_to_string(Runtime::stderr_path(b, id)).unwrap_or_default());
    assert!(
        !text.contains(marker),
        "container {id} reached the host ({marker}): {text}"
    );
    let _ = rt.delete_force(id);
    (o.status.success(), text)
}

#[test]
fn cwd_through_a_host_fd_is_refused() {
    require_root();
    let rt = Runtime::new();
    for n in FDS {
        let mut b = Bundle::sh(
            "cwdfd",
            "pwd; ls -a ../../../../; cat ../../../../etc/hostname",
        );
        b.process_mut()["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.write().unwrap();
        let id = format!("{}-{n}", b.id());
        let (ok, text) = run_never_shows(&rt, &b, &id, "hull-root-");
        assert!(!ok, "cwd /proc/self/fd/{n} was accepted: {text}");
        assert!(
            text.contains("cwd"),
            "the error does not name the cwd: {text}"
        );
        rt.assert_nothing_left(&id, &b);
    }
}

#[test]
fn image_symlink_to_a_host_fd_as_cwd_is_refused() {
    require_root();
    let rt = Runtime::new();
    for n in FDS {
        let mut b = Bundle::sh("cwdlink", "pwd; ls -a ../../../../");
        symlink(format!("/proc/self/fd/{n}"), b.rootfs().join("app")).unwrap();
        b.process_mut()["cwd"] = json!("/app");
        b.write().unwrap();
        let id = format!("{}-{n}", b.id());
        let (ok, text) = run_never_shows(&rt, &b, &id, "hull-root-");
        assert!(!ok, "cwd /app -> /proc/self/fd/{n} was accepted: {text}");
        rt.assert_nothing_left(&id, &b);
    }
}

#[test]
fn host_binary_through_a_host_fd_never_runs() {
    require_root();
    let host = HostDir::new("exe");
    let evil = host.0.join("evil");
    fs::copy("/bin/busybox", &evil).unwrap();
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o755)).unwrap();
    let before = fs::read(&evil).unwrap();
    let rt = Runtime::new();
    let ups = "../".repeat(16);
    for n in FDS {
        let prog = format!("/proc/self/fd/{n}/{ups}{}", evil.display());
        let b = Bundle::new("exefd", &[&prog, "echo", "ESCAPED-AS-PID1"]);
        b.write().unwrap();
        let id = format!("{}-{n}", b.id());
        let (ok, text) = run_never_shows(&rt, &b, &id, "ESCAPED-AS-PID1");
        assert!(!ok, "args[0] {prog} was accepted: {text}");
        rt.assert_nothing_left(&id, &b);
    }
    assert_eq!(fs::read(&evil).unwrap(), before, "the host binary changed");
}

#[test]
fn exec_cwd_and_program_through_a_host_fd_are_refused() {
    require_root();
    let host = HostDir::new("execfd");
    let evil = host.0.join("evil");
    fs::copy("/bin/busybox", &evil).unwrap();
    let rt = Runtime::new();
    let b = Bundle::new("execfd", &["/bin/sleep", "1000"]);
    let id = b.id();
    assert!(rt.run_detached(id, &b).status.success());
    let ups = "../".repeat(16);
    for n in FDS {
        let cwd = format!("/proc/self/fd/{n}");
        let o = rt.run(&[
            "exec",
            "--cwd",
            &cwd,
            id,
            "/bin/sh",
            "-c",
            "ls ../../../../",
        ]);
        let text = describe(&o);
        assert!(!o.status.success(), "exec --cwd {cwd} was accepted: {text}");
        assert!(
            !text.contains("hull-root-") && !text.contains("HOST-MARKER"),
            "{text}"
        );
        let prog = format!("/proc/self/fd/{n}/{ups}{}", evil.display());
        let o = rt.run(&["exec", id, &prog, "echo", "ESCAPED-EXEC"]);
        let text = describe(&o);
        assert!(!text.contains("ESCAPED-EXEC"), "a host binary ran: {text}");
    }
    rt.delete_force(id);
}

/// Every mount of the container's init that is procfs sits at its /proc.
fn assert_no_fake_proc(pid: i32) {
    let text = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (mp, fstype) = (f.get(4).copied(), line.split(" - ").nth(1));
        if mp == Some("/proc") {
            assert!(
                fstype.is_some_and(|t| t.starts_with("proc ")),
                "/proc is not procfs: {line}"
            );
        }
    }
}

#[test]
fn bind_over_proc_through_a_symlink_is_refused_like_runc() {
    require_root();
    let host = HostDir::new("fakeproc");
    fs::write(host.0.join("kcore"), "FAKE-PROC\n").unwrap();
    let runtimes: Vec<Runtime> = std::iter::once(Runtime::new()).chain(runc()).collect();
    for rt in &runtimes {
        let mut b = Bundle::sh("fakeproc", "cat /proc/kcore; cat /vol/kcore");
        symlink("/proc", b.rootfs().join("vol")).unwrap();
        b.add_bind(&host.0, "/vol", false);
        b.write().unwrap();
        let id = b.id().to_string();
        let (ok, text) = run_never_shows(rt, &b, &id, "FAKE-PROC");
        assert!(
            !ok,
            "{}: a bind over /proc was accepted: {text}",
            rt.bin().display()
        );
        rt.assert_nothing_left(&id, &b);
    }
}

#[test]
fn procfs_through_a_symlinked_proc_is_refused_like_runc() {
    require_root();
    let runtimes: Vec<Runtime> = std::iter::once(Runtime::new()).chain(runc()).collect();
    for rt in &runtimes {
        let b = Bundle::sh("procroot", "echo RAN-WITH-PROC-OVER-ROOT; ls /");
        let proc = b.rootfs().join("proc");
        let _ = fs::remove_dir(&proc);
        symlink("/", &proc).unwrap();
        let id = b.id().to_string();
        let (ok, text) = run_never_shows(rt, &b, &id, "RAN-WITH-PROC-OVER-ROOT");
        assert!(
            !ok,
            "{}: /proc -> / was accepted: {text}",
            rt.bin().display()
        );
        rt.assert_nothing_left(&id, &b);
    }
}

#[test]
fn mounts_inside_proc_are_refused() {
    require_root();
    let host = HostDir::new("inproc");
    let rt = Runtime::new();
    // A tmpfs hiding a masked file, a bind into /proc/sys, and a symlinked
    // destination that resolves into /proc/sys after procfs is mounted.
    // (tag, mount, an image symlink (name, target) first)
    type Case<'a> = (&'a str, serde_json::Value, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            "tmpfs",
            json!({"destination": "/proc/kcore", "type": "tmpfs", "source": "tmpfs"}),
            None,
        ),
        (
            "bind",
            json!({"destination": "/proc/sys/kernel", "type": "bind",
                   "source": host.0.to_string_lossy(), "options": ["rbind"]}),
            None,
        ),
        (
            "link",
            json!({"destination": "/data", "type": "bind",
                   "source": host.0.to_string_lossy(), "options": ["rbind"]}),
            Some(("data", "/proc/sys/kernel")),
        ),
    ];
    for (tag, m, link) in cases {
        let mut b = Bundle::sh("inproc", "echo RAN-WITH-PROC-MOUNT");
        if let Some((name, target)) = link {
            symlink(target, b.rootfs().join(name)).unwrap();
        }
        b.add_mount(m);
        b.write().unwrap();
        let id = format!("{}-{tag}", b.id());
        let (ok, text) = run_never_shows(&rt, &b, &id, "RAN-WITH-PROC-MOUNT");
        assert!(!ok, "{tag}: a mount inside /proc was accepted: {text}");
        assert!(
            text.contains("/proc"),
            "{tag}: the error does not say /proc: {text}"
        );
        rt.assert_nothing_left(&id, &b);
    }
}

#[test]
fn sys_must_be_a_real_directory() {
    require_root();
    let host = HostDir::new("fakesys");
    let rt = Runtime::new();
    let b = Bundle::sh("fakesys", "echo RAN-WITH-FAKE-SYS");
    let sys = b.rootfs().join("sys");
    let _ = fs::remove_dir(&sys);
    symlink(&host.0, &sys).unwrap();
    let id = b.id().to_string();
    let (ok, text) = run_never_shows(&rt, &b, &id, "RAN-WITH-FAKE-SYS");
    assert!(!ok, "a symlinked /sys was accepted: {text}");
    assert!(text.contains("/sys"), "{text}");
    // runc 1.1.5 mounts sysfs through the symlink's target inside the
    // rootfs instead (no refusal); hullc refuses.
    rt.assert_nothing_left(&id, &b);
    assert!(
        fs::read_dir(&host.0).unwrap().count() == 1,
        "the host dir got content"
    );
}

#[test]
fn the_normal_proc_is_procfs_and_masked() {
    require_root();
    let rt = Runtime::new();
    let b = Bundle::sh(
        "procok",
        "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo x > /proc/sys/kernel/hostname && echo WROTE; exec sleep 1000",
    );
    let id = b.id();
    assert!(rt.run_detached(id, &b).status.success());
    let out = Runtime::wait_stdout_lines(&b, id, 2, Duration::from_secs(10));
    let lines: Vec<&str> = out.lines().collect();
    // Masked: a file reads empty (/dev/null), a directory is an empty tmpfs.
    assert_eq!(lines[..2], ["0", "0"], "masked paths not applied: {out}");
    assert!(!out.contains("WROTE"), "/proc/sys is writable: {out}");
    assert_no_fake_proc(rt.pid(id));
    rt.delete_force(id);
}

#[test]
fn sysctl_write_through_a_symlinked_volume_is_refused() {
    require_root();
    let saved = HostSysctl::save("net.core.somaxconn");
    let host = HostDir::new("sysctlvol");
    fs::write(host.0.join("somaxconn"), "untouched\n").unwrap();
    let rt = Runtime::new();
    let mut b = Bundle::sh("sysctlvol", "cat /proc/sys/net/core/somaxconn");
    symlink("/proc/sys/net/core", b.rootfs().join("data")).unwrap();
    b.add_bind(&host.0, "/data", false);
    b.linux_mut()["sysctl"] = json!({"net.core.somaxconn": "777"});
    b.write().unwrap();
    let id = b.id().to_string();
    let o = rt.run_detached(&id, &b);
    let _ = rt.delete_force(&id);
    assert!(!o.status.success(), "accepted: {}", describe(&o));
    assert_eq!(
        fs::read_to_string(host.0.join("somaxconn")).unwrap(),
        "untouched\n",
        "the sysctl was written into the host volume"
    );
    saved.assert_unchanged();
    rt.assert_nothing_left(&id, &b);
}

#[test]
fn sysctl_names_cannot_climb_out_of_proc_sys() {
    require_root();
    let host = HostDir::new("sysctlname");
    let rt = Runtime::new();
    let key = format!("net/../../../../..{}/HOST-MARKER", host.0.display());
    let mut b = Bundle::sh("sysctlname", "true");
    b.linux_mut()["sysctl"] = json!({ key: "overwritten" });
    b.write().unwrap();
    let id = b.id().to_string();
    let o = rt.run_detached(&id, &b);
    let _ = rt.delete_force(&id);
    assert!(!o.status.success(), "accepted: {}", describe(&o));
    assert_eq!(
        fs::read_to_string(host.0.join("HOST-MARKER")).unwrap(),
        "host-secret\n"
    );
    rt.assert_nothing_left(&id, &b);
}

/// Sysctls of net, uts and ipc are refused when the namespace is shared
/// with the host or joined by a path that is the host's, and so is a
/// hostname in the host's uts namespace. runc 1.1.5 refuses net the same
/// way; in a joined host uts namespace it sets the host's hostname and
/// domainname (seen here), so runc runs only the net cases.
#[test]
fn namespaced_sysctls_in_host_namespaces_are_refused() {
    require_root();
    let cases = [
        ("network", "net.core.somaxconn", "/proc/self/ns/net"),
        ("uts", "kernel.domainname", "/proc/self/ns/uts"),
        ("ipc", "kernel.shmmni", "/proc/self/ns/ipc"),
    ];
    let rt = Runtime::new();
    let runc = runc();
    for (ns, key, path) in cases {
        let saved = HostSysctl::save(key);
        let value = if key == "kernel.domainname" {
            "hull-escaped".to_string()
        } else {
            format!("{}", saved.before.trim().parse::<u64>().unwrap_or(100) + 1)
        };
        for joined in [false, true] {
            let mut b = Bundle::sh("nssysctl", "true");
            b.config_mut()["hostname"] = json!(null);
            if joined {
                b.set_namespace(ns, Some(Path::new(path)));
            } else {
                b.remove_namespace(ns);
            }
            b.linux_mut()["sysctl"] = json!({ key: value });
            b.write().unwrap();
            let id = b.id().to_string();
            let o = rt.run_detached(&id, &b);
            let _ = rt.delete_force(&id);
            saved.assert_unchanged();
            assert!(
                !o.status.success(),
                "{key} in the host's {ns} namespace (joined: {joined}) was accepted"
            );
            assert!(stderr_of(&o).contains(key), "{}", describe(&o));
            rt.assert_nothing_left(&id, &b);
            if let (Some(r), "network") = (&runc, ns) {
                let id = format!("{id}-runc");
                let o = r.run_detached(&id, &b);
                let _ = r.delete_force(&id);
                saved.assert_unchanged();
                assert!(!o.status.success(), "runc accepted {key}: {}", describe(&o));
            }
        }
    }
    // A hostname in the host's uts namespace.
    let saved = HostSysctl::save("kernel.hostname");
    let mut b = Bundle::sh("nshost", "true");
    b.config_mut()["hostname"] = json!("hull-escaped");
    b.set_namespace("uts", Some(Path::new("/proc/self/ns/uts")));
    b.write().unwrap();
    let o = rt.run_detached(b.id(), &b);
    let _ = rt.delete_force(b.id());
    saved.assert_unchanged();
    assert!(
        !o.status.success(),
        "hostname in the host's uts: {}",
        describe(&o)
    );
    // A namespace of its own takes the sysctl.
    let mut b = Bundle::sh("nssysctl-own", "cat /proc/sys/net/core/somaxconn");
    b.linux_mut()["sysctl"] = json!({"net.core.somaxconn": "321"});
    b.write().unwrap();
    let out = rt.run_ok(b.id(), &b);
    assert_eq!(out.trim(), "321");
}

#[test]
fn dev_console_symlink_is_refused() {
    require_root();
    let rt = Runtime::new();
    let mut b = Bundle::sh("console", "echo RAN-WITH-CONSOLE");
    // No /dev tmpfs: the image's own /dev, with a hostile console link.
    b.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    b.process_mut()["terminal"] = json!(true);
    let dev = b.rootfs().join("dev");
    fs::create_dir_all(&dev).unwrap();
    fs::write(b.rootfs().join("target"), "target-untouched\n").unwrap();
    let _ = fs::remove_file(dev.join("console"));
    symlink("/target", dev.join("console")).unwrap();
    b.write().unwrap();
    let sock_path = b.dir().join("console.sock");
    let sock = ConsoleSocket::bind(&sock_path);
    let id = b.id().to_string();
    let o = rt.create_with(&id, &b, &["--console-socket", &sock_path.to_string_lossy()]);
    drop(sock);
    let _ = rt.delete_force(&id);
    assert!(!o.status.success(), "accepted: {}", describe(&o));
    assert!(stderr_of(&o).contains("/dev/console"), "{}", describe(&o));
    assert!(
        !mountinfo()
            .iter()
            .any(|m| m.mount_point.starts_with(b.rootfs())),
        "a mount was left under the rootfs"
    );
    assert_eq!(
        fs::read_to_string(b.rootfs().join("target")).unwrap(),
        "target-untouched\n"
    );
    rt.assert_nothing_left(&id, &b);
}

#[test]
fn exec_failure_after_start_names_the_program() {
    require_root();
    let rt = Runtime::new();
    let b = Bundle::new("badexe", &["/bin/notelf"]);
    let bad = b.rootfs().join("bin/notelf");
    fs::write(&bad, b"\x7fELF-but-not-really").unwrap();
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o755)).unwrap();
    let id = b.id();
    let o = rt.run_detached(id, &b);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(rt.wait_status(id, "stopped", Duration::from_secs(10)));
    let err = fs::read_to_string(Runtime::stderr_path(&b, id)).unwrap_or_default();
    assert!(
        err.contains("exec /bin/notelf: exec format error"),
        "stderr: {err:?}"
    );
    rt.delete_force(id);
}
