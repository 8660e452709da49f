//! The Containers service: container records (create, list, update, delete).

use std::time::Duration;

use hull_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::{namespace, Server};
use crate::containers::health::{HealthState, Healthcheck};
use crate::containers::shim;
use crate::containers::tasks::lookup;
use crate::containers::{self, ContainerRecord, CreateOptions, RunSpec};
use crate::error::Error;
use crate::network::{EndpointBrief, NetworkOptions};

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
            .map(|e| e.bindings.iter().map(super::network::binding_pb).collect())
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
            health: r.health.map(health_pb),
        }),
        auto_remove: r.auto_remove,
        bundle: r.bundle.display().to_string(),
        restart_policy: r.restart_policy,
        restart_count: r.restart_count,
        created_at_nanos: r.created_nanos,
        healthcheck: r.healthcheck.map(healthcheck_pb),
    }
}

fn healthcheck_pb(h: Healthcheck) -> pb::HealthConfig {
    pb::HealthConfig {
        test: h.test,
        interval: h.interval,
        timeout: h.timeout,
        start_period: h.start_period,
        retries: h.retries,
    }
}

fn health_pb(h: HealthState) -> pb::Health {
    pb::Health {
        status: h.status,
        failing_streak: h.failing_streak.min(i32::MAX as u32) as i32,
        log: h
            .log
            .into_iter()
            .map(|r| pb::HealthResult {
                start: r.start,
                end: r.end,
                exit_code: r.exit_code,
                output: r.output,
            })
            .collect(),
    }
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
                let r = containers::find(&m, &ns, &id)?;
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
            .blocking(move |m| Ok((containers::list(&m, &ns)?, crate::network::briefs(&m, &ns)?)))
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
            run: run_spec(r.options.unwrap_or_default()),
            cri_log: None,
            rootfs: None,
        };
        if o.image.is_empty() {
            return Err(Status::invalid_argument("no image given"));
        }
        let (rec, ep) = self
            .blocking(move |m| {
                let r = containers::create(&m, &ns, o)?;
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
        let resources = fields
            .iter()
            .any(|f| f == "resources")
            .then(|| resources_json(&r.resources.unwrap_or_default()))
            .transpose()?;
        let rec = self
            .blocking(move |m| {
                let cur = containers::find(&m, &ns, &c.id)?;
                if fields.iter().any(|f| f == "restart_policy") {
                    let p: containers::restart::RestartPolicy =
                        c.restart_policy.parse().map_err(|e: containers::restart::PolicyError| {
                            Error::InvalidArgument(e.to_string())
                        })?;
                    if cur.auto_remove && p != containers::restart::RestartPolicy::No {
                        return Err(Error::InvalidArgument(
                            "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
                        ));
                    }
                }
                // The cgroup first: a value the kernel refuses changes nothing.
                if let Some(res) = &resources {
                    containers::resources::update_resources(&m, &ns, &cur.id, res)?;
                }
                let _g = m.containers_lock.lock().unwrap_or_else(|e| e.into_inner());
                if fields.iter().any(|f| f == "name") && c.name != cur.name {
                    if !containers::valid_name(&c.name) {
                        return Err(Error::InvalidArgument(format!(
                            "Invalid container name ({})",
                            c.name
                        )));
                    }
                    if containers::list(&m, &ns)?.iter().any(|o| o.name == c.name) {
                        return Err(Error::AlreadyExists(format!(
                            "Conflict. The container name \"/{}\" is already in use",
                            c.name
                        )));
                    }
                }
                containers::update(&m, &ns, &cur.id, |r| {
                    for f in &fields {
                        match f.as_str() {
                            "name" => r.name = c.name.clone(),
                            "labels" => r.labels = c.labels.clone().into_iter().collect(),
                            "auto_remove" => r.auto_remove = c.auto_remove,
                            "restart_policy" => r.restart_policy = c.restart_policy.clone(),
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
        let (ns2, id, force) = (ns.clone(), r.id.clone(), r.force);
        let (rec, live) = self
            .blocking(move |m| {
                // A forced removal is a user stop: the kill below restarts
                // nothing, and a policy restart under way sees the mark
                // once its task is registered (or the lookup sees its task).
                if force {
                    let c = containers::find(&m, &ns2, &id)?;
                    containers::update(&m, &ns2, &c.id, |c| c.stopped_by_user = true)?;
                }
                lookup(&m, &ns2, &id)
            })
            .await?;
        if let Some(live) = live {
            if !r.force {
                return Err(Error::FailedPrecondition(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    rec.name
                ))
                .into());
            }
            let l2 = live.clone();
            let paused = rec.state.status == containers::PAUSED;
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
            match containers::find(&m, &ns, &rec.id) {
                Ok(rec) => {
                    containers::remove(&m, &ns, &rec)?;
                    if volumes && !rec.auto_remove {
                        containers::remove_anonymous_volumes(&m, &ns, &rec);
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

/// The run options of a Create request as the containers room takes them.
fn run_spec(o: pb::RunOptions) -> RunSpec {
    RunSpec {
        args: o.args,
        entrypoint: o.entrypoint,
        has_entrypoint: o.has_entrypoint,
        env: o.env,
        workdir: o.workdir,
        user: o.user,
        hostname: o.hostname,
        tty: o.tty,
        memory: o.memory,
        cpus: o.cpus,
        pids_limit: o.pids_limit,
        cap_add: o.cap_add,
        cap_drop: o.cap_drop,
        privileged: o.privileged,
        read_only: o.read_only,
        no_new_privileges: o.no_new_privileges,
        seccomp: o.seccomp,
        stop_signal: o.stop_signal,
        stop_timeout: o.stop_timeout,
        log_max_size: o.log_max_size,
        log_max_file: o.log_max_file,
        restart_policy: o.restart_policy,
        init: o.init,
        volumes: o.volumes,
        mounts: o.mounts,
        tmpfs: o.tmpfs,
        open_stdin: o.open_stdin,
        stdin_once: o.stdin_once,
        ulimits: o.ulimits,
        sysctls: o.sysctls,
        shm_size: o.shm_size,
        pid_mode: o.pid_mode,
        ipc_mode: o.ipc_mode,
        health: o.health.map(|h| Healthcheck {
            test: h.test,
            interval: h.interval,
            timeout: h.timeout,
            start_period: h.start_period,
            retries: h.retries,
        }),
        net: NetworkOptions {
            network: o.network,
            host_network: o.host_network,
            publish: o.publish,
            publish_all: o.publish_all,
            network_aliases: o.network_aliases,
            dns: o.dns,
            add_hosts: o.add_hosts,
        },
    }
}

/// `hull update`'s resources as OCI LinuxResources (only what is set).
fn resources_json(r: &pb::ContainerResources) -> Result<serde_json::Value, Status> {
    let mut out = serde_json::json!({});
    if r.memory < 0 {
        return Err(Status::invalid_argument(format!(
            "invalid memory limit {}",
            r.memory
        )));
    }
    if r.memory > 0 {
        out["memory"] = serde_json::json!({"limit": r.memory});
    }
    if r.cpus != 0.0 {
        if r.cpus < 0.0 || !r.cpus.is_finite() {
            return Err(Status::invalid_argument(format!(
                "invalid argument \"{}\" for \"--cpus\" flag: range of CPUs must be positive",
                r.cpus
            )));
        }
        out["cpu"] = containers::spec::cpu_limit(r.cpus);
    }
    if r.cpu_shares > 0 {
        out["cpu"]["shares"] = serde_json::json!(r.cpu_shares);
    }
    if !r.cpuset_cpus.is_empty() {
        out["cpu"]["cpus"] = serde_json::json!(r.cpuset_cpus);
    }
    if r.pids_limit != 0 {
        out["pids"] = serde_json::json!({"limit": r.pids_limit});
    }
    Ok(out)
}
