//! The Tasks service: a container's running task (start, kill, pause,
//! exec, attach, stats, top, logs).

use std::sync::Arc;

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

use super::attach::exec_spec;
use super::{namespace, Server, Stream_};
use crate::containers::tasks::{exec_process, lookup, not_running};
use crate::containers::{self, EXITED};
use crate::containers::{exec, shim, stats};
use crate::error::Error;

#[tonic::async_trait]
impl pb::tasks_server::Tasks for Server {
    type LogsStream = Stream_<pb::LogChunk>;
    type ExecStream = Stream_<pb::ExecOutput>;
    type AttachStream = Stream_<pb::AttachOutput>;
    type ExecAttachStream = Stream_<pb::AttachOutput>;

    async fn attach(
        &self,
        req: Request<tonic::Streaming<pb::AttachInput>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        self.attach_stream(req).await
    }

    async fn exec_attach(
        &self,
        req: Request<tonic::Streaming<pb::AttachInput>>,
    ) -> Result<Response<Self::ExecAttachStream>, Status> {
        self.exec_attach_stream(req).await
    }

    async fn exec(
        &self,
        req: Request<pb::ExecRequest>,
    ) -> Result<Response<Self::ExecStream>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        if r.args.is_empty() {
            return Err(Status::invalid_argument("no command given"));
        }
        let r = exec_spec(r);
        let (live, p) = self
            .blocking(move |m| {
                let (rec, live) = lookup(&m, &ns, &r.container_id)?;
                let live = live.ok_or_else(|| not_running(&rec))?;
                if rec.state.status == containers::PAUSED {
                    return Err(Error::FailedPrecondition(format!(
                        "Container {} is paused, unpause the container before exec",
                        rec.id
                    )));
                }
                let process = exec_process(&m, &rec, &r)?;
                let (p, _pid) = exec::start(&live, &rec.bundle, &process)?;
                Ok((live, p))
            })
            .await?;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let p = Arc::new(p);
            let (l2, p2) = (live.clone(), p.clone());
            let waiter = tokio::task::spawn_blocking(move || exec::wait(&l2, &p2));
            let last = containers::attach::relay_exec_output(
                [(1, p.stdout.clone()), (2, p.stderr.clone())],
                waiter,
                &tx,
                false,
                |stream, data| pb::ExecOutput {
                    stream,
                    data,
                    ..Default::default()
                },
                |exit_code| pb::ExecOutput {
                    exited: true,
                    exit_code,
                    ..Default::default()
                },
            )
            .await;
            let _ = tokio::task::spawn_blocking(move || exec::delete(&live, &p)).await;
            let _ = tx.send(last).await;
        });
        Ok(Response::new(Box::pin(
            ReceiverStream::new(rx).map(|o| o.map_err(Status::from)),
        )))
    }

    async fn stats(
        &self,
        req: Request<pb::PidsRequest>,
    ) -> Result<Response<pb::TaskStats>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let st = self
            .blocking(move |m| {
                let (rec, live) = lookup(&m, &ns, &r.container_id)?;
                let live = live.ok_or_else(|| not_running(&rec))?;
                stats::stats(&live)
            })
            .await?;
        Ok(Response::new(pb::TaskStats {
            cpu_total_nanos: st.cpu_total_nanos,
            memory_usage: st.memory_usage,
            memory_limit: st.memory_limit,
            pids: st.pids,
        }))
    }

    async fn pause(
        &self,
        req: Request<pb::PauseTaskRequest>,
    ) -> Result<Response<pb::TaskEmpty>, Status> {
        self.pause_resume(req, true).await
    }

    async fn resume(
        &self,
        req: Request<pb::PauseTaskRequest>,
    ) -> Result<Response<pb::TaskEmpty>, Status> {
        self.pause_resume(req, false).await
    }

    async fn create(
        &self,
        req: Request<pb::CreateTaskRequest>,
    ) -> Result<Response<pb::CreateTaskResponse>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        if !r.rootfs.is_empty() || !r.stdin.is_empty() || !r.stdout.is_empty() || r.terminal {
            return Err(Status::unimplemented(
                "custom rootfs, stdio and terminals are not supported yet",
            ));
        }
        let (id, pid) = self
            .blocking(move |m| {
                let r = containers::find(&m, &ns, &r.container_id)?;
                // Started by the user: the restart policy begins afresh.
                let r = containers::update(&m, &ns, &r.id, |c| {
                    c.stopped_by_user = false;
                    c.restart_count = 0;
                })?
                .unwrap_or(r);
                let live = shim::create_task(&m, &ns, &r)?;
                Ok((r.id, live.pid))
            })
            .await?;
        Ok(Response::new(pb::CreateTaskResponse {
            container_id: id,
            pid,
        }))
    }

    async fn start(
        &self,
        req: Request<pb::StartTaskRequest>,
    ) -> Result<Response<pb::StartTaskResponse>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        if !r.exec_id.is_empty() {
            return Err(Status::unimplemented("exec is not supported yet"));
        }
        let pid = self
            .blocking(move |m| {
                let (rec, live) = lookup(&m, &ns, &r.container_id)?;
                let live = live.ok_or_else(|| {
                    Error::FailedPrecondition(format!("container {} has no task", rec.name))
                })?;
                shim::start_task(&m, &live)
            })
            .await?;
        Ok(Response::new(pb::StartTaskResponse { pid }))
    }

    async fn kill(
        &self,
        req: Request<pb::KillTaskRequest>,
    ) -> Result<Response<pb::TaskEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        self.blocking(move |m| {
            let (rec, live) = lookup(&m, &ns, &r.container_id)?;
            // A stop or kill by the user: the restart policy leaves it
            // down (also when it is waiting out a restart back-off).
            if containers::restart::is_stop_signal(r.signal, &rec) {
                containers::update(&m, &ns, &rec.id, |c| c.stopped_by_user = true)?;
            }
            let live = live.ok_or_else(|| not_running(&rec))?;
            shim::kill(&live, r.signal, r.all)?;
            // A frozen process only dies once thawed.
            if rec.state.status == containers::PAUSED && r.signal == libc::SIGKILL as u32 {
                shim::pause(&m, &live, false)?;
            }
            Ok(())
        })
        .await?;
        Ok(Response::new(pb::TaskEmpty {}))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteTaskRequest>,
    ) -> Result<Response<pb::DeleteTaskResponse>, Status> {
        // Tasks are deleted by hulld as soon as they exit; this reports how.
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let (rec, live) = self
            .blocking(move |m| lookup(&m, &ns, &r.container_id))
            .await?;
        if live.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "task of container {} is still running",
                rec.name
            ))
            .into());
        }
        Ok(Response::new(pb::DeleteTaskResponse {
            id: rec.id,
            pid: 0,
            exit_status: rec.state.exit_code as u32,
            exited_at: rec.state.finished_at,
        }))
    }

    async fn wait(
        &self,
        req: Request<pb::WaitTaskRequest>,
    ) -> Result<Response<pb::WaitTaskResponse>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let (ns2, id) = (ns.clone(), r.container_id.clone());
        let (rec, live) = self.blocking(move |m| lookup(&m, &ns2, &id)).await?;
        let exit = match live {
            Some(l) => l.wait().await,
            None if rec.state.status == EXITED => shim::Exit {
                code: rec.state.exit_code,
                at: rec.state.finished_at,
            },
            None => return Err(not_running(&rec).into()),
        };
        Ok(Response::new(pb::WaitTaskResponse {
            exit_status: exit.code as u32,
            exited_at: exit.at,
        }))
    }

    async fn get(
        &self,
        req: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::TaskState>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let (rec, _) = self
            .blocking(move |m| lookup(&m, &ns, &r.container_id))
            .await?;
        Ok(Response::new(pb::TaskState {
            id: rec.id,
            pid: rec.state.pid,
            status: rec.state.status,
            exit_status: rec.state.exit_code as u32,
            exited_at: rec.state.finished_at,
        }))
    }

    async fn pids(
        &self,
        req: Request<pb::PidsRequest>,
    ) -> Result<Response<pb::PidsResponse>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let pids = self
            .blocking(move |m| {
                let (rec, live) = lookup(&m, &ns, &r.container_id)?;
                let live = live.ok_or_else(|| not_running(&rec))?;
                shim::pids(&live)
            })
            .await?;
        Ok(Response::new(pb::PidsResponse { pids }))
    }

    async fn top(
        &self,
        req: Request<pb::PidsRequest>,
    ) -> Result<Response<pb::TopResponse>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let rows = self
            .blocking(move |m| {
                let (rec, live) = lookup(&m, &ns, &r.container_id)?;
                let live = live.ok_or_else(|| not_running(&rec))?;
                Ok(containers::top::rows(&shim::pids(&live)?))
            })
            .await?;
        Ok(Response::new(pb::TopResponse {
            titles: containers::top::TITLES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            processes: rows
                .into_iter()
                .map(|fields| pb::TopRow { fields })
                .collect(),
        }))
    }

    async fn logs(
        &self,
        req: Request<pb::LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        self.logs_stream(req).await
    }
}

impl Server {
    async fn pause_resume(
        &self,
        req: Request<pb::PauseTaskRequest>,
        paused: bool,
    ) -> Result<Response<pb::TaskEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        self.blocking(move |m| {
            let (rec, live) = lookup(&m, &ns, &r.container_id)?;
            let live = live.ok_or_else(|| not_running(&rec))?;
            if paused && rec.state.status == containers::PAUSED {
                return Err(Error::FailedPrecondition(format!(
                    "Container {} is already paused",
                    rec.id
                )));
            }
            if !paused && rec.state.status != containers::PAUSED {
                return Err(Error::FailedPrecondition(format!(
                    "Container {} is not paused",
                    rec.id
                )));
            }
            shim::pause(&m, &live, paused)
        })
        .await?;
        Ok(Response::new(pb::TaskEmpty {}))
    }
}
