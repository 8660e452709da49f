//! The API floor: hulld's gRPC services (package hull.v1) over a unix
//! socket, one file per service. Requests are turned into the domain
//! rooms' own types here and their answers back into messages; the rooms
//! below never see a generated type.

mod attach;
mod build;
mod containers;
mod content;
pub mod cri;
mod events;
mod files;
mod images;
mod leases;
mod logs;
mod network;
mod snapshots;
mod tasks;
mod transfer;
mod version;
mod volumes;

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use hull_proto::v1 as pb;
use hull_proto::{DEFAULT_NAMESPACE, NAMESPACE_HEADER};
use tonic::{Request, Status};

use crate::error::Error;
use crate::images::Platform;
use crate::manager::Manager;
use crate::metadata::validate_namespace;
use crate::registry::Credentials;

pub(crate) type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

pub(crate) fn namespace<T>(req: &Request<T>) -> Result<String, Status> {
    let ns = req
        .metadata()
        .get(NAMESPACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_string();
    validate_namespace(&ns)?;
    Ok(ns)
}

pub(crate) fn platform(p: Option<pb::Platform>) -> Result<Platform, Status> {
    match p {
        Some(p) if !p.os.is_empty() || !p.architecture.is_empty() => {
            let s = if p.variant.is_empty() {
                format!("{}/{}", p.os, p.architecture)
            } else {
                format!("{}/{}/{}", p.os, p.architecture, p.variant)
            };
            Ok(Platform::parse(&s)?)
        }
        _ => Ok(Platform::host()),
    }
}

pub(crate) fn creds(a: Option<pb::RegistryAuth>) -> Credentials {
    a.map(|a| Credentials {
        username: a.username,
        password: if a.identity_token.is_empty() {
            a.password
        } else {
            a.identity_token
        },
        ..Default::default()
    })
    .unwrap_or_default()
}

/// A domain error as a gRPC status: its code by kind, its text as is.
impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::NotFound(_) => tonic::Status::not_found(msg),
            Error::AlreadyExists(_) => tonic::Status::already_exists(msg),
            Error::InvalidArgument(_) | Error::HostileLayer(_) => {
                tonic::Status::invalid_argument(msg)
            }
            Error::FailedPrecondition(_) => tonic::Status::failed_precondition(msg),
            Error::CannotRun(why, _) => {
                let mut s = tonic::Status::failed_precondition(msg);
                s.metadata_mut().insert(
                    hull_types::cannot_run::METADATA_KEY,
                    tonic::metadata::MetadataValue::from_static(why.as_str()),
                );
                s
            }
            Error::DigestMismatch { .. } | Error::SizeMismatch { .. } => {
                tonic::Status::data_loss(msg)
            }
            Error::Unauthorized(_) => tonic::Status::unauthenticated(msg),
            Error::Unsupported(_) => tonic::Status::unimplemented(msg),
            Error::NoSpace(_) => tonic::Status::resource_exhausted(msg),
            Error::DeadlineExceeded(_) => tonic::Status::deadline_exceeded(msg),
            Error::Registry(_) | Error::Db(_) | Error::Internal(_) | Error::Io { .. } => {
                tonic::Status::internal(msg)
            }
        }
    }
}

#[derive(Clone)]
pub struct Server {
    pub m: Arc<Manager>,
}

impl Server {
    /// Run a blocking closure on the blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Arc<Manager>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Status> {
        let m = self.m.clone();
        tokio::task::spawn_blocking(move || f(m))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(Status::from)
    }
}

/// Serve all services on `listener` until `shutdown` resolves.
pub async fn serve(
    m: Arc<Manager>,
    listener: tokio::net::UnixListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let s = Server { m };
    tonic::transport::Server::builder()
        .add_service(pb::version_server::VersionServer::new(s.clone()))
        .add_service(pb::content_server::ContentServer::new(s.clone()))
        .add_service(pb::images_server::ImagesServer::new(s.clone()))
        .add_service(pb::snapshots_server::SnapshotsServer::new(s.clone()))
        .add_service(pb::transfer_server::TransferServer::new(s.clone()))
        .add_service(pb::events_server::EventsServer::new(s.clone()))
        .add_service(pb::leases_server::LeasesServer::new(s.clone()))
        .add_service(pb::containers_server::ContainersServer::new(s.clone()))
        .add_service(pb::volumes_server::VolumesServer::new(s.clone()))
        .add_service(pb::container_files_server::ContainerFilesServer::new(
            s.clone(),
        ))
        .add_service(pb::networks_server::NetworksServer::new(s.clone()))
        .add_service(pb::build_server::BuildServer::new(s.clone()))
        .add_service(pb::tasks_server::TasksServer::new(s))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::UnixListenerStream::new(listener),
            shutdown,
        )
        .await
}
