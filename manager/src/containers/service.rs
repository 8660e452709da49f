//! gRPC Containers and Tasks services (hull.v1).

use std::sync::Arc;
use std::time::Duration;

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::logfile;
use super::shim::{self, Live, STDERR_LOG, STDOUT_LOG};
use super::{ContainerRecord, CreateOptions, EXITED};
use crate::error::Error;
use crate::manager::Manager;
use crate::metadata::ns_key;
use crate::network::EndpointBrief;
use crate::server::{namespace, Server};

/// A container's message (without its spec for a brief listing); `ep`
/// fills the summary's networks and ports.
fn container_pb(r: ContainerRecord, ep: Option<&EndpointBrief>, with_spec: bool) -> pb::Container {
    let s = r.summary();
    let summary = pb::ContainerSummary {
        command: s.command,
        mounts: s.mounts,
        networks: ep.map(EndpointBrief::network_names).unwrap_or_else(|| {
            // Specs made elsewhere (or before networking): a network
            // namespace of its own is "none".
            vec![if s.own_netns { "none" } else { "host" }.to_string()]
        }),
        ports: ep
            .map(|e| {
                e.bindings
                    .iter()
                    .map(crate::network::service::binding_pb)
                    .collect()
            })
            .unwrap_or_default(),
    };
    pb::Container {
        summary: Some(summary),
        id: r.id,
        image: r.image,
        spec: if with_spec {
            r.spec.into_bytes()
        } else {
            Vec::new()
        },
        snapshot_key: r.snapshot_key,
        snapshotter: r.snapshotter,
        runtime: r.runtime,
        labels: r.labels.into_iter().collect(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        name: r.name,
        status: Some(pb::ContainerStatus {
            state: r.state.status,
            pid: r.state.pid,
            exit_code: r.state.exit_code,
            started_at: r.state.started_at,
            finished_at: r.state.finished_at,
        }),
        auto_remove: r.auto_remove,
        bundle: r.bundle.display().to_string(),
        restart_policy: r.restart_policy,
        restart_count: r.restart_count,
        created_at_nanos: r.created_nanos,
    }
}

/// The record and live task (if any) of a container named by ID, prefix or name.
fn lookup(
    m: &Manager,
    ns: &str,
    what: &str,
) -> Result<(ContainerRecord, Option<Arc<Live>>), Error> {
    let r = super::find(m, ns, what)?;
    let live = m.tasks.get(&ns_key(ns, &r.id));
    // The waiter records the exit, then drops the task: a record read
    // before the one and a task looked up after the other is stale.
    if live.is_none() && r.state.status != EXITED {
        return Ok((super::find(m, ns, &r.id)?, None));
    }
    Ok((r, live))
}

fn not_running(r: &ContainerRecord) -> Error {
    Error::FailedPrecondition(format!("Container {} is not running", r.id))
}

#[tonic::async_trait]
impl pb::containers_server::Containers for Server {
    async fn get(
        &self,
        req: Request<pb::GetContainerRequest>,
    ) -> Result<Response<pb::Container>, Status> {
        let ns = namespace(&req)?;
        let id = req.into_inner().id;
        let (r, ep) = self
            .blocking(move |m| {
                let r = super::find(&m, &ns, &id)?;
                let ep = crate::network::brief(&m, &ns, &r.id)?;
                Ok((r, ep))
            })
            .await?;
        Ok(Response::new(container_pb(r, ep.as_ref(), true)))
    }

    async fn list(
        &self,
        req: Request<pb::ListContainersRequest>,
    ) -> Result<Response<pb::ListContainersResponse>, Status> {
        let ns = namespace(&req)?;
        let brief = req.get_ref().brief;
        let (mut v, eps) = self
            .blocking(move |m| Ok((super::list(&m, &ns)?, crate::network::briefs(&m, &ns)?)))
            .await?;
        // Newest first, like `docker ps`.
        v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(Response::new(pb::ListContainersResponse {
            containers: v
                .into_iter()
                .map(|r| {
                    let ep = eps.get(&r.id);
                    container_pb(r, ep, !brief)
                })
                .collect(),
        }))
    }

    async fn create(
        &self,
        req: Request<pb::CreateContainerRequest>,
    ) -> Result<Response<pb::Container>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let c = r.container.unwrap_or_default();
        let o = CreateOptions {
            id: c.id,
            name: c.name,
            image: c.image,
            labels: c.labels.into_iter().collect(),
            auto_remove: c.auto_remove,
            spec: (!c.spec.is_empty()).then(|| String::from_utf8_lossy(&c.spec).into_owned()),
            run: r.options.unwrap_or_default(),
        };
        if o.image.is_empty() {
            return Err(Status::invalid_argument("no image given"));
        }
        let (rec, ep) = self
            .blocking(move |m| {
                let r = super::create(&m, &ns, o)?;
                let ep = crate::network::brief(&m, &ns, &r.id)?;
                Ok((r, ep))
            })
            .await?;
        Ok(Response::new(container_pb(rec, ep.as_ref(), true)))
    }

    async fn update(
        &self,
        req: Request<pb::UpdateContainerRequest>,
    ) -> Result<Response<pb::Container>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let c = r.container.unwrap_or_default();
        let fields = r.fields;
        let rec = self
            .blocking(move |m| {
                let cur = super::find(&m, &ns, &c.id)?;
                let _g = m.containers_lock.lock().unwrap_or_else(|e| e.into_inner());
                if fields.iter().any(|f| f == "name") && c.name != cur.name {
                    if !super::valid_name(&c.name) {
                        return Err(Error::InvalidArgument(format!(
                            "Invalid container name ({})",
                            c.name
                        )));
                    }
                    if super::list(&m, &ns)?.iter().any(|o| o.name == c.name) {
                        return Err(Error::AlreadyExists(format!(
                            "Conflict. The container name \"/{}\" is already in use",
                            c.name
                        )));
                    }
                }
                super::update(&m, &ns, &cur.id, |r| {
                    for f in &fields {
                        match f.as_str() {
                            "name" => r.name = c.name.clone(),
                            "labels" => r.labels = c.labels.clone().into_iter().collect(),
                            "auto_remove" => r.auto_remove = c.auto_remove,
                            _ => {}
                        }
                    }
                })?
                .ok_or_else(|| Error::NotFound(format!("No such container: {}", c.id)))
                .and_then(|r| {
                    let ep = crate::network::brief(&m, &ns, &r.id)?;
                    Ok((r, ep))
                })
            })
            .await?;
        Ok(Response::new(container_pb(rec.0, rec.1.as_ref(), true)))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteContainerRequest>,
    ) -> Result<Response<pb::ContainerEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let (ns2, id) = (ns.clone(), r.id.clone());
        let (rec, live) = self.blocking(move |m| lookup(&m, &ns2, &id)).await?;
        if let Some(live) = live {
            if !r.force {
                return Err(Error::FailedPrecondition(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    rec.name
                ))
                .into());
            }
            let l2 = live.clone();
            let paused = rec.state.status == super::PAUSED;
            // Already exited is fine: the waiter is cleaning up.
            let _ = self
                .blocking(move |m| {
                    shim::kill(&l2, libc::SIGKILL as u32, false)?;
                    if paused {
                        shim::pause(&m, &l2, false)?;
                    }
                    Ok(())
                })
                .await;
            tokio::time::timeout(Duration::from_secs(30), live.wait())
                .await
                .map_err(|_| Status::deadline_exceeded("the task did not exit after SIGKILL"))?;
        }
        let volumes = r.volumes;
        self.blocking(move |m| {
            // auto_remove may have removed it meanwhile.
            match super::find(&m, &ns, &rec.id) {
                Ok(rec) => {
                    super::remove(&m, &ns, &rec)?;
                    if volumes && !rec.auto_remove {
                        super::remove_anonymous_volumes(&m, &ns, &rec);
                    }
                    Ok(())
                }
                Err(Error::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await?;
        Ok(Response::new(pb::ContainerEmpty {}))
    }
}

#[tonic::async_trait]
impl pb::tasks_server::Tasks for Server {
    type LogsStream = crate::server::Stream_<pb::LogChunk>;
    type ExecStream = crate::server::Stream_<pb::ExecOutput>;
    type AttachStream = crate::server::Stream_<pb::AttachOutput>;
    type ExecAttachStream = crate::server::Stream_<pb::AttachOutput>;

    async fn attach(
        &self,
        req: Request<tonic::Streaming<pb::AttachInput>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let ns = namespace(&req)?;
        super::attach::attach(self.m.clone(), ns, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn exec_attach(
        &self,
        req: Request<tonic::Streaming<pb::AttachInput>>,
    ) -> Result<Response<Self::ExecAttachStream>, Status> {
        let ns = namespace(&req)?;
        super::attach::exec_attach(self.m.clone(), ns, req.into_inner())
            .await
            .map(Response::new)
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
        let (live, p) = self
            .blocking(move |m| {
                let (rec, live) = lookup(&m, &ns, &r.container_id)?;
                let live = live.ok_or_else(|| not_running(&rec))?;
                if rec.state.status == super::PAUSED {
                    return Err(Error::FailedPrecondition(format!(
                        "Container {} is paused, unpause the container before exec",
                        rec.id
                    )));
                }
                let process = exec_process(&m, &rec, &r)?;
                let (p, _pid) = shim::exec_start(&live, &rec.bundle, &process)?;
                Ok((live, p))
            })
            .await?;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let p = Arc::new(p);
            let (l2, p2) = (live.clone(), p.clone());
            let waiter = tokio::task::spawn_blocking(move || shim::exec_wait(&l2, &p2));
            super::attach::relay_exec_output(
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
            let _ = tokio::task::spawn_blocking(move || shim::exec_delete(&live, &p)).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
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
                shim::stats(&live)
            })
            .await?;
        Ok(Response::new(st))
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
                let r = super::find(&m, &ns, &r.container_id)?;
                // Started by the user: the restart policy begins afresh.
                let r = super::update(&m, &ns, &r.id, |c| {
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
            if super::restart::is_stop_signal(r.signal, &rec) {
                super::update(&m, &ns, &rec.id, |c| c.stopped_by_user = true)?;
            }
            let live = live.ok_or_else(|| not_running(&rec))?;
            shim::kill(&live, r.signal, r.all)?;
            // A frozen process only dies once thawed.
            if rec.state.status == super::PAUSED && r.signal == libc::SIGKILL as u32 {
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
                Ok(super::top::rows(&shim::pids(&live)?))
            })
            .await?;
        Ok(Response::new(pb::TopResponse {
            titles: super::top::TITLES.iter().map(|s| s.to_string()).collect(),
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
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let (ns2, id) = (ns.clone(), r.container_id.clone());
        let (rec, _) = self.blocking(move |m| lookup(&m, &ns2, &id)).await?;
        let (tx, rx) = mpsc::channel(16);
        let m = self.m.clone();
        let follow = r.follow;
        let json =
            rec.bundle.join(logfile::LOG_FILE).exists() || !rec.bundle.join(STDOUT_LOG).exists();
        if json {
            tokio::spawn(async move {
                let dir = rec.bundle.clone();
                let since = r.since_nanos;
                let main = dir.join(logfile::LOG_FILE);
                // The files to read and where: with --tail, the last lines
                // found by reading back from the end. Streamed a chunk at a
                // time (the channel holds the pace), never the whole log.
                let tail = r.has_tail.then_some(r.tail.max(0) as usize);
                let plan = tokio::task::spawn_blocking(move || {
                    logfile::read_plan(&dir, tail)
                        .into_iter()
                        .map(|(p, start)| {
                            let end = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                            (p, start, end)
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                let mut offset = 0;
                for (p, start, end) in plan {
                    offset = start;
                    while offset < end {
                        let p2 = p.clone();
                        let at = offset;
                        let (entries, next) = tokio::task::spawn_blocking(move || {
                            logfile::read_entries(&p2, at, logfile::READ_CHUNK)
                        })
                        .await
                        .unwrap_or_default();
                        if next <= offset {
                            break; // a line still being written, or rotated
                        }
                        offset = next;
                        for e in entries.into_iter().filter(|e| e.time_nanos >= since) {
                            let msg = pb::LogChunk {
                                stream: e.stream,
                                data: e.data,
                                time_nanos: e.time_nanos,
                            };
                            if tx.send(Ok(msg)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                if !follow {
                    return;
                }
                loop {
                    // Decide before reading, so output written before the
                    // exit is read in the last round (hulld records an exit
                    // only after the log driver finished).
                    let live = m.tasks.get(&ns_key(&ns, &rec.id));
                    let running = live.is_some();
                    // Everything there is now, a chunk at a time.
                    loop {
                        let p = main.clone();
                        let at = offset;
                        let (new, off) = tokio::task::spawn_blocking(move || {
                            logfile::read_entries(&p, at, logfile::READ_CHUNK)
                        })
                        .await
                        .unwrap_or_default();
                        let more = off > offset;
                        offset = off;
                        for e in new.into_iter().filter(|e| e.time_nanos >= since) {
                            let msg = pb::LogChunk {
                                stream: e.stream,
                                data: e.data,
                                time_nanos: e.time_nanos,
                            };
                            if tx.send(Ok(msg)).await.is_err() {
                                return;
                            }
                        }
                        if !more {
                            break;
                        }
                    }
                    if !running {
                        return;
                    }
                    next_round(live).await;
                }
            });
            return Ok(Response::new(Box::pin(ReceiverStream::new(rx))));
        }
        tokio::spawn(async move {
            let paths = [
                (1u32, rec.bundle.join(STDOUT_LOG)),
                (2u32, rec.bundle.join(STDERR_LOG)),
            ];
            let mut offsets = [0u64; 2];
            loop {
                // Decide before reading, so output written before the exit
                // is read in the last round.
                let live = m.tasks.get(&ns_key(&ns, &rec.id)).filter(|_| follow);
                let running = live.is_some();
                for (i, (stream, p)) in paths.iter().enumerate() {
                    loop {
                        let chunk = read_from(p, offsets[i]).await;
                        if chunk.is_empty() {
                            break;
                        }
                        offsets[i] += chunk.len() as u64;
                        let msg = pb::LogChunk {
                            stream: *stream,
                            data: chunk,
                            time_nanos: 0,
                        };
                        if tx.send(Ok(msg)).await.is_err() {
                            return;
                        }
                    }
                }
                if !running {
                    return;
                }
                next_round(live).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Until the next look at a followed log: 50 ms, or less when the task
/// exits meanwhile (hulld hears of an exit only once the log is complete,
/// and the task is gone from `m.tasks` by then).
async fn next_round(live: Option<Arc<Live>>) {
    let tick = tokio::time::sleep(Duration::from_millis(50));
    match live {
        Some(l) => tokio::select! {
            _ = tick => {}
            _ = l.wait() => {}
        },
        None => tick.await,
    }
}

/// The OCI process of an exec in container `rec`: the container's process
/// with the request's args, env, workdir and user (no terminal).
pub(super) fn exec_process(
    m: &Manager,
    rec: &ContainerRecord,
    r: &pb::ExecRequest,
) -> Result<serde_json::Value, Error> {
    let spec: serde_json::Value = serde_json::from_str(&rec.spec)?;
    let mut process = spec["process"].clone();
    process["args"] = serde_json::json!(r.args);
    process["terminal"] = false.into();
    let mut env: Vec<String> = process["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for e in &r.env {
        let k = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(k));
        env.push(e.clone());
    }
    process["env"] = serde_json::json!(env);
    if !r.workdir.is_empty() {
        process["cwd"] = r.workdir.clone().into();
    }
    if !r.user.is_empty() {
        let top = m
            .snapshots
            .stat(&rec.snapshot_key)?
            .parent
            .unwrap_or_default();
        let (uid, gid, extra) = super::resolve_user(m, &top, &m.state.join("tmp"), &r.user)?;
        process["user"] = serde_json::json!({"uid": uid, "gid": gid, "additionalGids": extra});
    }
    Ok(process)
}

/// Entries of a json-lines log file from byte `offset` (a few MiB at
/// most: callers come back for the rest), and the offset after them.
pub(super) fn read_entries(p: &std::path::Path, offset: u64) -> (Vec<logfile::Entry>, u64) {
    logfile::read_entries(p, offset, 4 * logfile::READ_CHUNK)
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
            if paused && rec.state.status == super::PAUSED {
                return Err(Error::FailedPrecondition(format!(
                    "Container {} is already paused",
                    rec.id
                )));
            }
            if !paused && rec.state.status != super::PAUSED {
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

/// Up to 64 KiB of `p` from `offset` (empty at the end or when absent).
pub(super) async fn read_from(p: &std::path::Path, offset: u64) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let Ok(mut f) = tokio::fs::File::open(p).await else {
        return Vec::new();
    };
    if f.seek(std::io::SeekFrom::Start(offset)).await.is_err() {
        return Vec::new();
    }
    let mut buf = vec![0u8; 64 * 1024];
    match f.read(&mut buf).await {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => Vec::new(),
    }
}
