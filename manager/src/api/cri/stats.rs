//! ContainerStats, ListContainerStats, PodSandboxStats and
//! ListPodSandboxStats: the pods room's usage figures as CRI's messages.

use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::{Cri, NAMESPACE};
use crate::containers::stats::TaskStats;
use crate::pods::pod_containers::Filter;
use crate::pods::stats::{self, ContainerUsage, InterfaceUsage, PodUsage};

fn n(value: u64) -> Option<v1::UInt64Value> {
    Some(v1::UInt64Value { value })
}

fn cpu(t: &TaskStats, ts: i64) -> v1::CpuUsage {
    v1::CpuUsage {
        timestamp: ts,
        usage_core_nano_seconds: n(t.cpu_total_nanos),
        usage_nano_cores: None,
    }
}

fn memory(t: &TaskStats, ts: i64) -> v1::MemoryUsage {
    // No limit (or the kernel's "unlimited"): nothing to say is available.
    let limited = t.memory_limit > 0 && t.memory_limit < (1 << 62);
    v1::MemoryUsage {
        timestamp: ts,
        working_set_bytes: n(t.memory_usage),
        available_bytes: limited.then(|| v1::UInt64Value {
            value: t.memory_limit.saturating_sub(t.memory_usage),
        }),
        usage_bytes: n(t.memory_total),
        rss_bytes: n(t.memory_rss),
        page_faults: n(t.page_faults),
        major_page_faults: n(t.major_page_faults),
    }
}

fn container_stats(u: &ContainerUsage) -> v1::ContainerStats {
    let c = &u.container;
    let ts = u.timestamp_nanos;
    v1::ContainerStats {
        attributes: Some(v1::ContainerAttributes {
            id: c.id.clone(),
            metadata: Some(v1::ContainerMetadata {
                name: c.config.name.clone(),
                attempt: c.config.attempt,
            }),
            labels: c.config.labels.clone().into_iter().collect(),
            annotations: c.config.annotations.clone().into_iter().collect(),
        }),
        cpu: u.task.as_ref().map(|t| cpu(t, ts)),
        memory: u.task.as_ref().map(|t| memory(t, ts)),
        writable_layer: u.layer.as_ref().map(|l| v1::FilesystemUsage {
            timestamp: ts,
            fs_id: Some(v1::FilesystemIdentifier {
                mountpoint: l.mountpoint.display().to_string(),
            }),
            used_bytes: n(l.bytes),
            inodes_used: n(l.inodes),
        }),
        swap: None,
    }
}

fn interface(i: &InterfaceUsage) -> v1::NetworkInterfaceUsage {
    v1::NetworkInterfaceUsage {
        name: i.name.clone(),
        rx_bytes: n(i.rx_bytes),
        rx_errors: n(i.rx_errors),
        tx_bytes: n(i.tx_bytes),
        tx_errors: n(i.tx_errors),
    }
}

fn pod_stats(u: &PodUsage) -> v1::PodSandboxStats {
    let s = &u.sandbox;
    let ts = u.timestamp_nanos;
    let network = (!u.interfaces.is_empty()).then(|| v1::NetworkUsage {
        timestamp: ts,
        default_interface: u
            .interfaces
            .iter()
            .find(|i| i.name == u.default_interface)
            .or(u.interfaces.first())
            .map(interface),
        interfaces: u.interfaces.iter().map(interface).collect(),
    });
    v1::PodSandboxStats {
        attributes: Some(v1::PodSandboxAttributes {
            id: s.id.clone(),
            metadata: Some(v1::PodSandboxMetadata {
                name: s.config.name.clone(),
                uid: s.config.uid.clone(),
                namespace: s.config.namespace.clone(),
                attempt: s.config.attempt,
            }),
            labels: s.config.labels.clone().into_iter().collect(),
            annotations: s.config.annotations.clone().into_iter().collect(),
        }),
        linux: Some(v1::LinuxPodSandboxStats {
            cpu: u.task.as_ref().map(|t| cpu(t, ts)),
            memory: u.task.as_ref().map(|t| memory(t, ts)),
            network,
            process: u.task.as_ref().map(|t| v1::ProcessUsage {
                timestamp: ts,
                process_count: n(t.pids),
            }),
            containers: u.containers.iter().map(container_stats).collect(),
        }),
        windows: None,
    }
}

pub(super) async fn container_stats_rpc(
    cri: &Cri,
    req: Request<v1::ContainerStatsRequest>,
) -> Result<Response<v1::ContainerStatsResponse>, Status> {
    let id = req.into_inner().container_id;
    let u = cri
        .blocking(move |m| stats::container(&m, NAMESPACE, &id))
        .await?;
    Ok(Response::new(v1::ContainerStatsResponse {
        stats: Some(container_stats(&u)),
    }))
}

pub(super) async fn list_container_stats(
    cri: &Cri,
    req: Request<v1::ListContainerStatsRequest>,
) -> Result<Response<v1::ListContainerStatsResponse>, Status> {
    let f = req.into_inner().filter.unwrap_or_default();
    let filter = Filter {
        id: f.id,
        sandbox_id: f.pod_sandbox_id,
        state: None,
        labels: f.label_selector.into_iter().collect(),
    };
    let all = cri
        .blocking(move |m| stats::containers(&m, NAMESPACE, &filter))
        .await?;
    Ok(Response::new(v1::ListContainerStatsResponse {
        stats: all.iter().map(container_stats).collect(),
    }))
}

pub(super) async fn pod_sandbox_stats(
    cri: &Cri,
    req: Request<v1::PodSandboxStatsRequest>,
) -> Result<Response<v1::PodSandboxStatsResponse>, Status> {
    let id = req.into_inner().pod_sandbox_id;
    let u = cri
        .blocking(move |m| stats::pod(&m, NAMESPACE, &id))
        .await?;
    Ok(Response::new(v1::PodSandboxStatsResponse {
        stats: Some(pod_stats(&u)),
    }))
}

pub(super) async fn list_pod_sandbox_stats(
    cri: &Cri,
    req: Request<v1::ListPodSandboxStatsRequest>,
) -> Result<Response<v1::ListPodSandboxStatsResponse>, Status> {
    let f = req.into_inner().filter.unwrap_or_default();
    let labels = f.label_selector.into_iter().collect();
    let all = cri
        .blocking(move |m| stats::pods(&m, NAMESPACE, &f.id, &labels))
        .await?;
    Ok(Response::new(v1::ListPodSandboxStatsResponse {
        stats: all.iter().map(pod_stats).collect(),
    }))
}
