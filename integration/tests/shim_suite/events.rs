//! The events the shim publishes to containerd.

use super::*;

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
