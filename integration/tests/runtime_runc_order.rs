//! runc's contract on process setup order and rootfs details (issue 17,
//! groups H and J: setup order, rro, read-only /dev, hook cwd, bind sources
//! of a user-namespaced container, --no-pivot): the same bundle under hullc and runc, the same
//! observable result. runc is Debian's (1.1.5); a case runc does not pass
//! here is noted where it runs hullc alone.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::cleanup::remove_tree;
use hull_integration::runtime::{describe, require_root, stdout_of, Runtime};
use serde_json::json;

/// hullc, then runc when it is installed.
fn runtimes() -> Vec<Runtime> {
    let runc = PathBuf::from("/usr/sbin/runc");
    std::iter::once(Runtime::new())
        .chain(runc.exists().then(|| Runtime::with_bin(runc)))
        .collect()
}

fn name(rt: &Runtime) -> String {
    rt.bin()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A host directory of the test's own, removed (after unmounting) on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> HostDir {
        let p = PathBuf::from(format!(
            "/tmp/hull-order-{tag}-{}",
            hull_integration::unique_id("o")
        ));
        fs::create_dir_all(&p).unwrap();
        HostDir(p)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

/// A tmpfs (named `source` in mountinfo) at `at`; HostDir's drop unmounts it.
fn mount_tmpfs(source: &str, at: &Path) {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", source])
        .arg(at)
        .status()
        .unwrap();
    assert!(ok.success(), "mount tmpfs at {}", at.display());
}

/// Run `b` to completion under `rt` (foreground), returning its stdout.
fn run_out(rt: &Runtime, b: &Bundle, tag: &str) -> String {
    run_out_with(rt, b, tag, &[])
}

/// `run_out` with extra `run` flags (e.g. `--no-pivot`).
fn run_out_with(rt: &Runtime, b: &Bundle, tag: &str, extra: &[&str]) -> String {
    let id = format!("{}-{tag}", b.id());
    let o = rt.run_container(&id, b, extra);
    assert!(o.status.success(), "{}: {}", name(rt), describe(&o));
    let out = stdout_of(&o);
    rt.assert_nothing_left(&id, b);
    out
}

#[test]
fn cwd_only_root_can_enter_works_for_another_user() {
    require_root();
    for rt in runtimes() {
        let mut b = Bundle::sh("rootcwd", "pwd");
        let dir = b.rootfs().join("secret");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        b.process_mut()["cwd"] = json!("/secret");
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
        b.write().unwrap();
        let tag = name(&rt);
        assert_eq!(run_out(&rt, &b, &tag).trim(), "/secret", "{tag}");
    }
}

#[test]
fn stdio_belongs_to_the_process_user() {
    require_root();
    for rt in runtimes() {
        let mut b = Bundle::sh("stdio", "stat -c %u /proc/self/fd/1");
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
        b.write().unwrap();
        let tag = name(&rt);
        assert_eq!(run_out(&rt, &b, &tag).trim(), "1000", "{tag}");
    }
}

#[test]
fn rro_makes_submounts_read_only_too() {
    require_root();
    for rt in runtimes() {
        let host = HostDir::new("rro");
        let sub = host.0.join("sub");
        fs::create_dir(&sub).unwrap();
        mount_tmpfs("tmpfs", &sub);
        let mut b = Bundle::sh(
            "rro",
            "touch /data/x 2>/dev/null && echo TOP-WRITABLE; touch /data/sub/x 2>/dev/null && echo SUB-WRITABLE; echo done",
        );
        b.add_mount(json!({"destination": "/data", "type": "bind",
            "source": host.0.to_string_lossy(), "options": ["rbind", "rro"]}));
        b.write().unwrap();
        let tag = name(&rt);
        let out = run_out(&rt, &b, &tag);
        assert_eq!(out.trim(), "done", "{tag}: {out}");
        assert!(!sub.join("x").exists(), "{tag}: wrote into the submount");
    }
}

#[test]
fn read_only_dev_still_gets_devpts_and_devices() {
    require_root();
    for rt in runtimes() {
        let mut b = Bundle::sh(
            "rodev",
            "test -c /dev/null && echo null; test -d /dev/pts && echo pts; touch /dev/x 2>/dev/null && echo DEV-WRITABLE; echo done",
        );
        for m in b.config_mut()["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                m["options"].as_array_mut().unwrap().push(json!("ro"));
            }
        }
        b.write().unwrap();
        let tag = name(&rt);
        let out = run_out(&rt, &b, &tag);
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["null", "pts", "done"],
            "{tag}"
        );
    }
}

#[test]
fn create_container_hook_runs_in_the_rootfs() {
    require_root();
    for rt in runtimes() {
        let host = HostDir::new("hookcwd");
        let out = host.0.join("cwd");
        let mut b = Bundle::sh("hookcwd", "true");
        b.add_hook(
            "createContainer",
            json!({"path": "/bin/sh", "args": ["sh", "-c", format!("pwd > {}", out.display())]}),
        );
        b.write().unwrap();
        let tag = name(&rt);
        run_out(&rt, &b, &tag);
        let cwd = fs::read_to_string(&out).unwrap_or_default();
        let rootfs = fs::canonicalize(b.rootfs()).unwrap();
        assert_eq!(Path::new(cwd.trim()), rootfs, "{tag}");
    }
}

/// `exec -p /dev/fd/N`: process.json handed over as an inherited fd (as
/// tools do with a pipe) survives hullc's self re-exec.
#[test]
fn exec_process_json_from_an_fd() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    require_root();
    for rt in runtimes() {
        let b = Bundle::new("execfd", &["/bin/sleep", "1000"]);
        let id = format!("{}-{}", b.id(), name(&rt));
        let o = rt.run_container(&id, &b, &["-d"]);
        assert!(o.status.success(), "{}", describe(&o));
        let (r, mut w) = std::io::pipe().unwrap();
        let process = json!({"args": ["echo", "from-fd"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                             "env": ["PATH=/bin"]});
        w.write_all(process.to_string().as_bytes()).unwrap();
        drop(w);
        let raw = r.as_raw_fd();
        let mut c = rt.command();
        c.args(["exec", "-p", "/dev/fd/5", &id]);
        // SAFETY: dup2 in the child before exec; `raw` stays open until spawn returns.
        unsafe {
            c.pre_exec(move || {
                if libc::dup2(raw, 5) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = hull_integration::runtime::output_of(c, Duration::from_secs(30));
        rt.delete_force(&id);
        assert!(o.status.success(), "{}: {}", name(&rt), describe(&o));
        assert_eq!(stdout_of(&o).trim(), "from-fd", "{}", name(&rt));
    }
}

/// `exec -t` in the foreground, no console socket, stdin a terminal (here
/// one `script` makes): the runtime itself is the terminal, as runc is.
#[test]
fn exec_tty_in_the_foreground_without_a_console_socket() {
    require_root();
    for rt in runtimes() {
        let b = Bundle::new("exectty", &["/bin/sleep", "1000"]);
        let id = format!("{}-{}", b.id(), name(&rt));
        let o = rt.run_container(&id, &b, &["-d"]);
        assert!(o.status.success(), "{}", describe(&o));
        let cmd = format!(
            "{} --root {} exec -t {id} sh -c 'tty; echo exec-tty-ok'",
            rt.bin().display(),
            rt.root().display()
        );
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]);
        let o = hull_integration::runtime::output_of(c, Duration::from_secs(30));
        rt.delete_force(&id);
        let out = stdout_of(&o);
        assert!(o.status.success(), "{}: {}", name(&rt), describe(&o));
        assert!(
            out.contains("/dev/pts/") && out.contains("exec-tty-ok"),
            "{}: {out:?}",
            name(&rt)
        );
    }
}

/// The startContainer hook runs after no_new_privs and the seccomp filter
/// are in place (runc's order), so the filter applies to it too.
#[test]
fn start_container_hook_runs_under_seccomp() {
    require_root();
    for rt in runtimes() {
        let mut b = Bundle::sh("hookseccomp", "cat /hook-out");
        b.linux_mut()["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
        b.add_hook(
            "startContainer",
            json!({"path": "/bin/sh", "args": ["sh", "-c",
                "mkdir /hook-dir 2>/dev/null && echo made > /hook-out || echo denied > /hook-out"]}),
        );
        b.write().unwrap();
        let tag = name(&rt);
        assert_eq!(run_out(&rt, &b, &tag).trim(), "denied", "{tag}");
    }
}

/// A user-namespaced container binds sources its mapped root cannot reach
/// (under a 0700 root-owned directory): the runtime opens them with the
/// host's privileges and passes them in (runc 1.1.5: "mount sources" sent
/// over the init socket; hullc: fds from the parent over the sync
/// channel). A directory bind (read-only) and a single-file bind.
#[test]
fn userns_binds_sources_only_the_host_can_reach() {
    require_root();
    for rt in runtimes() {
        let host = HostDir::new("usernsbind");
        let secret = host.0.join("secret");
        let vol = secret.join("vol");
        fs::create_dir_all(&vol).unwrap();
        fs::write(vol.join("file"), "dir bind\n").unwrap();
        fs::write(secret.join("single"), "file bind\n").unwrap();
        fs::set_permissions(&host.0, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
        let mut b = Bundle::sh("usernsbind", "cat /data/file /etc/single");
        // The mount points exist: the rootfs is root's, not the mapped root's.
        fs::create_dir(b.rootfs().join("data")).unwrap();
        fs::write(b.rootfs().join("etc/single"), "").unwrap();
        b.set_user_namespace(200000, 65536);
        b.add_bind(&vol, "/data", true);
        b.add_bind(&secret.join("single"), "/etc/single", false);
        b.write().unwrap();
        let tag = name(&rt);
        assert_eq!(run_out(&rt, &b, &tag), "dir bind\nfile bind\n", "{tag}");
    }
}

/// `run --no-pivot` (MS_MOVE + chroot instead of pivot_root): the host's
/// mounts are detached, so a tmpfs the test mounted on the host is not in
/// the container's mountinfo (runc 1.1.5 does the same).
#[test]
fn no_pivot_hides_host_mounts() {
    require_root();
    for rt in runtimes() {
        let host = HostDir::new("nopivot");
        let mp = host.0.join("hostonly");
        fs::create_dir(&mp).unwrap();
        let tag = name(&rt);
        let source = format!("hull-nopivot-{tag}-{}", std::process::id());
        mount_tmpfs(&source, &mp);
        let on_host = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(on_host.contains(&source), "the host mount is not there");
        let b = Bundle::sh("nopivot", "cat /proc/self/mountinfo");
        let out = run_out_with(&rt, &b, &tag, &["--no-pivot"]);
        assert!(
            out.lines().any(|l| l.split(' ').nth(4) == Some("/")),
            "{tag}: no root in {out}"
        );
        assert!(
            !out.contains(&source) && !out.contains(&*mp.to_string_lossy()),
            "{tag}: host mount visible inside: {out}"
        );
    }
}
