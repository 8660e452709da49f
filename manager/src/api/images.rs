//! The Images service: image records, inspect, archives, prune.

use futures_util::StreamExt;
use hull_proto::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{namespace, platform, Server, Stream_};
use crate::content::now_secs;
use crate::digest::Digest;
use crate::error::Error;
use crate::images::{self, ops, Platform};
use crate::memory::release_memory;
use crate::metadata::{ns_key, Table};

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
}

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
        let users = crate::containers::image_users(&self.m, &ns)?;
        let untagged = ops::delete(&self.m, &ns, &r.name, r.force, &users)?;
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
            .filter(|i| i.target.digest == img.target.digest && !ops::is_dangling(&i.name))
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
        let chunks = req.into_inner().map(|c| {
            c.map(|c| images::archive::ArchiveChunk {
                base_name: c.base_name,
                data: c.data,
            })
            .map_err(|e| Error::InvalidArgument(format!("load stream: {e}")))
        });
        let recs = images::archive::import(self.m.clone(), &ns, chunks).await;
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
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).map(|c| {
            c.map(|data| pb::ExportChunk { data }).map_err(Status::from)
        }))))
    }

    async fn prune(
        &self,
        req: Request<pb::PruneRequest>,
    ) -> Result<Response<pb::PruneResponse>, Status> {
        let ns = namespace(&req)?;
        let all = req.into_inner().all;
        let _g = self.m.gc_lock.write().await;
        let deleted_images = {
            // Every image (without -a: every unnamed image) but those a
            // container uses (by image ID, so all names of a used image stay).
            let mut images = ops::list(&self.m, &ns)?;
            images.retain(|i| all || ops::is_dangling(&i.name));
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
            let users = crate::containers::image_users(&self.m, &ns)?;
            for n in &names {
                ops::delete(&self.m, &ns, n, true, &users)?;
            }
            names
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
