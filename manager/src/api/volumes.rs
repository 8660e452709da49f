//! The Volumes service.

use hull_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::{namespace, Server};
use crate::error::Error;
use crate::manager::Manager;
use crate::volumes::{Volume, Volumes};

fn volume_pb(m: &Manager, ns: &str, v: Volume) -> pb::Volume {
    let used_by = crate::containers::users_of(m, ns, &v.mountpoint).unwrap_or_default();
    pb::Volume {
        name: v.name,
        mountpoint: v.mountpoint.display().to_string(),
        created_at: v.created_at,
        labels: v.labels.into_iter().collect(),
        anonymous: v.anonymous,
        used_by,
    }
}

/// Bytes under `p` (files only, hard links counted once per name).
fn du(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => du(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[tonic::async_trait]
impl pb::volumes_server::Volumes for Server {
    async fn create(
        &self,
        req: Request<pb::CreateVolumeRequest>,
    ) -> Result<Response<pb::Volume>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let v = self
            .blocking(move |m| {
                let (v, _) =
                    Volumes::new(&m.root).create(&ns, &r.name, r.labels.into_iter().collect())?;
                Ok(volume_pb(&m, &ns, v))
            })
            .await?;
        Ok(Response::new(v))
    }

    async fn get(
        &self,
        req: Request<pb::GetVolumeRequest>,
    ) -> Result<Response<pb::Volume>, Status> {
        let ns = namespace(&req)?;
        let name = req.into_inner().name;
        let v = self
            .blocking(move |m| {
                let v = Volumes::new(&m.root).get(&ns, &name)?;
                Ok(volume_pb(&m, &ns, v))
            })
            .await?;
        Ok(Response::new(v))
    }

    async fn list(
        &self,
        req: Request<pb::ListVolumesRequest>,
    ) -> Result<Response<pb::ListVolumesResponse>, Status> {
        let ns = namespace(&req)?;
        let volumes = self
            .blocking(move |m| {
                Ok(Volumes::new(&m.root)
                    .list(&ns)?
                    .into_iter()
                    .map(|v| volume_pb(&m, &ns, v))
                    .collect())
            })
            .await?;
        Ok(Response::new(pb::ListVolumesResponse { volumes }))
    }

    async fn remove(
        &self,
        req: Request<pb::RemoveVolumeRequest>,
    ) -> Result<Response<pb::VolumeEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        self.blocking(move |m| {
            let vols = Volumes::new(&m.root);
            let v = vols.get(&ns, &r.name)?;
            let users = crate::containers::users_of(&m, &ns, &v.mountpoint)?;
            if !users.is_empty() && !r.force {
                return Err(Error::FailedPrecondition(format!(
                    "remove {}: volume is in use - [{}]",
                    r.name,
                    users.join(", ")
                )));
            }
            vols.remove(&ns, &r.name)
        })
        .await?;
        Ok(Response::new(pb::VolumeEmpty {}))
    }

    async fn prune(
        &self,
        req: Request<pb::PruneVolumesRequest>,
    ) -> Result<Response<pb::PruneVolumesResponse>, Status> {
        let ns = namespace(&req)?;
        let all = req.into_inner().all;
        let (removed, space_reclaimed) = self
            .blocking(move |m| {
                let vols = Volumes::new(&m.root);
                let (mut removed, mut space) = (Vec::new(), 0);
                for v in vols.list(&ns)? {
                    if !(v.anonymous || all) {
                        continue;
                    }
                    if crate::containers::users_of(&m, &ns, &v.mountpoint)?.is_empty() {
                        let size = du(&v.mountpoint);
                        vols.remove(&ns, &v.name)?;
                        space += size;
                        removed.push(v.name);
                    }
                }
                Ok((removed, space))
            })
            .await?;
        Ok(Response::new(pb::PruneVolumesResponse {
            removed,
            space_reclaimed,
        }))
    }
}
