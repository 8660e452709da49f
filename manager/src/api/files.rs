//! The ContainerFiles service (`hull cp`): tar streams out of and into a
//! container's rootfs.

use std::io;

use hull_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{namespace, Server, Stream_};
use crate::containers::copy::{self, Stat};
use crate::containers::files::{
    not_found, open_rootfs, target_in, ChunkReader, ChunkWriter, CopyTo,
};
use crate::error::{Error, Result};

fn stat_pb(s: &Stat) -> pb::PathStat {
    pb::PathStat {
        exists: true,
        name: s.name.clone(),
        mode: s.mode,
        is_dir: s.is_dir,
        size: s.size,
        link_target: s.link_target.clone(),
        mtime: s.mtime,
    }
}

fn data_chunk(data: Vec<u8>) -> pb::CopyFromChunk {
    pb::CopyFromChunk { stat: None, data }
}

#[tonic::async_trait]
impl pb::container_files_server::ContainerFiles for Server {
    type CopyFromStream = Stream_<pb::CopyFromChunk>;

    async fn stat(&self, req: Request<pb::PathRequest>) -> Result<Response<pb::PathStat>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let m = self.m.clone();
        let st = tokio::task::spawn_blocking(move || -> Result<pb::PathStat> {
            let (_, fs) = open_rootfs(&m, &ns, &r.container_id)?;
            Ok(fs
                .root
                .stat(&r.path, r.follow_link)?
                .map(|s| stat_pb(&s))
                .unwrap_or_default())
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(st))
    }

    async fn copy_from(
        &self,
        req: Request<pb::PathRequest>,
    ) -> Result<Response<Self::CopyFromStream>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let m = self.m.clone();
        let (tx, rx) = mpsc::channel(8);
        let (first_tx, first_rx) = oneshot::channel::<Result<(), Status>>();
        tokio::task::spawn_blocking(move || {
            let opened = open_rootfs(&m, &ns, &r.container_id).and_then(|(_, fs)| {
                match fs.root.stat(&r.path, r.follow_link)? {
                    Some(st) => Ok((fs, st)),
                    None => Err(not_found(&r.path, &r.container_id)),
                }
            });
            let (fs, st) = match opened {
                Ok(x) => x,
                Err(e) => {
                    let _ = first_tx.send(Err(e.into()));
                    return;
                }
            };
            let first = pb::CopyFromChunk {
                stat: Some(stat_pb(&st)),
                data: Vec::new(),
            };
            if tx.blocking_send(Ok(first)).is_err() {
                return;
            }
            let _ = first_tx.send(Ok(()));
            let w = ChunkWriter::new(tx.clone(), data_chunk);
            if let Err(e) = fs.root.archive(&r.path, r.follow_link, w) {
                tracing::warn!(container = r.container_id, path = r.path, "copy from: {e}");
                let _ = tx.blocking_send(Err(Error::from(e).into()));
            }
        });
        match first_rx.await {
            Ok(Ok(())) => Ok(Response::new(Box::pin(ReceiverStream::new(rx)))),
            Ok(Err(s)) => Err(s),
            Err(_) => Err(Status::internal("copy ended before it began")),
        }
    }

    async fn copy_to(
        &self,
        req: Request<Streaming<pb::CopyToChunk>>,
    ) -> Result<Response<pb::CopyToResponse>, Status> {
        let ns = namespace(&req)?;
        let mut s = req.into_inner();
        let first = s
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty copy"))?;
        let target = first
            .target
            .ok_or_else(|| Status::invalid_argument("copy: the first message names no target"))?;
        let target = CopyTo {
            container_id: target.container_id,
            dest: target.dest,
            src_base: target.src_base,
            src_is_dir: target.src_is_dir,
            contents_only: target.contents_only,
            raw: target.raw,
            archive: target.archive,
        };
        let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(8);
        let feeder = tokio::spawn(async move {
            if !first.data.is_empty() && tx.send(Ok(first.data)).await.is_err() {
                return;
            }
            loop {
                match s.message().await {
                    Ok(Some(c)) => {
                        if tx.send(Ok(c.data)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx
                            .send(Err(io::Error::other(format!(
                                "copy stream: {}",
                                e.message()
                            ))))
                            .await;
                        return;
                    }
                }
            }
        });
        let m = self.m.clone();
        let res = tokio::task::spawn_blocking(move || -> Result<copy::Extracted> {
            let (r, fs) = open_rootfs(&m, &ns, &target.container_id)?;
            // Docker's rule: no writes into a read-only rootfs.
            let spec: serde_json::Value = serde_json::from_str(&r.spec).unwrap_or_default();
            if spec["root"]["readonly"].as_bool() == Some(true) {
                return Err(Error::FailedPrecondition(
                    "container rootfs is marked read-only".into(),
                ));
            }
            let t = target_in(&fs.root, &target)?;
            Ok(fs.root.extract(&t, ChunkReader::new(rx))?)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()));
        feeder.abort();
        let n = res??;
        Ok(Response::new(pb::CopyToResponse {
            files: n.files,
            bytes: n.bytes,
        }))
    }
}
