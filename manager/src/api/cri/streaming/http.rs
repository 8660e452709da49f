//! The streaming server's HTTP face: one route per kind, the token
//! taken, the protocol negotiated, and the connection upgraded to SPDY/3.1
//! (kubelet's and crictl's client) or WebSocket.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming as Body;
use hyper::header::{HeaderValue, CONNECTION, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::tokens::Request as Pending;
use super::{port_forward, remote_command, spdy, websocket, StreamServer};

pub type Resp = Response<Full<Bytes>>;

/// The header naming the stream protocol versions (SPDY upgrades).
pub const PROTOCOL_HEADER: &str = "X-Stream-Protocol-Version";
/// The port-forward protocol's one version.
pub const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";

pub async fn accept_loop(s: Arc<StreamServer>, l: TcpListener) {
    loop {
        let sock = match l.accept().await {
            Ok((sock, _)) => sock,
            Err(e) => {
                tracing::warn!("streaming server accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let s = s.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let s = s.clone();
                async move { Ok::<_, Infallible>(handle(s, req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(sock), svc)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!("streaming connection: {e}");
            }
        });
    }
}

/// A plain-text answer.
pub fn plain(code: StatusCode, msg: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(format!("{msg}\n"))));
    *r.status_mut() = code;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Every value of header `name`, comma lists split.
pub fn header_list(req: &Request<Body>, name: &str) -> Vec<String> {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The first of the client's protocols we speak.
pub fn negotiate(client: &[String], ours: &[&'static str]) -> Option<&'static str> {
    client
        .iter()
        .find_map(|c| ours.iter().find(|o| **o == c.as_str()).copied())
}

fn handle(s: Arc<StreamServer>, req: Request<Body>) -> Resp {
    let path = req.uri().path().trim_start_matches('/').to_string();
    let Some((kind, token)) = path.split_once('/') else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let Some(pending) = s.tokens.take(kind, token) else {
        return plain(
            StatusCode::NOT_FOUND,
            &format!("{kind} token {token:?} not found or expired"),
        );
    };
    let upgrade = req
        .headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if upgrade == "websocket" {
        return websocket::upgrade(s, req, pending);
    }
    if upgrade != "spdy/3.1" {
        return plain(
            StatusCode::BAD_REQUEST,
            "an upgrade to SPDY/3.1 or websocket is required",
        );
    }
    let ours: &[&'static str] = match pending {
        Pending::PortForward(_) => &[PORT_FORWARD_PROTOCOL],
        _ => remote_command::SPDY_PROTOCOLS,
    };
    let client = header_list(&req, PROTOCOL_HEADER);
    let Some(protocol) = negotiate(&client, ours) else {
        return plain(
            StatusCode::FORBIDDEN,
            &format!(
                "unable to upgrade: none of the client's protocols {client:?} is supported (supported: {ours:?})"
            ),
        );
    };
    tokio::spawn(async move {
        let io = match hyper::upgrade::on(req).await {
            Ok(up) => TokioIo::new(up),
            Err(e) => {
                tracing::debug!("streaming upgrade: {e}");
                return;
            }
        };
        let incoming = spdy::serve(io);
        match pending {
            Pending::PortForward(r) => port_forward::serve_spdy(s, r, incoming).await,
            other => remote_command::serve_spdy(s, other, protocol, incoming).await,
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    h.insert(PROTOCOL_HEADER, HeaderValue::from_static(protocol));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_first_supported_protocol_wins() {
        let c = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let ours = &["v4.channel.k8s.io", "v3.channel.k8s.io"];
        assert_eq!(
            negotiate(
                &c(&[
                    "v5.channel.k8s.io",
                    "v3.channel.k8s.io",
                    "v4.channel.k8s.io"
                ]),
                ours
            ),
            Some("v3.channel.k8s.io")
        );
        assert_eq!(negotiate(&c(&["channel.k8s.io"]), ours), None);
        assert_eq!(negotiate(&[], ours), None);
    }
}
