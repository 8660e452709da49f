//! Kubernetes' port-forward protocol (`portforward.k8s.io`): per
//! forwarded connection the client opens two SPDY streams with the same
//! `port` and `requestID` headers, `streamType` `error` and `data`; we
//! connect to that port on localhost inside the pod's network namespace
//! and copy bytes both ways over the data stream, writing what went wrong
//! on the error stream.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spdy::{headers, Incoming, SpdyStream, StreamWriter};
use super::tokens::PortForwardRequest;
use super::StreamServer;
use crate::api::cri::NAMESPACE;

/// The two streams of one forwarded connection, as they arrive.
#[derive(Default)]
struct Pair {
    port: String,
    error: Option<StreamWriter>,
    data: Option<SpdyStream>,
}

/// The request a stream belongs to: its `requestID`, or for old clients
/// that send none, the error stream's ID (it comes two before its data
/// stream).
fn request_id(s: &SpdyStream, data: bool) -> String {
    match headers::get(&s.headers, "requestid") {
        Some(id) => id.to_string(),
        None if data => s.id.saturating_sub(2).to_string(),
        None => s.id.to_string(),
    }
}

/// Serve a SPDY port-forward session until the client closes it.
pub async fn serve_spdy(s: Arc<StreamServer>, r: PortForwardRequest, mut incoming: Incoming) {
    let netns = sandbox_netns(&s, &r.sandbox_id).await;
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    while let Some(st) = incoming.streams.recv().await {
        let kind = headers::get(&st.headers, "streamtype")
            .unwrap_or("")
            .to_string();
        let port = headers::get(&st.headers, "port").unwrap_or("").to_string();
        let is_data = match kind.as_str() {
            "data" => true,
            "error" => false,
            other => {
                tracing::debug!("port forward: stream of unknown type {other:?}");
                st.writer.close().await;
                continue;
            }
        };
        let rid = request_id(&st, is_data);
        let pair = pairs.entry(rid.clone()).or_default();
        pair.port = port;
        if is_data {
            pair.data = Some(st);
        } else {
            pair.error = Some(st.writer);
        }
        if pair.data.is_some() && pair.error.is_some() {
            if let Some(Pair {
                port,
                error: Some(error),
                data: Some(data),
            }) = pairs.remove(&rid)
            {
                let sandbox = r.sandbox_id.clone();
                tokio::spawn(forward(sandbox, netns.clone(), port, error, data));
            }
        }
    }
    incoming.close().await;
}

/// One forwarded connection.
async fn forward(
    sandbox: String,
    netns: Result<Option<PathBuf>, String>,
    port: String,
    error: StreamWriter,
    data: SpdyStream,
) {
    let fail = |msg: String| fail(&error, &data.writer, msg);
    let Some(p) = port.parse::<u16>().ok().filter(|p| *p > 0) else {
        return fail(format!("invalid port {port:?}")).await;
    };
    let conn = match dial(&sandbox, netns, p).await {
        Ok(c) => c,
        Err(e) => return fail(e).await,
    };
    copy_both_ways(conn, data).await;
    error.close().await;
}

/// The network namespace of pod `sandbox` (None: the host's), or why not.
pub(super) async fn sandbox_netns(
    s: &Arc<StreamServer>,
    sandbox: &str,
) -> Result<Option<PathBuf>, String> {
    let (m, id) = (s.m.clone(), sandbox.to_string());
    let netns = tokio::task::spawn_blocking(move || {
        crate::pods::find_sandbox(&m, NAMESPACE, &id).map(|sb| sb.netns)
    })
    .await;
    match netns {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(format!("pod sandbox {sandbox}: {e}")),
        Err(e) => Err(format!("pod sandbox {sandbox}: {e}")),
    }
}

/// A connection to `port` on localhost in the pod's network namespace,
/// or the error line the client gets.
pub(super) async fn dial(
    sandbox: &str,
    netns: Result<Option<PathBuf>, String>,
    port: u16,
) -> Result<tokio::net::TcpStream, String> {
    let netns = netns?;
    let conn = tokio::task::spawn_blocking(move || {
        let c = crate::network::netns::connect_tcp(netns.as_deref(), port)?;
        c.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(c)
    })
    .await;
    match conn {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!(
            "error forwarding port {port} to pod {sandbox}: {e}"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Report `msg` on the error stream and end both streams.
async fn fail(error: &StreamWriter, data: &StreamWriter, msg: String) {
    error.write(msg.as_bytes()).await;
    error.close().await;
    data.close().await;
}

async fn copy_both_ways(conn: tokio::net::TcpStream, data: SpdyStream) {
    let SpdyStream {
        data: mut from_client,
        writer,
        ..
    } = data;
    let (mut rd, mut wr) = conn.into_split();
    let to_pod = async move {
        while let Some(chunk) = from_client.recv().await {
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
        }
        // The client's end: the pod's side sees EOF.
        let _ = wr.shutdown().await;
        drain(&mut from_client).await;
    };
    let from_pod = async move {
        let mut buf = vec![0u8; 32 << 10];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !writer.write(&buf[..n]).await {
                        break;
                    }
                }
            }
        }
        writer.close().await;
    };
    tokio::join!(to_pod, from_pod);
}

/// Read a stream to its end (its data has nowhere to go).
async fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<u8>>) {
    while rx.recv().await.is_some() {}
}
