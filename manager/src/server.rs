//! gRPC services of hulld (package hull.v1) over a unix socket.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use hull_proto::v1 as pb;
use hull_proto::{DEFAULT_NAMESPACE, NAMESPACE_HEADER};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::content::now_secs;
use crate::digest::Digest;
use crate::error::Error;
use crate::images::{self, ops, Platform};
use crate::manager::Manager;
use crate::metadata::{ns_key, validate_namespace, Table};
use crate::registry::pull::{pull, LeaseRecord, PullOptions};
use crate::registry::Credentials;
use crate::snapshots::{Kind, Mount, SnapshotRecord};

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

fn platform(p: Option<pb::Platform>) -> Result<Platform, Status> {
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

fn pb_desc(d: &images::Descriptor) -> pb::Descriptor {
    pb::Descriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size,
        annotations: d
            .annotations
            .clone()
            .map(|a| a.into_iter().collect())
            .unwrap_or_default(),
    }
}

fn creds(a: Option<pb::RegistryAuth>) -> Credentials {
    a.map(|a| Credentials {
        username: a.username,
        password: if a.identity_token.is_empty() {
            a.password
        } else {
            a.identity_token
        },
    })
    .unwrap_or_default()
}

#[derive(Clone)]
pub struct Server {
    pub m: Arc<Manager>,
}

impl Server {
    fn image_pb(&self, img: &images::ImageRecord) -> pb::Image {
        let resolved = images::resolve(&self.m.content, &img.target, &Platform::host()).ok();
        let unpacked = resolved
            .as_ref()
            .and_then(|r| r.chain_ids.last())
            .is_some_and(|c| self.m.snapshots.exists(c));
        pb::Image {
            name: img.name.clone(),
            target: Some(pb_desc(&img.target)),
            labels: img.labels.clone().into_iter().collect(),
            created_at: img.created_at,
            updated_at: img.updated_at,
            manifest_digest: resolved
                .as_ref()
                .map(|r| r.manifest_desc.digest.clone())
                .unwrap_or_default(),
            config_digest: resolved
                .as_ref()
                .map(|r| r.manifest.config.digest.clone())
                .unwrap_or_default(),
            size: resolved
                .as_ref()
                .map(|r| r.size())
                .unwrap_or(img.target.size),
            unpacked,
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

// ---------------------------------------------------------------- Version

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

// ---------------------------------------------------------------- Content

#[tonic::async_trait]
impl pb::content_server::Content for Server {
    type ReadStream = Stream_<pb::ReadContentResponse>;

    async fn info(
        &self,
        req: Request<pb::ContentInfoRequest>,
    ) -> Result<Response<pb::ContentInfo>, Status> {
        let d: Digest = req.into_inner().digest.parse()?;
        let i = self.m.content.info(&d)?;
        Ok(Response::new(pb::ContentInfo {
            digest: i.digest.to_string(),
            size: i.size as i64,
            created_at: i.created_at,
            labels: Default::default(),
        }))
    }

    async fn list(
        &self,
        _: Request<pb::ContentListRequest>,
    ) -> Result<Response<pb::ContentListResponse>, Status> {
        let info = self.blocking(|m| m.content.list()).await?;
        Ok(Response::new(pb::ContentListResponse {
            info: info
                .into_iter()
                .map(|i| pb::ContentInfo {
                    digest: i.digest.to_string(),
                    size: i.size as i64,
                    created_at: i.created_at,
                    labels: Default::default(),
                })
                .collect(),
        }))
    }

    async fn read(
        &self,
        req: Request<pb::ReadContentRequest>,
    ) -> Result<Response<Self::ReadStream>, Status> {
        use std::io::{Read, Seek, SeekFrom};
        let r = req.into_inner();
        let d: Digest = r.digest.parse()?;
        let mut f = self.m.content.open_blob(&d)?;
        let (tx, rx) = mpsc::channel(4);
        let offset = r.offset.max(0) as u64;
        let limit = if r.size > 0 { r.size as u64 } else { u64::MAX };
        tokio::task::spawn_blocking(move || {
            if let Err(e) = f.seek(SeekFrom::Start(offset)) {
                let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
                return;
            }
            let mut pos = offset;
            let mut left = limit;
            let mut buf = vec![0u8; 1 << 20];
            while left > 0 {
                let want = buf.len().min(left.min(usize::MAX as u64) as usize);
                match f.read(&mut buf[..want]) {
                    Ok(0) => break,
                    Ok(n) => {
                        let msg = pb::ReadContentResponse {
                            offset: pos as i64,
                            data: buf[..n].to_vec(),
                        };
                        pos += n as u64;
                        left -= n as u64;
                        if tx.blocking_send(Ok(msg)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn status(
        &self,
        req: Request<pb::IngestStatusRequest>,
    ) -> Result<Response<pb::IngestStatus>, Status> {
        let s = self.m.content.status(&req.into_inner().r#ref)?;
        Ok(Response::new(ingest_pb(s)))
    }

    async fn list_statuses(
        &self,
        _: Request<pb::ListIngestsRequest>,
    ) -> Result<Response<pb::ListIngestsResponse>, Status> {
        let s = self.m.content.list_statuses()?;
        Ok(Response::new(pb::ListIngestsResponse {
            statuses: s.into_iter().map(ingest_pb).collect(),
        }))
    }

    async fn write(
        &self,
        req: Request<Streaming<pb::WriteContentRequest>>,
    ) -> Result<Response<pb::WriteContentResponse>, Status> {
        let _gc = self.m.gc_lock.read().await;
        let mut s = req.into_inner();
        let first = s
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty write stream"))?;
        if first.r#ref.is_empty() {
            return Err(Status::invalid_argument("write needs a ref"));
        }
        let expected: Option<Digest> = if first.expected.is_empty() {
            None
        } else {
            Some(first.expected.parse()?)
        };
        let mut w = self
            .m
            .content
            .writer(&first.r#ref, expected, first.total.max(0) as u64)?;
        if first.offset as u64 != w.offset() {
            if first.offset == 0 {
                w.reset()?;
            } else {
                return Err(Status::out_of_range(format!(
                    "ingest {} is at offset {}, not {}",
                    first.r#ref,
                    w.offset(),
                    first.offset
                )));
            }
        }
        w.write(&first.data)?;
        while let Some(msg) = s.message().await? {
            w.write(&msg.data)?;
        }
        let offset = w.offset() as i64;
        let d = w.commit()?;
        Ok(Response::new(pb::WriteContentResponse {
            digest: d.to_string(),
            offset,
            total: offset,
        }))
    }

    async fn abort(
        &self,
        req: Request<pb::AbortIngestRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.m.content.abort(&req.into_inner().r#ref)?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteContentRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let d: Digest = req.into_inner().digest.parse()?;
        self.m.content.delete(&d)?;
        Ok(Response::new(pb::Empty {}))
    }
}

fn ingest_pb(s: crate::content::IngestStatus) -> pb::IngestStatus {
    pb::IngestStatus {
        r#ref: s.reference,
        offset: s.offset as i64,
        total: s.total as i64,
        expected: s.expected.unwrap_or_default(),
        started_at: s.started_at,
        updated_at: s.updated_at,
    }
}

// ---------------------------------------------------------------- Images

#[tonic::async_trait]
impl pb::images_server::Images for Server {
    type ExportStream = Stream_<pb::ExportChunk>;

    async fn get(&self, req: Request<pb::GetImageRequest>) -> Result<Response<pb::Image>, Status> {
        let ns = namespace(&req)?;
        let img = ops::get_one(&self.m, &ns, &req.into_inner().name)?;
        Ok(Response::new(self.image_pb(&img)))
    }

    async fn list(
        &self,
        req: Request<pb::ListImagesRequest>,
    ) -> Result<Response<pb::ListImagesResponse>, Status> {
        let ns = namespace(&req)?;
        let s = self.clone();
        let images = self
            .blocking(move |m| Ok(ops::list(&m, &ns)?.iter().map(|i| s.image_pb(i)).collect()))
            .await?;
        Ok(Response::new(pb::ListImagesResponse { images }))
    }

    async fn create(
        &self,
        req: Request<pb::CreateImageRequest>,
    ) -> Result<Response<pb::Image>, Status> {
        let ns = namespace(&req)?;
        let img = req
            .into_inner()
            .image
            .ok_or_else(|| Status::invalid_argument("no image"))?;
        let t = img
            .target
            .ok_or_else(|| Status::invalid_argument("image without target"))?;
        let d: Digest = t.digest.parse()?;
        if !self.m.content.exists(&d) {
            return Err(Status::failed_precondition(format!(
                "content {d} not present"
            )));
        }
        let name = images::normalize_name(&img.name)?;
        let now = now_secs();
        let rec = images::ImageRecord {
            name: name.clone(),
            target: images::Descriptor {
                media_type: t.media_type,
                digest: t.digest,
                size: t.size,
                ..Default::default()
            },
            labels: img.labels.into_iter().collect(),
            created_at: now,
            updated_at: now,
        };
        if !self.m.db.create(Table::Images, &ns_key(&ns, &name), &rec)? {
            return Err(Status::already_exists(format!("image {name}")));
        }
        self.m
            .events
            .publish(&ns, "/images/create", serde_json::json!({ "name": name }));
        Ok(Response::new(self.image_pb(&rec)))
    }

    async fn tag(&self, req: Request<pb::TagImageRequest>) -> Result<Response<pb::Image>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let rec = ops::tag(&self.m, &ns, &r.source, &r.target)?;
        Ok(Response::new(self.image_pb(&rec)))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteImageRequest>,
    ) -> Result<Response<pb::DeleteImageResponse>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let untagged = ops::delete(&self.m, &ns, &r.name, r.force)?;
        let mut deleted = Vec::new();
        if r.sync {
            let _g = self.m.gc_lock.write().await;
            let rep = self.blocking(|m| crate::gc::collect(&m)).await?;
            deleted = rep.content;
        }
        Ok(Response::new(pb::DeleteImageResponse { untagged, deleted }))
    }

    async fn inspect(
        &self,
        req: Request<pb::GetImageRequest>,
    ) -> Result<Response<pb::ImageInspect>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let p = platform(r.platform)?;
        let img = ops::get_one(&self.m, &ns, &r.name)?;
        let res = ops::resolve(&self.m, &img, &p)?;
        let all = ops::list(&self.m, &ns)?;
        let repo_tags: Vec<String> = all
            .iter()
            .filter(|i| i.target.digest == img.target.digest)
            .map(|i| i.name.clone())
            .collect();
        let repo_digests = repo_tags
            .iter()
            .map(|n| format!("{}@{}", images::split_repo_tag(n).0, img.target.digest))
            .collect();
        Ok(Response::new(pb::ImageInspect {
            image: Some(self.image_pb(&img)),
            manifest: res.manifest_raw.clone(),
            config: res.config_raw.clone(),
            index: res.index_raw.clone().unwrap_or_default(),
            layers: res.manifest.layers.iter().map(pb_desc).collect(),
            diff_ids: res.config.rootfs.diff_ids.clone(),
            chain_ids: res.chain_ids.clone(),
            platform: Some(pb::Platform {
                os: res.config.os.clone(),
                architecture: res.config.architecture.clone(),
                variant: res.config.variant.clone(),
                os_version: String::new(),
            }),
            repo_tags,
            repo_digests,
        }))
    }

    async fn import(
        &self,
        req: Request<Streaming<pb::ImportChunk>>,
    ) -> Result<Response<pb::ImportResponse>, Status> {
        let ns = namespace(&req)?;
        let _gc = self.m.gc_lock.read().await;
        let recs = images::archive::import(self.m.clone(), &ns, req.into_inner()).await;
        release_memory();
        let recs = recs?;
        Ok(Response::new(pb::ImportResponse {
            images: recs.iter().map(|r| self.image_pb(r)).collect(),
        }))
    }

    async fn export(
        &self,
        req: Request<pb::ExportRequest>,
    ) -> Result<Response<Self::ExportStream>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let p = platform(r.platform)?;
        let rx = images::archive::export(self.m.clone(), &ns, r.names, p, r.format)?;
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn prune(
        &self,
        req: Request<pb::PruneRequest>,
    ) -> Result<Response<pb::PruneResponse>, Status> {
        let ns = namespace(&req)?;
        let all = req.into_inner().all;
        let _g = self.m.gc_lock.write().await;
        let deleted_images = if all {
            // Every image but those a container uses (by image ID, so all
            // names of a used image stay).
            let images = ops::list(&self.m, &ns)?;
            let containers = crate::containers::list(&self.m, &ns)?;
            // The ID each container recorded (its tag may have moved since);
            // for containers made before they recorded it, the ID their image
            // name has now.
            let used_names: std::collections::HashSet<&str> = containers
                .iter()
                .filter(|c| c.image_id.is_empty())
                .map(|c| c.image.as_str())
                .collect();
            let mut used_ids: std::collections::HashSet<String> = containers
                .iter()
                .filter(|c| !c.image_id.is_empty())
                .map(|c| c.image_id.clone())
                .collect();
            used_ids.extend(
                images
                    .iter()
                    .filter(|i| used_names.contains(i.name.as_str()))
                    .map(|i| ops::image_id(&self.m, i)),
            );
            let names: Vec<String> = images
                .into_iter()
                .filter(|i| !used_ids.contains(&ops::image_id(&self.m, i)))
                .map(|i| i.name)
                .collect();
            for n in &names {
                ops::delete(&self.m, &ns, n, true)?;
            }
            names
        } else {
            Vec::new()
        };
        let rep = self.blocking(|m| crate::gc::prune(&m)).await?;
        Ok(Response::new(pb::PruneResponse {
            deleted_images,
            deleted_content: rep.content,
            deleted_snapshots: rep.snapshots,
            reclaimed_bytes: rep.bytes as i64,
        }))
    }
}

// ---------------------------------------------------------------- Snapshots

fn mounts_pb(v: Vec<Mount>) -> pb::MountsResponse {
    pb::MountsResponse {
        mounts: v
            .into_iter()
            .map(|m| pb::Mount {
                r#type: m.kind,
                source: m.source,
                target: String::new(),
                options: m.options,
            })
            .collect(),
    }
}

fn snap_pb(s: SnapshotRecord) -> pb::SnapshotInfo {
    pb::SnapshotInfo {
        name: s.name,
        parent: s.parent.unwrap_or_default(),
        kind: match s.kind {
            Kind::View => pb::snapshot_info::Kind::View,
            Kind::Active => pb::snapshot_info::Kind::Active,
            Kind::Committed => pb::snapshot_info::Kind::Committed,
        } as i32,
        labels: s.labels.into_iter().collect(),
        created_at: s.created_at,
    }
}

#[tonic::async_trait]
impl pb::snapshots_server::Snapshots for Server {
    async fn prepare(
        &self,
        req: Request<pb::PrepareSnapshotRequest>,
    ) -> Result<Response<pb::MountsResponse>, Status> {
        let r = req.into_inner();
        let m = self
            .m
            .snapshots
            .prepare(&r.key, &r.parent, r.labels.into_iter().collect())?;
        Ok(Response::new(mounts_pb(m)))
    }
    async fn view(
        &self,
        req: Request<pb::PrepareSnapshotRequest>,
    ) -> Result<Response<pb::MountsResponse>, Status> {
        let r = req.into_inner();
        let m = self
            .m
            .snapshots
            .view(&r.key, &r.parent, r.labels.into_iter().collect())?;
        Ok(Response::new(mounts_pb(m)))
    }
    async fn mounts(
        &self,
        req: Request<pb::SnapshotKeyRequest>,
    ) -> Result<Response<pb::MountsResponse>, Status> {
        Ok(Response::new(mounts_pb(
            self.m.snapshots.mounts(&req.into_inner().key)?,
        )))
    }
    async fn commit(
        &self,
        req: Request<pb::CommitSnapshotRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        self.m
            .snapshots
            .commit(&r.name, &r.key, r.labels.into_iter().collect())?;
        Ok(Response::new(pb::Empty {}))
    }
    async fn remove(
        &self,
        req: Request<pb::SnapshotKeyRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let key = req.into_inner().key;
        self.blocking(move |m| m.snapshots.remove(&key)).await?;
        Ok(Response::new(pb::Empty {}))
    }
    async fn stat(
        &self,
        req: Request<pb::SnapshotKeyRequest>,
    ) -> Result<Response<pb::SnapshotInfo>, Status> {
        Ok(Response::new(snap_pb(
            self.m.snapshots.stat(&req.into_inner().key)?,
        )))
    }
    async fn list(
        &self,
        _: Request<pb::ListSnapshotsRequest>,
    ) -> Result<Response<pb::ListSnapshotsResponse>, Status> {
        Ok(Response::new(pb::ListSnapshotsResponse {
            info: self.m.snapshots.list()?.into_iter().map(snap_pb).collect(),
        }))
    }
    async fn usage(
        &self,
        req: Request<pb::SnapshotKeyRequest>,
    ) -> Result<Response<pb::SnapshotUsage>, Status> {
        let key = req.into_inner().key;
        let (size, inodes) = self.blocking(move |m| m.snapshots.usage(&key)).await?;
        Ok(Response::new(pb::SnapshotUsage {
            size: size as i64,
            inodes: inodes as i64,
        }))
    }
}

// ---------------------------------------------------------------- Transfer

#[tonic::async_trait]
impl pb::transfer_server::Transfer for Server {
    type PullStream = Stream_<pb::Progress>;
    type PushStream = Stream_<pb::Progress>;

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let opts = PullOptions {
            reference: r.reference,
            platform: platform(r.platform)?,
            creds: creds(r.auth),
            unpack: !r.no_unpack,
        };
        let m = self.m.clone();
        Ok(Response::new(progress_stream(move |tx| async move {
            pull(m, &ns, opts, tx).await.map(|_| ())
        })))
    }

    async fn push(
        &self,
        req: Request<pb::PushRequest>,
    ) -> Result<Response<Self::PushStream>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let p = platform(r.platform)?;
        let c = creds(r.auth);
        let m = self.m.clone();
        Ok(Response::new(progress_stream(move |tx| async move {
            crate::registry::push::push(m, &ns, &r.reference, &r.remote, p, c, tx).await
        })))
    }

    async fn login(
        &self,
        req: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let r = req.into_inner();
        let c = creds(r.auth);
        crate::registry::push::login(&self.m, &r.registry, &c).await?;
        Ok(Response::new(pb::LoginResponse {
            status: "Login Succeeded".into(),
        }))
    }
}

/// Set glibc's malloc up for a daemon that idles between transfers: fixed
/// mmap and trim thresholds (128 KiB, glibc's starting values) instead of
/// dynamic ones, which a transfer's large buffers raise to 32 MiB so that
/// later buffers come from arenas that keep their pages. Measured with
/// bench/pull.sh: hulld's RSS after a 210 MiB pull 17.3 → 13.9 MiB.
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; called before the
    // runtime's threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Give freed heap back to the kernel after a big transfer (glibc keeps
/// per-thread arenas otherwise), so the idle daemon stays small.
pub fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Run `f` with a progress sender; stream its progress, then its error.
fn progress_stream<F, Fut>(f: F) -> Stream_<pb::Progress>
where
    F: FnOnce(mpsc::Sender<pb::Progress>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let (otx, orx) = mpsc::channel::<Result<pb::Progress, Status>>(64);
    let (ptx, mut prx) = mpsc::channel::<pb::Progress>(64);
    let fwd_tx = otx.clone();
    let forward = tokio::spawn(async move {
        while let Some(p) = prx.recv().await {
            let _ = fwd_tx.send(Ok(p)).await;
        }
    });
    tokio::spawn(async move {
        let mut work = Box::pin(f(ptx));
        // A client that goes away (its stream dropped) cancels the transfer:
        // dropping the future aborts its downloads and frees their ingests.
        let r = tokio::select! {
            r = &mut work => Some(r),
            _ = otx.closed() => None,
        };
        let Some(r) = r else {
            tracing::info!("client went away; transfer cancelled");
            drop(work);
            forward.abort();
            release_memory();
            return;
        };
        let _ = forward.await;
        release_memory();
        if let Err(e) = r {
            tracing::warn!("transfer failed: {e}");
            let _ = otx.send(Err(Status::from(e))).await;
        }
    });
    Box::pin(ReceiverStream::new(orx))
}

// ---------------------------------------------------------------- Events

#[tonic::async_trait]
impl pb::events_server::Events for Server {
    type SubscribeStream = Stream_<pb::Envelope>;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let filters = req.into_inner().filters;
        let mut rx = self.m.events.subscribe();
        let (tx, orx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        if crate::events::matches(&filters, &e) && tx.send(Ok(e)).await.is_err() {
                            break;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("event subscriber lagged by {n}");
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(orx))))
    }

    async fn publish(
        &self,
        req: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        validate_namespace(&r.namespace)?;
        if !r.topic.starts_with('/') {
            return Err(Status::invalid_argument(format!("bad topic {:?}", r.topic)));
        }
        let event = crate::containers::events::decode(&r.event)?;
        self.m.events.publish(&r.namespace, &r.topic, event);
        Ok(Response::new(pb::Empty {}))
    }
}

// ---------------------------------------------------------------- Leases

fn lease_pb(l: LeaseRecord) -> pb::Lease {
    let id =
        l.id.split_once('/')
            .map(|(_, i)| i.to_string())
            .unwrap_or(l.id);
    pb::Lease {
        id,
        created_at: l.created_at,
        labels: l.labels.into_iter().collect(),
        expires_at: l.expires_at,
        resources: l
            .resources
            .into_iter()
            .map(|(t, i)| pb::LeaseResource { r#type: t, id: i })
            .collect(),
    }
}

#[tonic::async_trait]
impl pb::leases_server::Leases for Server {
    async fn create(
        &self,
        req: Request<pb::CreateLeaseRequest>,
    ) -> Result<Response<pb::Lease>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let id = if r.id.is_empty() {
            format!("lease-{}", now_secs())
        } else {
            r.id
        };
        let key = ns_key(&ns, &id);
        let rec = LeaseRecord {
            id: key.clone(),
            created_at: now_secs(),
            labels: r.labels.into_iter().collect::<BTreeMap<_, _>>(),
            expires_at: if r.expire_seconds > 0 {
                now_secs() + r.expire_seconds
            } else {
                0
            },
            resources: Vec::new(),
        };
        if !self.m.db.create(Table::Leases, &key, &rec)? {
            return Err(Status::already_exists(format!("lease {id}")));
        }
        Ok(Response::new(lease_pb(rec)))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteLeaseRequest>,
    ) -> Result<Response<pb::LeaseEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        if !self.m.db.delete(Table::Leases, &ns_key(&ns, &r.id))? {
            return Err(Status::not_found(format!("lease {}", r.id)));
        }
        if r.sync {
            let _g = self.m.gc_lock.write().await;
            self.blocking(|m| crate::gc::collect(&m)).await?;
        }
        Ok(Response::new(pb::LeaseEmpty {}))
    }

    async fn list(
        &self,
        req: Request<pb::ListLeasesRequest>,
    ) -> Result<Response<pb::ListLeasesResponse>, Status> {
        let ns = namespace(&req)?;
        let l: Vec<(String, LeaseRecord)> = self.m.db.list(Table::Leases, &format!("{ns}/"))?;
        Ok(Response::new(pb::ListLeasesResponse {
            leases: l.into_iter().map(|(_, v)| lease_pb(v)).collect(),
        }))
    }

    async fn add_resource(
        &self,
        req: Request<pb::LeaseResourceRequest>,
    ) -> Result<Response<pb::LeaseEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let key = ns_key(&ns, &r.id);
        let mut rec: LeaseRecord = self
            .m
            .db
            .get(Table::Leases, &key)?
            .ok_or_else(|| Status::not_found(format!("lease {}", r.id)))?;
        let res = r
            .resource
            .ok_or_else(|| Status::invalid_argument("no resource"))?;
        rec.resources.push((res.r#type, res.id));
        self.m.db.put(Table::Leases, &key, &rec)?;
        Ok(Response::new(pb::LeaseEmpty {}))
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
        .add_service(pb::tasks_server::TasksServer::new(s))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::UnixListenerStream::new(listener),
            shutdown,
        )
        .await
}
