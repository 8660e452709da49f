//! The Version service: version, health, daemon info.

use hull_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::Server;
use crate::images::{self, Platform};
use crate::metadata::Table;

#[tonic::async_trait]
impl pb::version_server::Version for Server {
    async fn version(
        &self,
        _: Request<pb::VersionRequest>,
    ) -> Result<Response<pb::VersionResponse>, Status> {
        Ok(Response::new(pb::VersionResponse {
            version: env!("CARGO_PKG_VERSION").into(),
            revision: option_env!("HULL_GIT_REVISION").unwrap_or("").into(),
            api_version: hull_proto::API_VERSION.into(),
            os: std::env::consts::OS.into(),
            arch: Platform::host().architecture,
        }))
    }

    async fn health(
        &self,
        _: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        Ok(Response::new(pb::HealthResponse {
            status: pb::health_response::Status::Serving as i32,
        }))
    }

    async fn info(
        &self,
        _: Request<pb::InfoRequest>,
    ) -> Result<Response<pb::InfoResponse>, Status> {
        self.blocking(|m| {
            let images: Vec<(String, images::ImageRecord)> = m.db.list(Table::Images, "")?;
            let mut namespaces: Vec<String> = images
                .iter()
                .filter_map(|(k, _)| k.split_once('/').map(|(n, _)| n.to_string()))
                .collect();
            namespaces.sort();
            namespaces.dedup();
            let blobs = m.content.list()?;
            let rss = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                        l.split_whitespace()
                            .nth(1)
                            .and_then(|v| v.parse::<i64>().ok())
                    })
                })
                .unwrap_or(0)
                * 1024;
            let kernel = nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().to_string())
                .unwrap_or_default();
            Ok(pb::InfoResponse {
                root: m.root.display().to_string(),
                state: m.state.display().to_string(),
                address: m.address.display().to_string(),
                snapshotter: m.snapshots.driver().name().into(),
                images: images.len() as i64,
                content_blobs: blobs.len() as i64,
                content_bytes: blobs.iter().map(|b| b.size as i64).sum(),
                snapshots: m.snapshots.list()?.len() as i64,
                pid: std::process::id() as i64,
                kernel_version: kernel,
                os: std::env::consts::OS.into(),
                arch: Platform::host().architecture,
                rss_bytes: rss,
                namespaces,
                insecure_registries: m.cfg.insecure_registries.clone(),
                registry_mirrors: m
                    .cfg
                    .registry_mirrors
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.join(",")))
                    .collect(),
                max_concurrent_downloads: m.cfg.max_concurrent_downloads as i64,
            })
        })
        .await
        .map(Response::new)
    }
}
