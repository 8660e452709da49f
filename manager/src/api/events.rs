//! The Events service: subscribe to the bus, publish shims' events.

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Server, Stream_};
use crate::metadata::validate_namespace;

/// Resolves at Unix time `until` (nanoseconds), never when 0.
async fn until_instant(until: i64) {
    if until <= 0 {
        return std::future::pending().await;
    }
    let now = hull_types::time::now_nanos();
    let left = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_nanos(left)).await;
}

#[tonic::async_trait]
impl pb::events_server::Events for Server {
    type SubscribeStream = Stream_<pb::Envelope>;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let r = req.into_inner();
        let (filters, until) = (r.filters, r.until_nanos);
        let (past, mut rx) = if r.since_nanos > 0 {
            self.m.events.subscribe_since(r.since_nanos)
        } else {
            (Vec::new(), self.m.events.subscribe())
        };
        let after = move |e: &crate::events::Envelope| until > 0 && e.timestamp > until;
        let (tx, orx) = mpsc::channel(64);
        tokio::spawn(async move {
            for e in past {
                if after(&e) {
                    return;
                }
                if crate::events::matches(&filters, &e)
                    && tx.send(Ok(envelope_pb(e))).await.is_err()
                {
                    return;
                }
            }
            // `until`: the stream ends then, events or not.
            let end = until_instant(until);
            tokio::pin!(end);
            loop {
                let got = tokio::select! {
                    got = rx.recv() => got,
                    () = &mut end => return,
                };
                match got {
                    Ok(e) if after(&e) => return,
                    Ok(e) => {
                        if crate::events::matches(&filters, &e)
                            && tx.send(Ok(envelope_pb(e))).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("event subscriber lagged by {n}");
                    }
                    Err(_) => return,
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
        let event = crate::events::decode::decode(&r.event)?;
        self.m.events.publish(&r.namespace, &r.topic, event);
        Ok(Response::new(pb::Empty {}))
    }
}

fn envelope_pb(e: crate::events::Envelope) -> pb::Envelope {
    pb::Envelope {
        timestamp: e.timestamp,
        namespace: e.namespace,
        topic: e.topic,
        event: e.event,
    }
}
