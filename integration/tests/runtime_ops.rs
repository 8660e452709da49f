//! Operations the shim relies on besides the lifecycle (the runc CLI
//! contract in ARCHITECTURE.md): exec, ps, pause/resume, update, events --stats.

use std::fs;
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{
    describe, read_trim, require_root, stdout_of, wait_until, Runtime,
};
use serde_json::json;

/// A running container sleeping as pid 1.
fn running(tag: &str) -> (Bundle, Runtime) {
    let b = Bundle::new(tag, &["/bin/sleep", "1000"]);
    let rt = Runtime::new();
    rt.create_ok(b.id(), &b);
    rt.start_ok(b.id());
    rt.expect_status(b.id(), "running");
    (b, rt)
}

#[test]
fn exec_runs_inside_the_container_and_passes_the_exit_code() {
    require_root();
    let (b, rt) = running("exec");
    let id = b.id();
    let o = rt.run(&[
        "exec",
        id,
        "/bin/sh",
        "-c",
        "echo $$; hostname; readlink /proc/1/exe; exit 5",
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", describe(&o));
    let out = stdout_of(&o);
    let l: Vec<&str> = out.lines().collect();
    assert!(l.len() == 3, "{out}");
    assert_ne!(l[0], "1", "exec'd process must not be pid 1");
    assert!(
        l[0].parse::<u32>().is_ok_and(|p| p < 100),
        "exec'd process is not in the container's pid ns: {out}"
    );
    assert_eq!(l[1], "hull", "not in the container's uts ns: {out}");
    assert_eq!(
        l[2], "/bin/busybox",
        "pid 1 seen by exec is not the container init: {out}"
    );
}

#[test]
fn exec_with_process_json() {
    require_root();
    let (b, rt) = running("execproc");
    let id = b.id();
    let p = b.dir().join("process.json");
    let mut proc_json = b.config()["process"].clone();
    proc_json["args"] = json!(["/bin/sh", "-c", "echo $FOO; pwd; id -u"]);
    proc_json["env"] = json!(["PATH=/bin", "FOO=from-process-json"]);
    proc_json["cwd"] = json!("/tmp");
    proc_json["user"] = json!({"uid": 1000, "gid": 1000});
    fs::write(&p, serde_json::to_string(&proc_json).unwrap()).unwrap();
    let o = rt.run(&["exec", "--process", &p.to_string_lossy(), id]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(stdout_of(&o), "from-process-json\n/tmp\n1000\n");
}

#[test]
fn exec_refused_for_a_stopped_container() {
    require_root();
    let (b, rt) = running("execstopped");
    let id = b.id();
    assert!(rt.kill(id, "KILL").status.success());
    rt.expect_status(id, "stopped");
    let o = rt.run(&["exec", id, "/bin/true"]);
    assert!(
        !o.status.success(),
        "exec into a stopped container must fail: {}",
        describe(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("stopped") || err.contains(id),
        "the error must say why: {}",
        describe(&o)
    );
}

#[test]
fn ps_lists_the_container_processes() {
    require_root();
    let (b, rt) = running("ps");
    let id = b.id();
    let pid = rt.pid(id);
    let o = rt.run(&["ps", "--format", "json", id]);
    assert!(o.status.success(), "{}", describe(&o));
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("ps json ({e}): {}", describe(&o)));
    assert_eq!(pids, vec![pid as i64], "ps must list exactly the init");
}

#[test]
fn pause_and_resume_freeze_the_container() {
    require_root();
    let mut b = Bundle::sh(
        "pause",
        "while true; do date +%s%N > /m/tick; sleep 0.02; done",
    );
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    rt.start_ok(id);
    let tick = || fs::read_to_string(m.join("tick")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || !tick().is_empty()),
        "container never ticked"
    );
    let o = rt.run(&["pause", id]);
    assert!(o.status.success(), "pause: {}", describe(&o));
    assert_eq!(rt.status(id).as_deref(), Some("paused"));
    let freezer = b.cgroup_dir("freezer").join("freezer.state");
    if freezer.exists() {
        assert_eq!(read_trim(&freezer), "FROZEN");
    }
    // Frozen: the tick stops changing (every process is in the refrigerator).
    let pid = rt.pid(id);
    let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let state = st.lines().find(|l| l.starts_with("State:")).unwrap_or("");
    assert!(
        state.contains('D') || state.contains('S') || state.contains('T'),
        "{state}"
    );
    let frozen_tick = tick();
    let o = rt.run(&["resume", id]);
    assert!(o.status.success(), "resume: {}", describe(&o));
    assert_eq!(rt.status(id).as_deref(), Some("running"));
    assert!(
        wait_until(Duration::from_secs(10), || tick() != frozen_tick),
        "no progress after resume"
    );
}

#[test]
fn update_changes_cgroup_limits() {
    require_root();
    let (b, rt) = running("update");
    let id = b.id();
    let o = rt.run(&["update", "--memory", "100663296", "--pids-limit", "42", id]);
    assert!(o.status.success(), "update: {}", describe(&o));
    assert_eq!(
        read_trim(&b.cgroup_dir("memory").join("memory.limit_in_bytes")),
        "100663296"
    );
    assert_eq!(read_trim(&b.cgroup_dir("pids").join("pids.max")), "42");
    let r = b.dir().join("resources.json");
    fs::write(&r, r#"{"cpu": {"shares": 256}}"#).unwrap();
    let o = rt.run(&["update", "--resources", &r.to_string_lossy(), id]);
    assert!(o.status.success(), "update --resources: {}", describe(&o));
    assert_eq!(read_trim(&b.cgroup_dir("cpu").join("cpu.shares")), "256");
}

#[test]
fn events_stats_reports_cgroup_metrics() {
    require_root();
    let (b, rt) = running("events");
    let id = b.id();
    let o = rt.run(&["events", "--stats", id]);
    assert!(o.status.success(), "events --stats: {}", describe(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&o)));
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], id, "{v}");
    assert!(
        v["data"]["pids"]["current"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "pids.current: {v}"
    );
    assert!(
        v["data"]["memory"]["usage"]["usage"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "memory usage: {v}"
    );
}
