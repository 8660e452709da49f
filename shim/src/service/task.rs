//! The ttrpc face of the shim: containerd's Task API (task v2 and v3)
//! onto the `Shim`.

use std::sync::Arc;

use containerd_shim_protos::api;
use containerd_shim_protos::events::task::TaskExecAdded;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::topics;
use containerd_shim_protos::Task;
use ttrpc::TtrpcContext;

use super::{not_found, ts, Shim};
use crate::error::Error;
use crate::stats;
use crate::stdio::StdioPaths;

type TResult<T> = ttrpc::Result<T>;

/// The ttrpc face of the shim (registered as task v2 and v3).
pub struct TaskService(pub Arc<Shim>);

impl Task for TaskService {
    fn state(&self, _: &TtrpcContext, req: api::StateRequest) -> TResult<api::StateResponse> {
        Ok(self.0.state(&req)?)
    }

    fn create(
        &self,
        _: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> TResult<api::CreateTaskResponse> {
        tracing::info!(id = %req.id, bundle = %req.bundle, "create");
        let pid = self.0.create(&req).map_err(|e| {
            tracing::warn!(id = %req.id, "create failed: {e}");
            e
        })?;
        let mut r = api::CreateTaskResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn start(&self, _: &TtrpcContext, req: api::StartRequest) -> TResult<api::StartResponse> {
        tracing::info!(id = %req.id, exec = %req.exec_id, "start");
        let pid = self.0.start(&req.id, &req.exec_id)?;
        let mut r = api::StartResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn delete(&self, _: &TtrpcContext, req: api::DeleteRequest) -> TResult<api::DeleteResponse> {
        tracing::info!(id = %req.id, exec = %req.exec_id, "delete");
        Ok(self.0.delete(&req.id, &req.exec_id)?)
    }

    fn pids(&self, _: &TtrpcContext, req: api::PidsRequest) -> TResult<api::PidsResponse> {
        Ok(self.0.pids(&req.id)?)
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
        self.0.kill(&req)?;
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
        let stdio = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        self.0
            .lock()
            .containers
            .get_mut(&req.id)
            .ok_or_else(|| not_found(&req.id))?
            .add_exec(&req.id, &req.exec_id, stdio, spec)?;
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
        let p = st.process_mut(&req.id, &req.exec_id)?;
        match &p.io {
            Some(io) => io.resize(req.width, req.height)?,
            None => return Err(Error::FailedPrecondition("process not started".into()).into()),
        }
        Ok(api::Empty::new())
    }

    fn close_io(&self, _: &TtrpcContext, req: api::CloseIORequest) -> TResult<api::Empty> {
        let closer = {
            let mut st = self.0.lock();
            let p = st.process_mut(&req.id, &req.exec_id)?;
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
