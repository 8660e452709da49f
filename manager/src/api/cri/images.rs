//! The ImageService: pull (with registry auth), list, status, remove, and
//! the image file system's usage, over hulld's images in `k8s.io`.

use std::collections::HashMap;

use base64::Engine;
use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::image_lookup::{self, CriImage};
use super::{Cri, NAMESPACE};
use crate::images::{ops, Platform};
use crate::memory::release_memory;
use crate::registry::pull::{pull, PullOptions};
use crate::registry::Credentials;

/// The image an ImageSpec names; an empty one is InvalidArgument.
fn spec_image(spec: Option<v1::ImageSpec>) -> Result<String, Status> {
    match spec {
        Some(s) if !s.image.is_empty() => Ok(s.image),
        _ => Err(Status::invalid_argument("image spec without an image")),
    }
}

/// CRI's AuthConfig as registry credentials: a registry token (bearer)
/// first, then username with password or identity token, then `auth`
/// (base64 of `user:password`). `server_address` only names the registry.
pub(super) fn credentials(a: Option<v1::AuthConfig>) -> Result<Credentials, Status> {
    let Some(a) = a else {
        return Ok(Credentials::default());
    };
    if !a.registry_token.is_empty() {
        return Ok(Credentials {
            registry_token: a.registry_token,
            ..Default::default()
        });
    }
    if !a.identity_token.is_empty() {
        return Ok(Credentials {
            username: a.username,
            password: a.identity_token,
            ..Default::default()
        });
    }
    if a.username.is_empty() && a.password.is_empty() && !a.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.auth.trim())
            .map_err(|e| {
                Status::invalid_argument(format!("auth config: auth is not base64: {e}"))
            })?;
        let text = String::from_utf8(raw)
            .map_err(|_| Status::invalid_argument("auth config: auth is not UTF-8"))?;
        let Some((user, pass)) = text.split_once(':') else {
            return Err(Status::invalid_argument(
                "auth config: auth is not base64 of user:password",
            ));
        };
        return Ok(Credentials {
            username: user.into(),
            password: pass.into(),
            ..Default::default()
        });
    }
    Ok(Credentials {
        username: a.username,
        password: a.password,
        ..Default::default()
    })
}

/// ImageStatus's verbose info: what the image is made of, as JSON.
fn verbose_info(m: &crate::manager::Manager, img: &CriImage) -> HashMap<String, String> {
    let mut info = HashMap::new();
    let Some(r) = &img.resolved else {
        return info;
    };
    let config: serde_json::Value = serde_json::from_slice(&r.config_raw).unwrap_or_default();
    let chain_id = r.chain_ids.last().cloned().unwrap_or_default();
    info.insert(
        "info".to_string(),
        serde_json::json!({
            "id": img.id,
            "names": img.records.iter().map(|r| &r.name).collect::<Vec<_>>(),
            "target": img.records.first().map(|r| &r.target),
            "manifestDigest": r.manifest_desc.digest,
            "chainID": chain_id,
            "unpacked": m.snapshots.exists(&chain_id),
            "snapshotter": m.snapshots.driver().name(),
            "imageSpec": config,
        })
        .to_string(),
    );
    info
}

#[tonic::async_trait]
impl v1::image_service_server::ImageService for Cri {
    async fn list_images(
        &self,
        req: Request<v1::ListImagesRequest>,
    ) -> Result<Response<v1::ListImagesResponse>, Status> {
        let want = req
            .into_inner()
            .filter
            .and_then(|f| f.image)
            .map(|s| s.image)
            .filter(|s| !s.is_empty());
        let images = self
            .blocking(move |m| match want {
                Some(w) => Ok(image_lookup::find(&m, NAMESPACE, &w)?
                    .map(|i| vec![i.to_cri()])
                    .unwrap_or_default()),
                None => Ok(image_lookup::list(&m, NAMESPACE)?
                    .iter()
                    .map(CriImage::to_cri)
                    .collect()),
            })
            .await?;
        Ok(Response::new(v1::ListImagesResponse { images }))
    }

    async fn image_status(
        &self,
        req: Request<v1::ImageStatusRequest>,
    ) -> Result<Response<v1::ImageStatusResponse>, Status> {
        let r = req.into_inner();
        let what = spec_image(r.image)?;
        let verbose = r.verbose;
        let resp = self
            .blocking(move |m| {
                // Not present: no image and no error, as CRI says.
                let Some(img) = image_lookup::find(&m, NAMESPACE, &what)? else {
                    return Ok(v1::ImageStatusResponse::default());
                };
                Ok(v1::ImageStatusResponse {
                    image: Some(img.to_cri()),
                    info: if verbose {
                        verbose_info(&m, &img)
                    } else {
                        HashMap::new()
                    },
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn pull_image(
        &self,
        req: Request<v1::PullImageRequest>,
    ) -> Result<Response<v1::PullImageResponse>, Status> {
        let r = req.into_inner();
        let reference = spec_image(r.image)?;
        let rec = self.pull_reference(reference, credentials(r.auth)?).await?;
        let image_ref = self.blocking(move |m| Ok(ops::image_id(&m, &rec))).await?;
        Ok(Response::new(v1::PullImageResponse { image_ref }))
    }

    async fn remove_image(
        &self,
        req: Request<v1::RemoveImageRequest>,
    ) -> Result<Response<v1::RemoveImageResponse>, Status> {
        let what = spec_image(req.into_inner().image)?;
        let removed = self
            .blocking(move |m| {
                // Already gone: done, as CRI says.
                let Some(img) = image_lookup::find(&m, NAMESPACE, &what)? else {
                    return Ok(false);
                };
                // Every name of the image; containers keep their snapshots.
                for r in &img.records {
                    match ops::delete(&m, NAMESPACE, &r.name, true, &[]) {
                        Ok(_) | Err(crate::error::Error::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(true)
            })
            .await?;
        if removed {
            let _g = self.m.gc_lock.write().await;
            self.blocking(|m| crate::gc::collect(&m)).await?;
        }
        Ok(Response::new(v1::RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _req: Request<v1::ImageFsInfoRequest>,
    ) -> Result<Response<v1::ImageFsInfoResponse>, Status> {
        let usage = self
            .blocking(|m| {
                let (bytes, inodes) = m.snapshots.total_usage();
                Ok(v1::FilesystemUsage {
                    timestamp: now_nanos(),
                    fs_id: Some(v1::FilesystemIdentifier {
                        mountpoint: m.snapshots.root().display().to_string(),
                    }),
                    used_bytes: Some(v1::UInt64Value { value: bytes }),
                    inodes_used: Some(v1::UInt64Value { value: inodes }),
                })
            })
            .await?;
        Ok(Response::new(v1::ImageFsInfoResponse {
            image_filesystems: vec![usage],
            container_filesystems: Vec::new(),
        }))
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Cri {
    /// Pull `reference` into the CRI namespace (unpacked); its record.
    async fn pull_reference(
        &self,
        reference: String,
        creds: Credentials,
    ) -> Result<crate::images::ImageRecord, Status> {
        let opts = PullOptions {
            reference: reference.clone(),
            platform: Platform::host(),
            creds,
            unpack: true,
        };
        // CRI has no progress: drain it.
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let pulled = pull(self.m.clone(), NAMESPACE, opts, tx).await;
        let _ = drain.await;
        release_memory();
        pulled.map_err(|e| {
            tracing::warn!(image = %reference, "CRI pull failed: {e}");
            Status::from(e)
        })
    }

    /// Pull `reference` unless the CRI namespace has it (the pause image).
    pub(super) async fn ensure_image(&self, reference: &str) -> Result<(), Status> {
        let what = reference.to_string();
        let present = self
            .blocking(move |m| Ok(image_lookup::find(&m, NAMESPACE, &what)?.is_some()))
            .await?;
        if !present {
            self.pull_reference(reference.to_string(), Credentials::default())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_configs() {
        assert_eq!(credentials(None).unwrap(), Credentials::default());
        let c = credentials(Some(v1::AuthConfig {
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        let c = credentials(Some(v1::AuthConfig {
            auth: base64::engine::general_purpose::STANDARD.encode("al:pw:x"),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("al", "pw:x"));
        let c = credentials(Some(v1::AuthConfig {
            username: "u".into(),
            identity_token: "tok".into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(c.password, "tok");
        let c = credentials(Some(v1::AuthConfig {
            username: "u".into(),
            registry_token: "bearer".into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(c.registry_token, "bearer");
        assert!(c.username.is_empty());
        for bad in ["%%%", "bm9jb2xvbg=="] {
            let e = credentials(Some(v1::AuthConfig {
                auth: bad.into(),
                ..Default::default()
            }))
            .unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
        }
        assert_eq!(
            spec_image(None).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
