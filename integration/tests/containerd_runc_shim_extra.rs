//! More of containerd's runc shim driving the runtime under test
//! (`ctr … --runc-binary`), for the Task API paths containerd_runc_shim.rs
//! does not cover: exec with a tty, a detached exec seen by `ctr task ps`
//! and `ctr task metrics` and reached by `ctr task kill --all`, pause /
//! resume around an exec'd process, and an OOM kill under
//! `ctr run --memory-limit` that containerd reports (exit 137 and a
//! /tasks/oom event).
//!
//! Runtime: `HULL_RUNTIME` (e.g. /usr/sbin/runc) or the built hullc.
//! Needs root. Each test starts its own containerd (own root, state, socket,
//! namespace, runc root, fifo dir) and tears it down on drop.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hull_integration::containerd::{output_with_timeout, Containerd, CTR_TIMEOUT};
use hull_integration::{is_root, runtime_bin, unique_id};

const WAIT: Duration = Duration::from_secs(20);

struct Fixture {
    ctd: Containerd,
    image: String,
}

fn setup() -> Fixture {
    assert!(is_root(), "containerd integration tests need root");
    let rt = runtime_bin();
    assert!(
        rt.exists(),
        "runtime binary {} does not exist (build hullc or set HULL_RUNTIME)",
        rt.display()
    );
    let ctd = Containerd::start().expect("start private containerd");
    let image = ctd.import_busybox().expect("import busybox image");
    Fixture { ctd, image }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(o: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {:?}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    )
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry: look at its state.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
                .unwrap_or(true)
        })
        .unwrap_or(false)
}

impl Fixture {
    /// `ctr run` flags routing through containerd's runc shim to the
    /// runtime under test, with private state and fifo dirs.
    fn run_flags(&self) -> Vec<OsString> {
        vec![
            "run".into(),
            "--runc-binary".into(),
            runtime_bin().into(),
            "--runc-root".into(),
            self.ctd.runc_root().into(),
            "--fifo-dir".into(),
            self.ctd.fifo_dir().into(),
        ]
    }

    /// `ctr run -d --null-io IMAGE ID ARGS…`; the RUNNING task's pid.
    fn run_detached(&self, id: &str, args: &[&str]) -> u32 {
        let pid = self
            .ctd
            .run_detached(&self.run_flags(), &self.image, id, args, WAIT)
            .expect("ctr run -d, task RUNNING");
        assert!(pid > 0, "RUNNING task has no pid");
        pid
    }

    /// Pids `ctr task ps` lists for the task.
    fn ps(&self, id: &str) -> Vec<u32> {
        let out = self.ctd.ctr_ok(["task", "ps", id]).expect("ctr task ps");
        out.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    /// `ctr task metrics ID` as text.
    fn metrics(&self, id: &str) -> String {
        self.ctd
            .ctr_ok(["task", "metrics", id])
            .expect("ctr task metrics")
    }

    /// Kill, wait STOPPED, delete task and container.
    fn remove(&self, id: &str) {
        let _ = self
            .ctd
            .ctr_output(["task", "kill", "-a", "-s", "SIGKILL", id]);
        let _ = self.ctd.wait_task_status(id, "STOPPED", WAIT);
        let del = self.ctd.ctr_output(["task", "delete", id]).unwrap();
        assert!(del.status.success(), "ctr task delete: {}", describe(&del));
        self.ctd
            .ctr_ok(["containers", "rm", id])
            .expect("ctr containers rm");
    }

    /// A `ctr` command line (as one shell string) for script(1).
    fn ctr_line(&self, args: &[String]) -> String {
        let mut v: Vec<String> = vec![
            "ctr".into(),
            "-a".into(),
            self.ctd.address().display().to_string(),
            "-n".into(),
            self.ctd.namespace().to_string(),
        ];
        v.extend(args.iter().cloned());
        v.join(" ")
    }
}

/// The value of a `ctr task metrics` row such as `pids.current`.
fn metric(m: &str, key: &str) -> Option<u64> {
    m.lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[test]
fn exec_with_tty() {
    let f = setup();
    let id = unique_id("xtty");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    // `ctr task exec -t` needs a controlling terminal: run it under script(1).
    let line = f.ctr_line(&[
        "task".into(),
        "exec".into(),
        "-t".into(),
        "--exec-id".into(),
        "tty1".into(),
        "--fifo-dir".into(),
        f.ctd.fifo_dir().display().to_string(),
        id.clone(),
        "sh".into(),
        "-c".into(),
        "'tty; [ -t 0 ] && [ -t 1 ] && echo both-ttys; stty size; exit 6'".into(),
    ]);
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("script ctr task exec -t");
    let s = text(&out.stdout);
    assert!(
        s.contains("/dev/pts/"),
        "exec -t has no pty: {}",
        describe(&out)
    );
    assert!(s.contains("both-ttys"), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    // The task itself is unaffected, and the exec'd process is gone.
    let t = f.ctd.task(&id).unwrap().expect("task still listed");
    assert_eq!(t.status, "RUNNING");
    assert_eq!(f.ps(&id), vec![pid], "only the init remains");
    f.remove(&id);
}

#[test]
fn detached_exec_in_ps_metrics_and_kill_all() {
    let f = setup();
    let id = unique_id("xall");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    let mut cmd = f.ctd.ctr();
    cmd.args(["task", "exec", "-d", "--exec-id", "bg", "--fifo-dir"])
        .arg(f.ctd.fifo_dir())
        .args([&id, "sleep", "301"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
    assert!(out.status.success(), "exec -d: {}", describe(&out));
    // `ctr task ps` (the runtime's `ps`) lists init and the exec'd sleep.
    let mut pids = Vec::new();
    wait_until("exec'd process in ctr task ps", || {
        pids = f.ps(&id);
        pids.len() == 2
    });
    assert!(pids.contains(&pid), "init {pid} missing from {pids:?}");
    let exec_pid = *pids.iter().find(|p| **p != pid).unwrap();
    let cmdline = fs::read_to_string(format!("/proc/{exec_pid}/cmdline")).unwrap_or_default();
    assert!(
        cmdline.contains("301"),
        "pid {exec_pid} is not the exec'd sleep: {cmdline:?}"
    );
    // Metrics read the task's cgroup: both processes are counted.
    let m = f.metrics(&id);
    assert_eq!(metric(&m, "pids.current"), Some(2), "metrics:\n{m}");
    assert!(
        metric(&m, "memory.usage_in_bytes").unwrap_or(0) > 0,
        "metrics:\n{m}"
    );
    // kill --all reaches the exec'd process as well as init. runc's
    // `kill --all` may find init already dead once the cgroup's processes
    // got the signal and then answer "process already finished": that is
    // runc's race, not a failure to kill.
    let out = f
        .ctd
        .ctr_output(["task", "kill", "-a", "-s", "SIGKILL", &id])
        .unwrap();
    assert!(
        out.status.success() || text(&out.stderr).contains("process already finished"),
        "ctr task kill -a: {}",
        describe(&out)
    );
    f.ctd
        .wait_task_status(&id, "STOPPED", WAIT)
        .expect("STOPPED after kill -a");
    wait_until("both processes gone", || !alive(pid) && !alive(exec_pid));
    let del = f.ctd.ctr_output(["task", "delete", &id]).unwrap();
    assert!(del.status.success(), "{}", describe(&del));
    f.ctd.ctr_ok(["containers", "rm", &id]).unwrap();
}

#[test]
fn pause_freezes_exec_processes_too() {
    let f = setup();
    let id = unique_id("xpause");
    let pid = f.run_detached(&id, &["sleep", "300"]);
    let mut cmd = f.ctd.ctr();
    cmd.args(["task", "exec", "-d", "--exec-id", "bg", "--fifo-dir"])
        .arg(f.ctd.fifo_dir())
        .args([&id, "sleep", "302"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
    assert!(out.status.success(), "exec -d: {}", describe(&out));
    let mut pids = Vec::new();
    wait_until("exec'd process listed", || {
        pids = f.ps(&id);
        pids.len() == 2
    });
    f.ctd.ctr_ok(["task", "pause", &id]).expect("pause");
    f.ctd.wait_task_status(&id, "PAUSED", WAIT).expect("PAUSED");
    // Every process of the task, the exec'd one included, sits in the
    // task's freezer cgroup, which is FROZEN.
    let freezer = Path::new("/sys/fs/cgroup/freezer")
        .join(f.ctd.namespace())
        .join(&id);
    assert_eq!(
        fs::read_to_string(freezer.join("freezer.state"))
            .unwrap_or_default()
            .trim(),
        "FROZEN"
    );
    let procs = fs::read_to_string(freezer.join("cgroup.procs")).unwrap_or_default();
    for p in &pids {
        assert!(
            procs.lines().any(|l| l.trim() == p.to_string()),
            "pid {p} not in the frozen cgroup: {procs:?}"
        );
    }
    f.ctd.ctr_ok(["task", "resume", &id]).expect("resume");
    f.ctd
        .wait_task_status(&id, "RUNNING", WAIT)
        .expect("RUNNING after resume");
    assert!(alive(pid), "init died across pause/resume");
    f.remove(&id);
}

/// `ctr events` for this containerd, written to a file; killed on drop.
struct Events {
    child: Child,
    path: PathBuf,
}

impl Events {
    fn start(f: &Fixture) -> Events {
        let path = f.ctd.dir().join(format!("events-{}.txt", unique_id("ev")));
        let file = fs::File::create(&path).expect("events file");
        let mut cmd = Command::new("ctr");
        cmd.arg("-a")
            .arg(f.ctd.address())
            .arg("events")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn ctr events");
        Events { child, path }
    }

    fn text(&self) -> String {
        fs::read_to_string(&self.path).unwrap_or_default()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // Our own child only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn oom_kill_under_memory_limit_is_reported() {
    let f = setup();
    let events = Events::start(&f);
    // Make sure the event stream is subscribed before the container runs:
    // a throwaway container's start event must show up first.
    let probe = unique_id("probe");
    f.run_detached(&probe, &["sleep", "300"]);
    wait_until("ctr events to see the probe", || {
        events.text().contains("/tasks/start")
    });
    f.remove(&probe);

    // The shim starts watching the memory cgroup for OOM only after the
    // task started (its /tasks/start event follows): the container waits
    // for a trigger file until then, then eats memory.
    let id = unique_id("oom");
    let trig = f.ctd.dir().join(format!("trig-{id}"));
    fs::create_dir_all(&trig).unwrap();
    let mut flags = f.run_flags();
    flags.extend(
        [
            "-d".to_string(),
            "--null-io".into(),
            "--memory-limit".into(),
            "16777216".into(),
            "--mount".into(),
            format!(
                "type=bind,src={},dst=/trig,options=rbind:rw",
                trig.display()
            ),
            f.image.clone(),
            id.clone(),
            "sh".into(),
            "-c".into(),
            "while [ ! -e /trig/go ]; do sleep 0.05; done; exec tail /dev/zero".into(),
        ]
        .map(OsString::from),
    );
    f.ctd.ctr_ok(&flags).expect("ctr run -d --memory-limit");
    wait_until("the task's /tasks/start event", || {
        events
            .text()
            .lines()
            .any(|l| l.contains("/tasks/start") && l.contains(&id))
    });
    fs::write(trig.join("go"), "").unwrap();
    wait_until("a /tasks/oom event for the container", || {
        events
            .text()
            .lines()
            .any(|l| l.contains("/tasks/oom") && l.contains(&id))
    });
    // SIGKILL from the OOM killer: exit status 128 + 9.
    wait_until("the task's exit event with status 137", || {
        events.text().lines().any(|l| {
            l.contains("/tasks/exit") && l.contains(&id) && l.contains("\"exit_status\":137")
        })
    });
    f.ctd
        .wait_task_status(&id, "STOPPED", WAIT)
        .expect("STOPPED after the OOM kill");
    let del = f.ctd.ctr_output(["task", "delete", &id]).unwrap();
    assert!(del.status.success(), "{}", describe(&del));
    f.ctd.ctr_ok(["containers", "rm", &id]).unwrap();
}
