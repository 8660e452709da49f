//! The Task service: containers (`container`) and their processes
//! (`process`: one type for the init and the execs, their differences in
//! `init` and `exec`), driven through the runtime binary; exits come from
//! the reaper through one queue. `task` is the ttrpc face.

mod container;
mod exec;
mod init;
mod process;
mod task;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use containerd_shim_protos::api;
use containerd_shim_protos::events::task::TaskExit;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::topics;

use crate::error::{Error, Result};
use crate::events::Publisher;
use crate::reaper::{Exit, Reaper};
use container::Container;
use process::Process;
pub use task::TaskService;

/// How long an exit waits for its terminal's output copy to end.
const TERMINAL_DRAIN: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    containers: HashMap<String, Container>,
}

impl State {
    /// The process of container `id` that the Task API names by `exec_id`.
    fn process_mut(&mut self, id: &str, exec_id: &str) -> Result<&mut Process> {
        self.containers
            .get_mut(id)
            .ok_or_else(|| not_found(id))?
            .process_mut(exec_id)
    }
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
        // A terminal's output reaches the caller before the exit does (as
        // containerd's shim waits for its console copy): the copy ends at
        // EIO once the pty's last slave fd is gone, which survivors holding
        // it may delay, hence the bound.
        let copy = self.lock().containers.values_mut().find_map(|c| {
            c.processes_mut()
                .find(|p| p.pid == e.pid as u32 && p.exit.is_none())
                .and_then(|p| p.io.as_ref()?.output_copy())
        });
        if let Some(c) = copy {
            if !c.wait(TERMINAL_DRAIN) {
                tracing::debug!(
                    pid = e.pid,
                    "terminal output still open {TERMINAL_DRAIN:?} after the exit"
                );
            }
        }
        let mut st = self.lock();
        if !self.record_exit(&mut st, e) {
            self.reaper.store_orphan(e);
        }
    }

    /// Record an exit if it belongs to one of our processes.
    fn record_exit(&self, st: &mut State, e: Exit) -> bool {
        let pid = e.pid as u32;
        for (cid, c) in st.containers.iter_mut() {
            let Some(p) = c.processes_mut().find(|p| p.pid == pid && p.exit.is_none()) else {
                continue;
            };
            p.set_exited(e);
            let (id, lifecycle) = (p.id.clone(), p.lifecycle.clone());
            lifecycle.exited(self, c);
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
        false
    }

    /// After learning a pid (under the same hold of the state lock that
    /// recorded it, see `handle_exit`): maybe it already exited.
    fn check_early_exit(&self, st: &mut State, pid: u32) {
        if let Some(e) = self.reaper.claim_early_exit(pid as i32) {
            self.record_exit(st, e);
        }
    }

    /// Task.Start of the init or an exec.
    fn start(&self, id: &str, exec_id: &str) -> Result<u32> {
        let lifecycle = self.lock().process_mut(id, exec_id)?.lifecycle.clone();
        lifecycle.start(self)
    }

    /// Task.Kill of the init or an exec.
    fn kill(&self, req: &api::KillRequest) -> Result<()> {
        let (runtime, lifecycle, pid, ended) = {
            let mut st = self.lock();
            let c = st
                .containers
                .get_mut(&req.id)
                .ok_or_else(|| not_found(&req.id))?;
            let runtime = c.runtime.clone();
            let p = c.process_mut(&req.exec_id)?;
            (runtime, p.lifecycle.clone(), p.pid, p.ended())
        };
        lifecycle.kill(&runtime, pid, ended, req.signal, req.all)
    }

    /// Task.Delete of an exec, or of the init and so the container.
    fn delete(&self, id: &str, exec_id: &str) -> Result<api::DeleteResponse> {
        let lifecycle = self.lock().process_mut(id, exec_id)?.lifecycle.clone();
        lifecycle.delete(self)
    }

    fn state(&self, req: &api::StateRequest) -> Result<api::StateResponse> {
        let mut st = self.lock();
        let c = st
            .containers
            .get_mut(&req.id)
            .ok_or_else(|| not_found(&req.id))?;
        let paused = c.paused;
        let bundle = c.bundle.to_string_lossy().into_owned();
        let p = c.process_mut(&req.exec_id)?;
        Ok(p.state_response(&req.exec_id, &bundle, paused))
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
            if let Some(e) = st.process_mut(id, exec_id)?.exit {
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

#[cfg(test)]
mod tests;
