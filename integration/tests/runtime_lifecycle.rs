//! Lifecycle and state machine of the runtime CLI (create/start/state/kill/
//! delete/run/list/spec), checked with real containers.
//!
//! Run against runc: `HULL_RUNTIME=/usr/sbin/runc cargo nextest run -p hull-integration --test runtime_lifecycle`

use std::fs;
use std::path::Path;
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{
    describe, require_root, stderr_of, stdout_of, wait_until, Runtime,
};
use serde_json::json;

const LONG: Duration = Duration::from_secs(10);

/// A bundle whose process sleeps (as pid 1) until killed.
fn sleeper(tag: &str) -> Bundle {
    Bundle::new(tag, &["/bin/sleep", "1000"])
}

fn proc_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn state_machine_created_running_stopped_deleted() {
    require_root();
    let b = sleeper("sm");
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);

    let st = rt.state_json(id);
    assert_eq!(st["status"], "created", "after create: {st}");
    let pid = st["pid"].as_i64().expect("pid in state") as i32;
    assert!(
        pid > 0 && proc_alive(pid),
        "init pid {pid} of a created container must be alive"
    );

    rt.start_ok(id);
    rt.expect_status(id, "running");
    assert_eq!(rt.pid(id), pid, "pid must not change across start");

    let k = rt.kill(id, "KILL");
    assert!(k.status.success(), "kill: {}", describe(&k));
    rt.expect_status(id, "stopped");
    assert!(
        wait_until(LONG, || !proc_alive(pid)),
        "init {pid} still alive after stop"
    );

    let d = rt.delete(id);
    assert!(
        d.status.success(),
        "delete of a stopped container: {}",
        describe(&d)
    );
    let s = rt.state(id);
    assert!(
        !s.status.success(),
        "state after delete must fail: {}",
        describe(&s)
    );
    rt.assert_nothing_left(id, &b);
}

#[test]
fn process_does_not_run_before_start() {
    require_root();
    let mut b = Bundle::sh("nostart", "echo ran > /m/marker; exec sleep 1000");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    rt.expect_status(id, "created");
    let pid = rt.pid(id);
    // The init must be parked inside the runtime, not in the user's program.
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !cmdline.contains("echo ran"),
        "user process already exec'd before start: {cmdline:?}"
    );
    assert!(!m.join("marker").exists(), "marker written before start");
    // Still not run after the state query round trip.
    assert_eq!(rt.state_json(id)["status"], "created");
    assert!(!m.join("marker").exists(), "marker written before start");

    rt.start_ok(id);
    // The file appears (O_CREAT) before echo writes to it: wait for the content.
    assert!(
        wait_until(LONG, || fs::read_to_string(m.join("marker"))
            .is_ok_and(|t| t == "ran\n")),
        "process did not run after start: marker {:?}",
        fs::read_to_string(m.join("marker"))
    );
}

#[test]
fn start_refused_unless_created() {
    require_root();
    let b = sleeper("startref");
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    rt.start_ok(id);
    rt.expect_status(id, "running");
    let o = rt.start(id);
    assert!(
        !o.status.success(),
        "start of a running container must fail: {}",
        describe(&o)
    );
    assert_eq!(
        rt.status(id).as_deref(),
        Some("running"),
        "refused start changed the state"
    );

    assert!(rt.kill(id, "KILL").status.success());
    rt.expect_status(id, "stopped");
    let o = rt.start(id);
    assert!(
        !o.status.success(),
        "start of a stopped container must fail: {}",
        describe(&o)
    );
    assert_eq!(rt.status(id).as_deref(), Some("stopped"));
}

#[test]
fn delete_refused_while_running_without_force() {
    require_root();
    let b = sleeper("delrun");
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    rt.start_ok(id);
    rt.expect_status(id, "running");
    let pid = rt.pid(id);
    let o = rt.delete(id);
    assert!(
        !o.status.success(),
        "delete of a running container must fail: {}",
        describe(&o)
    );
    assert_eq!(
        rt.status(id).as_deref(),
        Some("running"),
        "refused delete changed the container"
    );
    assert!(proc_alive(pid), "refused delete killed the init");

    let o = rt.delete_force(id);
    assert!(o.status.success(), "delete --force: {}", describe(&o));
    assert!(
        wait_until(LONG, || !proc_alive(pid)),
        "delete --force left the init running"
    );
    rt.assert_nothing_left(id, &b);
}

/// The OCI spec: deleting a container that is not stopped must have no
/// effect and must fail. runc 1.1.5 fails this test: it kills and deletes a
/// `created` container without --force.
#[test]
fn delete_refused_while_created_without_force() {
    require_root();
    let b = sleeper("delcreated");
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    let o = rt.delete(id);
    assert!(
        !o.status.success(),
        "delete of a created container without --force must fail: {}",
        describe(&o)
    );
    assert_eq!(rt.status(id).as_deref(), Some("created"));
    let o = rt.delete_force(id);
    assert!(
        o.status.success(),
        "delete --force of a created container: {}",
        describe(&o)
    );
    rt.assert_nothing_left(id, &b);
}

#[test]
fn state_json_has_oci_fields() {
    require_root();
    let mut b = sleeper("statejson");
    b.config_mut()["annotations"] = json!({ "org.hull.test": "yes", "x": "1" });
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    let st = rt.state_json(id);
    assert!(
        st["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "ociVersion: {st}"
    );
    assert_eq!(st["id"], id, "{st}");
    assert_eq!(st["status"], "created", "{st}");
    assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "pid: {st}");
    let bundle = st["bundle"].as_str().expect("bundle field");
    assert_eq!(
        fs::canonicalize(bundle).unwrap(),
        fs::canonicalize(b.dir()).unwrap(),
        "bundle must be the bundle's absolute path: {st}"
    );
    assert!(
        Path::new(bundle).is_absolute(),
        "bundle path must be absolute: {st}"
    );
    assert_eq!(
        st["annotations"]["org.hull.test"], "yes",
        "annotations: {st}"
    );
    assert_eq!(st["annotations"]["x"], "1", "annotations: {st}");
}

#[test]
fn list_json_shows_each_container_with_its_status() {
    require_root();
    let b1 = sleeper("list1");
    let b2 = sleeper("list2");
    let rt = Runtime::new();
    let empty = rt.list_json();
    assert!(
        empty.is_null() || empty.as_array().is_some_and(|a| a.is_empty()),
        "fresh root lists nothing: {empty}"
    );
    rt.create_ok(b1.id(), &b1);
    rt.create_ok(b2.id(), &b2);
    rt.start_ok(b2.id());
    rt.expect_status(b2.id(), "running");
    let list = rt.list_json();
    let arr = list
        .as_array()
        .unwrap_or_else(|| panic!("list is not an array: {list}"));
    assert_eq!(arr.len(), 2, "{list}");
    for (b, status) in [(&b1, "created"), (&b2, "running")] {
        let e = arr
            .iter()
            .find(|e| e["id"] == b.id())
            .unwrap_or_else(|| panic!("{} missing from list: {list}", b.id()));
        assert_eq!(e["status"], status, "{e}");
        assert!(e["pid"].as_i64().is_some_and(|p| p > 0), "{e}");
        assert_eq!(
            fs::canonicalize(e["bundle"].as_str().unwrap_or("")).ok(),
            fs::canonicalize(b.dir()).ok(),
            "{e}"
        );
    }
}

#[test]
fn run_foreground_passes_exit_code_and_output() {
    require_root();
    let b = Bundle::sh("exit42", "echo hello-out; echo hello-err >&2; exit 42");
    let rt = Runtime::new();
    let o = rt.run_container(b.id(), &b, &[]);
    assert_eq!(o.status.code(), Some(42), "{}", describe(&o));
    assert_eq!(stdout_of(&o).trim(), "hello-out");
    // The runtime adds nothing of its own to a successful container's streams.
    assert_eq!(stderr_of(&o), "hello-err\n", "{}", describe(&o));
    // Foreground run deletes the container when it exits.
    rt.assert_nothing_left(b.id(), &b);
}

#[test]
fn run_foreground_exit_code_is_128_plus_signal() {
    require_root();
    let b = sleeper("exit137");
    let rt = Runtime::new();
    let id = b.id();
    let o = std::thread::scope(|s| {
        let runner = s.spawn(|| rt.run_container(id, &b, &[]));
        let running = rt.wait_status(id, "running", LONG);
        let k = rt.kill(id, "KILL");
        let o = runner.join().expect("runner thread");
        assert!(running, "container never ran: {}", describe(&o));
        assert!(k.status.success(), "kill: {}", describe(&k));
        o
    });
    assert_eq!(o.status.code(), Some(128 + 9), "{}", describe(&o));
    rt.assert_nothing_left(id, &b);
}

#[test]
fn run_detached_returns_while_container_runs() {
    require_root();
    let b = sleeper("rund");
    let rt = Runtime::new();
    let id = b.id();
    let o = rt.run_detached(id, &b);
    assert!(o.status.success(), "run -d: {}", describe(&o));
    assert_eq!(rt.status(id).as_deref(), Some("running"));
    let pid = rt.pid(id);
    assert!(proc_alive(pid));
    assert!(rt.kill(id, "KILL").status.success());
    rt.expect_status(id, "stopped");
    assert!(rt.delete(id).status.success());
    rt.assert_nothing_left(id, &b);
}

#[test]
fn kill_accepts_kill_sigkill_and_9() {
    require_root();
    let rt = Runtime::new();
    let bundles: Vec<Bundle> = ["k-name", "k-sig", "k-num"]
        .iter()
        .map(|t| sleeper(t))
        .collect();
    for b in &bundles {
        rt.create_ok(b.id(), b);
        rt.start_ok(b.id());
    }
    for (b, sig) in bundles.iter().zip(["KILL", "SIGKILL", "9"]) {
        rt.expect_status(b.id(), "running");
        let o = rt.kill(b.id(), sig);
        assert!(o.status.success(), "kill {sig}: {}", describe(&o));
        rt.expect_status(b.id(), "stopped");
        assert!(rt.delete(b.id()).status.success());
        rt.assert_nothing_left(b.id(), b);
    }
}

#[test]
fn kill_delivers_the_named_signal() {
    require_root();
    let mut b = Bundle::sh("kterm", "trap 'echo TERM > /m/sig; exit 0' TERM; echo ready > /m/ready; while true; do sleep 0.05; done");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    rt.start_ok(id);
    assert!(
        wait_until(LONG, || m.join("ready").exists()),
        "container never got ready"
    );
    let o = rt.kill(id, "TERM");
    assert!(o.status.success(), "kill TERM: {}", describe(&o));
    assert!(
        wait_until(LONG, || m.join("sig").exists()),
        "TERM trap never ran"
    );
    rt.expect_status(id, "stopped");
}

#[test]
fn kill_all_reaches_every_process_of_the_container() {
    require_root();
    // Without a pid namespace, killing init alone would orphan the child.
    let mut b = Bundle::sh("kall", "sleep 1000 & echo $! > /m/child; wait");
    b.remove_namespace("pid");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    rt.start_ok(id);
    let child: i32 = wait_until(LONG, || {
        fs::read_to_string(m.join("child")).is_ok_and(|s| s.ends_with('\n'))
    })
    .then(|| {
        fs::read_to_string(m.join("child"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    })
    .expect("child pid never written");
    let init = rt.pid(id);
    assert!(proc_alive(child) && proc_alive(init));
    let o = rt.run(&["kill", "--all", id, "KILL"]);
    assert!(o.status.success(), "kill --all: {}", describe(&o));
    assert!(
        wait_until(LONG, || !proc_alive(child)),
        "kill --all missed the child {child}"
    );
    assert!(
        wait_until(LONG, || !proc_alive(init)),
        "kill --all missed init {init}"
    );
    rt.expect_status(id, "stopped");
}

#[test]
fn spec_writes_a_valid_runnable_config() {
    require_root();
    let b = Bundle::new("spec", &["true"]);
    let rt = Runtime::new();
    fs::remove_file(b.config_path()).unwrap();
    let dir = b.dir().to_string_lossy().into_owned();
    let o = rt.run(&["spec", "--bundle", &dir]);
    assert!(o.status.success(), "spec: {}", describe(&o));
    let text = fs::read_to_string(b.config_path()).expect("spec must write config.json");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("config.json is JSON");
    assert!(
        v["ociVersion"]
            .as_str()
            .is_some_and(|s| s.starts_with("1.")),
        "{v}"
    );
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(v["process"]["args"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    for want in ["pid", "mount", "ipc", "uts", "network"] {
        assert!(
            ns.contains(&want),
            "default spec lacks {want} namespace: {ns:?}"
        );
    }
    // It must actually run (non-interactively) with our rootfs.
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(["/bin/sh", "-c", "echo spec-ok"]);
    fs::write(b.config_path(), serde_json::to_string(&v).unwrap()).unwrap();
    let o = rt.run_container(b.id(), &b, &[]);
    assert!(
        o.status.success(),
        "running the default spec: {}",
        describe(&o)
    );
    assert_eq!(stdout_of(&o).trim(), "spec-ok");
}

#[test]
fn spec_rootless_has_user_namespace_and_mappings() {
    require_root();
    let d = tempfile::tempdir().unwrap();
    let rt = Runtime::new();
    let o = rt.run(&[
        "spec",
        "--rootless",
        "--bundle",
        &d.path().to_string_lossy(),
    ]);
    assert!(o.status.success(), "spec --rootless: {}", describe(&o));
    let v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.path().join("config.json")).unwrap()).unwrap();
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    assert!(
        ns.iter().any(|n| n["type"] == "user"),
        "no user namespace: {v}"
    );
    assert!(
        !ns.iter().any(|n| n["type"] == "network"),
        "rootless spec cannot have a new netns without setup: {v}"
    );
    for m in ["uidMappings", "gidMappings"] {
        let maps = v["linux"][m]
            .as_array()
            .unwrap_or_else(|| panic!("no {m}: {v}"));
        assert!(
            !maps.is_empty() && maps[0]["size"].as_u64().is_some_and(|s| s >= 1),
            "{m}: {v}"
        );
    }
}

/// While createRuntime hooks run, `state` must already know the container
/// and report it as `creating`.
#[test]
fn state_reports_creating_during_create() {
    require_root();
    let mut b = sleeper("creating");
    let rt = Runtime::new();
    let id = b.id().to_string();
    let m = b.host_dir("m");
    let script = format!(
        "{} --root {} state {id} > {}/state.json 2> {}/state.err; exit 0",
        rt.bin().display(),
        rt.root().display(),
        m.display(),
        m.display()
    );
    b.add_hook(
        "createRuntime",
        json!({"path": "/bin/sh", "args": ["sh", "-c", script]}),
    );
    b.write().unwrap();
    let o = rt.create(&id, &b);
    assert!(o.status.success(), "create: {}", describe(&o));
    let text = fs::read_to_string(m.join("state.json")).unwrap_or_default();
    let err = fs::read_to_string(m.join("state.err")).unwrap_or_default();
    let st: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("state during create is not JSON ({e}): {text:?} / {err:?}"));
    assert_eq!(st["status"], "creating", "{st}");
    assert_eq!(st["id"], id.as_str(), "{st}");
    assert_eq!(rt.state_json(&id)["status"], "created");
}
