//! The WebSocket channel protocols of exec and attach: each message's
//! first byte names its channel (0 stdin, 1 stdout, 2 stderr, 3 error,
//! 4 resize; v5 adds 255, the client closing a channel);
//! `channel.k8s.io`, `v4.` and `v5.channel.k8s.io` send binary
//! messages, the `base64.` ones text messages with the channel as an
//! ASCII digit and the data in base64. v4 and v5 report the end as a JSON
//! status (as over SPDY), the others as text. Port forwarding over
//! WebSocket is `port_forward_ws`.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming as Body;
use hyper::header::{HeaderValue, CONNECTION, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::http::{header_list, negotiate, plain, Resp};
use super::remote_command::{self, Channels, Sink};
use super::tokens::Request as Pending;
use super::{port_forward_ws, StreamServer};

/// The subprotocols we speak, best first.
pub const PROTOCOLS: &[&str] = &[
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
/// v5: the client closes the channel its message's one byte names
/// (stdin: its EOF).
const CLOSE: u8 = 255;

/// One message for the writer task: a channel's data, or the end.
enum Out {
    Data(u8, Vec<u8>),
    Close,
}

/// Writes to one channel of a WebSocket session.
#[derive(Clone)]
pub struct ChannelWriter {
    channel: u8,
    tx: mpsc::Sender<Out>,
}

impl ChannelWriter {
    pub async fn write(&self, data: &[u8]) -> bool {
        self.tx
            .send(Out::Data(self.channel, data.to_vec()))
            .await
            .is_ok()
    }
}

/// Answer a WebSocket upgrade and serve the session in the background.
pub fn upgrade(s: Arc<StreamServer>, req: Request<Body>, pending: Pending) -> Resp {
    let Some(key) = req.headers().get("Sec-WebSocket-Key").cloned() else {
        return plain(StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key");
    };
    let (ours, plain_one) = match &pending {
        Pending::PortForward(_) => (port_forward_ws::PROTOCOLS, "v4.channel.k8s.io"),
        _ => (PROTOCOLS, "channel.k8s.io"),
    };
    let client = header_list(&req, "Sec-WebSocket-Protocol");
    // A client naming no protocol gets the plain channel protocol.
    let protocol = if client.is_empty() {
        Some(plain_one)
    } else {
        negotiate(&client, ours)
    };
    let Some(protocol) = protocol else {
        return plain(
            StatusCode::FORBIDDEN,
            &format!(
                "none of the client's subprotocols {client:?} is supported (supported: {ours:?})"
            ),
        );
    };
    // Port forwarding: the ports of the query, else the CRI request's.
    let ports = match &pending {
        Pending::PortForward(r) => match port_forward_ws::query_ports(req.uri().query()) {
            Err(e) => return plain(StatusCode::BAD_REQUEST, &e),
            Ok(p) if !p.is_empty() => p,
            Ok(_) if !r.ports.is_empty() => r.ports.clone(),
            Ok(_) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "query parameter \"port\" is required",
                )
            }
        },
        _ => Vec::new(),
    };
    tokio::spawn(async move {
        let io = match hyper::upgrade::on(req).await {
            Ok(up) => TokioIo::new(up),
            Err(e) => {
                tracing::debug!("websocket upgrade: {e}");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        match pending {
            Pending::PortForward(r) => {
                let base64 = protocol.contains("base64");
                port_forward_ws::serve(s, r, ports, base64, ws).await
            }
            other => session(s, other, protocol, ws).await,
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert("Sec-WebSocket-Accept", v);
    }
    if !client.is_empty() {
        h.insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
    }
    r
}

/// A message's channel and data, per the protocol's encoding.
pub(super) fn decode(msg: Message, base64: bool) -> Option<(u8, Vec<u8>)> {
    match msg {
        Message::Binary(b) if !base64 => {
            let (ch, data) = b.split_first()?;
            Some((*ch, data.to_vec()))
        }
        Message::Text(t) if base64 => {
            let t = t.as_str();
            let ch = t.as_bytes().first()?.checked_sub(b'0')?;
            let data = base64::engine::general_purpose::STANDARD
                .decode(&t[1..])
                .ok()?;
            Some((ch, data))
        }
        _ => None,
    }
}

pub(super) fn encode(channel: u8, data: &[u8], base64: bool) -> Message {
    if base64 {
        let mut t = String::from(char::from(b'0' + channel));
        t.push_str(&base64::engine::general_purpose::STANDARD.encode(data));
        Message::text(t)
    } else {
        let mut b = Vec::with_capacity(data.len() + 1);
        b.push(channel);
        b.extend_from_slice(data);
        Message::binary(b)
    }
}

async fn session<S>(s: Arc<StreamServer>, pending: Pending, protocol: &str, ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let base64 = protocol.contains("base64");
    let want = remote_command::Wanted::of(&pending);
    let (mut sink, mut stream) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(64);
    let writer = tokio::spawn(async move {
        while let Some(o) = out_rx.recv().await {
            match o {
                Out::Data(ch, d) => {
                    if sink.send(encode(ch, &d, base64)).await.is_err() {
                        return;
                    }
                }
                Out::Close => break,
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        let _ = sink.close().await;
    });
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
    let (resize_tx, resize_rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        let mut stdin_tx = Some(stdin_tx);
        while let Some(Ok(msg)) = stream.next().await {
            if msg.is_close() {
                break;
            }
            match decode(msg, base64) {
                Some((STDIN, d)) => {
                    if let Some(tx) = &stdin_tx {
                        let _ = tx.send(d);
                    }
                }
                Some((RESIZE, d)) => {
                    let _ = resize_tx.send(d);
                }
                Some((CLOSE, d)) if d.first() == Some(&STDIN) => {
                    stdin_tx.take();
                }
                _ => {}
            }
        }
        stdin_tx.take();
    });
    let w = |channel| {
        Some(Sink::WebSocket(ChannelWriter {
            channel,
            tx: out_tx.clone(),
        }))
    };
    let ch = Channels {
        stdin: want.stdin.then_some(stdin_rx),
        stdout: if want.stdout { w(STDOUT) } else { None },
        stderr: if want.stderr && !want.tty {
            w(STDERR)
        } else {
            None
        },
        error: w(ERROR),
        resize: want.tty.then_some(resize_rx),
        json_status: protocol.starts_with("v4.") || protocol.starts_with("v5."),
    };
    remote_command::run(s, pending, ch).await;
    let _ = out_tx.send(Out::Close).await;
    let _ = writer.await;
    reader.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_messages_round_trip() {
        for b64 in [false, true] {
            let m = encode(STDERR, b"hi\0there", b64);
            assert_eq!(decode(m, b64), Some((STDERR, b"hi\0there".to_vec())));
        }
        assert_eq!(encode(STDOUT, b"A", true), Message::text("1QQ=="));
        assert_eq!(decode(Message::text("x"), false), None);
    }
}
