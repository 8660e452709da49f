//! The Snapshots service.

use hull_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::Server;
use crate::snapshots::{Kind, Mount, SnapshotRecord};

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
