//! The containerd-shim-hull-v2 suite, run by real containerd (Debian's
//! 1.6) through `ctr --runtime io.containerd.hull.v2`, parameterised by the
//! runtime binary the shim drives (named in the create options, i.e. ctr's
//! `--runtime-config-path`). Each case starts its own containerd (own root,
//! state, socket, namespace), and everything is torn down by Drop guards.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hull_integration::containerd::{output_with_timeout, Containerd, CTR_TIMEOUT};
use hull_integration::shim_support::{
    alive, bundle_dir, ensure_shim_on_path, mem_of, shim_pid, shim_socket, wait_for,
    write_runtime_config, Restarted, RUNTIME_NAME,
};
use hull_integration::{is_root, unique_id};

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Fixture {
    pub ctd: Containerd,
    pub image: String,
    pub runtime: PathBuf,
    pub runtime_cfg: PathBuf,
    pub runtime_root: PathBuf,
}

pub fn setup(runtime: &Path) -> Fixture {
    assert!(is_root(), "shim integration tests need root");
    assert!(
        runtime.exists(),
        "runtime binary {} does not exist",
        runtime.display()
    );
    ensure_shim_on_path();
    let ctd = Containerd::start().expect("start private containerd");
    let image = ctd.import_busybox().expect("import busybox image");
    let (runtime_cfg, runtime_root) =
        write_runtime_config(&ctd, runtime).expect("write runtime config");
    Fixture {
        ctd,
        image,
        runtime: runtime.to_path_buf(),
        runtime_cfg,
        runtime_root,
    }
}

/// Parent pid of a process.
pub fn parent_of(pid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    stat.rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("ppid in stat")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn describe(o: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {:?}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    )
}

impl Fixture {
    /// `ctr run` flags selecting the hull shim and the runtime under test.
    pub fn run_flags(&self) -> Vec<OsString> {
        vec![
            "run".into(),
            "--runtime".into(),
            RUNTIME_NAME.into(),
            "--runtime-config-path".into(),
            self.runtime_cfg.clone().into(),
            "--fifo-dir".into(),
            self.ctd.fifo_dir().into(),
        ]
    }

    pub fn run_rm(&self, id: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = self.ctd.ctr();
        cmd.args(self.run_flags())
            .arg("--rm")
            .arg(&self.image)
            .arg(id)
            .args(args);
        output_with_timeout(&mut cmd, stdin, CTR_TIMEOUT).expect("ctr run --rm")
    }

    /// `ctr run -d IMAGE ID ARGS…`; waits for RUNNING, returns the pid.
    pub fn run_detached(&self, id: &str, args: &[&str]) -> u32 {
        let mut flags = self.run_flags();
        flags.extend([
            "-d".into(),
            "--null-io".into(),
            self.image.clone().into(),
            id.into(),
        ]);
        flags.extend(args.iter().map(OsString::from));
        self.ctd.ctr_ok(&flags).expect("ctr run -d");
        let t = self
            .ctd
            .wait_task_status(id, "RUNNING", WAIT)
            .expect("task RUNNING");
        assert!(t.pid > 0, "RUNNING task has no pid: {t:?}");
        t.pid
    }

    /// `ctr ARGS` under script(1), which gives it the terminal `-t` needs.
    pub fn ctr_in_pty(&self, args: &[String]) -> Output {
        let mut line: Vec<String> = vec![
            "ctr".into(),
            "-a".into(),
            self.ctd.address().display().to_string(),
            "-n".into(),
            self.ctd.namespace().to_string(),
        ];
        line.extend(args.iter().cloned());
        // A known window size: ctr passes it on (ResizePty) to the process.
        let script = format!("stty cols 123 rows 45; {}", line.join(" "));
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &script, "/dev/null"]);
        output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("script ctr")
    }

    pub fn runtime_state_dir(&self, id: &str) -> PathBuf {
        self.runtime_root.join(self.ctd.namespace()).join(id)
    }

    /// Cgroup v1 dir containerd's default spec asks for: /<namespace>/<id>.
    pub fn cgroup_dir(&self, controller: &str, id: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(self.ctd.namespace())
            .join(id)
    }

    /// What a running task has: its shim pid and socket.
    pub fn shim_of(&self, id: &str) -> (i32, PathBuf) {
        let pid = shim_pid(&self.ctd, id).expect("shim.pid in bundle");
        let sock = shim_socket(&self.ctd, id).expect("address in bundle");
        assert!(alive(pid), "shim {pid} of {id} not running");
        assert!(sock.exists(), "shim socket {} missing", sock.display());
        (pid, sock)
    }

    /// Nothing of a deleted container may be left: task, process, shim,
    /// socket, rootfs mount, runtime state, cgroups.
    pub fn assert_gone(&self, id: &str, init_pid: u32, shim: (i32, PathBuf)) {
        assert!(
            self.ctd.task(id).unwrap().is_none(),
            "task {id} still listed"
        );
        wait_for("container init to exit", WAIT, || !alive(init_pid as i32));
        wait_for("shim to exit", WAIT, || !alive(shim.0));
        // containerd may still be running `shim delete` after a dead shim.
        wait_for(
            &format!("shim socket {} removed", shim.1.display()),
            WAIT,
            || !shim.1.exists(),
        );
        let rootfs = bundle_dir(&self.ctd, id).join("rootfs");
        wait_for(
            &format!("rootfs {} unmounted", rootfs.display()),
            WAIT,
            || {
                !std::fs::read_to_string("/proc/self/mountinfo")
                    .unwrap()
                    .contains(&rootfs.display().to_string())
            },
        );
        let state = self.runtime_state_dir(id);
        wait_for(
            &format!("runtime state {} removed", state.display()),
            WAIT,
            || !state.exists(),
        );
        for c in ["pids", "memory", "freezer", "cpuacct"] {
            let cg = self.cgroup_dir(c, id);
            wait_for(&format!("cgroup {} removed", cg.display()), WAIT, || {
                !cg.exists()
            });
        }
    }

    /// SIGKILL, STOPPED, `ctr task delete` reporting 137, `containers rm`.
    pub fn kill_and_delete(&self, id: &str) {
        self.ctd
            .ctr_ok(["task", "kill", "-s", "SIGKILL", id])
            .expect("ctr task kill");
        self.ctd
            .wait_task_status(id, "STOPPED", WAIT)
            .expect("task STOPPED after SIGKILL");
        let del = self.ctd.ctr_output(["task", "delete", id]).unwrap();
        assert!(del.status.success(), "ctr task delete: {}", describe(&del));
        assert!(
            text(&del.stderr).contains("exit code 137"),
            "exit 137 not reported: {}",
            describe(&del)
        );
        self.ctd
            .ctr_ok(["containers", "rm", id])
            .expect("ctr containers rm");
    }
}

/// Foreground runs: stdout, stderr and exit codes pass through the shim.
pub fn foreground_exit_codes(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("fg");
    let out = f.run_rm(
        &id,
        &["sh", "-c", "echo hello; echo oops >&2; exit 3"],
        None,
    );
    assert_eq!(text(&out.stdout), "hello\n", "{}", describe(&out));
    assert!(text(&out.stderr).contains("oops"), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let ok = f.run_rm(&unique_id("ok"), &["true"], None);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    // (pid 1 cannot SIGKILL itself in its namespace: a child shell does.)
    let sig = f.run_rm(
        &unique_id("sig"),
        &["sh", "-c", "sh -c 'kill -9 $$'; exit $?"],
        None,
    );
    assert_eq!(sig.status.code(), Some(137), "{}", describe(&sig));
    let missing = f.run_rm(&unique_id("nobin"), &["/no/such/binary"], None);
    assert!(!missing.status.success(), "{}", describe(&missing));
    assert!(
        !f.ctd.containers().unwrap().contains(&id),
        "--rm left container {id}"
    );
    assert!(
        !f.runtime_state_dir(&id).exists(),
        "runtime state left after --rm"
    );
}

/// stdin reaches the process and its EOF too (the shim closes the pipe).
pub fn stdin_forwarded(runtime: &Path) {
    let f = setup(runtime);
    let out = f.run_rm(
        &unique_id("stdin"),
        &["sh", "-c", "read line; echo got:$line; cat; echo eof"],
        Some(b"data-123\nmore\n"),
    );
    assert_eq!(
        text(&out.stdout),
        "got:data-123\nmore\neof\n",
        "{}",
        describe(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// `ctr run -t`: the process gets a pty from the runtime's console socket.
pub fn tty_run(runtime: &Path) {
    let f = setup(runtime);
    // Results go to a host directory: under load, script(1)/ctr may drop
    // the tail of a quickly exiting terminal's output (with containerd's own
    // runc shim too), so the output itself is checked below on a process
    // that is still running.
    let outdir = f.ctd.dir().join("tty-out");
    std::fs::create_dir_all(&outdir).unwrap();
    let id = unique_id("tty");
    let mut args: Vec<String> = f
        .run_flags()
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    args.extend([
        "--rm".into(),
        "-t".into(),
        "--mount".into(),
        format!(
            "type=bind,src={},dst=/out,options=rbind:rw",
            outdir.display()
        ),
        f.image.clone(),
        id,
    ]);
    // ctr sends the window size (ResizePty) only after Start: poll for it.
    let script = "'tty > /out/tty; for i in $(seq 1 200); do s=$(stty size 2>/dev/null); \
                  [ \"$s\" = \"45 123\" ] && break; sleep 0.05; done; echo $s > /out/size; exit 4'";
    args.extend(["sh".into(), "-c".into(), script.into()]);
    let out = f.ctr_in_pty(&args);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let tty = std::fs::read_to_string(outdir.join("tty")).unwrap_or_default();
    assert_eq!(
        tty.trim(),
        "/dev/pts/0",
        "no pty in container: {}",
        describe(&out)
    );
    let size = std::fs::read_to_string(outdir.join("size")).unwrap_or_default();
    assert_eq!(size.trim(), "45 123", "window size not passed to the pty");

    // Terminal output reaches the caller: a terminal exec that keeps
    // running until the test has seen its output.
    let id = unique_id("ttyout");
    f.run_detached(&id, &["sleep", "600"]);
    let typescript = f.ctd.dir().join("typescript");
    let line = format!(
        "stty cols 123 rows 45; ctr -a {} -n {} task exec -t --exec-id e {id} \
         sh -c 'echo ready-$((6*7)); sleep 600'",
        f.ctd.address().display(),
        f.ctd.namespace()
    );
    let mut script = Command::new("script")
        .args(["-q", "-e", "-f", "-c", &line])
        .arg(&typescript)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("script ctr task exec -t");
    let seen = (|| {
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            let t = std::fs::read_to_string(&typescript).unwrap_or_default();
            if t.contains("ready-42") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    })();
    let _ = f
        .ctd
        .ctr_output(["task", "kill", "--exec-id", "e", "-s", "SIGKILL", &id]);
    let status = script.wait().expect("script exits");
    assert!(
        seen,
        "terminal output never reached ctr: {:?}",
        std::fs::read_to_string(&typescript).unwrap_or_default()
    );
    assert_eq!(status.code(), Some(137), "killed terminal exec's exit code");
    f.kill_and_delete(&id);
}

/// Detached task: ps, exec (plain and -t), pause/resume, metrics, kill,
/// delete; then nothing is left.
pub fn detached_lifecycle(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("det");
    let pid = f.run_detached(&id, &["sleep", "600"]);
    // RUNNING is reported once the runtime's start returned; the exec of the
    // user's program follows at once.
    wait_for(&format!("pid {pid} to run sleep"), WAIT, || {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim() == "sleep")
            .unwrap_or(false)
    });
    let shim = f.shim_of(&id);
    // The shim is the subreaper parent of the container's init.
    let ppid = parent_of(pid);
    assert_eq!(ppid, shim.0, "init's parent is not the shim");

    let ps = f.ctd.ctr_ok(["task", "ps", &id]).expect("ctr task ps");
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().next() == Some(&pid.to_string())),
        "pid {pid} not in `ctr task ps`: {ps}"
    );

    // exec without a terminal: output and exit code.
    let exec = f
        .ctd
        .ctr_output([
            "task",
            "exec",
            "--exec-id",
            "e1",
            &id,
            "sh",
            "-c",
            "echo in-exec; exit 5",
        ])
        .unwrap();
    assert_eq!(text(&exec.stdout), "in-exec\n", "{}", describe(&exec));
    assert_eq!(exec.status.code(), Some(5), "{}", describe(&exec));

    // exec with a terminal. (Its name is checked through a file: script(1)
    // may lose the tail of a quickly exiting ctr's output on a loaded host.)
    let out = f.ctr_in_pty(&[
        "task".into(),
        "exec".into(),
        "-t".into(),
        "--exec-id".into(),
        "e2".into(),
        id.clone(),
        "sh".into(),
        "-c".into(),
        "'tty > /tmp/exec-tty; exit 6'".into(),
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let name = f
        .ctd
        .ctr_ok([
            "task",
            "exec",
            "--exec-id",
            "e2b",
            &id,
            "cat",
            "/tmp/exec-tty",
        ])
        .expect("read exec tty name");
    assert!(
        name.starts_with("/dev/pts/"),
        "exec -t has no pty: {name:?}"
    );

    // A long exec shows in ps with its exec id, and can be killed.
    let mut long = f.ctd.ctr();
    long.args(["task", "exec", "--exec-id", "e3", &id, "sleep", "500"]);
    let mut long = long.spawn().expect("spawn ctr exec");
    wait_for("exec e3 in ps", WAIT, || {
        f.ctd
            .ctr_ok(["task", "ps", &id])
            .map(|s| s.lines().any(|l| l.contains("e3")))
            .unwrap_or(false)
    });
    f.ctd
        .ctr_ok(["task", "kill", "--exec-id", "e3", "-s", "SIGKILL", &id])
        .expect("kill exec");
    let st = long.wait().expect("ctr exec exits");
    assert_eq!(st.code(), Some(137), "killed exec's exit code");

    // pause / resume: the freezer cgroup follows.
    f.ctd.ctr_ok(["task", "pause", &id]).expect("pause");
    f.ctd.wait_task_status(&id, "PAUSED", WAIT).expect("PAUSED");
    let frozen = std::fs::read_to_string(f.cgroup_dir("freezer", &id).join("freezer.state"))
        .unwrap_or_default();
    assert_eq!(frozen.trim(), "FROZEN", "freezer state after pause");
    f.ctd.ctr_ok(["task", "resume", &id]).expect("resume");
    f.ctd
        .wait_task_status(&id, "RUNNING", WAIT)
        .expect("RUNNING after resume");

    // metrics: containerd decodes the shim's cgroup v1 Metrics.
    let m = f.ctd.ctr_ok(["task", "metrics", &id]).expect("metrics");
    let pids_line = m
        .lines()
        .find(|l| l.starts_with("pids.current"))
        .unwrap_or_else(|| panic!("no pids.current in metrics:\n{m}"));
    let current: u64 = pids_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(current >= 1, "pids.current {current}");
    let mem_line = m
        .lines()
        .find(|l| l.starts_with("memory.usage_in_bytes"))
        .unwrap_or_else(|| panic!("no memory usage in metrics:\n{m}"));
    let usage: u64 = mem_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(usage > 0, "memory usage 0");

    // SIGTERM is ignored by a pid-1 sleep: still running; SIGKILL stops it.
    f.ctd.ctr_ok(["task", "kill", &id]).expect("kill TERM");
    assert!(alive(pid as i32), "pid 1 died of an ignored SIGTERM");
    f.kill_and_delete(&id);
    f.assert_gone(&id, pid, shim);
}

/// Kill containerd with SIGKILL while 5 containers run: they keep running;
/// a restarted containerd finds them RUNNING through their shims; they can
/// be killed and deleted.
pub fn containerd_restart(runtime: &Path) {
    struct Guard {
        f: Fixture,
        restarted: Option<Restarted>,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            if self.restarted.is_some() {
                // Clean up through the live (restarted) daemon first.
                if let Ok(tasks) = self.f.ctd.tasks() {
                    for t in tasks {
                        let _ = self
                            .f
                            .ctd
                            .ctr_output(["task", "kill", "-a", "-s", "SIGKILL", &t.id]);
                        let _ =
                            self.f
                                .ctd
                                .wait_task_status(&t.id, "STOPPED", Duration::from_secs(5));
                        let _ = self.f.ctd.ctr_output(["task", "delete", "-f", &t.id]);
                        let _ = self.f.ctd.ctr_output(["containers", "rm", &t.id]);
                    }
                }
            }
            if self.restarted.take().is_some() {
                // The fixture's own cleanup talks to the (now stopped) daemon
                // by ctr: leave a dead socket so those calls are refused at
                // once instead of waiting out ctr's dial timeout.
                let addr = self.f.ctd.address();
                if !addr.exists() {
                    let _ = std::os::unix::net::UnixListener::bind(addr);
                }
            }
        }
    }
    let mut g = Guard {
        f: setup(runtime),
        restarted: None,
    };
    let f = &g.f;
    let ids: Vec<String> = (0..5).map(|i| unique_id(&format!("r{i}"))).collect();
    let pids: Vec<u32> = ids
        .iter()
        .map(|id| f.run_detached(id, &["sleep", "600"]))
        .collect();
    let shims: Vec<(i32, PathBuf)> = ids.iter().map(|id| f.shim_of(id)).collect();
    let ctd_pid = f.ctd.pid().expect("containerd pid") as i32;
    // Only the containerd this test started.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ctd_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL containerd");
    wait_for("containerd to die", WAIT, || !alive(ctd_pid));
    for (i, pid) in pids.iter().enumerate() {
        assert!(
            alive(*pid as i32),
            "container {} died with containerd",
            ids[i]
        );
        assert!(alive(shims[i].0), "shim of {} died with containerd", ids[i]);
    }
    let restarted = Restarted::start(&f.ctd).expect("restart containerd");
    g.restarted = Some(restarted);
    let f = &g.f;
    for (i, id) in ids.iter().enumerate() {
        let t = f
            .ctd
            .wait_task_status(id, "RUNNING", WAIT)
            .expect("RUNNING after restart");
        assert_eq!(t.pid, pids[i], "pid of {id} changed");
    }
    // The shims still serve requests: exec into one.
    let out = f
        .ctd
        .ctr_output([
            "task",
            "exec",
            "--exec-id",
            "x",
            &ids[0],
            "echo",
            "still-here",
        ])
        .unwrap();
    assert_eq!(text(&out.stdout), "still-here\n", "{}", describe(&out));
    for (i, id) in ids.iter().enumerate() {
        f.kill_and_delete(id);
        f.assert_gone(id, pids[i], shims[i].clone());
    }
}

/// Kill a shim with SIGKILL: containerd cleans up through `shim delete`;
/// the task is no longer running and nothing is left.
pub fn shim_killed(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("sk");
    let pid = f.run_detached(&id, &["sleep", "600"]);
    let shim = f.shim_of(&id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.0),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL shim");
    // containerd 1.6 runs `containerd-shim-hull-v2 delete`, then drops the
    // task (or shows it STOPPED until deleted).
    wait_for("task to stop or vanish", WAIT, || {
        match f.ctd.task(&id).unwrap() {
            None => true,
            Some(t) => t.status == "STOPPED",
        }
    });
    if f.ctd.task(&id).unwrap().is_some() {
        let _ = f.ctd.ctr_output(["task", "delete", &id]);
    }
    f.ctd
        .ctr_ok(["containers", "rm", &id])
        .expect("ctr containers rm");
    f.assert_gone(&id, pid, shim);
}

/// Bad input through ctr: unknown exec id, kill of an exited task. The
/// errors are clear and the shim keeps serving.
pub fn bad_input_via_ctr(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("bad");
    let pid = f.run_detached(&id, &["sleep", "600"]);
    let shim = f.shim_of(&id);
    let out = f
        .ctd
        .ctr_output(["task", "kill", "--exec-id", "nope", &id])
        .unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("exec \"nope\" not found"),
        "unclear error: {}",
        describe(&out)
    );
    // Still serving.
    let t = f.ctd.task(&id).unwrap().expect("task listed");
    assert_eq!(t.status, "RUNNING");
    f.ctd
        .ctr_ok(["task", "kill", "-s", "SIGKILL", &id])
        .expect("kill");
    f.ctd
        .wait_task_status(&id, "STOPPED", WAIT)
        .expect("STOPPED");
    let again = f
        .ctd
        .ctr_output(["task", "kill", "-s", "SIGKILL", &id])
        .unwrap();
    assert!(!again.status.success(), "{}", describe(&again));
    assert!(
        text(&again.stderr).contains("process already finished"),
        "unclear error: {}",
        describe(&again)
    );
    let t = f.ctd.task(&id).unwrap().expect("task listed");
    assert_eq!(t.status, "STOPPED");
    let del = f.ctd.ctr_output(["task", "delete", &id]).unwrap();
    assert!(del.status.success(), "{}", describe(&del));
    f.ctd.ctr_ok(["containers", "rm", &id]).expect("rm");
    f.assert_gone(&id, pid, shim);
}

/// Resident memory of idle shims: ours beside containerd's runc shim, with
/// the same containerd and image. Returns (hull, runc) per-shim averages.
pub fn idle_rss(runtime: &Path, n: usize) -> (u64, u64) {
    let f = setup(runtime);
    let mut hull = Vec::new();
    for i in 0..n {
        let id = unique_id(&format!("m{i}"));
        let pid = f.run_detached(&id, &["sleep", "600"]);
        let shim = f.shim_of(&id).0;
        assert_eq!(parent_of(pid), shim);
        hull.push(shim);
    }
    let mut runc = Vec::new();
    for i in 0..n {
        let id = unique_id(&format!("c{i}"));
        let flags: Vec<OsString> = vec![
            "run".into(),
            "--runc-binary".into(),
            runtime.into(),
            "--runc-root".into(),
            f.ctd.runc_root().into(),
            "-d".into(),
            "--null-io".into(),
            f.image.clone().into(),
            id.clone().into(),
            "sleep".into(),
            "600".into(),
        ];
        f.ctd.ctr_ok(&flags).expect("ctr run runc shim");
        let t = f
            .ctd
            .wait_task_status(&id, "RUNNING", WAIT)
            .expect("RUNNING");
        // The shim is the (subreaper) parent of the task's init.
        runc.push(parent_of(t.pid));
    }
    // Let both settle after their last request.
    std::thread::sleep(Duration::from_millis(500));
    let avg = |pids: &[i32], name: &str| {
        let ms: Vec<_> = pids.iter().map(|p| mem_of(*p).unwrap()).collect();
        let rss = ms.iter().map(|m| m.rss_kib).sum::<u64>() / ms.len() as u64;
        let pss = ms.iter().map(|m| m.pss_kib).sum::<u64>() / ms.len() as u64;
        let anon = ms.iter().map(|m| m.anon_kib).sum::<u64>() / ms.len() as u64;
        let threads = pids
            .iter()
            .map(|p| {
                std::fs::read_dir(format!("/proc/{p}/task"))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum::<usize>()
            / pids.len();
        println!(
            "{name}: RSS {rss} KiB, PSS {pss} KiB, anon {anon} KiB, {threads} threads \
             (mean of {n} idle shims)"
        );
        rss
    };
    let h = avg(&hull, "containerd-shim-hull-v2");
    let r = avg(&runc, "containerd-shim-runc-v2");
    (h, r)
}

/// `ctr events` while a task goes through its life: the shim publishes
/// create, start, exec-added, exec-started, paused, resumed, exit, delete
/// (through containerd's publish binary), and oom when the memory limit
/// kills the process.
pub fn events_published(runtime: &Path) {
    /// The `ctr events` child, killed (our own child) on drop.
    struct Events(std::process::Child, PathBuf);
    impl Drop for Events {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    impl Events {
        fn text(&self) -> String {
            std::fs::read_to_string(&self.1).unwrap_or_default()
        }
        /// Wait for an event line with this topic naming `needle`.
        fn wait(&self, topic: &str, needle: &str) -> String {
            let mut found = String::new();
            let deadline = std::time::Instant::now() + WAIT;
            while found.is_empty() {
                if let Some(l) = self
                    .text()
                    .lines()
                    .find(|l| l.contains(&format!(" {topic} ")) && l.contains(needle))
                {
                    found = l.to_string();
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no {topic} event for {needle}; events so far:\n{}",
                    self.text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            found
        }
    }
    let f = setup(runtime);
    let path = f.ctd.dir().join("events.txt");
    let out = std::fs::File::create(&path).unwrap();
    let mut cmd = f.ctd.ctr();
    cmd.arg("events")
        .stdout(out)
        .stderr(std::process::Stdio::null());
    let ev = Events(cmd.spawn().expect("ctr events"), path);
    // ctr events subscribes asynchronously: wait until it sees a known event.
    let probe = unique_id("probe");
    wait_for("ctr events to subscribe", WAIT, || {
        let _ = f.ctd.ctr_output([
            "namespaces",
            "label",
            f.ctd.namespace(),
            &format!("probe={probe}"),
        ]);
        ev.text().contains(&probe)
    });

    let id = unique_id("ev");
    let pid = f.run_detached(&id, &["sleep", "600"]);
    let quoted = format!("\"{id}\"");
    ev.wait("/tasks/create", &quoted);
    let start = ev.wait("/tasks/start", &quoted);
    assert!(start.contains(&format!("\"pid\":{pid}")), "{start}");
    // containerd named its ttrpc socket in TTRPC_ADDRESS, and the shim
    // forwards its events over one connection to it (no publish binary).
    let (shim, _) = f.shim_of(&id);
    let ttrpc = format!("{}.ttrpc", f.ctd.address().display());
    let environ = std::fs::read(format!("/proc/{shim}/environ")).expect("shim environ");
    let want = format!("TTRPC_ADDRESS={ttrpc}");
    assert!(
        environ.split(|b| *b == 0).any(|v| v == want.as_bytes()),
        "no {want} in the shim's environment"
    );
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{shim}/fd"))
        .expect("shim fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let ss = Command::new("ss").arg("-xn").output().expect("ss -xn");
    let ss = text(&ss.stdout);
    // u_str ESTAB 0 0 <local path> <inode> <peer> <peer inode>
    let connected = ss.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 8 && f[4] == ttrpc && inodes.iter().any(|i| i == f[7])
    });
    assert!(connected, "shim {shim} not connected to {ttrpc}:\n{ss}");
    let exec = f
        .ctd
        .ctr_output(["task", "exec", "--exec-id", "x1", &id, "true"])
        .unwrap();
    assert_eq!(exec.status.code(), Some(0), "{}", describe(&exec));
    ev.wait("/tasks/exec-added", "\"x1\"");
    ev.wait("/tasks/exec-started", "\"x1\"");
    let exec_exit = ev.wait("/tasks/exit", "\"id\":\"x1\"");
    assert!(
        !exec_exit.contains("exit_status"),
        "true exits 0 (omitted in JSON): {exec_exit}"
    );
    f.ctd.ctr_ok(["task", "pause", &id]).expect("pause");
    ev.wait("/tasks/paused", &quoted);
    f.ctd.ctr_ok(["task", "resume", &id]).expect("resume");
    ev.wait("/tasks/resumed", &quoted);
    f.kill_and_delete(&id);
    let exit = ev.wait("/tasks/exit", &format!("\"id\":{quoted}"));
    assert!(exit.contains("\"exit_status\":137"), "{exit}");
    ev.wait("/tasks/delete", &quoted);

    // OOM: an 8 MiB limit and a process that eats memory.
    let oom = unique_id("oom");
    let mut cmd = f.ctd.ctr();
    cmd.args(f.run_flags())
        .args(["--rm", "--memory-limit", "8388608"])
        .arg(&f.image)
        .arg(&oom)
        .args(["sh", "-c", "tail /dev/zero"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("ctr run oom");
    assert_eq!(out.status.code(), Some(137), "{}", describe(&out));
    ev.wait("/tasks/oom", &format!("\"{oom}\""));
}

/// Threads of a process.
fn threads_of(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Exec'd processes come and go without leaving threads in the shim (its
/// stdin copier ends with the process even when no writer ever came).
pub fn no_thread_leak(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("leak");
    // With stdio fifos this time (no --null-io): ctr -d never writes stdin.
    let mut flags = f.run_flags();
    flags.extend(["-d".into(), f.image.clone().into(), id.clone().into()]);
    flags.extend(["sleep".into(), "600".into()]);
    f.ctd.ctr_ok(&flags).expect("ctr run -d");
    f.ctd
        .wait_task_status(&id, "RUNNING", WAIT)
        .expect("RUNNING");
    let (shim, _) = f.shim_of(&id);
    let exec_once = |n: usize| {
        let out = f
            .ctd
            .ctr_output(["task", "exec", "--exec-id", &format!("x{n}"), &id, "true"])
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    };
    exec_once(0);
    let base = threads_of(shim);
    for n in 1..=5 {
        exec_once(n);
    }
    // Detached execs: ctr leaves at once and never opens their stdin.
    for n in 6..=10 {
        f.ctd
            .ctr_ok([
                "task",
                "exec",
                "-d",
                "--exec-id",
                &format!("x{n}"),
                &id,
                "sleep",
                "0.2",
            ])
            .expect("ctr task exec -d");
    }
    wait_for("detached execs to finish", WAIT, || {
        f.ctd
            .ctr_ok(["task", "ps", &id])
            .map(|s| s.lines().count() <= 2)
            .unwrap_or(false)
    });
    wait_for(
        &format!("shim threads back to {base} (now {})", threads_of(shim)),
        WAIT,
        || threads_of(shim) <= base,
    );
    // Nor zombies: every child of the shim is alive and not defunct.
    let children: Vec<i32> = std::fs::read_to_string(format!("/proc/{shim}/task/{shim}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for c in children {
        assert!(alive(c), "zombie child {c} under the shim");
    }
    f.kill_and_delete(&id);
}

/// Many short execs, several at once: each one's exit reaches its Wait
/// with its own code, however the exit and the start of the exec interleave
/// in the shim (an exit reaped while the start was still recording the pid
/// used to be lost, and `ctr task exec` hung).
pub fn exec_burst(runtime: &Path) {
    const WORKERS: usize = 3;
    const EACH: usize = 8;
    const EXEC_TIMEOUT: Duration = Duration::from_secs(20);
    let f = setup(runtime);
    let id = unique_id("burst");
    f.run_detached(&id, &["sleep", "600"]);
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            let (f, id) = (&f, &id);
            s.spawn(move || {
                for n in 0..EACH {
                    let exec_id = format!("b{w}-{n}");
                    let code = (w * EACH + n) % 5;
                    let mut cmd = f.ctd.ctr();
                    cmd.args(["task", "exec", "--exec-id", &exec_id, id]);
                    if code == 0 {
                        cmd.arg("true");
                    } else {
                        cmd.args(["sh", "-c", &format!("exit {code}")]);
                    }
                    let out = output_with_timeout(&mut cmd, None, EXEC_TIMEOUT)
                        .unwrap_or_else(|e| panic!("exec {exec_id}: {e:?}"));
                    assert_eq!(
                        out.status.code(),
                        Some(code as i32),
                        "exec {exec_id}: {}",
                        describe(&out)
                    );
                }
            });
        }
    });
    wait_for("execs gone from task ps", WAIT, || {
        f.ctd
            .ctr_ok(["task", "ps", &id])
            .map(|s| s.lines().count() <= 2)
            .unwrap_or(false)
    });
    f.kill_and_delete(&id);
}

/// `--log-uri`: `file://` appends the process's stdout and stderr to a file;
/// `binary://` hands them to a logging program on fds 3 and 4.
pub fn log_uris(runtime: &Path) {
    let f = setup(runtime);
    // file://
    let log = f.ctd.dir().join("logs").join("c.log");
    let mut cmd = f.ctd.ctr();
    cmd.args(f.run_flags())
        .arg("--rm")
        .arg("--log-uri")
        .arg(format!("file://{}", log.display()))
        .arg(&f.image)
        .arg(unique_id("file"))
        .args(["sh", "-c", "echo to-out; echo to-err >&2; exit 2"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("ctr run file log");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let text = std::fs::read_to_string(&log).expect("log file");
    assert!(
        text.contains("to-out\n") && text.contains("to-err\n"),
        "file log: {text:?}"
    );

    // binary://: a shell logger that copies fd 3 and 4 into files named by
    // its `dir` argument, after signalling readiness by closing fd 5.
    let logger = f.ctd.dir().join("logger.sh");
    std::fs::write(
        &logger,
        "#!/bin/sh\n# args: dir DIR\nexec 5>&-\ncat <&3 >\"$2/out\" &\ncat <&4 >\"$2/err\" &\nwait\n",
    )
    .unwrap();
    std::fs::set_permissions(&logger, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dir = f.ctd.dir().join("binlog");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = f.ctd.ctr();
    cmd.args(f.run_flags())
        .arg("--rm")
        .arg("--log-uri")
        .arg(format!(
            "binary://{}?dir={}",
            logger.display(),
            dir.display()
        ))
        .arg(&f.image)
        .arg(unique_id("bin"))
        .args(["sh", "-c", "echo b-out; echo b-err >&2"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("ctr run binary log");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    wait_for("binary logger output", WAIT, || {
        std::fs::read_to_string(dir.join("out")).unwrap_or_default() == "b-out\n"
            && std::fs::read_to_string(dir.join("err")).unwrap_or_default() == "b-err\n"
    });
    // The logger ends with the container: its shell's `wait` sees both cats
    // exit (it would hang forever with a signal mask inherited from a shim
    // that blocks SIGCHLD).
    let path = logger.display().to_string();
    let logger_running = || {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .any(|c| String::from_utf8_lossy(&c).contains(path.as_str()))
    };
    wait_for("the logging binary to exit", WAIT, || !logger_running());
}
