//! The Content service: the content store's blobs and ingests.

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{Server, Stream_};
use crate::digest::Digest;

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
