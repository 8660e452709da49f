//! The lifecycle of a container's init: made by the runtime's `create`
//! (see `container.rs`), started by its `start`, signalled by its `kill`;
//! deleting it deletes the container.

use std::time::{Duration, SystemTime};

use containerd_shim_protos::api;
use containerd_shim_protos::events::task::{TaskDelete, TaskStart};
use containerd_shim_protos::topics;

use super::container::Container;
use super::process::{Lifecycle, PState};
use super::{not_found, ts, Shim};
use crate::error::{Error, Result};
use crate::mount;
use crate::reaper::Exit;
use crate::runtime::Runtime;

pub struct InitLifecycle {
    container_id: String,
}

impl InitLifecycle {
    pub fn new(container_id: &str) -> Self {
        InitLifecycle {
            container_id: container_id.to_string(),
        }
    }
}

impl Lifecycle for InitLifecycle {
    fn start(&self, shim: &Shim) -> Result<u32> {
        let id = self.container_id.as_str();
        let (runtime, pid) = {
            let st = shim.lock();
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
            let mut st = shim.lock();
            if let Some(c) = st.containers.get_mut(id) {
                if c.init.state == PState::Created {
                    c.init.state = PState::Running;
                }
            }
        }
        let mut ev = TaskStart::new();
        ev.container_id = id.to_string();
        ev.pid = pid;
        shim.publisher.publish(topics::TASK_START_EVENT_TOPIC, &ev);
        Ok(pid)
    }

    fn kill(
        &self,
        runtime: &Runtime,
        _pid: u32,
        ended: bool,
        signal: u32,
        all: bool,
    ) -> Result<()> {
        if ended && !all {
            return Err(Error::NotFound(format!(
                "process already finished: container {:?} has exited",
                self.container_id
            )));
        }
        runtime.kill(&self.container_id, signal, all)
    }

    fn delete(&self, shim: &Shim) -> Result<api::DeleteResponse> {
        let id = self.container_id.as_str();
        let (runtime, state, pid) = {
            let st = shim.lock();
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
                let _ = shim.wait_exit(id, "", Some(Duration::from_secs(10)));
            }
            PState::Stopped => {
                if let Err(e) = runtime.delete(id, true) {
                    tracing::warn!(container = id, "runtime delete: {e}");
                }
            }
        }
        let c = {
            let mut st = shim.lock();
            st.containers.remove(id).ok_or_else(|| not_found(id))?
        };
        if c.rootfs_mounted {
            mount::unmount_all(&c.bundle.join("rootfs"))?;
        }
        let mut resp = api::DeleteResponse::new();
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
        shim.publisher.publish(topics::TASK_DELETE_EVENT_TOPIC, &ev);
        Ok(resp)
    }

    fn shows_pause(&self) -> bool {
        true
    }

    /// An OOM kill of the init is published before its exit.
    fn exited(&self, shim: &Shim, container: &Container) {
        if let Some(w) = &container.oom {
            w.check(&self.container_id, &shim.publisher, false);
        }
    }
}
