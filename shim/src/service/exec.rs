//! The lifecycle of an exec: added with its OCI process spec (Task.Exec),
//! started by the runtime's `exec`, signalled directly (the shim reaps it),
//! and forgotten on delete.

use std::sync::Mutex;

use containerd_shim_protos::api;
use containerd_shim_protos::events::task::TaskExecStarted;
use containerd_shim_protos::topics;

use super::process::{Lifecycle, PState};
use super::{not_found, ts, Shim};
use crate::error::{Error, Result};
use crate::runtime::{read_pid_file, Runtime};
use crate::stdio::{Pending, ProcIo};

pub struct ExecLifecycle {
    container_id: String,
    exec_id: String,
    /// The OCI Process JSON until the exec is started (back again when a
    /// start fails, so it can be tried again). Taken under the state lock.
    spec: Mutex<Option<Vec<u8>>>,
}

impl ExecLifecycle {
    pub fn new(container_id: &str, exec_id: &str, spec: Vec<u8>) -> Self {
        ExecLifecycle {
            container_id: container_id.to_string(),
            exec_id: exec_id.to_string(),
            spec: Mutex::new(Some(spec)),
        }
    }

    fn spec(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        self.spec.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Lifecycle for ExecLifecycle {
    fn start(&self, shim: &Shim) -> Result<u32> {
        let (id, exec_id) = (self.container_id.as_str(), self.exec_id.as_str());
        let (runtime, bundle, spec, stdio) = {
            let mut st = shim.lock();
            let c = st.containers.get_mut(id).ok_or_else(|| not_found(id))?;
            if c.init.state != PState::Running {
                return Err(Error::FailedPrecondition(format!(
                    "container {id:?} is not running"
                )));
            }
            let (runtime, bundle) = (c.runtime.clone(), c.bundle.clone());
            let p = c.process_mut(exec_id)?;
            let mut spec = self.spec();
            if p.state != PState::Created || spec.is_none() {
                return Err(Error::FailedPrecondition(format!(
                    "exec {exec_id:?} was already started"
                )));
            }
            (runtime, bundle, spec.take(), p.stdio.clone())
        };
        let spec = spec.unwrap_or_default();
        let tag = format!("{:x}", fnv(exec_id));
        let spec_path = bundle.join(format!("exec-{tag}.json"));
        let pid_path = bundle.join(format!("exec-{tag}.pid"));
        let result = (|| {
            crate::private::write(&spec_path, &spec)
                .map_err(|e| Error::io(format!("write {}", spec_path.display()), e))?;
            let mut pending =
                Pending::prepare(&stdio, &shim.console_dir, &tag, id, &shim.namespace)?;
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
                let _st = shim.lock();
                *self.spec() = Some(spec);
                return Err(e);
            }
        };
        shim.exec_started(id, exec_id, pid, Some(io));
        Ok(pid)
    }

    fn kill(
        &self,
        _runtime: &Runtime,
        pid: u32,
        ended: bool,
        signal: u32,
        _all: bool,
    ) -> Result<()> {
        if ended {
            return Err(Error::NotFound(format!(
                "process already finished: exec {:?} has exited",
                self.exec_id
            )));
        }
        let sig = i32::try_from(signal)
            .map_err(|_| Error::InvalidArgument(format!("bad signal {signal}")))?;
        // SAFETY: kill(2) on a pid we reap ourselves and have not reaped yet.
        if unsafe { libc::kill(pid as i32, sig) } != 0 {
            return Err(Error::io(
                format!("kill exec {:?}", self.exec_id),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    fn delete(&self, shim: &Shim) -> Result<api::DeleteResponse> {
        let (id, exec_id) = (self.container_id.as_str(), self.exec_id.as_str());
        let mut st = shim.lock();
        let c = st.containers.get_mut(id).ok_or_else(|| not_found(id))?;
        if c.process_mut(exec_id)?.state == PState::Running {
            return Err(Error::FailedPrecondition(format!(
                "cannot delete running exec {exec_id:?}"
            )));
        }
        let p = c.execs.remove(exec_id).ok_or_else(|| not_found(exec_id))?;
        let mut resp = api::DeleteResponse::new();
        resp.pid = p.pid;
        if let Some(e) = p.exit {
            resp.exit_status = e.code;
            resp.exited_at = ts(e.at);
        }
        Ok(resp)
    }

    fn shows_pause(&self) -> bool {
        false
    }
}

impl Shim {
    /// The runtime started an exec: record its pid and io, publish
    /// TaskExecStarted, and take its exit if it was reaped already, all in
    /// one hold of the state lock (see `handle_exit`); TaskExecStarted
    /// thereby always precedes the exec's TaskExit.
    pub(super) fn exec_started(&self, id: &str, exec_id: &str, pid: u32, io: Option<ProcIo>) {
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
