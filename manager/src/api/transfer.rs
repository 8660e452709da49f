//! The Transfer service: pull, push, login, streamed as progress.

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{creds, namespace, platform, Server, Stream_};
use crate::error::Error;
use crate::memory::release_memory;
use crate::registry::progress::{Kind, Progress};
use crate::registry::pull::{pull, PullOptions};

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

/// Run `f` with a progress sender; stream its progress, then its error.
fn progress_stream<F, Fut>(f: F) -> Stream_<pb::Progress>
where
    F: FnOnce(mpsc::Sender<Progress>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let (otx, orx) = mpsc::channel::<Result<pb::Progress, Status>>(64);
    let (ptx, mut prx) = mpsc::channel::<Progress>(64);
    let fwd_tx = otx.clone();
    let forward = tokio::spawn(async move {
        while let Some(p) = prx.recv().await {
            let _ = fwd_tx.send(Ok(progress_pb(p))).await;
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

fn progress_pb(p: Progress) -> pb::Progress {
    use pb::progress::Kind as K;
    pb::Progress {
        kind: match p.kind {
            Kind::Unspecified => K::Unspecified,
            Kind::Status => K::Status,
            Kind::Blob => K::Blob,
            Kind::Unpack => K::Unpack,
            Kind::Done => K::Done,
        } as i32,
        id: p.id,
        status: p.status,
        current: p.current,
        total: p.total,
        media_type: p.media_type,
        digest: p.digest,
        message: p.message,
    }
}
