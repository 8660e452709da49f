//! Pod sandboxes: run, stop, remove, status, list, stats, port forward.
//! CRI's messages become the pods room's own types (`pods::PodConfig`)
//! here, and its records CRI's messages.

use std::collections::BTreeMap;

use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::{unimplemented, Cri, NAMESPACE};
use crate::pods::{self, NsMode, PodConfig, SandboxRecord, SandboxState};

/// CRI's NamespaceMode as the pods room's (TARGET is a container's own).
pub(super) fn ns_mode(v: i32) -> NsMode {
    match v1::NamespaceMode::try_from(v) {
        Ok(v1::NamespaceMode::Pod) => NsMode::Pod,
        Ok(v1::NamespaceMode::Node) => NsMode::Node,
        _ => NsMode::Container,
    }
}

fn cri_ns_mode(m: NsMode) -> i32 {
    let mode = match m {
        NsMode::Pod => v1::NamespaceMode::Pod,
        NsMode::Container => v1::NamespaceMode::Container,
        NsMode::Node => v1::NamespaceMode::Node,
    };
    mode as i32
}

fn sorted<K: Ord, V>(m: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    m.into_iter().collect()
}

/// A RunPodSandbox config as the pods room takes it.
fn pod_config(c: v1::PodSandboxConfig) -> Result<PodConfig, Status> {
    let md = c
        .metadata
        .ok_or_else(|| Status::invalid_argument("pod sandbox config has no metadata"))?;
    let linux = c.linux.unwrap_or_default();
    let sc = linux.security_context.unwrap_or_default();
    let nso = sc.namespace_options.unwrap_or_default();
    let pid = match ns_mode(nso.pid) {
        // A pod has one PID namespace for its containers or the host's.
        NsMode::Node => NsMode::Node,
        _ => NsMode::Pod,
    };
    Ok(PodConfig {
        name: md.name,
        uid: md.uid,
        namespace: md.namespace,
        attempt: md.attempt,
        hostname: c.hostname,
        log_directory: c.log_directory,
        dns: c.dns_config.map(|d| pods::Dns {
            servers: d.servers,
            searches: d.searches,
            options: d.options,
        }),
        port_mappings: c
            .port_mappings
            .into_iter()
            .map(|p| pods::PortMapping {
                protocol: v1::Protocol::try_from(p.protocol)
                    .unwrap_or(v1::Protocol::Tcp)
                    .as_str_name()
                    .to_ascii_lowercase(),
                container_port: p.container_port,
                host_port: p.host_port,
                host_ip: p.host_ip,
            })
            .collect(),
        labels: sorted(c.labels),
        annotations: sorted(c.annotations),
        cgroup_parent: linux.cgroup_parent,
        sysctls: sorted(linux.sysctls),
        namespaces: pods::Namespaces {
            network: match ns_mode(nso.network) {
                NsMode::Node => NsMode::Node,
                _ => NsMode::Pod,
            },
            pid,
            ipc: match ns_mode(nso.ipc) {
                NsMode::Node => NsMode::Node,
                _ => NsMode::Pod,
            },
        },
        privileged: sc.privileged,
    })
}

fn metadata(c: &PodConfig) -> v1::PodSandboxMetadata {
    v1::PodSandboxMetadata {
        name: c.name.clone(),
        uid: c.uid.clone(),
        namespace: c.namespace.clone(),
        attempt: c.attempt,
    }
}

fn cri_state(s: SandboxState) -> i32 {
    let state = match s {
        SandboxState::Ready => v1::PodSandboxState::SandboxReady,
        SandboxState::NotReady => v1::PodSandboxState::SandboxNotready,
    };
    state as i32
}

fn to_cri(s: &SandboxRecord, state: SandboxState) -> v1::PodSandbox {
    v1::PodSandbox {
        id: s.id.clone(),
        metadata: Some(metadata(&s.config)),
        state: cri_state(state),
        created_at: s.created_nanos,
        labels: s.config.labels.clone().into_iter().collect(),
        annotations: s.config.annotations.clone().into_iter().collect(),
        runtime_handler: String::new(),
    }
}

pub(super) async fn run_pod_sandbox(
    cri: &Cri,
    req: Request<v1::RunPodSandboxRequest>,
) -> Result<Response<v1::RunPodSandboxResponse>, Status> {
    let r = req.into_inner();
    let config = r
        .config
        .ok_or_else(|| Status::invalid_argument("no pod sandbox config given"))?;
    let config = pod_config(config)?;
    let dir = cri.state.cni_conf_dir.clone();
    let id = cri
        .blocking(move |m| pods::run_sandbox(&m, NAMESPACE, &dir, config))
        .await?;
    Ok(Response::new(v1::RunPodSandboxResponse {
        pod_sandbox_id: id,
    }))
}

pub(super) async fn stop_pod_sandbox(
    cri: &Cri,
    req: Request<v1::StopPodSandboxRequest>,
) -> Result<Response<v1::StopPodSandboxResponse>, Status> {
    let id = req.into_inner().pod_sandbox_id;
    cri.blocking(move |m| pods::stop_sandbox(&m, NAMESPACE, &id))
        .await?;
    Ok(Response::new(v1::StopPodSandboxResponse {}))
}

pub(super) async fn remove_pod_sandbox(
    cri: &Cri,
    req: Request<v1::RemovePodSandboxRequest>,
) -> Result<Response<v1::RemovePodSandboxResponse>, Status> {
    let id = req.into_inner().pod_sandbox_id;
    cri.blocking(move |m| pods::remove_sandbox(&m, NAMESPACE, &id))
        .await?;
    Ok(Response::new(v1::RemovePodSandboxResponse {}))
}

pub(super) async fn pod_sandbox_status(
    cri: &Cri,
    req: Request<v1::PodSandboxStatusRequest>,
) -> Result<Response<v1::PodSandboxStatusResponse>, Status> {
    let r = req.into_inner();
    let verbose = r.verbose;
    let st = cri
        .blocking(move |m| pods::sandbox_status(&m, NAMESPACE, &r.pod_sandbox_id, verbose))
        .await?;
    let s = &st.record;
    let c = &s.config;
    let network = s.network.as_ref().map(|n| v1::PodSandboxNetworkStatus {
        ip: n.ip.clone(),
        additional_ips: n
            .additional_ips
            .iter()
            .map(|ip| v1::PodIp { ip: ip.clone() })
            .collect(),
    });
    let mut info = std::collections::HashMap::new();
    if verbose {
        let v = serde_json::json!({
            "pid": s.pause_pid,
            "netns": s.netns,
            "running": st.running,
            "cni": s.network.as_ref().map(|n| &n.result),
            "cniCheck": st.network_check.as_ref().map(|r| match r {
                Ok(()) => "ok".to_string(),
                Err(e) => e.clone(),
            }),
        });
        info.insert("info".to_string(), v.to_string());
    }
    let status = v1::PodSandboxStatus {
        id: s.id.clone(),
        metadata: Some(metadata(c)),
        state: cri_state(s.state),
        created_at: s.created_nanos,
        network,
        linux: Some(v1::LinuxPodSandboxStatus {
            namespaces: Some(v1::Namespace {
                options: Some(v1::NamespaceOption {
                    network: cri_ns_mode(c.namespaces.network),
                    pid: cri_ns_mode(c.namespaces.pid),
                    ipc: cri_ns_mode(c.namespaces.ipc),
                    ..Default::default()
                }),
            }),
        }),
        labels: c.labels.clone().into_iter().collect(),
        annotations: c.annotations.clone().into_iter().collect(),
        runtime_handler: String::new(),
    };
    Ok(Response::new(v1::PodSandboxStatusResponse {
        status: Some(status),
        info,
        containers_statuses: Vec::new(),
        timestamp: hull_types::time::now_nanos(),
    }))
}

pub(super) async fn list_pod_sandbox(
    cri: &Cri,
    req: Request<v1::ListPodSandboxRequest>,
) -> Result<Response<v1::ListPodSandboxResponse>, Status> {
    let f = req.into_inner().filter.unwrap_or_default();
    let items = cri
        .blocking(move |m| {
            let mut out = Vec::new();
            for s in pods::list_sandboxes(&m, NAMESPACE)? {
                let state = pods::sandbox_status(&m, NAMESPACE, &s.id, false)?
                    .record
                    .state;
                out.push(to_cri(&s, state));
            }
            Ok(out)
        })
        .await?;
    let selector = sorted(f.label_selector);
    let items = items
        .into_iter()
        .filter(|s| f.id.is_empty() || s.id.starts_with(&f.id))
        .filter(|s| f.state.as_ref().is_none_or(|v| v.state == s.state))
        .filter(|s| pods::labels_match(&sorted(s.labels.clone()), &selector))
        .collect();
    Ok(Response::new(v1::ListPodSandboxResponse { items }))
}

pub(super) async fn list_metric_descriptors(
    _cri: &Cri,
    _req: Request<v1::ListMetricDescriptorsRequest>,
) -> Result<Response<v1::ListMetricDescriptorsResponse>, Status> {
    unimplemented("ListMetricDescriptors")
}

pub(super) async fn list_pod_sandbox_metrics(
    _cri: &Cri,
    _req: Request<v1::ListPodSandboxMetricsRequest>,
) -> Result<Response<v1::ListPodSandboxMetricsResponse>, Status> {
    unimplemented("ListPodSandboxMetrics")
}
