//! The task side of a container: one `containerd-shim-hull-v2` per
//! container, or per CRI pod (`group`: the pause and the pod's containers
//! share one), started like containerd starts shims (`… -id ID start` in
//! the bundle, which prints the ttrpc address), then driven through the
//! shim v2 Task API (`containerd.task.v2.Task`) with ttrpc's asynchronous
//! client.
//!
//! The clients live on hulld's tokio runtime (`set_runtime`): an idle
//! connection costs nothing there, where ttrpc's synchronous client wakes
//! every 10 ms per connection (54 % of a core with 200 idle containers).
//! The functions here block (they run on blocking threads, as the rest of
//! a request's work does) and drive the calls with `call`. Each task has
//! one `Wait` call without timeout in flight, a future on the runtime; when
//! the container's process exits, a thread of its own deletes the task,
//! shuts the shim down, records the exit in the container's record and
//! wakes everyone waiting.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::Message;
use containerd_shim_protos::shim::oci::Options as RuncOptions;
use containerd_shim_protos::shim_async::{Client, TaskClient};
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::{update, ContainerRecord, EXITED, RUNNING};

pub mod group;
mod process;
use crate::content::now_secs;
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::ns_key;
pub use group::{ShimKey, SANDBOX_ANNOTATION};
pub use process::find_binary;
pub(super) use process::{alive, finish_shim, shim_delete, wait_gone};
use process::{request_shutdown, runtime_options, start_shim, stop_shim};

pub const SHIM_BINARY: &str = "containerd-shim-hull-v2";
pub const RUNTIME_BINARY: &str = "hullc";
pub const PUBLISH_BINARY: &str = "hull";
/// The shim's logging binary: Docker's json-file logs (see logfile.rs).
pub const LOG_DRIVER_BINARY: &str = "hull-log-driver";
/// Output files in the bundle (the shim appends to them directly).
pub const STDOUT_LOG: &str = "stdout.log";
pub const STDERR_LOG: &str = "stderr.log";

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How a task ended: exit code (128+signal when killed) and Unix time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exit {
    pub code: i32,
    pub at: i64,
}

/// A task hulld runs now.
pub struct Live {
    pub ns: String,
    pub id: String,
    pub client: TaskClient,
    /// The shim serving the task: its own or its pod's.
    pub shim: ShimKey,
    pub shim_pid: i32,
    pub pid: u32,
    pub(super) done: watch::Receiver<Option<Exit>>,
}

impl Live {
    /// Wait until the task exited and hulld cleaned up after it.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.done.clone();
        loop {
            if let Some(e) = *rx.borrow_and_update() {
                return e;
            }
            if rx.changed().await.is_err() {
                return rx.borrow().unwrap_or(Exit { code: 255, at: 0 });
            }
        }
    }
}

/// Wait (blocking, at most `limit`) until the task exited and hulld cleaned
/// up after it.
pub fn wait_exited(live: &Live, limit: Duration) -> Result<Exit> {
    runtime()?
        .block_on(async { tokio::time::timeout(limit, live.wait()).await })
        .map_err(|_| Error::Internal(format!("task {} did not exit after SIGKILL", live.id)))
}

pub(super) fn ctx() -> ttrpc::context::Context {
    ttrpc::context::with_duration(CALL_TIMEOUT)
}

/// The runtime the shim clients live on (hulld's).
static RUNTIME: OnceLock<Handle> = OnceLock::new();

/// Run the shim clients on `rt`: before the first task (and `recover`).
pub fn set_runtime(rt: Handle) {
    let _ = RUNTIME.set(rt);
}

fn runtime() -> Result<Handle> {
    RUNTIME
        .get()
        .cloned()
        .or_else(|| Handle::try_current().ok())
        .ok_or_else(|| Error::FailedPrecondition("no runtime for the shim clients".into()))
}

/// Drive a shim call to its end from a blocking thread (never from a task
/// on the runtime: that would block one of its workers).
pub(super) fn call<T>(what: &str, f: impl Future<Output = ttrpc::Result<T>>) -> Result<T> {
    runtime()?.block_on(f).map_err(|e| shim_err(what, e))
}

/// Connect to the shim's ttrpc address.
pub(super) fn connect(address: &str) -> Result<TaskClient> {
    runtime()?
        .block_on(Client::connect(address))
        .map(TaskClient::new)
        .map_err(|e| Error::FailedPrecondition(format!("connect to shim at {address}: {e}")))
}

fn shim_err(what: &str, e: ttrpc::Error) -> Error {
    match e {
        ttrpc::Error::RpcStatus(s) => {
            let msg = format!("{what}: {}", s.message);
            match s.code.enum_value() {
                Ok(ttrpc::Code::NOT_FOUND) => Error::NotFound(msg),
                Ok(ttrpc::Code::ALREADY_EXISTS) => Error::AlreadyExists(msg),
                Ok(ttrpc::Code::INVALID_ARGUMENT) => Error::InvalidArgument(msg),
                Ok(ttrpc::Code::UNIMPLEMENTED) => Error::Unsupported(msg),
                // The runtime's reason travels as text (runc's CLI); typed once, here.
                _ => match hull_types::cannot_run::classify(&s.message) {
                    Some(why) => Error::CannotRun(why, msg),
                    None => Error::FailedPrecondition(msg),
                },
            }
        }
        e => Error::io(
            format!("{what}: shim"),
            std::io::Error::other(e.to_string()),
        ),
    }
}

/// Create the task of container `r` (blocking): its network first (the
/// namespace the spec names), then its shim, the init process (not started
/// yet) and the waiter.
pub fn create_task(m: &Arc<Manager>, ns: &str, r: &ContainerRecord) -> Result<Arc<Live>> {
    // The shim of the last task may still be on its way out (its socket
    // is this task's too).
    m.tasks.wait_shim_gone(&ShimKey::of(ns, r).exiting_key());
    if m.tasks.get(&ns_key(ns, &r.id)).is_some() {
        return Err(Error::AlreadyExists(format!(
            "container {} already has a task",
            r.name
        )));
    }
    // The network is wired while the shim starts: it must be ready only
    // when the runtime joins its namespace (Task.Create).
    let mut net = NetworkSetup::start(m, ns, &r.id);
    let res = create_task_inner(m, ns, r, &mut net);
    // Joined in every case before any undo (teardown is idempotent).
    let _ = net.wait();
    if res.is_err() {
        crate::network::teardown(m, ns, &r.id);
    }
    res
}

/// `network::setup` of a container on a thread of its own.
struct NetworkSetup {
    thread: Option<std::thread::JoinHandle<Result<()>>>,
    /// Why it could not run or failed, until `wait` hands it out.
    error: Option<Error>,
    failed: bool,
}

impl NetworkSetup {
    fn start(m: &Arc<Manager>, ns: &str, id: &str) -> NetworkSetup {
        let (m, ns, id) = (m.clone(), ns.to_string(), id.to_string());
        let spawned = std::thread::Builder::new()
            .name("net-setup".into())
            .spawn(move || crate::network::setup(&m, &ns, &id));
        match spawned {
            Ok(t) => NetworkSetup {
                thread: Some(t),
                error: None,
                failed: false,
            },
            Err(e) => NetworkSetup {
                thread: None,
                error: Some(Error::io("spawn the network setup thread", e)),
                failed: true,
            },
        }
    }

    /// Its outcome: the error itself the first time it is asked for.
    fn wait(&mut self) -> Result<()> {
        if let Some(t) = self.thread.take() {
            let r = t.join().unwrap_or_else(|_| {
                Err(Error::FailedPrecondition("network setup panicked".into()))
            });
            if let Err(e) = r {
                self.failed = true;
                self.error = Some(e);
            }
        }
        match self.error.take() {
            Some(e) => Err(e),
            None if self.failed => Err(Error::FailedPrecondition("network setup failed".into())),
            None => Ok(()),
        }
    }
}

fn create_task_inner(
    m: &Arc<Manager>,
    ns: &str,
    r: &ContainerRecord,
    net: &mut NetworkSetup,
) -> Result<Arc<Live>> {
    let key = ns_key(ns, &r.id);
    if m.tasks.get(&key).is_some() {
        return Err(Error::AlreadyExists(format!(
            "container {} already has a task",
            r.name
        )));
    }
    let options = runtime_options(m)?;
    // No snapshot: the bundle's rootfs as it is (a pod's pause).
    let mounts = if r.snapshot_key.is_empty() {
        Vec::new()
    } else {
        m.snapshots.mounts(&r.snapshot_key)?
    };
    let shim = ShimKey::of(ns, r);
    let (client, shim_pid) = match &shim {
        ShimKey::Own(_) => {
            let (address, shim_pid) = start_shim(m, ns, &r.id, &r.bundle)?;
            match connect(&address) {
                Ok(c) => (c, shim_pid),
                Err(e) => {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(shim_pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    shim_delete(m, ns, &r.id, &r.bundle);
                    return Err(e);
                }
            }
        }
        ShimKey::Pod(pod) => group::acquire(m, pod, ns, &r.id, &r.bundle)?,
    };
    // Undo the shim side of a task that will not run.
    let abandon = |client: &TaskClient| match &shim {
        ShimKey::Own(_) => {
            stop_shim(client, &r.id, shim_pid);
            shim_delete(m, ns, &r.id, &r.bundle);
        }
        ShimKey::Pod(pod) => group::abandon(m, pod, client, (ns, &r.id, &r.bundle), shim_pid),
    };
    let mut req = api::CreateTaskRequest::new();
    req.id = r.id.clone();
    req.bundle = r.bundle.display().to_string();
    req.rootfs = mounts
        .into_iter()
        .map(|mt| {
            let mut x = api::Mount::new();
            x.type_ = mt.kind;
            x.source = mt.source;
            x.options = mt.options;
            x
        })
        .collect();
    match find_binary(LOG_DRIVER_BINARY) {
        // A pod's pause writes nothing: no driver, no files.
        _ if r.cri_log.is_none() && group::is_pause(&r.spec) => {
            req.stdout = String::new();
            req.stderr = String::new();
        }
        // CRI's log format at the file kubelet asked for.
        Ok(driver) if r.cri_log.is_some() => {
            let path = r.cri_log.clone().unwrap_or_default();
            let uri = format!(
                "binary://{}?--dir={}&--cri-log={}{}",
                uri_escape(&driver.display().to_string()),
                uri_escape(&r.bundle.display().to_string()),
                uri_escape(&path.display().to_string()),
                super::attach::log_driver_flags(r)
            );
            req.stdout = uri.clone();
            req.stderr = uri;
        }
        // json-file logs written by the shim's logging binary.
        Ok(driver) => {
            let uri = format!(
                "binary://{}?--dir={}&--max-size={}&--max-file={}{}",
                uri_escape(&driver.display().to_string()),
                uri_escape(&r.bundle.display().to_string()),
                r.log_max_size,
                r.log_max_file.max(1),
                super::attach::log_driver_flags(r)
            );
            req.stdout = uri.clone();
            req.stderr = uri;
        }
        Err(_) => {
            req.stdout = format!("file://{}", r.bundle.join(STDOUT_LOG).display());
            req.stderr = format!("file://{}", r.bundle.join(STDERR_LOG).display());
        }
    }
    // `-i`: a stdin fifo hulld writes to; `-t`: a terminal.
    let (stdin, terminal) = super::attach::task_stdio(r)?;
    req.stdin = stdin;
    req.terminal = terminal;
    req.options = Some(options).into();
    if let Err(e) = net.wait() {
        abandon(&client);
        return Err(e);
    }
    let pid = match call("create task", client.create(ctx(), &req)) {
        Ok(resp) => resp.pid,
        Err(e) => {
            abandon(&client);
            return Err(e);
        }
    };
    let (tx, rx) = watch::channel(None);
    let live = Arc::new(Live {
        ns: ns.to_string(),
        id: r.id.clone(),
        client,
        shim: shim.clone(),
        shim_pid,
        pid,
        done: rx,
    });
    // A new run: forget the previous one's exit.
    update(m, ns, &r.id, |c| {
        c.state = super::ContainerState {
            status: super::CREATED.into(),
            pid,
            ..Default::default()
        }
    })?;
    if let Err(e) = watch_task(m, key, live.clone(), tx) {
        abandon(&live.client);
        return Err(e);
    }
    tracing::debug!(id = %r.id, pid, shim_pid, "task created");
    Ok(live)
}

/// Register a live task and put its `Wait` on the runtime; when the task
/// exits, clean up after it on a thread of its own (it blocks: the shim's
/// delete, the log driver, a restart), so that many exits at once neither
/// wait for each other nor take the blocking threads requests need.
pub(super) fn watch_task(
    m: &Arc<Manager>,
    key: String,
    live: Arc<Live>,
    tx: watch::Sender<Option<Exit>>,
) -> Result<()> {
    let rt = runtime()?;
    m.tasks.insert(key, live.clone());
    let m = m.clone();
    rt.spawn(async move {
        let exit = wait_exit(&live).await;
        let (m2, l2, tx2) = (m.clone(), live.clone(), tx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("exit-{}", &live.id[..live.id.len().min(8)]))
            .stack_size(256 * 1024)
            .spawn(move || after_exit(m2, l2, tx2, exit));
        if let Err(e) = spawned {
            tracing::warn!(id = %live.id, "spawn exit thread ({e}); cleaning up on the blocking pool");
            tokio::task::spawn_blocking(move || after_exit(m, live, tx, exit));
        }
    });
    Ok(())
}

/// Start the created task (blocking).
pub fn start_task(m: &Arc<Manager>, live: &Arc<Live>) -> Result<u32> {
    let mut req = api::StartRequest::new();
    req.id = live.id.clone();
    let resp = call("start task", live.client.start(ctx(), &req))?;
    update(m, &live.ns, &live.id, |c| {
        c.state.started_at = now_secs();
        // The waiter may have recorded the exit already.
        if c.state.status != EXITED {
            c.state.status = RUNNING.into();
            c.state.pid = resp.pid;
        }
    })?;
    m.events.publish(
        &live.ns,
        "/containers/start",
        serde_json::json!({"id": live.id, "pid": resp.pid}),
    );
    super::health::watch(m, live);
    Ok(resp.pid)
}

pub fn kill(live: &Live, signal: u32, all: bool) -> Result<()> {
    let mut req = api::KillRequest::new();
    req.id = live.id.clone();
    req.signal = signal;
    req.all = all;
    call("kill", live.client.kill(ctx(), &req)).map(|_| ())
}

pub fn pids(live: &Live) -> Result<Vec<u32>> {
    let mut req = api::PidsRequest::new();
    req.id = live.id.clone();
    let resp = call("pids", live.client.pids(ctx(), &req))?;
    Ok(resp.processes.iter().map(|p| p.pid).collect())
}

/// A task that exited while hulld was away: its exit, then the clean-up.
pub(super) fn waiter(m: Arc<Manager>, live: Arc<Live>, tx: watch::Sender<Option<Exit>>) {
    let exit = match runtime() {
        Ok(rt) => rt.block_on(wait_exit(&live)),
        Err(e) => {
            tracing::warn!(id = %live.id, "wait on shim: {e}");
            Exit {
                code: 255,
                at: now_secs(),
            }
        }
    };
    after_exit(m, live, tx, exit);
}

/// The shim's Wait without timeout: how the task ended (255 when the
/// shim died first).
async fn wait_exit(live: &Live) -> Exit {
    let mut req = api::WaitRequest::new();
    req.id = live.id.clone();
    match live
        .client
        .wait(ttrpc::context::with_timeout(0), &req)
        .await
    {
        Ok(w) => Exit {
            code: w.exit_status as i32,
            at: w
                .exited_at
                .as_ref()
                .map(|t| t.seconds)
                .unwrap_or_else(now_secs),
        },
        Err(e) => {
            tracing::warn!(id = %live.id, "wait on shim failed ({e}); the shim died?");
            Exit {
                code: 255,
                at: now_secs(),
            }
        }
    }
}

/// After the task exited: delete it in the shim, shut the shim down,
/// record the exit, wake the waiters, then remove or restart (blocking).
fn after_exit(m: Arc<Manager>, live: Arc<Live>, tx: watch::Sender<Option<Exit>>, exit: Exit) {
    tracing::debug!(id = %live.id, code = exit.code, "task exited");
    let bundle = super::bundle_dir(&m, &live.ns, &live.id);
    let key = ns_key(&live.ns, &live.id);
    drain_execs(&live, &key);
    let mut dreq = api::DeleteRequest::new();
    dreq.id = live.id.clone();
    match (
        call("delete task", live.client.delete(ctx(), &dreq)),
        &live.shim,
    ) {
        // The shim ends once its last events are out; nobody waits for
        // that but a new task or the removal of this container.
        (Ok(_), ShimKey::Own(_)) => {
            m.tasks.shim_exiting(&key, live.shim_pid);
            request_shutdown(&live.client, &live.id);
        }
        // The pod's shim, when this was its last task.
        (Ok(_), ShimKey::Pod(pod)) => group::release(&m, pod, &live.id, live.shim_pid),
        (Err(e), ShimKey::Own(_)) => {
            stop_shim(&live.client, &live.id, live.shim_pid);
            tracing::warn!(id = %live.id, "shim delete failed ({e}); cleaning up with `shim delete`");
            shim_delete(&m, &live.ns, &live.id, &bundle);
        }
        // Other tasks of the pod may live in that shim: never stop it.
        (Err(e), ShimKey::Pod(pod)) => {
            if alive(live.shim_pid) {
                tracing::warn!(id = %live.id, "delete task failed ({e}); the pod's shim runs on");
            } else {
                tracing::warn!(id = %live.id, "the pod's shim died ({e}); cleaning up with `shim delete`");
                shim_delete(&m, &live.ns, &live.id, &bundle);
            }
            group::release(&m, pod, &live.id, live.shim_pid);
        }
    }
    crate::network::teardown(&m, &live.ns, &live.id);
    // Every line of output is in the log before anyone hears of the exit.
    super::logfile::wait_driver(&bundle, Duration::from_secs(10));
    super::attach::task_exited(&bundle);
    let rec = update(&m, &live.ns, &live.id, |c| {
        c.state.status = EXITED.into();
        c.state.pid = 0;
        c.state.exit_code = exit.code;
        c.state.finished_at = exit.at;
        if let Some(h) = c.health.as_mut() {
            h.stopped();
        }
    });
    m.tasks.remove(&ns_key(&live.ns, &live.id));
    m.events.publish(
        &live.ns,
        "/containers/die",
        serde_json::json!({"id": live.id, "exit_code": exit.code}),
    );
    let _ = tx.send(Some(exit));
    m.tasks.wait_shim_gone(&live.shim.exiting_key());
    match rec {
        Ok(Some(r)) if r.auto_remove => {
            if let Err(e) = super::remove(&m, &live.ns, &r) {
                tracing::warn!(id = %live.id, "auto-remove: {e}");
            }
        }
        Ok(Some(r)) => super::restart::after_exit(&m, &live.ns, &r),
        Ok(None) => {}
        Err(e) => tracing::warn!(id = %live.id, "record exit: {e}"),
    }
}

/// Before the task is deleted: the exit of every exec in flight collected
/// (an exec waited for after the delete finds no task). Execs that outlive
/// the init (a pid namespace shared with the host or another container)
/// are killed first, as the delete would kill them.
fn drain_execs(live: &Live, key: &str) {
    if !super::exec_gate::busy(key) {
        return;
    }
    let _ = kill(live, libc::SIGKILL as u32, true);
    if !super::exec_gate::wait_drained(key, EXEC_DRAIN) {
        tracing::warn!(id = %live.id, "execs still running {EXEC_DRAIN:?} after the task exited");
    }
}

/// How long the clean-up after a task waits for its execs' exits.
const EXEC_DRAIN: Duration = Duration::from_secs(5);

pub fn pause(m: &Manager, live: &Live, paused: bool) -> Result<()> {
    if paused {
        let mut req = api::PauseRequest::new();
        req.id = live.id.clone();
        call("pause", live.client.pause(ctx(), &req))?;
    } else {
        let mut req = api::ResumeRequest::new();
        req.id = live.id.clone();
        call("resume", live.client.resume(ctx(), &req))?;
    }
    update(m, &live.ns, &live.id, |c| {
        if c.state.status != EXITED {
            c.state.status = if paused { super::PAUSED } else { RUNNING }.into();
        }
    })?;
    m.events.publish(
        &live.ns,
        if paused {
            "/tasks/paused"
        } else {
            "/tasks/resumed"
        },
        serde_json::json!({"container_id": live.id}),
    );
    Ok(())
}

/// Percent-encode what a URI path or query value must not carry raw.
fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
