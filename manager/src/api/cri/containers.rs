//! Containers in pods: create, start, stop, remove, status, list,
//! resources, logs, exec, attach, stats, checkpoint, events.

use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::{unimplemented, Cri};

pub(super) async fn create_container(
    _cri: &Cri,
    _req: Request<v1::CreateContainerRequest>,
) -> Result<Response<v1::CreateContainerResponse>, Status> {
    unimplemented("CreateContainer")
}

pub(super) async fn start_container(
    _cri: &Cri,
    _req: Request<v1::StartContainerRequest>,
) -> Result<Response<v1::StartContainerResponse>, Status> {
    unimplemented("StartContainer")
}

pub(super) async fn stop_container(
    _cri: &Cri,
    _req: Request<v1::StopContainerRequest>,
) -> Result<Response<v1::StopContainerResponse>, Status> {
    unimplemented("StopContainer")
}

pub(super) async fn remove_container(
    _cri: &Cri,
    _req: Request<v1::RemoveContainerRequest>,
) -> Result<Response<v1::RemoveContainerResponse>, Status> {
    unimplemented("RemoveContainer")
}

pub(super) async fn list_containers(
    _cri: &Cri,
    _req: Request<v1::ListContainersRequest>,
) -> Result<Response<v1::ListContainersResponse>, Status> {
    unimplemented("ListContainers")
}

pub(super) async fn container_status(
    _cri: &Cri,
    _req: Request<v1::ContainerStatusRequest>,
) -> Result<Response<v1::ContainerStatusResponse>, Status> {
    unimplemented("ContainerStatus")
}

pub(super) async fn update_container_resources(
    _cri: &Cri,
    _req: Request<v1::UpdateContainerResourcesRequest>,
) -> Result<Response<v1::UpdateContainerResourcesResponse>, Status> {
    unimplemented("UpdateContainerResources")
}

pub(super) async fn reopen_container_log(
    _cri: &Cri,
    _req: Request<v1::ReopenContainerLogRequest>,
) -> Result<Response<v1::ReopenContainerLogResponse>, Status> {
    unimplemented("ReopenContainerLog")
}

pub(super) async fn exec_sync(
    _cri: &Cri,
    _req: Request<v1::ExecSyncRequest>,
) -> Result<Response<v1::ExecSyncResponse>, Status> {
    unimplemented("ExecSync")
}

pub(super) async fn exec(
    _cri: &Cri,
    _req: Request<v1::ExecRequest>,
) -> Result<Response<v1::ExecResponse>, Status> {
    unimplemented("Exec")
}

pub(super) async fn attach(
    _cri: &Cri,
    _req: Request<v1::AttachRequest>,
) -> Result<Response<v1::AttachResponse>, Status> {
    unimplemented("Attach")
}

pub(super) async fn container_stats(
    _cri: &Cri,
    _req: Request<v1::ContainerStatsRequest>,
) -> Result<Response<v1::ContainerStatsResponse>, Status> {
    unimplemented("ContainerStats")
}

pub(super) async fn list_container_stats(
    _cri: &Cri,
    _req: Request<v1::ListContainerStatsRequest>,
) -> Result<Response<v1::ListContainerStatsResponse>, Status> {
    unimplemented("ListContainerStats")
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
