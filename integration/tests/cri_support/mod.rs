//! Helpers for the CRI suites: a private hulld (manager_support's) whose
//! CRI socket and CNI conf dir are the test's own, and a CRI v1 client over
//! that unix socket (tonic with a tower `service_fn` connector).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hull_cri_api::v1;
use hull_cri_api::v1::image_service_client::ImageServiceClient;
use hull_cri_api::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

use crate::manager_support::Hulld;

/// A CRI client: its own tokio runtime and both services' clients.
pub struct CriClient {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl CriClient {
    pub fn connect(socket: &Path) -> CriClient {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let channel = rt
            .block_on(hull_integration::cri::connect(socket))
            .unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()));
        CriClient {
            rt,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        }
    }

    /// Run a call to completion.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The RuntimeService client (a cheap clone of one channel).
    pub fn rs(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    /// The ImageService client.
    pub fn is(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }

    pub fn status(&self, verbose: bool) -> v1::StatusResponse {
        self.block_on(self.rs().status(v1::StatusRequest { verbose }))
            .unwrap()
            .into_inner()
    }

    /// Status, its NetworkReady condition.
    pub fn network_ready(&self) -> v1::RuntimeCondition {
        condition(&self.status(false), "NetworkReady")
    }

    pub fn pull(&self, image: &str, auth: Option<v1::AuthConfig>) -> Result<String, tonic::Status> {
        self.block_on(self.is().pull_image(v1::PullImageRequest {
            image: Some(spec(image)),
            auth,
            sandbox_config: None,
        }))
        .map(|r| r.into_inner().image_ref)
    }

    pub fn image_status(&self, image: &str, verbose: bool) -> v1::ImageStatusResponse {
        self.block_on(self.is().image_status(v1::ImageStatusRequest {
            image: Some(spec(image)),
            verbose,
        }))
        .unwrap_or_else(|e| panic!("ImageStatus {image}: {e}"))
        .into_inner()
    }

    pub fn list_images(&self, filter: Option<&str>) -> Vec<v1::Image> {
        self.block_on(self.is().list_images(v1::ListImagesRequest {
            filter: filter.map(|f| v1::ImageFilter {
                image: Some(spec(f)),
            }),
        }))
        .unwrap()
        .into_inner()
        .images
    }

    pub fn remove_image(&self, image: &str) -> Result<(), tonic::Status> {
        self.block_on(self.is().remove_image(v1::RemoveImageRequest {
            image: Some(spec(image)),
        }))
        .map(|_| ())
    }
}

pub fn spec(image: &str) -> v1::ImageSpec {
    v1::ImageSpec {
        image: image.into(),
        ..Default::default()
    }
}

/// The condition `kind` of a Status answer.
pub fn condition(st: &v1::StatusResponse, kind: &str) -> v1::RuntimeCondition {
    st.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.r#type == kind))
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} condition in {st:?}"))
}

/// A hulld serving CRI on `<its dir>/cri.sock`, with a CNI conf dir of the
/// test's own (empty at first), and a client connected to it. Dropped in
/// field order: the client, then hulld, then the CNI dir.
pub struct CriHulld {
    pub cri: CriClient,
    pub hulld: Hulld,
    pub cni_conf_dir: tempfile::TempDir,
}

impl CriHulld {
    pub fn start() -> CriHulld {
        Self::start_with_config("")
    }

    /// `config` is added to hulld's config before its `[cri]` table.
    pub fn start_with_config(config: &str) -> CriHulld {
        let cni_conf_dir = tempfile::Builder::new()
            .prefix("hull-cni-")
            .tempdir()
            .unwrap();
        let hulld = Hulld::start_with_config(&format!(
            "{config}\n[cri]\ncni_conf_dir = \"{}\"\n",
            cni_conf_dir.path().display()
        ));
        let cri = CriClient::connect(&Self::socket_of(&hulld));
        CriHulld {
            cri,
            hulld,
            cni_conf_dir,
        }
    }

    /// Where a hulld with no `[cri] socket` serves CRI: beside its socket.
    pub fn socket_of(h: &Hulld) -> PathBuf {
        h.sock.with_file_name("cri.sock")
    }

    pub fn socket(&self) -> PathBuf {
        Self::socket_of(&self.hulld)
    }
}
