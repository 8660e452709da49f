//! containerd-shim-hull-v2 on its own, driven over ttrpc like containerd
//! does (`start`, then the Task service on the printed address), with input
//! ctr cannot produce: a missing bundle, a bad rootfs mount, unknown ids, a
//! kill of an exited task. Each must come back as a ttrpc error with a clear
//! message, and the shim must keep serving. Runtime: Debian's runc, chosen
//! through the create request's runc Options (BinaryName, Root).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::Message;
use containerd_shim_protos::shim::oci::Options;
use containerd_shim_protos::TaskClient;
use hull_integration::bundle::Bundle;
use hull_integration::is_root;
use hull_integration::shim_support::{alive, shim_bin, wait_for};

const RUNC: &str = "/usr/sbin/runc";
const WAIT: Duration = Duration::from_secs(20);

/// A shim started by the test; Drop kills it (our own child's child, known
/// by the pid it recorded), force-deletes the container and removes the
/// socket.
struct Shim {
    pid: i32,
    socket: PathBuf,
    id: String,
    runtime_root: PathBuf,
    client: TaskClient,
    // Last: dropped after the shim is gone.
    bundle: Bundle,
}

impl Drop for Shim {
    fn drop(&mut self) {
        if alive(self.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(&self.runtime_root)
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn ctx() -> ttrpc::context::Context {
    ttrpc::context::with_duration(Duration::from_secs(30))
}

fn start_shim(tag: &str) -> Shim {
    assert!(is_root(), "shim tests need root");
    let bundle = Bundle::new(tag, &["sleep", "600"]);
    let id = bundle.id().to_string();
    let runtime_root = bundle.dir().join("runtime-root");
    let out = Command::new(shim_bin())
        .args(["-namespace", "hull-bad-input"])
        .arg("-address")
        .arg(bundle.dir().join("no-manager.sock"))
        .args(["-id", &id, "start"])
        .current_dir(bundle.dir())
        .stdin(Stdio::null())
        .output()
        .expect("run shim start");
    assert!(out.status.success(), "shim start: {out:?}");
    let address = String::from_utf8(out.stdout).expect("utf-8 address");
    assert!(
        address.starts_with("unix:///") && !address.contains('\n'),
        "start must print only the address: {address:?}"
    );
    let socket = PathBuf::from(address.trim_start_matches("unix://"));
    let pid: i32 = std::fs::read_to_string(bundle.dir().join("shim.pid"))
        .expect("shim.pid")
        .trim()
        .parse()
        .expect("pid");
    let client = TaskClient::new(ttrpc::Client::connect(&address).expect("connect to shim"));
    Shim {
        pid,
        socket,
        id,
        runtime_root,
        client,
        bundle,
    }
}

fn runc_options(root: &Path) -> Any {
    let mut o = Options::new();
    o.binary_name = RUNC.into();
    o.root = root.display().to_string();
    let mut a = Any::new();
    a.type_url = "containerd.runc.v1.Options".into();
    a.value = o.write_to_bytes().unwrap();
    a
}

fn create_req(s: &Shim, bundle: &Path) -> api::CreateTaskRequest {
    let mut r = api::CreateTaskRequest::new();
    r.id = s.id.clone();
    r.bundle = bundle.display().to_string();
    r.options = Some(runc_options(&s.runtime_root)).into();
    r
}

fn rpc_message(e: ttrpc::Error) -> (ttrpc::Code, String) {
    match e {
        ttrpc::Error::RpcStatus(st) => (st.code(), st.message().to_string()),
        other => panic!("expected a ttrpc status, got {other:?}"),
    }
}

/// The shim still answers (Connect reports its own pid).
fn assert_serving(s: &Shim) {
    let mut r = api::ConnectRequest::new();
    r.id = s.id.clone();
    let resp = s.client.connect(ctx(), &r).expect("connect after error");
    assert_eq!(
        resp.shim_pid as i32, s.pid,
        "Connect answered by another process"
    );
}

#[test]
fn bad_requests_get_clear_errors_and_shim_keeps_serving() {
    let s = start_shim("badin");

    // Unknown container.
    let mut st = api::StateRequest::new();
    st.id = "no-such-container".into();
    let (code, msg) = rpc_message(s.client.state(ctx(), &st).unwrap_err());
    assert_eq!(code, ttrpc::Code::NOT_FOUND, "{msg}");
    assert!(msg.contains("no-such-container"), "{msg}");
    assert_serving(&s);

    // Missing bundle.
    let missing = s.bundle.dir().join("does-not-exist");
    let (code, msg) = rpc_message(
        s.client
            .create(ctx(), &create_req(&s, &missing))
            .unwrap_err(),
    );
    assert_eq!(code, ttrpc::Code::INVALID_ARGUMENT, "{msg}");
    assert!(
        msg.contains("does-not-exist") && msg.contains("config.json"),
        "unclear: {msg}"
    );
    assert_serving(&s);

    // A rootfs mount whose source does not exist.
    let mut req = create_req(&s, s.bundle.dir());
    let mut m = api::Mount::new();
    m.type_ = "bind".into();
    m.source = "/nonexistent/hull-source".into();
    m.options = vec!["rbind".into(), "ro".into()];
    req.rootfs.push(m);
    let (code, msg) = rpc_message(s.client.create(ctx(), &req).unwrap_err());
    assert_eq!(code, ttrpc::Code::UNKNOWN, "{msg}");
    assert!(
        msg.contains("/nonexistent/hull-source") && msg.contains("mount"),
        "unclear: {msg}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&s.bundle.dir().display().to_string()),
        "failed create left a mount under the bundle"
    );
    assert_serving(&s);

    // A bad options type.
    let mut req = create_req(&s, s.bundle.dir());
    let mut any = Any::new();
    any.type_url = "example.com/Unknown".into();
    req.options = Some(any).into();
    let (code, msg) = rpc_message(s.client.create(ctx(), &req).unwrap_err());
    assert_eq!(code, ttrpc::Code::INVALID_ARGUMENT, "{msg}");
    assert!(
        msg.contains("example.com/Unknown") || msg.contains("Unknown"),
        "{msg}"
    );
    assert_serving(&s);

    // Now a good create (bundle's own rootfs) and start.
    let created = s
        .client
        .create(ctx(), &create_req(&s, s.bundle.dir()))
        .expect("create");
    assert!(created.pid > 0);
    // A second create of the same id.
    let (code, msg) = rpc_message(
        s.client
            .create(ctx(), &create_req(&s, s.bundle.dir()))
            .unwrap_err(),
    );
    assert_eq!(code, ttrpc::Code::ALREADY_EXISTS, "{msg}");
    let mut start = api::StartRequest::new();
    start.id = s.id.clone();
    let started = s.client.start(ctx(), &start).expect("start");
    assert_eq!(started.pid, created.pid);

    // Unknown exec id: kill, state, start, delete.
    let mut k = api::KillRequest::new();
    k.id = s.id.clone();
    k.exec_id = "nope".into();
    k.signal = 9;
    let (code, msg) = rpc_message(s.client.kill(ctx(), &k).unwrap_err());
    assert_eq!(code, ttrpc::Code::NOT_FOUND, "{msg}");
    assert!(msg.contains("nope"), "{msg}");
    let mut st = api::StateRequest::new();
    st.id = s.id.clone();
    st.exec_id = "nope".into();
    let (code, _) = rpc_message(s.client.state(ctx(), &st).unwrap_err());
    assert_eq!(code, ttrpc::Code::NOT_FOUND);
    // Exec without a process spec.
    let mut ex = api::ExecProcessRequest::new();
    ex.id = s.id.clone();
    ex.exec_id = "e1".into();
    let (code, msg) = rpc_message(s.client.exec(ctx(), &ex).unwrap_err());
    assert_eq!(code, ttrpc::Code::INVALID_ARGUMENT, "{msg}");
    // Delete of a running task.
    let mut d = api::DeleteRequest::new();
    d.id = s.id.clone();
    let (code, msg) = rpc_message(s.client.delete(ctx(), &d).unwrap_err());
    assert_eq!(code, ttrpc::Code::FAILED_PRECONDITION, "{msg}");
    assert_serving(&s);

    // Kill, wait: the real exit status.
    let mut k = api::KillRequest::new();
    k.id = s.id.clone();
    k.signal = 9;
    s.client.kill(ctx(), &k).expect("kill");
    let mut w = api::WaitRequest::new();
    w.id = s.id.clone();
    let waited = s.client.wait(ctx(), &w).expect("wait");
    assert_eq!(waited.exit_status, 137);
    assert!(waited.exited_at.is_some());
    // No zombie: the shim reaped its container's init.
    wait_for("init reaped", WAIT, || {
        !Path::new(&format!("/proc/{}", created.pid)).exists()
    });

    // Kill of the exited task.
    let (code, msg) = rpc_message(s.client.kill(ctx(), &k).unwrap_err());
    assert_eq!(code, ttrpc::Code::NOT_FOUND, "{msg}");
    assert!(msg.contains("process already finished"), "{msg}");
    let mut st = api::StateRequest::new();
    st.id = s.id.clone();
    let state = s.client.state(ctx(), &st).expect("state");
    assert_eq!(
        state.status.enum_value(),
        Ok(containerd_shim_protos::types::task::Status::STOPPED)
    );
    assert_eq!(state.exit_status, 137);

    // Checkpoint is refused clearly.
    let mut cp = api::CheckpointTaskRequest::new();
    cp.id = s.id.clone();
    let (code, msg) = rpc_message(s.client.checkpoint(ctx(), &cp).unwrap_err());
    assert_eq!(code, ttrpc::Code::UNIMPLEMENTED, "{msg}");

    // Delete, then shutdown: the shim exits and removes its socket.
    let del = s.client.delete(ctx(), &d).expect("delete");
    assert_eq!(del.exit_status, 137);
    assert!(
        !s.runtime_root.join(&s.id).exists(),
        "runtime state left after delete"
    );
    let mut sd = api::ShutdownRequest::new();
    sd.id = s.id.clone();
    let _ = s.client.shutdown(ctx(), &sd);
    wait_for("shim to exit after shutdown", WAIT, || !alive(s.pid));
    wait_for("shim socket removed", WAIT, || !s.socket.exists());
}

#[test]
fn shim_delete_cleans_up_after_a_dead_shim() {
    let s = start_shim("dead");
    let created = s
        .client
        .create(ctx(), &create_req(&s, s.bundle.dir()))
        .expect("create");
    let mut start = api::StartRequest::new();
    start.id = s.id.clone();
    s.client.start(ctx(), &start).expect("start");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill shim");
    wait_for("shim to die", WAIT, || !alive(s.pid));
    // The container outlives its shim until `delete` cleans up.
    assert!(alive(created.pid as i32), "container died with its shim");
    let out = Command::new(shim_bin())
        .args(["-namespace", "hull-bad-input"])
        .arg("-address")
        .arg(s.bundle.dir().join("no-manager.sock"))
        .args(["-id", &s.id])
        .arg("-bundle")
        .arg(s.bundle.dir())
        .arg("delete")
        .current_dir(s.bundle.dir())
        .output()
        .expect("shim delete");
    assert!(out.status.success(), "shim delete: {out:?}");
    let resp = api::DeleteResponse::parse_from_bytes(&out.stdout).expect("DeleteResponse");
    assert_eq!(resp.exit_status, 137);
    assert_eq!(resp.pid, created.pid);
    wait_for("container killed by delete", WAIT, || {
        !alive(created.pid as i32)
    });
    assert!(!s.socket.exists(), "socket left after delete");
    assert!(
        !s.runtime_root.join(&s.id).exists(),
        "runtime state left after delete"
    );
}
