//! Containers in pods: create, start, stop, remove, status, list,
//! resources, logs, exec, attach, stats, checkpoint, events. CRI's messages
//! become the pods room's own types (`pods::ContainerConfig`) here.

use std::collections::BTreeMap;
use std::time::Duration;

use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::pods::ns_mode;
use super::{image_lookup, unimplemented, Cri, NAMESPACE};
use crate::pods::pod_containers::{
    self, ContainerView, Filter, Mount, Propagation, Resources, Seccomp, SecurityContext, State,
};
use crate::pods::{self, ContainerConfig, NsMode};

/// The seccomp profile CRI asks for (none: unconfined, as CRI says).
fn seccomp(p: Option<v1::SecurityProfile>) -> Result<Seccomp, Status> {
    use v1::security_profile::ProfileType;
    let Some(p) = p else {
        return Ok(Seccomp::Unconfined);
    };
    Ok(match ProfileType::try_from(p.profile_type) {
        Ok(ProfileType::RuntimeDefault) => Seccomp::RuntimeDefault,
        Ok(ProfileType::Unconfined) => Seccomp::Unconfined,
        Ok(ProfileType::Localhost) if p.localhost_ref.starts_with('/') => {
            Seccomp::Localhost(p.localhost_ref.into())
        }
        Ok(ProfileType::Localhost) => {
            return Err(Status::invalid_argument(format!(
                "seccomp localhost profile {:?} is not an absolute path",
                p.localhost_ref
            )))
        }
        Err(_) => return Err(Status::invalid_argument("unknown seccomp profile type")),
    })
}

fn security(sc: v1::LinuxContainerSecurityContext) -> Result<SecurityContext, Status> {
    if sc.apparmor.is_some() {
        tracing::info!("AppArmor profile ignored: AppArmor is not supported by hull");
    }
    let caps = sc.capabilities.unwrap_or_default();
    let nso = sc.namespace_options.unwrap_or_default();
    Ok(SecurityContext {
        privileged: sc.privileged,
        cap_add: caps.add_capabilities,
        cap_drop: caps.drop_capabilities,
        run_as_user: sc.run_as_user.map(|v| v.value),
        run_as_group: sc.run_as_group.map(|v| v.value),
        run_as_username: sc.run_as_username,
        supplemental_groups: sc.supplemental_groups,
        readonly_rootfs: sc.readonly_rootfs,
        no_new_privs: sc.no_new_privs,
        seccomp: seccomp(sc.seccomp)?,
        masked_paths: (!sc.masked_paths.is_empty()).then_some(sc.masked_paths),
        readonly_paths: (!sc.readonly_paths.is_empty()).then_some(sc.readonly_paths),
        pid: match ns_mode(nso.pid) {
            NsMode::Pod => NsMode::Pod,
            NsMode::Node => NsMode::Node,
            NsMode::Container => NsMode::Container,
        },
    })
}

fn resources(r: v1::LinuxContainerResources) -> Resources {
    if !r.hugepage_limits.is_empty() {
        tracing::warn!("hugepage limits ignored: no hugepages controller on this host");
    }
    Resources {
        cpu_period: r.cpu_period,
        cpu_quota: r.cpu_quota,
        cpu_shares: r.cpu_shares,
        memory_limit: r.memory_limit_in_bytes,
        oom_score_adj: r.oom_score_adj,
        cpuset_cpus: r.cpuset_cpus,
        cpuset_mems: r.cpuset_mems,
    }
}

fn cri_resources(r: &Resources) -> v1::ContainerResources {
    v1::ContainerResources {
        linux: Some(v1::LinuxContainerResources {
            cpu_period: r.cpu_period,
            cpu_quota: r.cpu_quota,
            cpu_shares: r.cpu_shares,
            memory_limit_in_bytes: r.memory_limit,
            oom_score_adj: r.oom_score_adj,
            cpuset_cpus: r.cpuset_cpus.clone(),
            cpuset_mems: r.cpuset_mems.clone(),
            ..Default::default()
        }),
        windows: None,
    }
}

fn mount(m: v1::Mount) -> Mount {
    Mount {
        container_path: m.container_path,
        host_path: m.host_path,
        readonly: m.readonly,
        propagation: match v1::MountPropagation::try_from(m.propagation) {
            Ok(v1::MountPropagation::PropagationHostToContainer) => Propagation::HostToContainer,
            Ok(v1::MountPropagation::PropagationBidirectional) => Propagation::Bidirectional,
            _ => Propagation::Private,
        },
        selinux_relabel: m.selinux_relabel,
    }
}

fn cri_mount(m: &Mount) -> v1::Mount {
    let propagation = match m.propagation {
        Propagation::Private => v1::MountPropagation::PropagationPrivate,
        Propagation::HostToContainer => v1::MountPropagation::PropagationHostToContainer,
        Propagation::Bidirectional => v1::MountPropagation::PropagationBidirectional,
    };
    v1::Mount {
        container_path: m.container_path.clone(),
        host_path: m.host_path.clone(),
        readonly: m.readonly,
        selinux_relabel: m.selinux_relabel,
        propagation: propagation as i32,
        ..Default::default()
    }
}

/// A CreateContainer config as the pods room takes it (`image`: the name
/// hull knows the image by).
fn container_config(c: v1::ContainerConfig, image: String) -> Result<ContainerConfig, Status> {
    let md = c
        .metadata
        .ok_or_else(|| Status::invalid_argument("container config has no metadata"))?;
    let linux = c.linux.unwrap_or_default();
    Ok(ContainerConfig {
        name: md.name,
        attempt: md.attempt,
        image,
        command: c.command,
        args: c.args,
        working_dir: c.working_dir,
        envs: c
            .envs
            .into_iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect(),
        mounts: c.mounts.into_iter().map(mount).collect(),
        labels: c.labels.into_iter().collect(),
        annotations: c.annotations.into_iter().collect(),
        log_path: c.log_path,
        security: security(linux.security_context.unwrap_or_default())?,
        resources: resources(linux.resources.unwrap_or_default()),
        devices: c
            .devices
            .into_iter()
            .map(|d| pods::devices::Device {
                host_path: d.host_path,
                container_path: d.container_path,
                permissions: d.permissions,
            })
            .collect(),
    })
}

fn cri_state(s: State) -> i32 {
    let state = match s {
        State::Created => v1::ContainerState::ContainerCreated,
        State::Running => v1::ContainerState::ContainerRunning,
        State::Exited => v1::ContainerState::ContainerExited,
        State::Unknown => v1::ContainerState::ContainerUnknown,
    };
    state as i32
}

fn state_of(v: i32) -> State {
    match v1::ContainerState::try_from(v) {
        Ok(v1::ContainerState::ContainerCreated) => State::Created,
        Ok(v1::ContainerState::ContainerRunning) => State::Running,
        Ok(v1::ContainerState::ContainerExited) => State::Exited,
        _ => State::Unknown,
    }
}

fn metadata(c: &ContainerConfig) -> v1::ContainerMetadata {
    v1::ContainerMetadata {
        name: c.name.clone(),
        attempt: c.attempt,
    }
}

fn image_spec(c: &ContainerConfig) -> v1::ImageSpec {
    v1::ImageSpec {
        image: c.image.clone(),
        ..Default::default()
    }
}

fn to_cri(v: &ContainerView) -> v1::Container {
    let r = &v.record;
    v1::Container {
        id: r.id.clone(),
        pod_sandbox_id: r.sandbox_id.clone(),
        metadata: Some(metadata(&r.config)),
        image: Some(image_spec(&r.config)),
        image_ref: r.image_ref.clone(),
        state: cri_state(v.state),
        created_at: r.created_nanos,
        labels: r.config.labels.clone().into_iter().collect(),
        annotations: r.config.annotations.clone().into_iter().collect(),
        image_id: r.image_ref.clone(),
    }
}

pub(super) async fn create_container(
    cri: &Cri,
    req: Request<v1::CreateContainerRequest>,
) -> Result<Response<v1::CreateContainerResponse>, Status> {
    let r = req.into_inner();
    let config = r
        .config
        .ok_or_else(|| Status::invalid_argument("no container config given"))?;
    let wanted = config
        .image
        .as_ref()
        .map(|i| i.image.clone())
        .unwrap_or_default();
    if wanted.is_empty() {
        return Err(Status::invalid_argument("container config names no image"));
    }
    let sandbox = r.pod_sandbox_id;
    let id = cri
        .blocking(move |m| {
            let img = image_lookup::find(&m, NAMESPACE, &wanted)?
                .ok_or_else(|| crate::Error::NotFound(format!("image {wanted:?} not found")))?;
            let name = img
                .records
                .first()
                .map(|r| r.name.clone())
                .unwrap_or(wanted);
            let config = container_config(config, name)
                .map_err(|s| crate::Error::InvalidArgument(s.message().to_string()))?;
            pod_containers::create(&m, NAMESPACE, &sandbox, config)
        })
        .await?;
    Ok(Response::new(v1::CreateContainerResponse {
        container_id: id,
    }))
}

pub(super) async fn start_container(
    cri: &Cri,
    req: Request<v1::StartContainerRequest>,
) -> Result<Response<v1::StartContainerResponse>, Status> {
    let id = req.into_inner().container_id;
    cri.blocking(move |m| pod_containers::start(&m, NAMESPACE, &id))
        .await?;
    Ok(Response::new(v1::StartContainerResponse {}))
}

pub(super) async fn stop_container(
    cri: &Cri,
    req: Request<v1::StopContainerRequest>,
) -> Result<Response<v1::StopContainerResponse>, Status> {
    let r = req.into_inner();
    cri.blocking(move |m| pod_containers::stop(&m, NAMESPACE, &r.container_id, r.timeout))
        .await?;
    Ok(Response::new(v1::StopContainerResponse {}))
}

pub(super) async fn remove_container(
    cri: &Cri,
    req: Request<v1::RemoveContainerRequest>,
) -> Result<Response<v1::RemoveContainerResponse>, Status> {
    let id = req.into_inner().container_id;
    cri.blocking(move |m| pod_containers::remove(&m, NAMESPACE, &id))
        .await?;
    Ok(Response::new(v1::RemoveContainerResponse {}))
}

pub(super) async fn list_containers(
    cri: &Cri,
    req: Request<v1::ListContainersRequest>,
) -> Result<Response<v1::ListContainersResponse>, Status> {
    let f = req.into_inner().filter.unwrap_or_default();
    let filter = Filter {
        id: f.id,
        sandbox_id: f.pod_sandbox_id,
        state: f.state.map(|s| state_of(s.state)),
        labels: f.label_selector.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let views = cri
        .blocking(move |m| pod_containers::list_views(&m, NAMESPACE, &filter))
        .await?;
    Ok(Response::new(v1::ListContainersResponse {
        containers: views.iter().map(to_cri).collect(),
    }))
}

pub(super) async fn container_status(
    cri: &Cri,
    req: Request<v1::ContainerStatusRequest>,
) -> Result<Response<v1::ContainerStatusResponse>, Status> {
    let r = req.into_inner();
    let verbose = r.verbose;
    let v = cri
        .blocking(move |m| pod_containers::status(&m, NAMESPACE, &r.container_id))
        .await?;
    let rec = &v.record;
    let c = &rec.config;
    let mut info = std::collections::HashMap::new();
    if verbose {
        let i = serde_json::json!({"pid": v.pid, "sandboxID": rec.sandbox_id});
        info.insert("info".to_string(), i.to_string());
    }
    let status = v1::ContainerStatus {
        id: rec.id.clone(),
        metadata: Some(metadata(c)),
        state: cri_state(v.state),
        created_at: rec.created_nanos,
        started_at: v.started_nanos,
        finished_at: v.finished_nanos,
        exit_code: v.exit_code,
        image: Some(image_spec(c)),
        image_ref: rec.image_ref.clone(),
        reason: v.reason.clone(),
        message: v.message.clone(),
        labels: c.labels.clone().into_iter().collect(),
        annotations: c.annotations.clone().into_iter().collect(),
        mounts: c.mounts.iter().map(cri_mount).collect(),
        log_path: rec
            .log_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        resources: Some(cri_resources(&c.resources)),
        image_id: rec.image_ref.clone(),
        user: None,
    };
    Ok(Response::new(v1::ContainerStatusResponse {
        status: Some(status),
        info,
    }))
}

pub(super) async fn update_container_resources(
    cri: &Cri,
    req: Request<v1::UpdateContainerResourcesRequest>,
) -> Result<Response<v1::UpdateContainerResourcesResponse>, Status> {
    let r = req.into_inner();
    let linux = r
        .linux
        .ok_or_else(|| Status::invalid_argument("no Linux resources given"))?;
    let new = resources(linux);
    cri.blocking(move |m| pods::resources::update(&m, NAMESPACE, &r.container_id, &new))
        .await?;
    Ok(Response::new(v1::UpdateContainerResourcesResponse {}))
}

pub(super) async fn reopen_container_log(
    cri: &Cri,
    req: Request<v1::ReopenContainerLogRequest>,
) -> Result<Response<v1::ReopenContainerLogResponse>, Status> {
    let id = req.into_inner().container_id;
    cri.blocking(move |m| pod_containers::reopen_log(&m, NAMESPACE, &id))
        .await?;
    Ok(Response::new(v1::ReopenContainerLogResponse {}))
}

pub(super) async fn exec_sync(
    cri: &Cri,
    req: Request<v1::ExecSyncRequest>,
) -> Result<Response<v1::ExecSyncResponse>, Status> {
    let r = req.into_inner();
    let timeout = Duration::from_secs(r.timeout.max(0) as u64);
    let out = cri
        .blocking(move |m| {
            pods::exec_sync::exec_sync(&m, NAMESPACE, &r.container_id, &r.cmd, timeout)
        })
        .await?;
    Ok(Response::new(v1::ExecSyncResponse {
        stdout: out.stdout,
        stderr: out.stderr,
        exit_code: out.exit_code,
    }))
}

pub(super) async fn checkpoint_container(
    _cri: &Cri,
    _req: Request<v1::CheckpointContainerRequest>,
) -> Result<Response<v1::CheckpointContainerResponse>, Status> {
    unimplemented("CheckpointContainer")
}

pub(super) type ContainerEventsStream = super::super::Stream_<v1::ContainerEventResponse>;

pub(super) async fn get_container_events(
    _cri: &Cri,
    _req: Request<v1::GetEventsRequest>,
) -> Result<Response<ContainerEventsStream>, Status> {
    unimplemented("GetContainerEvents")
}
