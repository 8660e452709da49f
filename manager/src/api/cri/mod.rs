//! The Kubernetes CRI v1 endpoint (`runtime.v1.RuntimeService` and
//! `runtime.v1.ImageService`) that kubelet and crictl speak, served on a
//! socket of its own. One more face of the API floor over the same rooms:
//! CRI objects live in hulld's `k8s.io` namespace, so `hull --namespace
//! k8s.io ps` and `images` show them.
//!
//! `runtime_service` routes each RuntimeService RPC to the file of its
//! concept: `runtime_info` (version, status, config), `pods` (sandboxes),
//! `containers` (containers in pods), `stats` (their usage); `images` is the ImageService, and
//! `image_lookup` finds the image a CRI ImageSpec names; `streaming` is
//! the HTTP server behind Exec, Attach and PortForward.

mod containers;
mod image_lookup;
mod images;
mod pods;
mod runtime_info;
mod runtime_service;
mod stats;
pub mod streaming;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hull_cri_api::v1;
use tonic::Status;

use crate::error::Error;
use crate::manager::Manager;

/// hulld's namespace for everything made through CRI.
pub const NAMESPACE: &str = "k8s.io";

/// What the CRI services hold besides the manager.
#[derive(Debug, Default)]
pub struct CriState {
    /// The pod CIDR kubelet last gave in UpdateRuntimeConfig.
    pub pod_cidr: Mutex<String>,
    /// Where CNI network configs are looked for.
    pub cni_conf_dir: PathBuf,
    /// The streaming server, once it listens.
    pub streaming: std::sync::OnceLock<Arc<streaming::StreamServer>>,
}

/// Both CRI services over one manager.
#[derive(Clone)]
pub struct Cri {
    pub m: Arc<Manager>,
    pub state: Arc<CriState>,
}

impl Cri {
    pub fn new(m: Arc<Manager>) -> Cri {
        let cni_conf_dir = m.cfg.cri.cni_conf_dir();
        Cri {
            m,
            state: Arc::new(CriState {
                pod_cidr: Mutex::new(String::new()),
                cni_conf_dir,
                streaming: Default::default(),
            }),
        }
    }

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

/// The answer of an RPC hull does not serve yet.
pub(super) fn unimplemented<T>(what: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!(
        "{what} is not implemented yet"
    )))
}

/// Serve both CRI services on `listener` until `shutdown` resolves.
pub async fn serve(
    m: Arc<Manager>,
    listener: tokio::net::UnixListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    crate::pods::oom::watch(m.clone());
    let cri = Cri::new(m.clone());
    let (address, port) = m.cfg.cri.stream_address();
    match streaming::start(m, &address, port).await {
        Ok(s) => {
            let _ = cri.state.streaming.set(s);
        }
        Err(e) => tracing::error!(
            "CRI streaming server on {address}:{port}: {e}; Exec, Attach and PortForward are unavailable"
        ),
    }
    tonic::transport::Server::builder()
        .add_service(v1::runtime_service_server::RuntimeServiceServer::new(
            cri.clone(),
        ))
        .add_service(v1::image_service_server::ImageServiceServer::new(cri))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::UnixListenerStream::new(listener),
            shutdown,
        )
        .await
}
