//! containerd's ttrpc Events service on `<grpc socket>.ttrpc` (containerd's
//! naming): shims that hulld starts get its path in `TTRPC_ADDRESS` and
//! forward their events here over one connection each, instead of running
//! `hull publish` once per event. Only
//! `containerd.services.events.ttrpc.v1.Events/Forward` is served; each
//! connection is one task that answers its requests in order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_shim_protos::protobuf::Message;
use containerd_shim_protos::shim::events::ForwardRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use ttrpc::proto::{
    Code, MessageHeader, Request, Response, Status, MESSAGE_HEADER_LENGTH, MESSAGE_LENGTH_MAX,
    MESSAGE_TYPE_REQUEST,
};

use crate::manager::Manager;

pub const SERVICE: &str = "containerd.services.events.ttrpc.v1.Events";

/// `<grpc socket>.ttrpc`.
pub fn socket_path(grpc: &Path) -> PathBuf {
    let mut s = grpc.as_os_str().to_owned();
    s.push(".ttrpc");
    PathBuf::from(s)
}

/// Accept connections until the task is dropped.
pub async fn serve(m: Arc<Manager>, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                tokio::spawn(connection(m.clone(), s));
            }
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                tracing::warn!("ttrpc events accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(m: Arc<Manager>, mut s: UnixStream) {
    let mut hdr = [0u8; MESSAGE_HEADER_LENGTH];
    loop {
        if s.read_exact(&mut hdr).await.is_err() {
            return;
        }
        let mh = MessageHeader::from(&hdr);
        if mh.length as usize > MESSAGE_LENGTH_MAX {
            tracing::warn!(
                length = mh.length,
                "ttrpc events: message too long; closing"
            );
            return;
        }
        let mut buf = vec![0u8; mh.length as usize];
        if s.read_exact(&mut buf).await.is_err() {
            return;
        }
        if mh.type_ != MESSAGE_TYPE_REQUEST {
            continue;
        }
        let mut res = Response::new();
        match handle(&m, &buf) {
            Ok(payload) => {
                res.status = Some(ttrpc::get_status(Code::OK, "")).into();
                res.payload = payload;
            }
            Err(st) => {
                tracing::debug!(code = ?st.code(), "ttrpc events: {}", st.message);
                res.status = Some(st).into();
            }
        }
        let Ok(body) = res.write_to_bytes() else {
            return;
        };
        let mut out: Vec<u8> = MessageHeader::new_response(mh.stream_id, body.len() as u32).into();
        out.extend_from_slice(&body);
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn bad(msg: String) -> Status {
    ttrpc::get_status(Code::INVALID_ARGUMENT, msg)
}

/// One request: the encoded reply (an empty `Empty`) or the error status.
fn handle(m: &Manager, buf: &[u8]) -> Result<Vec<u8>, Status> {
    let req = Request::parse_from_bytes(buf).map_err(|e| bad(format!("bad request: {e}")))?;
    if req.service != SERVICE || req.method != "Forward" {
        return Err(ttrpc::get_status(
            Code::UNIMPLEMENTED,
            format!("/{}/{} is not served here", req.service, req.method),
        ));
    }
    let fwd = ForwardRequest::parse_from_bytes(&req.payload)
        .map_err(|e| bad(format!("bad forward request: {e}")))?;
    let env = fwd
        .envelope
        .into_option()
        .ok_or_else(|| bad("forward request without an envelope".into()))?;
    crate::metadata::validate_namespace(&env.namespace).map_err(|e| bad(e.to_string()))?;
    if !env.topic.starts_with('/') {
        return Err(bad(format!("bad topic {:?}", env.topic)));
    }
    let any = env
        .event
        .into_option()
        .ok_or_else(|| bad("envelope without an event".into()))?;
    let event = crate::events::decode::decode_any(&any).map_err(|e| bad(e.to_string()))?;
    m.events.publish(&env.namespace, &env.topic, event);
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use containerd_shim_protos::events::task::TaskExit;
    use containerd_shim_protos::protobuf::well_known_types::any::Any;
    use containerd_shim_protos::shim::event::Envelope;
    use containerd_shim_protos::shim_sync::EventsClient;

    fn request(ns: &str, topic: &str, exit_status: u32) -> ForwardRequest {
        let mut e = TaskExit::new();
        e.container_id = "c1".into();
        e.id = "c1".into();
        e.exit_status = exit_status;
        let mut any = Any::new();
        any.type_url = "containerd.events.TaskExit".into();
        any.value = e.write_to_bytes().unwrap();
        let mut env = Envelope::new();
        env.namespace = ns.into();
        env.topic = topic.into();
        env.event = Some(any).into();
        let mut req = ForwardRequest::new();
        req.envelope = Some(env).into();
        req
    }

    /// A real ttrpc client (the one shims use) forwards events into the bus;
    /// bad ones get a clear status and leave the connection usable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forward_reaches_the_bus() {
        let t = tempfile::tempdir().unwrap();
        let cfg = Config {
            snapshotter: "native".into(),
            ..Default::default()
        };
        let grpc = t.path().join("s.sock");
        let m = Manager::open(&t.path().join("root"), &t.path().join("state"), &grpc, cfg).unwrap();
        let sock = socket_path(&grpc);
        assert_eq!(sock, t.path().join("s.sock.ttrpc"));
        let l = UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(serve(m.clone(), l));
        let mut rx = m.events.subscribe();
        let addr = format!("unix://{}", sock.display());
        let errors = tokio::task::spawn_blocking(move || {
            let c = EventsClient::new(ttrpc::Client::connect(&addr).unwrap());
            let ctx = || ttrpc::context::with_timeout(5_000_000_000);
            let bad_ns = c.forward(ctx(), &request("no/such ns", "/tasks/exit", 1));
            let bad_topic = c.forward(ctx(), &request("ns1", "tasks/exit", 1));
            let mut no_event = request("ns1", "/tasks/exit", 1);
            no_event.envelope.as_mut().unwrap().event = Default::default();
            let no_event = c.forward(ctx(), &no_event);
            c.forward(ctx(), &request("ns1", "/tasks/exit", 4)).unwrap();
            [bad_ns, bad_topic, no_event].map(|r| match r {
                Err(ttrpc::Error::RpcStatus(s)) => (s.code(), s.message),
                other => panic!("expected an error status, got {other:?}"),
            })
        })
        .await
        .unwrap();
        for (code, msg) in &errors {
            assert_eq!(*code, Code::INVALID_ARGUMENT, "{msg}");
        }
        assert!(errors[1].1.contains("bad topic"), "{:?}", errors[1]);
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.namespace.as_str(), e.topic.as_str()),
            ("ns1", "/tasks/exit")
        );
        let v: serde_json::Value = serde_json::from_str(&e.event).unwrap();
        assert_eq!(v["exit_status"], 4);
        assert_eq!(v["container_id"], "c1");
        // Only the one good event was published.
        assert!(rx.try_recv().is_err());

        // Another service's method on this socket: unimplemented.
        let addr = format!("unix://{}", sock.display());
        let other = tokio::task::spawn_blocking(move || {
            let c = containerd_shim_protos::shim_sync::TaskClient::new(
                ttrpc::Client::connect(&addr).unwrap(),
            );
            c.connect(
                ttrpc::context::with_timeout(5_000_000_000),
                &Default::default(),
            )
        })
        .await
        .unwrap();
        match other {
            Err(ttrpc::Error::RpcStatus(s)) => assert_eq!(s.code(), Code::UNIMPLEMENTED),
            r => panic!("expected unimplemented, got {r:?}"),
        }
        server.abort();
    }
}
