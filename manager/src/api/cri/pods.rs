//! Pod sandboxes: run, stop, remove, status, list, stats, port forward.

use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::{unimplemented, Cri};

pub(super) async fn run_pod_sandbox(
    _cri: &Cri,
    _req: Request<v1::RunPodSandboxRequest>,
) -> Result<Response<v1::RunPodSandboxResponse>, Status> {
    unimplemented("RunPodSandbox")
}

pub(super) async fn stop_pod_sandbox(
    _cri: &Cri,
    _req: Request<v1::StopPodSandboxRequest>,
) -> Result<Response<v1::StopPodSandboxResponse>, Status> {
    unimplemented("StopPodSandbox")
}

pub(super) async fn remove_pod_sandbox(
    _cri: &Cri,
    _req: Request<v1::RemovePodSandboxRequest>,
) -> Result<Response<v1::RemovePodSandboxResponse>, Status> {
    unimplemented("RemovePodSandbox")
}

pub(super) async fn pod_sandbox_status(
    _cri: &Cri,
    _req: Request<v1::PodSandboxStatusRequest>,
) -> Result<Response<v1::PodSandboxStatusResponse>, Status> {
    unimplemented("PodSandboxStatus")
}

pub(super) async fn list_pod_sandbox(
    _cri: &Cri,
    _req: Request<v1::ListPodSandboxRequest>,
) -> Result<Response<v1::ListPodSandboxResponse>, Status> {
    unimplemented("ListPodSandbox")
}

pub(super) async fn pod_sandbox_stats(
    _cri: &Cri,
    _req: Request<v1::PodSandboxStatsRequest>,
) -> Result<Response<v1::PodSandboxStatsResponse>, Status> {
    unimplemented("PodSandboxStats")
}

pub(super) async fn list_pod_sandbox_stats(
    _cri: &Cri,
    _req: Request<v1::ListPodSandboxStatsRequest>,
) -> Result<Response<v1::ListPodSandboxStatsResponse>, Status> {
    unimplemented("ListPodSandboxStats")
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

pub(super) async fn port_forward(
    _cri: &Cri,
    _req: Request<v1::PortForwardRequest>,
) -> Result<Response<v1::PortForwardResponse>, Status> {
    unimplemented("PortForward")
}
