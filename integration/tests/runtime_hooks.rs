//! OCI hooks: order across create/start/delete, the state JSON on stdin,
//! and hook timeouts.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{describe, require_root, wait_until, Runtime};
use serde_json::{json, Value};

/// A hook run by the host's /bin/sh.
fn host_hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

fn log_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn hooks_run_in_lifecycle_order() {
    require_root();
    let mut b = Bundle::new("hookorder", &["/bin/sleep", "1000"]);
    let m = b.host_dir("m");
    let log = m.join("log");
    let hl = log.display().to_string();
    b.add_bind(&m, "/m", false);
    b.add_hook("prestart", host_hook(&format!("echo prestart >> {hl}")));
    b.add_hook(
        "createRuntime",
        host_hook(&format!("echo createRuntime >> {hl}")),
    );
    // Runs in the container's namespaces; its path resolves in the runtime's:
    // accept either view of the marker file.
    b.add_hook(
        "createContainer",
        host_hook(&format!(
            "echo createContainer >> {hl} 2>/dev/null || echo createContainer >> /m/log"
        )),
    );
    // Path resolves in the container: this is the rootfs's busybox sh.
    b.add_hook(
        "startContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", "echo startContainer >> /m/log"]}),
    );
    // poststart has its own test (runc runs it too early).
    b.add_hook("poststop", host_hook(&format!("echo poststop >> {hl}")));
    b.write().unwrap();

    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    assert_eq!(
        log_lines(&log),
        ["prestart", "createRuntime", "createContainer"],
        "after create"
    );
    rt.start_ok(id);
    let want = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ];
    assert_eq!(log_lines(&log), want, "after start");
    assert!(rt.kill(id, "KILL").status.success());
    rt.expect_status(id, "stopped");
    assert_eq!(log_lines(&log), want, "poststop ran before delete");
    let o = rt.delete(id);
    assert!(o.status.success(), "delete: {}", describe(&o));
    assert_eq!(
        log_lines(&log).last().map(String::as_str),
        Some("poststop"),
        "{:?}",
        log_lines(&log)
    );
    assert_eq!(log_lines(&log).len(), 5);
    rt.assert_nothing_left(id, &b);
}

#[test]
fn hooks_receive_the_state_on_stdin() {
    require_root();
    let mut b = Bundle::new("hookstdin", &["/bin/sleep", "1000"]);
    let m = b.host_dir("m");
    for kind in ["prestart", "createRuntime", "poststop"] {
        b.add_hook(
            kind,
            host_hook(&format!("cat > {}/{kind}.json", m.display())),
        );
    }
    b.config_mut()["annotations"] = json!({"hook.test": "a1"});
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    let pid = rt.pid(id);
    rt.start_ok(id);
    let read = |kind: &str| -> Value {
        let p = m.join(format!("{kind}.json"));
        assert!(
            wait_until(Duration::from_secs(10), || p.exists()),
            "{kind} hook never ran"
        );
        let text = fs::read_to_string(&p).unwrap();
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{kind} stdin is not JSON ({e}): {text:?}"))
    };
    for kind in ["prestart", "createRuntime"] {
        let st = read(kind);
        assert_eq!(st["id"], id, "{kind}: {st}");
        assert_eq!(st["pid"].as_i64(), Some(pid as i64), "{kind}: {st}");
        assert!(st["ociVersion"].is_string(), "{kind}: {st}");
        assert_eq!(
            fs::canonicalize(st["bundle"].as_str().unwrap_or("")).ok(),
            fs::canonicalize(b.dir()).ok(),
            "{kind}: {st}"
        );
        assert_eq!(st["annotations"]["hook.test"], "a1", "{kind}: {st}");
    }
    assert_eq!(read("createRuntime")["status"], "creating");
    assert!(rt.kill(id, "KILL").status.success());
    rt.expect_status(id, "stopped");
    assert!(rt.delete(id).status.success());
    let st = read("poststop");
    assert_eq!(st["id"], id, "poststop: {st}");
    assert_eq!(st["status"], "stopped", "poststop: {st}");
}

/// OCI: poststart hooks run after the user process is started, before
/// `start` returns, and get the `running` state. runc 1.1.5 fails this: it
/// runs poststart during `create` (status "created").
#[test]
fn poststart_runs_during_start_with_running_state() {
    require_root();
    let mut b = Bundle::sh("poststart", "echo process-ran > /m/ran; exec sleep 1000");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.add_hook(
        "poststart",
        host_hook(&format!("cat > {}/poststart.json", m.display())),
    );
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    assert!(
        !m.join("poststart.json").exists(),
        "poststart ran during create"
    );
    let pid = rt.pid(id);
    rt.start_ok(id);
    let text = fs::read_to_string(m.join("poststart.json"))
        .expect("poststart must have run when start returns");
    let st: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("poststart stdin not JSON ({e}): {text:?}"));
    assert_eq!(st["id"], id, "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64), "{st}");
    assert_eq!(st["status"], "running", "{st}");
}

#[test]
fn hook_timeout_fails_create_and_leaves_nothing() {
    require_root();
    let mut b = Bundle::new("hooktimeout", &["/bin/sleep", "1000"]);
    b.add_hook(
        "prestart",
        json!({"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}),
    );
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    let t = Instant::now();
    let o = rt.create(id, &b);
    let took = t.elapsed();
    assert!(
        !o.status.success(),
        "create with a timed-out hook must fail: {}",
        describe(&o)
    );
    assert!(
        took < Duration::from_secs(15),
        "the hook timeout was not enforced ({took:?})"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .to_lowercase()
            .contains("timeout")
            || String::from_utf8_lossy(&o.stderr)
                .to_lowercase()
                .contains("timed out"),
        "error must say the hook timed out: {}",
        describe(&o)
    );
    rt.assert_nothing_left(id, &b);
}

#[test]
fn failing_hook_fails_create_and_leaves_nothing() {
    require_root();
    let mut b = Bundle::new("hookfail", &["/bin/sleep", "1000"]);
    b.add_hook("createRuntime", host_hook("exit 7"));
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    let o = rt.create(id, &b);
    assert!(
        !o.status.success(),
        "create with a failing hook must fail: {}",
        describe(&o)
    );
    rt.assert_nothing_left(id, &b);
}
