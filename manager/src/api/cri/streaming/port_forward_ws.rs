//! Port forwarding over WebSocket, as kubelet serves it: the ports come in
//! the query (`?port=80&port=8080`; else those of the CRI request), and
//! port number i gets channels 2i (data, both ways) and 2i+1 (error, to
//! the client). The first message on each of them carries the port as two
//! bytes, little-endian; then the data channel carries one connection to
//! that port on localhost in the pod's network namespace, and the error
//! channel what went wrong. The session ends once every connection ended,
//! or when the client closes it.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::port_forward::{dial, sandbox_netns};
use super::tokens::PortForwardRequest;
use super::websocket::{decode, encode};
use super::StreamServer;

/// The subprotocols we speak for port forwarding, best first (a client
/// naming none gets the binary one).
pub const PROTOCOLS: &[&str] = &["v4.channel.k8s.io", "v4.base64.channel.k8s.io"];

/// The ports of a request's query (`port=N`, repeated), or why not.
pub fn query_ports(query: Option<&str>) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&') {
        let Some(v) = pair.strip_prefix("port=") else {
            continue;
        };
        match v.parse::<u16>() {
            Ok(p) if p > 0 => out.push(p),
            _ => return Err(format!("invalid port {v:?} in the query")),
        }
    }
    Ok(out)
}

/// Serve the session: `ports` (at least one) in order.
pub async fn serve<S>(
    s: Arc<StreamServer>,
    r: PortForwardRequest,
    ports: Vec<u16>,
    base64: bool,
    ws: WebSocketStream<S>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Vec<u8>)>(64);
    let writer = tokio::spawn(async move {
        while let Some((ch, d)) = out_rx.recv().await {
            if sink.send(encode(ch, &d, base64)).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        let _ = sink.close().await;
    });
    // What the client sends on each data channel, to that port's task.
    let mut inputs = Vec::with_capacity(ports.len());
    let mut tasks = Vec::with_capacity(ports.len());
    let netns = sandbox_netns(&s, &r.sandbox_id).await;
    for (i, port) in ports.iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        inputs.push(tx);
        let Ok(data_ch) = u8::try_from(2 * i) else {
            break;
        };
        tasks.push(tokio::spawn(forward(
            r.sandbox_id.clone(),
            netns.clone(),
            *port,
            data_ch,
            out_tx.clone(),
            rx,
        )));
    }
    drop(out_tx);
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            if msg.is_close() {
                break;
            }
            if let Some((ch, d)) = decode(msg, base64) {
                if ch % 2 == 0 {
                    if let Some(tx) = inputs.get(usize::from(ch / 2)) {
                        let _ = tx.send(d);
                    }
                }
            }
        }
        // Dropping the inputs: every pod connection sees EOF.
    });
    for t in tasks {
        let _ = t.await;
    }
    reader.abort();
    let _ = writer.await;
}

/// One port's connection: the port announced on both channels, then bytes
/// both ways until the pod's side ends.
async fn forward(
    sandbox: String,
    netns: Result<Option<std::path::PathBuf>, String>,
    port: u16,
    data_ch: u8,
    out: mpsc::Sender<(u8, Vec<u8>)>,
    mut input: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let err_ch = data_ch + 1;
    let announce = port.to_le_bytes().to_vec();
    if out.send((data_ch, announce.clone())).await.is_err()
        || out.send((err_ch, announce)).await.is_err()
    {
        return;
    }
    let conn = match dial(&sandbox, netns, port).await {
        Ok(c) => c,
        Err(e) => {
            let _ = out.send((err_ch, e.into_bytes())).await;
            return;
        }
    };
    let (mut rd, mut wr) = conn.into_split();
    let to_pod = async move {
        while let Some(chunk) = input.recv().await {
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let from_pod = async move {
        let mut buf = vec![0u8; 32 << 10];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.send((data_ch, buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    // The pod's side ending ends the connection (the client cannot close
    // one channel in these protocols).
    tokio::pin!(to_pod);
    tokio::select! {
        _ = from_pod => {}
        _ = &mut to_pod => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_the_query() {
        assert_eq!(query_ports(Some("port=80&port=8080")), Ok(vec![80, 8080]));
        assert_eq!(query_ports(None), Ok(vec![]));
        assert_eq!(query_ports(Some("x=1")), Ok(vec![]));
        assert!(query_ports(Some("port=0")).is_err());
        assert!(query_ports(Some("port=99999"))
            .unwrap_err()
            .contains("99999"));
    }
}
