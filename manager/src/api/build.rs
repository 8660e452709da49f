//! The Build service: the client's options and context tar in, the
//! build's steps and output out, the image last. A call dropped by the
//! client cancels the build (which then removes what it made).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use hull_proto::v1 as pb;
use pb::build_event::Event as PbEvent;
use pb::build_request::Part;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::{namespace, Server, Stream_};
use crate::build::{self, BuildOptions, Cancel, Event, StepState};
use crate::images::Compression;

fn options(o: pb::BuildOptions) -> Result<BuildOptions, Status> {
    let compression = match o.compression.as_str() {
        "" | "gzip" => Compression::Gzip,
        "zstd" => Compression::Zstd,
        other => {
            return Err(Status::invalid_argument(format!(
                "unknown layer compression {other:?} (gzip, zstd)"
            )))
        }
    };
    let network = match o.network.as_str() {
        "" | "default" | "bridge" => "bridge",
        "host" => "host",
        "none" => "none",
        other => {
            return Err(Status::invalid_argument(format!(
                "unknown build network {other:?} (bridge, host, none)"
            )))
        }
    };
    Ok(BuildOptions {
        tags: o.tags,
        dockerfile_path: o.dockerfile_path,
        dockerfile: (!o.dockerfile.is_empty()).then_some(o.dockerfile),
        build_args: o.build_args.into_iter().collect(),
        target: (!o.target.is_empty()).then_some(o.target),
        no_cache: o.no_cache,
        pull: o.pull,
        labels: o.labels.into_iter().collect(),
        network: network.into(),
        compression,
        source_date_epoch: o.source_date_epoch,
        registry_auths: o
            .registry_auths
            .into_iter()
            .map(|(host, a)| (host, super::creds(Some(a))))
            .collect(),
    })
}

fn event(e: Event) -> pb::BuildEvent {
    let ev = match e {
        Event::Step {
            index,
            total,
            stage,
            instruction,
            state,
            seconds,
        } => PbEvent::Step(pb::BuildStep {
            index,
            total,
            stage,
            instruction,
            state: match state {
                StepState::Started => pb::build_step::State::Started,
                StepState::Cached => pb::build_step::State::Cached,
                StepState::Done => pb::build_step::State::Done,
            } as i32,
            seconds,
        }),
        Event::Output {
            index,
            stream,
            data,
        } => PbEvent::Output(pb::BuildOutput {
            index,
            stream,
            data,
        }),
    };
    pb::BuildEvent { event: Some(ev) }
}

/// The response stream; dropping it (the client went away) cancels the build.
struct CancelOnDrop {
    inner: tokio_stream::wrappers::ReceiverStream<Result<pb::BuildEvent, Status>>,
    cancel: Cancel,
}

impl Stream for CancelOnDrop {
    type Item = Result<pb::BuildEvent, Status>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.cancel.set();
    }
}

#[tonic::async_trait]
impl pb::build_server::Build for Server {
    type BuildStream = Stream_<pb::BuildEvent>;

    async fn build(
        &self,
        req: Request<Streaming<pb::BuildRequest>>,
    ) -> Result<Response<Self::BuildStream>, Status> {
        let ns = namespace(&req)?;
        let mut inbound = req.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty build stream"))?;
        let opts = match first.part {
            Some(Part::Options(o)) => options(o)?,
            _ => {
                return Err(Status::invalid_argument(
                    "the first build message must carry the options",
                ))
            }
        };
        let cancel = Cancel::default();
        let (ctx_tx, ctx_rx) = mpsc::channel::<Vec<u8>>(16);
        let pump_cancel = cancel.clone();
        tokio::spawn(async move {
            loop {
                match inbound.message().await {
                    Ok(Some(pb::BuildRequest {
                        part: Some(Part::Context(b)),
                    })) => {
                        if ctx_tx.send(b).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return,
                    // The upload broke off: the context is not whole.
                    Err(_) => {
                        pump_cancel.set();
                        return;
                    }
                }
            }
        });
        let (ev_tx, mut ev_rx) = mpsc::channel::<Event>(64);
        let (out_tx, out_rx) = mpsc::channel(64);
        let m = self.m.clone();
        let build_cancel = cancel.clone();
        tokio::spawn(async move {
            let fwd_tx = out_tx.clone();
            // Drained to the end even when the client is gone, so the
            // build never waits on a full channel.
            let forward = tokio::spawn(async move {
                while let Some(e) = ev_rx.recv().await {
                    let _ = fwd_tx.send(Ok(event(e))).await;
                }
            });
            let res = build::build(m, ns, opts, ctx_rx, ev_tx, build_cancel).await;
            let _ = forward.await;
            let last = match res {
                Ok(c) => Ok(pb::BuildEvent {
                    event: Some(PbEvent::Result(pb::BuildResult {
                        image_id: c.image_id,
                        manifest_digest: c.manifest_digest,
                        tags: c.tags,
                    })),
                }),
                Err(e) => Err(Status::from(e)),
            };
            let _ = out_tx.send(last).await;
        });
        Ok(Response::new(Box::pin(CancelOnDrop {
            inner: tokio_stream::wrappers::ReceiverStream::new(out_rx),
            cancel,
        })))
    }

    async fn prune_cache(
        &self,
        _req: Request<pb::PruneBuildCacheRequest>,
    ) -> Result<Response<pb::PruneBuildCacheResponse>, Status> {
        let _g = self.m.gc_lock.write().await;
        let (records, bytes) = self
            .blocking(|m| {
                let n = build::cache::clear(&m)?;
                let rep = crate::gc::collect(&m)?;
                Ok((n, rep.bytes))
            })
            .await?;
        Ok(Response::new(pb::PruneBuildCacheResponse {
            records_removed: records,
            bytes_freed: bytes,
        }))
    }
}
