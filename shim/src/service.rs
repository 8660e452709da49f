//! The Task service: containers and their processes, driven through the
//! runtime binary; exits come from the reaper through one queue.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::SystemTime;

use containerd_shim_protos::api;
use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::shim::oci::ProcessDetails;
use containerd_shim_protos::topics;
use containerd_shim_protos::types::task::Status;
use containerd_shim_protos::Task;
use ttrpc::TtrpcContext;

use crate::error::{Error, Result};
use crate::events::{to_any, Publisher};
use crate::mount;
use crate::options::{self, RuntimeChoice};
use crate::reaper::{Exit, Reaper};
use crate::runtime::{read_pid_file, reset_log, Runtime};
use crate::stats;
use crate::stdio::{Pending, ProcIo, StdioPaths};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PState {
    Created,
    Running,
    Stopped,
}

struct Proc {
    pid: u32,
    state: PState,
    stdio: StdioPaths,
    io: Option<ProcIo>,
    exit: Option<Exit>,
    /// Exec processes: the OCI Process JSON until started.
    spec: Option<Vec<u8>>,
}

impl Proc {
    fn new(stdio: StdioPaths) -> Self {
        Proc {
            pid: 0,
            state: PState::Created,
            stdio,
            io: None,
            exit: None,
            spec: None,
        }
    }

    fn set_exited(&mut self, e: Exit) {
        self.exit = Some(e);
        self.state = PState::Stopped;
        if let Some(io) = self.io.as_mut() {
            io.process_exited();
        }
    }
}

struct Container {
    bundle: PathBuf,
    runtime: Runtime,
    rootfs_mounted: bool,
    paused: bool,
    init: Proc,
    execs: HashMap<String, Proc>,
    oom: Option<Arc<OomWatch>>,
}

/// OOM kills of a container's (v1) memory cgroup, published once each:
/// by the eventfd thread while the container lives, and when its init
/// exits (before TaskExit, while the cgroup surely still exists).
struct OomWatch {
    dir: PathBuf,
    published: AtomicU64,
}

impl OomWatch {
    /// Publish TaskOOM if the cgroup counted OOM kills not yet published.
    /// Without an `oom_kill` counter (old kernels) an event counts as one.
    fn check(&self, id: &str, publisher: &Publisher, from_event: bool) {
        let count = match stats::v1_oom_kills(&self.dir) {
            Some(k) => k,
            None if from_event && self.dir.exists() => self.published.load(Ordering::SeqCst) + 1,
            None => return,
        };
        if self.published.fetch_max(count, Ordering::SeqCst) < count {
            let mut ev = TaskOOM::new();
            ev.container_id = id.to_string();
            publisher.publish(topics::TASK_OOM_EVENT_TOPIC, &ev);
        }
    }
}

impl Container {
    fn proc_mut(&mut self, exec_id: &str) -> Result<&mut Proc> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        self.execs
            .get_mut(exec_id)
            .ok_or_else(|| Error::NotFound(format!("exec {exec_id:?} not found")))
    }
}

#[derive(Default)]
struct State {
    containers: HashMap<String, Container>,
}

pub struct Shim {
    state: Mutex<State>,
    /// Signalled on every recorded exit.
    exited: Condvar,
    reaper: Arc<Reaper>,
    publisher: Publisher,
    namespace: String,
    shutdown: Mutex<Option<Sender<()>>>,
    console_dir: PathBuf,
}

fn ts(t: SystemTime) -> MessageField<Timestamp> {
    MessageField::some(Timestamp::from(t))
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("container {id:?} not found"))
}

impl Shim {
    pub fn new(
        reaper: Arc<Reaper>,
        publisher: Publisher,
        namespace: String,
        shutdown: Sender<()>,
    ) -> Arc<Shim> {
        Arc::new(Shim {
            state: Mutex::new(State::default()),
            exited: Condvar::new(),
            reaper,
            publisher,
            namespace,
            shutdown: Mutex::new(Some(shutdown)),
            console_dir: PathBuf::from("/run/hull/console"),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drain exits handed over by the reaper (runs on its own thread).
    pub fn process_exits(self: &Arc<Self>, rx: Receiver<Exit>) {
        for e in rx {
            self.handle_exit(e);
        }
    }

    /// One exit from the reaper: record it, or keep it for the start that
    /// has not learnt the pid yet. The state lock is held until the exit is
    /// placed either way: a start records the pid and claims kept exits
    /// under that same lock, so it comes wholly before (the exit finds the
    /// pid) or wholly after (the start finds the kept exit). Checking and
    /// keeping in two steps lost exits that fell between them, and a Wait
    /// on such a process never returned. Lock order: state, then the
    /// reaper's.
    fn handle_exit(&self, e: Exit) {
        let mut st = self.lock();
        if !self.record_exit(&mut st, e) {
            self.reaper.store_orphan(e);
        }
    }

    /// Record an exit if it belongs to one of our processes.
    fn record_exit(&self, st: &mut State, e: Exit) -> bool {
        let pid = e.pid as u32;
        for (cid, c) in st.containers.iter_mut() {
            let hit = if c.init.pid == pid && c.init.exit.is_none() {
                c.init.set_exited(e);
                // An OOM kill of init is published before its exit.
                if let Some(w) = &c.oom {
                    w.check(cid, &self.publisher, false);
                }
                Some(cid.clone())
            } else if let Some((xid, p)) = c
                .execs
                .iter_mut()
                .find(|(_, p)| p.pid == pid && p.exit.is_none())
            {
                p.set_exited(e);
                Some(xid.clone())
            } else {
                None
            };
            if let Some(id) = hit {
                tracing::info!(container = %cid, id = %id, pid, code = e.code, "process exited");
                let mut ev = TaskExit::new();
                ev.container_id = cid.clone();
                ev.id = id;
                ev.pid = pid;
                ev.exit_status = e.code;
                ev.exited_at = ts(e.at);
                self.publisher.publish(topics::TASK_EXIT_EVENT_TOPIC, &ev);
                self.exited.notify_all();
                return true;
            }
        }
        false
    }

    /// After learning a pid (under the same hold of the state lock that
    /// recorded it, see `handle_exit`): maybe it already exited.
    fn check_early_exit(&self, st: &mut State, pid: u32) {
        if let Some(e) = self.reaper.claim_early_exit(pid as i32) {
            self.record_exit(st, e);
        }
    }

    fn do_create(&self, req: &api::CreateTaskRequest) -> Result<u32> {
        let id = req.id.as_str();
        if id.is_empty() {
            return Err(Error::InvalidArgument("container id is empty".into()));
        }
        let bundle = PathBuf::from(&req.bundle);
        if !bundle.join("config.json").is_file() {
            return Err(Error::InvalidArgument(format!(
                "bundle {:?} has no config.json",
                req.bundle
            )));
        }
        if self.lock().containers.contains_key(id) {
            return Err(Error::AlreadyExists(format!(
                "container {id:?} already exists"
            )));
        }
        if !req.checkpoint.is_empty() {
            return Err(Error::Unimplemented(
                "restore from checkpoint is not supported".into(),
            ));
        }
        let choice = options::choose(req.options.as_ref(), &self.namespace)?;
        options::save(&bundle, &choice)?;
        let runtime = self.runtime_for(&bundle, &choice);

        let rootfs = bundle.join("rootfs");
        let mut mounted = false;
        if !req.rootfs.is_empty() {
            std::fs::create_dir_all(&rootfs)
                .map_err(|e| Error::io(format!("create {}", rootfs.display()), e))?;
            for m in &req.rootfs {
                if let Err(e) = mount::mount_one(&m.type_, &m.source, &rootfs, &m.options) {
                    let _ = mount::unmount_all(&rootfs);
                    return Err(e);
                }
                mounted = true;
            }
        }
        let stdio = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let cleanup = |runtime: &Runtime| {
            let _ = runtime.delete(id, true);
            if mounted {
                let _ = mount::unmount_all(&rootfs);
            }
        };
        let pid = match self.create_init(id, &bundle, &runtime, &stdio, choice.no_pivot) {
            Ok(x) => x,
            Err(e) => {
                cleanup(&runtime);
                return Err(e);
            }
        };
        let (pid, io) = pid;
        let mut init = Proc::new(stdio.clone());
        init.pid = pid;
        init.io = Some(io);
        let mut ev = TaskCreate::new();
        ev.container_id = id.to_string();
        ev.bundle = req.bundle.clone();
        ev.rootfs = req.rootfs.clone();
        let mut tio = TaskIO::new();
        tio.stdin = stdio.stdin;
        tio.stdout = stdio.stdout;
        tio.stderr = stdio.stderr;
        tio.terminal = stdio.terminal;
        ev.io = MessageField::some(tio);
        ev.pid = pid;
        {
            let mut st = self.lock();
            st.containers.insert(
                id.to_string(),
                Container {
                    bundle: bundle.clone(),
                    runtime,
                    rootfs_mounted: mounted,
                    paused: false,
                    init,
                    execs: HashMap::new(),
                    oom: None,
                },
            );
            // TaskCreate before any TaskExit of this init.
            self.publisher.publish(topics::TASK_CREATE_EVENT_TOPIC, &ev);
            self.check_early_exit(&mut st, pid);
        }
        // Watch for OOM from creation on: the cgroup exists now, and a
        // process may hit its limit as soon as it starts.
        self.watch_oom(id, pid);
        Ok(pid)
    }

    fn runtime_for(&self, bundle: &Path, choice: &RuntimeChoice) -> Runtime {
        let mut r = Runtime::new(
            choice.binary.clone(),
            choice.root.clone(),
            bundle.join("log.json"),
            self.reaper.clone(),
        );
        r.systemd_cgroup = choice.systemd_cgroup;
        r
    }

    fn create_init(
        &self,
        id: &str,
        bundle: &Path,
        runtime: &Runtime,
        stdio: &StdioPaths,
        no_pivot: bool,
    ) -> Result<(u32, ProcIo)> {
        reset_log(&runtime.log);
        let pid_file = bundle.join("init.pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut pending = Pending::prepare(stdio, &self.console_dir, "init", id, &self.namespace)?;
        let console = pending.console_path();
        let fds = std::mem::take(&mut pending.for_runtime);
        runtime.create(id, bundle, &pid_file, console.as_deref(), no_pivot, fds)?;
        let io = pending.finish()?;
        // The runtime writes it with the usual umask; the bundle's files
        // are root's alone.
        let _ = crate::private::close_file(&pid_file);
        let pid = read_pid_file(&pid_file)?;
        Ok((pid, io))
    }

    fn start_init(&self, id: &str) -> Result<u32> {
        let (runtime, pid) = {
            let st = self.lock();
            let c = st.containers.get(id).ok_or_else(|| not_found(id))?;
            match c.init.state {
                PState::Created => {}
                PState::Running => {
                    return Err(Error::FailedPrecondition(format!(
                        "container {id:?} is already running"
                    )))
                }
                PState::Stopped => {
                    return Err(Error::FailedPrecondition(format!(
                        "container {id:?} has already exited"
                    )))
                }
            }
            (c.runtime.clone(), c.init.pid)
        };
        runtime.start(id)?;
        {
            let mut st = self.lock();
            if let Some(c) = st.containers.get_mut(id) {
                if c.init.state == PState::Created {
                    c.init.state = PState::Running;
                }
            }
        }
        let mut ev = TaskStart::new();
        ev.container_id = id.to_string();
        ev.pid = pid;
        self.publisher.publish(topics::TASK_START_EVENT_TOPIC, &ev);
        Ok(pid)
    }

    /// cgroup v1: one small thread per container waits on the OOM eventfd.
    fn watch_oom(&self, id: &str, pid: u32) {
        let Ok((efd, dir)) = stats::v1_oom_eventfd(pid) else {
            return;
        };
        let watch = Arc::new(OomWatch {
            published: AtomicU64::new(stats::v1_oom_kills(&dir).unwrap_or(0)),
            dir,
        });
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.oom = Some(watch.clone());
        }
        let publisher = self.publisher.clone();
        let id = id.to_string();
        let _ = std::thread::Builder::new()
            .name("oom".into())
            .stack_size(32 * 1024)
            .spawn(move || {
                // The eventfd also fires when the cgroup goes away.
                while stats::wait_eventfd(&efd) && watch.dir.exists() {
                    watch.check(&id, &publisher, true);
                }
            });
    }

    fn start_exec(&self, id: &str, exec_id: &str) -> Result<u32> {
        let (runtime, bundle, spec, stdio) = {
            let mut st = self.lock();
            let c = st.containers.get_mut(id).ok_or_else(|| not_found(id))?;
            if c.init.state != PState::Running {
                return Err(Error::FailedPrecondition(format!(
                    "container {id:?} is not running"
                )));
            }
            let (runtime, bundle) = (c.runtime.clone(), c.bundle.clone());
            let p = c.proc_mut(exec_id)?;
            if p.state != PState::Created || p.spec.is_none() {
                return Err(Error::FailedPrecondition(format!(
                    "exec {exec_id:?} was already started"
                )));
            }
            (runtime, bundle, p.spec.take(), p.stdio.clone())
        };
        let spec = spec.unwrap_or_default();
        let tag = format!("{:x}", fnv(exec_id));
        let spec_path = bundle.join(format!("exec-{tag}.json"));
        let pid_path = bundle.join(format!("exec-{tag}.pid"));
        let result = (|| {
            crate::private::write(&spec_path, &spec)
                .map_err(|e| Error::io(format!("write {}", spec_path.display()), e))?;
            let mut pending =
                Pending::prepare(&stdio, &self.console_dir, &tag, id, &self.namespace)?;
            let console = pending.console_path();
            let fds = std::mem::take(&mut pending.for_runtime);
            runtime.exec(id, &spec_path, &pid_path, console.as_deref(), fds)?;
            let io = pending.finish()?;
            let pid = read_pid_file(&pid_path)?;
            Ok::<_, Error>((pid, io))
        })();
        let _ = std::fs::remove_file(&spec_path);
        let _ = std::fs::remove_file(&pid_path);
        let (pid, io) = match result {
            Ok(x) => x,
            Err(e) => {
                // Leave the exec startable again with the same spec.
                let mut st = self.lock();
                if let Some(p) = st
                    .containers
                    .get_mut(id)
                    .and_then(|c| c.execs.get_mut(exec_id))
                {
                    p.spec = Some(spec);
                }
                return Err(e);
            }
        };
        self.exec_started(id, exec_id, pid, Some(io));
        Ok(pid)
    }

    /// The runtime started an exec: record its pid and io, publish
    /// TaskExecStarted, and take its exit if it was reaped already, all in
    /// one hold of the state lock (see `handle_exit`); TaskExecStarted
    /// thereby always precedes the exec's TaskExit.
    fn exec_started(&self, id: &str, exec_id: &str, pid: u32, io: Option<ProcIo>) {
        let mut st = self.lock();
        if let Some(p) = st
            .containers
            .get_mut(id)
            .and_then(|c| c.execs.get_mut(exec_id))
        {
            p.pid = pid;
            p.io = io;
            if p.state == PState::Created {
                p.state = PState::Running;
            }
        }
        let mut ev = TaskExecStarted::new();
        ev.container_id = id.to_string();
        ev.exec_id = exec_id.to_string();
        ev.pid = pid;
        self.publisher
            .publish(topics::TASK_EXEC_STARTED_EVENT_TOPIC, &ev);
        self.check_early_exit(&mut st, pid);
    }

    fn do_delete(&self, id: &str, exec_id: &str) -> Result<api::DeleteResponse> {
        let mut resp = api::DeleteResponse::new();
        if !exec_id.is_empty() {
            let mut st = self.lock();
            let c = st.containers.get_mut(id).ok_or_else(|| not_found(id))?;
            let p = c.proc_mut(exec_id)?;
            if p.state == PState::Running {
                return Err(Error::FailedPrecondition(format!(
                    "cannot delete running exec {exec_id:?}"
                )));
            }
            let p = c.execs.remove(exec_id).ok_or_else(|| not_found(exec_id))?;
            resp.pid = p.pid;
            if let Some(e) = p.exit {
                resp.exit_status = e.code;
                resp.exited_at = ts(e.at);
            }
            return Ok(resp);
        }
        let (runtime, state, pid) = {
            let st = self.lock();
            let c = st.containers.get(id).ok_or_else(|| not_found(id))?;
            (c.runtime.clone(), c.init.state, c.init.pid)
        };
        match state {
            PState::Running => {
                return Err(Error::FailedPrecondition(format!(
                    "cannot delete running container {id:?}: kill it first"
                )))
            }
            PState::Created => {
                // Never started: the runtime kills the waiting init.
                runtime.delete(id, true)?;
                let _ = self.wait_exit(id, "", Some(std::time::Duration::from_secs(10)));
            }
            PState::Stopped => {
                if let Err(e) = runtime.delete(id, true) {
                    tracing::warn!(container = id, "runtime delete: {e}");
                }
            }
        }
        let c = {
            let mut st = self.lock();
            st.containers.remove(id).ok_or_else(|| not_found(id))?
        };
        if c.rootfs_mounted {
            mount::unmount_all(&c.bundle.join("rootfs"))?;
        }
        resp.pid = pid;
        let exit = c.init.exit.unwrap_or(Exit {
            pid: pid as i32,
            code: 128 + libc::SIGKILL as u32,
            at: SystemTime::now(),
        });
        resp.exit_status = exit.code;
        resp.exited_at = ts(exit.at);
        let mut ev = TaskDelete::new();
        ev.container_id = id.to_string();
        ev.id = id.to_string();
        ev.pid = pid;
        ev.exit_status = exit.code;
        ev.exited_at = ts(exit.at);
        self.publisher.publish(topics::TASK_DELETE_EVENT_TOPIC, &ev);
        Ok(resp)
    }

    /// Block until the process exits (or the timeout passes).
    fn wait_exit(
        &self,
        id: &str,
        exec_id: &str,
        timeout: Option<std::time::Duration>,
    ) -> Result<Option<Exit>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut st = self.lock();
        loop {
            let c = st.containers.get_mut(id).ok_or_else(|| not_found(id))?;
            let p = c.proc_mut(exec_id)?;
            if let Some(e) = p.exit {
                return Ok(Some(e));
            }
            st = match deadline {
                None => self.exited.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Ok(None);
                    }
                    self.exited
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    fn do_kill(&self, req: &api::KillRequest) -> Result<()> {
        let (runtime, pid, exited) = {
            let mut st = self.lock();
            let c = st
                .containers
                .get_mut(&req.id)
                .ok_or_else(|| not_found(&req.id))?;
            let runtime = c.runtime.clone();
            let p = c.proc_mut(&req.exec_id)?;
            (runtime, p.pid, p.exit.is_some() || p.pid == 0)
        };
        if req.exec_id.is_empty() {
            if exited && !req.all {
                return Err(Error::NotFound(format!(
                    "process already finished: container {:?} has exited",
                    req.id
                )));
            }
            return runtime.kill(&req.id, req.signal, req.all);
        }
        if exited {
            return Err(Error::NotFound(format!(
                "process already finished: exec {:?} has exited",
                req.exec_id
            )));
        }
        let sig = i32::try_from(req.signal)
            .map_err(|_| Error::InvalidArgument(format!("bad signal {}", req.signal)))?;
        // SAFETY: kill(2) on a pid we reap ourselves and have not reaped yet.
        if unsafe { libc::kill(pid as i32, sig) } != 0 {
            return Err(Error::io(
                format!("kill exec {:?}", req.exec_id),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    fn do_state(&self, req: &api::StateRequest) -> Result<api::StateResponse> {
        let mut st = self.lock();
        let c = st
            .containers
            .get_mut(&req.id)
            .ok_or_else(|| not_found(&req.id))?;
        let paused = c.paused;
        let bundle = c.bundle.to_string_lossy().into_owned();
        let p = c.proc_mut(&req.exec_id)?;
        let mut r = api::StateResponse::new();
        r.id = if req.exec_id.is_empty() {
            req.id.clone()
        } else {
            req.exec_id.clone()
        };
        r.exec_id = req.exec_id.clone();
        r.bundle = bundle;
        r.pid = p.pid;
        let status = match p.state {
            PState::Created => Status::CREATED,
            PState::Running if paused && req.exec_id.is_empty() => Status::PAUSED,
            PState::Running => Status::RUNNING,
            PState::Stopped => Status::STOPPED,
        };
        r.status = status.into();
        r.stdin = p.stdio.stdin.clone();
        r.stdout = p.stdio.stdout.clone();
        r.stderr = p.stdio.stderr.clone();
        r.terminal = p.stdio.terminal;
        if let Some(e) = p.exit {
            r.exit_status = e.code;
            r.exited_at = ts(e.at);
        }
        Ok(r)
    }

    fn runtime_of(&self, id: &str) -> Result<(Runtime, u32, bool)> {
        let st = self.lock();
        let c = st.containers.get(id).ok_or_else(|| not_found(id))?;
        Ok((c.runtime.clone(), c.init.pid, c.init.exit.is_some()))
    }

    fn set_paused(&self, id: &str, paused: bool) -> Result<()> {
        let (runtime, _, exited) = self.runtime_of(id)?;
        if exited {
            return Err(Error::FailedPrecondition(format!(
                "container {id:?} has exited"
            )));
        }
        if paused {
            runtime.pause(id)?;
        } else {
            runtime.resume(id)?;
        }
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.paused = paused;
        }
        if paused {
            let mut ev = TaskPaused::new();
            ev.container_id = id.to_string();
            self.publisher.publish(topics::TASK_PAUSED_EVENT_TOPIC, &ev);
        } else {
            let mut ev = TaskResumed::new();
            ev.container_id = id.to_string();
            self.publisher
                .publish(topics::TASK_RESUMED_EVENT_TOPIC, &ev);
        }
        Ok(())
    }

    fn do_pids(&self, id: &str) -> Result<api::PidsResponse> {
        let (runtime, _, _) = self.runtime_of(id)?;
        let pids = runtime.ps(id)?;
        let execs: HashMap<u32, String> = {
            let st = self.lock();
            st.containers
                .get(id)
                .map(|c| {
                    c.execs
                        .iter()
                        .filter(|(_, p)| p.pid != 0)
                        .map(|(x, p)| (p.pid, x.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut r = api::PidsResponse::new();
        for pid in pids {
            let mut info = api::ProcessInfo::new();
            info.pid = pid;
            if let Some(x) = execs.get(&pid) {
                let mut d = ProcessDetails::new();
                d.exec_id = x.clone();
                info.info = to_any(&d).into();
            }
            r.processes.push(info);
        }
        Ok(r)
    }

    fn request_shutdown(&self) {
        if let Some(tx) = self
            .shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = tx.send(());
        }
    }
}

/// A short stable tag for file names derived from an exec id.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

type TResult<T> = ttrpc::Result<T>;

/// The ttrpc face of the shim (registered as task v2 and v3).
pub struct TaskService(pub Arc<Shim>);

impl Task for TaskService {
    fn state(&self, _: &TtrpcContext, req: api::StateRequest) -> TResult<api::StateResponse> {
        Ok(self.0.do_state(&req)?)
    }

    fn create(
        &self,
        _: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> TResult<api::CreateTaskResponse> {
        tracing::info!(id = %req.id, bundle = %req.bundle, "create");
        let pid = self.0.do_create(&req).map_err(|e| {
            tracing::warn!(id = %req.id, "create failed: {e}");
            e
        })?;
        let mut r = api::CreateTaskResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn start(&self, _: &TtrpcContext, req: api::StartRequest) -> TResult<api::StartResponse> {
        tracing::info!(id = %req.id, exec = %req.exec_id, "start");
        let pid = if req.exec_id.is_empty() {
            self.0.start_init(&req.id)?
        } else {
            self.0.start_exec(&req.id, &req.exec_id)?
        };
        let mut r = api::StartResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn delete(&self, _: &TtrpcContext, req: api::DeleteRequest) -> TResult<api::DeleteResponse> {
        tracing::info!(id = %req.id, exec = %req.exec_id, "delete");
        Ok(self.0.do_delete(&req.id, &req.exec_id)?)
    }

    fn pids(&self, _: &TtrpcContext, req: api::PidsRequest) -> TResult<api::PidsResponse> {
        Ok(self.0.do_pids(&req.id)?)
    }

    fn pause(&self, _: &TtrpcContext, req: api::PauseRequest) -> TResult<api::Empty> {
        self.0.set_paused(&req.id, true)?;
        Ok(api::Empty::new())
    }

    fn resume(&self, _: &TtrpcContext, req: api::ResumeRequest) -> TResult<api::Empty> {
        self.0.set_paused(&req.id, false)?;
        Ok(api::Empty::new())
    }

    fn checkpoint(&self, _: &TtrpcContext, _: api::CheckpointTaskRequest) -> TResult<api::Empty> {
        Err(
            Error::Unimplemented("checkpoint is not supported by containerd-shim-hull-v2".into())
                .into(),
        )
    }

    fn kill(&self, _: &TtrpcContext, req: api::KillRequest) -> TResult<api::Empty> {
        tracing::info!(id = %req.id, exec = %req.exec_id, signal = req.signal, all = req.all, "kill");
        self.0.do_kill(&req)?;
        Ok(api::Empty::new())
    }

    fn exec(&self, _: &TtrpcContext, req: api::ExecProcessRequest) -> TResult<api::Empty> {
        tracing::info!(id = %req.id, exec = %req.exec_id, "exec");
        if req.exec_id.is_empty() {
            return Err(Error::InvalidArgument("exec id is empty".into()).into());
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a: &Any| a.value.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::InvalidArgument("exec without a process spec".into()))?;
        {
            let mut st = self.0.lock();
            let c = st
                .containers
                .get_mut(&req.id)
                .ok_or_else(|| not_found(&req.id))?;
            if c.init.exit.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "container {:?} has exited",
                    req.id
                ))
                .into());
            }
            if c.execs.contains_key(&req.exec_id) {
                return Err(
                    Error::AlreadyExists(format!("exec {:?} already exists", req.exec_id)).into(),
                );
            }
            let mut p = Proc::new(StdioPaths {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
            });
            p.spec = Some(spec);
            c.execs.insert(req.exec_id.clone(), p);
        }
        let mut ev = TaskExecAdded::new();
        ev.container_id = req.id.clone();
        ev.exec_id = req.exec_id.clone();
        self.0
            .publisher
            .publish(topics::TASK_EXEC_ADDED_EVENT_TOPIC, &ev);
        Ok(api::Empty::new())
    }

    fn resize_pty(&self, _: &TtrpcContext, req: api::ResizePtyRequest) -> TResult<api::Empty> {
        let mut st = self.0.lock();
        let c = st
            .containers
            .get_mut(&req.id)
            .ok_or_else(|| not_found(&req.id))?;
        let p = c.proc_mut(&req.exec_id)?;
        match &p.io {
            Some(io) => io.resize(req.width, req.height)?,
            None => return Err(Error::FailedPrecondition("process not started".into()).into()),
        }
        Ok(api::Empty::new())
    }

    fn close_io(&self, _: &TtrpcContext, req: api::CloseIORequest) -> TResult<api::Empty> {
        let closer = {
            let mut st = self.0.lock();
            let c = st
                .containers
                .get_mut(&req.id)
                .ok_or_else(|| not_found(&req.id))?;
            let p = c.proc_mut(&req.exec_id)?;
            p.io.as_ref().map(|io| io.stdin_closer())
        };
        // Outside the state lock: this may wait for a stdin write in
        // progress, and exits must still be recorded meanwhile.
        if req.stdin {
            if let Some(closer) = closer {
                closer.close();
            }
        }
        Ok(api::Empty::new())
    }

    fn update(&self, _: &TtrpcContext, req: api::UpdateTaskRequest) -> TResult<api::Empty> {
        let (runtime, _, exited) = self.0.runtime_of(&req.id)?;
        if exited {
            return Err(
                Error::FailedPrecondition(format!("container {:?} has exited", req.id)).into(),
            );
        }
        let res = req
            .resources
            .as_ref()
            .map(|a| a.value.clone())
            .ok_or_else(|| Error::InvalidArgument("update without resources".into()))?;
        runtime.update(&req.id, &res)?;
        Ok(api::Empty::new())
    }

    fn wait(&self, _: &TtrpcContext, req: api::WaitRequest) -> TResult<api::WaitResponse> {
        let e = self
            .0
            .wait_exit(&req.id, &req.exec_id, None)?
            .ok_or_else(|| Error::Other("wait ended without an exit".into()))?;
        let mut r = api::WaitResponse::new();
        r.exit_status = e.code;
        r.exited_at = ts(e.at);
        Ok(r)
    }

    fn stats(&self, _: &TtrpcContext, req: api::StatsRequest) -> TResult<api::StatsResponse> {
        let (_, pid, exited) = self.0.runtime_of(&req.id)?;
        if exited || pid == 0 {
            return Err(Error::FailedPrecondition(format!(
                "container {:?} is not running",
                req.id
            ))
            .into());
        }
        let mut r = api::StatsResponse::new();
        r.stats = MessageField::some(stats::metrics(pid)?);
        Ok(r)
    }

    fn connect(&self, _: &TtrpcContext, req: api::ConnectRequest) -> TResult<api::ConnectResponse> {
        let mut r = api::ConnectResponse::new();
        r.shim_pid = std::process::id();
        if let Ok((_, pid, _)) = self.0.runtime_of(&req.id) {
            r.task_pid = pid;
        }
        r.version = env!("CARGO_PKG_VERSION").to_string();
        Ok(r)
    }

    fn shutdown(&self, _: &TtrpcContext, req: api::ShutdownRequest) -> TResult<api::Empty> {
        let empty = self.0.lock().containers.is_empty();
        if empty || req.now {
            tracing::info!("shutdown");
            self.0.request_shutdown();
        }
        Ok(api::Empty::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// A shim holding one running container `c` with no runtime behind it
    /// (nothing here calls the runtime binary).
    fn shim_with_container() -> Arc<Shim> {
        let (tx, _rx) = channel();
        let reaper = Reaper::new();
        let shim = Shim::new(reaper.clone(), Publisher::none(), "test".into(), tx);
        let mut init = Proc::new(StdioPaths::default());
        init.pid = 1;
        init.state = PState::Running;
        shim.lock().containers.insert(
            "c".into(),
            Container {
                bundle: PathBuf::from("/nonexistent"),
                runtime: Runtime::new(
                    PathBuf::from("/nonexistent/runtime"),
                    PathBuf::from("/nonexistent/root"),
                    PathBuf::from("/nonexistent/log.json"),
                    reaper,
                ),
                rootfs_mounted: false,
                paused: false,
                init,
                execs: HashMap::new(),
                oom: None,
            },
        );
        shim
    }

    fn add_exec(shim: &Shim, exec_id: &str) {
        let mut p = Proc::new(StdioPaths::default());
        p.spec = Some(b"{}".to_vec());
        shim.lock()
            .containers
            .get_mut("c")
            .unwrap()
            .execs
            .insert(exec_id.into(), p);
    }

    /// A short exec exits (and is reaped) while its start is still learning
    /// its pid: whichever side comes first, the exit must reach Wait. The
    /// two sides race in threads, many times over, as `true` and
    /// `ctr task exec` race in the shim.
    #[test]
    fn exit_racing_exec_start_is_never_lost() {
        let shim = shim_with_container();
        let go = Arc::new(std::sync::Barrier::new(2));
        for n in 0..20_000u32 {
            let exec_id = format!("x{n}");
            add_exec(&shim, &exec_id);
            // Fake pids far above pid_max: never a real process.
            let pid = 10_000_000 + n;
            let exit = Exit {
                pid: pid as i32,
                code: n % 7,
                at: SystemTime::now(),
            };
            let reaped = {
                let (shim, go) = (shim.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    shim.handle_exit(exit)
                })
            };
            go.wait();
            shim.exec_started("c", &exec_id, pid, None);
            reaped.join().unwrap();
            let got = shim
                .wait_exit("c", &exec_id, Some(Duration::from_secs(2)))
                .unwrap();
            assert_eq!(
                got.map(|e| e.code),
                Some(n % 7),
                "exit of exec {exec_id} (round {n}) was lost"
            );
            shim.do_delete("c", &exec_id).unwrap();
        }
    }
}
