//! containerd-shim-hull-v2 on its own, driven over ttrpc like containerd
//! does (`start`, then the Task service on the printed address), with what
//! ctr cannot produce: bad input (a missing bundle, a bad rootfs mount,
//! unknown ids, a kill of an exited task: each a ttrpc error with a clear
//! message, and the shim keeps serving), Update, grouping of containers into
//! one shim, and `delete` after a dead shim. Runtime: Debian's runc, chosen
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
use hull_integration::shim_support::{alive, shim_bin, wait_for};
use hull_integration::{is_root, unique_id};

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
    start_shim_in(Bundle::new(tag, &["sleep", "600"]), None)
}

/// `start` a shim for the bundle's container, optionally naming a sandbox
/// (pod) in its config.json first.
fn start_shim_in(bundle: Bundle, sandbox: Option<&str>) -> Shim {
    start_shim_with(bundle, sandbox, None)
}

/// As `start_shim_in`, feeding `start` the runtime options on stdin the way
/// containerd does.
fn start_shim_with(mut bundle: Bundle, sandbox: Option<&str>, options: Option<&Any>) -> Shim {
    assert!(is_root(), "shim tests need root");
    if let Some(sb) = sandbox {
        bundle.config_mut()["annotations"]["io.kubernetes.cri.sandbox-id"] = sb.into();
        bundle.write().expect("write config.json");
    }
    let id = bundle.id().to_string();
    let runtime_root = bundle.dir().join("runtime-root");
    let mut child = Command::new(shim_bin())
        .args(["-namespace", "hull-bad-input"])
        .arg("-address")
        .arg(bundle.dir().join("no-manager.sock"))
        .args(["-id", &id, "start"])
        .current_dir(bundle.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run shim start");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin pipe");
        if let Some(o) = options {
            stdin
                .write_all(&o.write_to_bytes().unwrap())
                .expect("write options");
        }
    }
    let out = child.wait_with_output().expect("shim start output");
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

    // Update: the runtime applies new resources to the container's cgroup.
    let mut up = api::UpdateTaskRequest::new();
    up.id = s.id.clone();
    let mut res = Any::new();
    res.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources".into();
    res.value = br#"{"memory":{"limit":33554432},"pids":{"limit":77}}"#.to_vec();
    up.resources = Some(res).into();
    s.client.update(ctx(), &up).expect("update");
    let limit =
        std::fs::read_to_string(s.bundle.cgroup_dir("memory").join("memory.limit_in_bytes"))
            .expect("memory limit of the container");
    assert_eq!(limit.trim(), "33554432", "memory limit after update");
    let pids_max = std::fs::read_to_string(s.bundle.cgroup_dir("pids").join("pids.max"))
        .expect("pids.max of the container");
    assert_eq!(pids_max.trim(), "77", "pids limit after update");

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

/// Two containers of one pod (same `io.kubernetes.cri.sandbox-id`) share one
/// shim: the second `start` prints the first one's address; the shim serves
/// both and exits only after both are deleted.
#[test]
fn containers_of_one_sandbox_share_a_shim() {
    let sandbox = unique_id("sandbox");
    let lead = start_shim_in(Bundle::new("grp1", &["sleep", "600"]), Some(&sandbox));
    let mut second_bundle = Bundle::new("grp2", &["sleep", "600"]);
    second_bundle.config_mut()["annotations"]["io.kubernetes.cri.sandbox-id"] =
        sandbox.clone().into();
    second_bundle.write().unwrap();
    let out = Command::new(shim_bin())
        .args(["-namespace", "hull-bad-input"])
        .arg("-address")
        .arg(lead.bundle.dir().join("no-manager.sock"))
        .args(["-id", second_bundle.id(), "start"])
        .current_dir(second_bundle.dir())
        .stdin(Stdio::null())
        .output()
        .expect("second shim start");
    assert!(out.status.success(), "second start: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("unix://{}", lead.socket.display()),
        "second container of the sandbox got another shim"
    );

    // Both containers through the one shim.
    let c1 = lead
        .client
        .create(ctx(), &create_req(&lead, lead.bundle.dir()))
        .expect("create first");
    let mut req2 = create_req(&lead, second_bundle.dir());
    req2.id = second_bundle.id().to_string();
    let c2 = lead.client.create(ctx(), &req2).expect("create second");
    for id in [lead.id.clone(), second_bundle.id().to_string()] {
        let mut st = api::StartRequest::new();
        st.id = id;
        lead.client.start(ctx(), &st).expect("start");
    }
    for pid in [c1.pid, c2.pid] {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let ppid: i32 = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap();
        assert_eq!(
            ppid, lead.pid,
            "container {pid} is not a child of the shared shim"
        );
    }
    // Kill and delete both; a shutdown with one left does nothing.
    for (i, id) in [lead.id.clone(), second_bundle.id().to_string()]
        .into_iter()
        .enumerate()
    {
        let mut k = api::KillRequest::new();
        k.id = id.clone();
        k.signal = 9;
        lead.client.kill(ctx(), &k).expect("kill");
        let mut w = api::WaitRequest::new();
        w.id = id.clone();
        assert_eq!(lead.client.wait(ctx(), &w).expect("wait").exit_status, 137);
        let mut d = api::DeleteRequest::new();
        d.id = id.clone();
        lead.client.delete(ctx(), &d).expect("delete");
        let mut sd = api::ShutdownRequest::new();
        sd.id = id;
        let _ = lead.client.shutdown(ctx(), &sd);
        if i == 0 {
            assert_serving(&lead);
        }
    }
    wait_for("shared shim to exit", WAIT, || !alive(lead.pid));
    wait_for("shared socket removed", WAIT, || !lead.socket.exists());
    drop(second_bundle);
}

/// `start` moves the shim into the cgroup named by runc Options' ShimCgroup,
/// which containerd passes on stdin.
#[test]
fn shim_joins_the_cgroup_containerd_names() {
    /// A v1 pids cgroup made for the test, removed after the shim is gone.
    struct Cgroup(PathBuf);
    impl Drop for Cgroup {
        fn drop(&mut self) {
            // The killed shim may still be leaving the cgroup (EBUSY).
            let deadline = std::time::Instant::now() + WAIT;
            while std::fs::remove_dir(&self.0).is_err()
                && self.0.exists()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let bundle = Bundle::new("cg", &["sleep", "600"]);
    let rel = format!("/hull-test/{}-shim", bundle.id());
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let dir = if unified {
        PathBuf::from(format!("/sys/fs/cgroup{rel}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/pids{rel}"))
    };
    std::fs::create_dir_all(&dir).expect("create shim cgroup");
    let _cg = Cgroup(dir);
    let mut o = Options::new();
    o.shim_cgroup = rel.clone();
    let mut any = Any::new();
    any.type_url = "containerd.runc.v1.Options".into();
    any.value = o.write_to_bytes().unwrap();
    let s = start_shim_with(bundle, None, Some(&any));
    let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", s.pid)).unwrap();
    let want = if unified {
        format!("0::{rel}")
    } else {
        format!(":pids:{rel}")
    };
    assert!(
        cgroups.lines().any(|l| l.ends_with(&want)),
        "shim not in {rel}: {cgroups}"
    );
    assert_serving(&s);
}
