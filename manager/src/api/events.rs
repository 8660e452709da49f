//! The Events service: subscribe to the bus, publish shims' events.

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Server, Stream_};
use crate::metadata::validate_namespace;

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
                        if crate::events::matches(&filters, &e)
                            && tx.send(Ok(envelope_pb(e))).await.is_err()
                        {
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
