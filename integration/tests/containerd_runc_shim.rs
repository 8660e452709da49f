//! Drop-in compatibility: real containerd, its own runc shim
//! (io.containerd.runc.v2), and the runtime under test passed as
//! `--runc-binary`. The shim only speaks the runc command-line contract, so
//! everything here must behave as it does with runc.
//!
//! Runtime: `HULL_RUNTIME` (e.g. /usr/sbin/runc) or the built hullc.
//! Needs root. Each test starts its own containerd (own root, state, socket,
//! namespace, runc root, fifo dir) and tears it down on drop.

mod containerd_runc_shim_support;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use containerd_runc_shim_support::*;
use hull_integration::containerd::{output_with_timeout, CTR_TIMEOUT};
use hull_integration::unique_id;

#[test]
fn run_rm_forwards_stdout_stderr_and_exit_code() {
    let f = setup();
    let id = unique_id("rm");
    let out = f.run_rm(
        &id,
        &["sh", "-c", "echo hello; echo oops >&2; exit 3"],
        None,
    );
    assert_eq!(text(&out.stdout), "hello\n", "{}", describe(&out));
    assert!(text(&out.stderr).contains("oops"), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        !f.ctd.containers().unwrap().contains(&id),
        "--rm left container {id} behind"
    );
    assert!(
        !f.runtime_state_dir(&id).exists(),
        "runtime state left after --rm"
    );
}

#[test]
fn run_rm_zero_and_nonzero_exit() {
    let f = setup();
    let ok = f.run_rm(&unique_id("ok"), &["true"], None);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    let fail = f.run_rm(&unique_id("false"), &["false"], None);
    assert_eq!(fail.status.code(), Some(1), "{}", describe(&fail));
    // A missing binary must fail the run (runc: exec failed), not hang.
    let missing = f.run_rm(&unique_id("nobin"), &["/no/such/binary"], None);
    assert!(!missing.status.success(), "{}", describe(&missing));
}

#[test]
fn run_rm_forwards_stdin() {
    let f = setup();
    let out = f.run_rm(
        &unique_id("stdin"),
        &["sh", "-c", "read line; echo got:$line"],
        Some(b"data-123\n"),
    );
    assert_eq!(text(&out.stdout), "got:data-123\n", "{}", describe(&out));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn process_sees_image_config_and_default_spec() {
    let f = setup();
    let script = "echo path=$PATH; echo cwd=$(pwd); echo uid=$(id -u) gid=$(id -g); \
                  grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; \
                  echo pid1=$(cat /proc/1/comm); \
                  for m in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys; do \
                    awk -v m=$m '$2==m {print \"mount\", $2, $3}' /proc/self/mounts; done; \
                  test -c /dev/null && echo devnull=ok; \
                  echo hostname=$(hostname)";
    // Under load, containerd 1.6's `ctr run` can drop the tail of a task's
    // output when the task exits at once: the last line marks a complete
    // copy, and an incomplete one is run again (at most three times).
    let mut out = f.run_rm(&unique_id("cfg"), &["sh", "-c", script], None);
    for _ in 0..2 {
        if text(&out.stdout).contains("hostname=") {
            break;
        }
        out = f.run_rm(&unique_id("cfg"), &["sh", "-c", script], None);
    }
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let s = text(&out.stdout);
    for want in [
        "path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        "cwd=/\n",
        "uid=0 gid=0\n",
        // containerd's default spec: the Docker default capability set.
        "CapEff:\t00000000a80425fb\n",
        "CapBnd:\t00000000a80425fb\n",
        "mount /proc proc\n",
        "mount /dev tmpfs\n",
        "mount /dev/pts devpts\n",
        "mount /dev/shm tmpfs\n",
        "mount /dev/mqueue mqueue\n",
        "mount /sys sysfs\n",
        "devnull=ok\n",
    ] {
        assert!(
            s.contains(want),
            "missing {want:?} in:\n{s}\n{}",
            describe(&out)
        );
    }
    // The user's process is pid 1 of a new pid namespace.
    assert!(s.contains("pid1=sh\n"), "pid 1 is not our sh:\n{s}");
}

#[test]
fn run_with_tty() {
    let f = setup();
    let id = unique_id("tty");
    // `ctr run -t` needs a controlling terminal: run it under script(1).
    let mut ctr_line: Vec<String> = vec![
        "ctr".into(),
        "-a".into(),
        f.ctd.address().display().to_string(),
    ];
    ctr_line.extend(["-n".into(), f.ctd.namespace().to_string()]);
    ctr_line.extend(
        f.run_flags()
            .iter()
            .map(|s| s.to_string_lossy().into_owned()),
    );
    ctr_line.extend(["--rm".into(), "-t".into(), f.image.clone(), id.clone()]);
    ctr_line.extend(["sh".into(), "-c".into(), "'tty; exit 4'".into()]);
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &ctr_line.join(" "), "/dev/null"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("script ctr run -t");
    let s = text(&out.stdout);
    assert!(
        s.contains("/dev/pts/0"),
        "tty inside container is not /dev/pts/0: {}",
        describe(&out)
    );
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
}

#[test]
fn detached_run_kill_delete() {
    let f = setup();
    let id = unique_id("det");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "task pid {pid} not alive"
    );
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep", "task pid {pid} is not our process");
    // The shim asked for cgroup /<namespace>/<id>: the process must be in it.
    let procs = std::fs::read_to_string(f.cgroup_dir("pids", &id).join("cgroup.procs"))
        .expect("pids cgroup of task");
    assert!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "pid {pid} not in its cgroup: {procs:?}"
    );
    // `ctr task ps` goes through `runtime ps`.
    let ps = f.ctd.ctr_ok(["task", "ps", &id]).expect("ctr task ps");
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().next() == Some(&pid.to_string())),
        "ps: {ps}"
    );
    assert!(
        f.runtime_state_dir(&id).exists(),
        "no runtime state dir while running"
    );
    f.kill_and_remove(&id, pid);
}

#[test]
fn sigterm_reaches_pid1_handler() {
    let f = setup();
    let id = unique_id("term");
    // pid 1 ignores SIGTERM unless it installs a handler: this one does.
    let pid = f.run_detached(
        &id,
        &[
            "sh",
            "-c",
            "trap 'exit 7' TERM; while true; do sleep 0.05; done",
        ],
    );
    f.ctd
        .ctr_ok(["task", "kill", &id])
        .expect("ctr task kill (SIGTERM)");
    f.ctd
        .wait_task_status(&id, "STOPPED", WAIT)
        .expect("STOPPED after SIGTERM");
    let del = f.ctd.ctr_output(["task", "delete", &id]).unwrap();
    assert!(del.status.success(), "{}", describe(&del));
    assert!(
        text(&del.stderr).contains("exit code 7"),
        "exit status 7 not reported: {}",
        describe(&del)
    );
    f.ctd.ctr_ok(["containers", "rm", &id]).unwrap();
    wait_until("init gone", || !Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn exec_in_running_task() {
    let f = setup();
    let id = unique_id("exec");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    let fifo = f.ctd.fifo_dir().to_path_buf();
    let mut cmd = f.ctd.ctr();
    cmd.args(["task", "exec", "--exec-id", "e1", "--fifo-dir"])
        .arg(&fifo)
        .args([
            &id,
            "sh",
            "-c",
            "echo in-exec; echo ppid-ns=$(cat /proc/1/comm); exit 5",
        ]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let s = text(&out.stdout);
    assert!(s.contains("in-exec\n"), "{}", describe(&out));
    // The exec'd process joined the task's pid namespace (pid 1 is sleep).
    assert!(s.contains("ppid-ns=sleep\n"), "{}", describe(&out));

    // An exec'd process with stdin.
    let mut cmd = f.ctd.ctr();
    cmd.args(["task", "exec", "--exec-id", "e2", "--fifo-dir"])
        .arg(&fifo)
        .args([&id, "cat"]);
    let out = output_with_timeout(&mut cmd, Some(b"through-exec\n"), CTR_TIMEOUT).unwrap();
    assert_eq!(text(&out.stdout), "through-exec\n", "{}", describe(&out));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // The task itself is unaffected.
    let t = f.ctd.task(&id).unwrap().expect("task still listed");
    assert_eq!(t.status, "RUNNING");
    f.kill_and_remove(&id, pid);
}

#[test]
fn pause_and_resume() {
    let f = setup();
    let id = unique_id("pause");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    let freezer = f.cgroup_dir("freezer", &id).join("freezer.state");

    f.ctd
        .ctr_ok(["task", "pause", &id])
        .expect("ctr task pause");
    f.ctd.wait_task_status(&id, "PAUSED", WAIT).expect("PAUSED");
    let st = std::fs::read_to_string(&freezer).expect("freezer.state");
    assert_eq!(st.trim(), "FROZEN", "freezer not frozen while PAUSED");

    f.ctd
        .ctr_ok(["task", "resume", &id])
        .expect("ctr task resume");
    f.ctd
        .wait_task_status(&id, "RUNNING", WAIT)
        .expect("RUNNING after resume");
    let st = std::fs::read_to_string(&freezer).expect("freezer.state");
    assert_eq!(st.trim(), "THAWED", "freezer not thawed after resume");
    f.kill_and_remove(&id, pid);
}

#[test]
fn drop_cleans_up_a_running_task() {
    // The guard must leave nothing behind even if a test forgets its task.
    let (pid, ns, dir);
    {
        let f = setup();
        let id = unique_id("leak");
        pid = f.run_detached(&id, &["sleep", "300"]);
        ns = f.ctd.namespace().to_string();
        dir = f.ctd.dir().to_path_buf();
    }
    wait_until("leaked task killed", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(!dir.exists(), "containerd temp dir {} left", dir.display());
    for c in ["pids", "memory", "freezer", "cpu"] {
        let cg = Path::new("/sys/fs/cgroup").join(c).join(&ns);
        assert!(!cg.exists(), "cgroup {} left", cg.display());
    }
}

#[test]
fn env_cwd_bind_mount_and_readonly_root() {
    let f = setup();
    let host = f.ctd.dir().join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("file"), "from-host\n").unwrap();
    let id = unique_id("mnt");
    let script = "echo foo=$FOO; echo cwd=$(pwd); cat /mnt/file; \
                  touch /mnt/x 2>/dev/null && echo mnt-writable || echo mnt-ro; \
                  touch /newfile 2>/dev/null && echo root-writable || echo root-ro; \
                  touch /tmp/../dev/shm/ok && echo shm-writable";
    let mut cmd = f.ctd.ctr();
    cmd.args(f.run_flags())
        .args([
            "--rm",
            "--read-only",
            "--env",
            "FOO=bar baz",
            "--cwd",
            "/etc",
            "--mount",
        ])
        .arg(format!(
            "type=bind,src={},dst=/mnt,options=rbind:ro",
            host.display()
        ))
        .args([&f.image, &id, "sh", "-c", script]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        text(&out.stdout),
        "foo=bar baz\ncwd=/etc\nfrom-host\nmnt-ro\nroot-ro\nshm-writable\n",
        "{}",
        describe(&out)
    );
    assert!(
        !host.join("x").exists(),
        "read-only bind mount was written through"
    );
}

#[test]
fn resources_land_in_cgroup_and_metrics() {
    let f = setup();
    let id = unique_id("res");
    let mut flags = f.run_flags();
    flags.extend(
        [
            "-d",
            "--null-io",
            "--memory-limit",
            "67108864",
            "--cpu-shares",
            "512",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "100000",
        ]
        .map(OsString::from),
    );
    flags.extend([
        f.image.clone().into(),
        id.clone().into(),
        "sleep".into(),
        "300".into(),
    ]);
    f.ctd.ctr_ok(&flags).expect("ctr run -d with resources");
    let t = f
        .ctd
        .wait_task_status(&id, "RUNNING", WAIT)
        .expect("RUNNING");
    let read = |c: &str, file: &str| {
        std::fs::read_to_string(f.cgroup_dir(c, &id).join(file))
            .unwrap_or_else(|e| panic!("{c}/{file}: {e}"))
            .trim()
            .to_string()
    };
    assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    // The shim reads these same cgroups for `ctr task metrics`.
    let m = f
        .ctd
        .ctr_ok(["task", "metrics", &id])
        .expect("ctr task metrics");
    assert!(
        m.lines()
            .any(|l| l.starts_with("memory.limit_in_bytes") && l.contains("67108864")),
        "metrics: {m}"
    );
    f.kill_and_remove(&id, t.pid);
}

#[test]
fn exec_as_other_user_with_cwd_and_env() {
    let f = setup();
    let id = unique_id("execu");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    let mut cmd = f.ctd.ctr();
    cmd.args([
        "task",
        "exec",
        "--exec-id",
        "u1",
        "--user",
        "65534",
        "--cwd",
        "/tmp",
        "--fifo-dir",
    ])
    .arg(f.ctd.fifo_dir())
    .args([&id, "sh", "-c", "echo uid=$(id -u) gid=$(id -g) cwd=$(pwd)"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        text(&out.stdout),
        "uid=65534 gid=65534 cwd=/tmp\n",
        "{}",
        describe(&out)
    );
    // An exec of a missing binary fails cleanly and leaves the task running.
    let mut cmd = f.ctd.ctr();
    cmd.args(["task", "exec", "--exec-id", "u2", "--fifo-dir"])
        .arg(f.ctd.fifo_dir())
        .args([&id, "/no/such/binary"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    assert_eq!(
        f.ctd.task(&id).unwrap().map(|t| t.status),
        Some("RUNNING".into())
    );
    f.kill_and_remove(&id, pid);
}

#[test]
fn exec_with_tty() {
    let f = setup();
    let id = unique_id("xtty");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    // `ctr task exec -t` needs a controlling terminal: run it under script(1).
    let line = format!(
        "ctr -a {} -n {} task exec -t --exec-id t1 --fifo-dir {} {} sh -c 'tty; exit 6'",
        f.ctd.address().display(),
        f.ctd.namespace(),
        f.ctd.fifo_dir().display(),
        id
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("script ctr task exec -t");
    assert!(
        text(&out.stdout).contains("/dev/pts/"),
        "exec tty is not a pty: {}",
        describe(&out)
    );
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    f.kill_and_remove(&id, pid);
}
