//! A container the shim runs: its bundle, runtime, rootfs mounts, pause,
//! OOM watch, and its processes (the init and the execs, one `Process`
//! type). Creating one, pausing it and listing its pids live here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use containerd_shim_protos::api;
use containerd_shim_protos::events::task::{TaskCreate, TaskIO, TaskOOM, TaskPaused, TaskResumed};
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::shim::oci::ProcessDetails;
use containerd_shim_protos::topics;

use super::exec::ExecLifecycle;
use super::init::InitLifecycle;
use super::process::Process;
use super::{not_found, Shim};
use crate::error::{Error, Result};
use crate::events::{to_any, Publisher};
use crate::mount;
use crate::options::{self, RuntimeChoice};
use crate::runtime::{read_pid_file, reset_log, Runtime};
use crate::stats;
use crate::stdio::{Pending, ProcIo, StdioPaths};

pub struct Container {
    pub bundle: PathBuf,
    pub runtime: Runtime,
    pub rootfs_mounted: bool,
    pub paused: bool,
    pub init: Process,
    pub execs: HashMap<String, Process>,
    pub oom: Option<Arc<OomWatch>>,
}

/// OOM kills of a container's (v1) memory cgroup, published once each:
/// by the eventfd thread while the container lives, and when its init
/// exits (before TaskExit, while the cgroup surely still exists).
pub struct OomWatch {
    dir: PathBuf,
    published: AtomicU64,
}

impl OomWatch {
    /// Publish TaskOOM if the cgroup counted OOM kills not yet published.
    /// Without an `oom_kill` counter (old kernels) an event counts as one.
    pub fn check(&self, id: &str, publisher: &Publisher, from_event: bool) {
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
    /// The process the Task API names by `exec_id`: the init when empty.
    pub fn process_mut(&mut self, exec_id: &str) -> Result<&mut Process> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        self.execs
            .get_mut(exec_id)
            .ok_or_else(|| Error::NotFound(format!("exec {exec_id:?} not found")))
    }

    /// The init, then the execs.
    pub fn processes_mut(&mut self) -> impl Iterator<Item = &mut Process> {
        std::iter::once(&mut self.init).chain(self.execs.values_mut())
    }

    /// Task.Exec: a new exec of container `id`, not started yet.
    pub fn add_exec(
        &mut self,
        id: &str,
        exec_id: &str,
        stdio: StdioPaths,
        spec: Vec<u8>,
    ) -> Result<()> {
        if self.init.exit.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "container {id:?} has exited"
            )));
        }
        if self.execs.contains_key(exec_id) {
            return Err(Error::AlreadyExists(format!(
                "exec {exec_id:?} already exists"
            )));
        }
        let lifecycle = Arc::new(ExecLifecycle::new(id, exec_id, spec));
        self.execs
            .insert(exec_id.to_string(), Process::new(exec_id, stdio, lifecycle));
        Ok(())
    }
}

impl Shim {
    pub(super) fn create(&self, req: &api::CreateTaskRequest) -> Result<u32> {
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
        let mut init = Process::new(id, stdio.clone(), Arc::new(InitLifecycle::new(id)));
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

    /// The container's runtime, its init's pid, and whether the init exited.
    pub(super) fn runtime_of(&self, id: &str) -> Result<(Runtime, u32, bool)> {
        let st = self.lock();
        let c = st.containers.get(id).ok_or_else(|| not_found(id))?;
        Ok((c.runtime.clone(), c.init.pid, c.init.exit.is_some()))
    }

    pub(super) fn set_paused(&self, id: &str, paused: bool) -> Result<()> {
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

    pub(super) fn pids(&self, id: &str) -> Result<api::PidsResponse> {
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
}
