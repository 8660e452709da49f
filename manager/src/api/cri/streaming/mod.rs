//! CRI's streaming server: the HTTP endpoint whose URLs the Exec, Attach
//! and PortForward RPCs answer (kubelet proxies `kubectl exec` & co. to
//! them; crictl connects itself), as containerd's CRI plugin serves one.
//!
//! `rpc` validates the RPCs and leaves each request under a single-use
//! token (`tokens`); `http` serves `/exec/<token>`, `/attach/<token>` and
//! `/portforward/<token>`, upgrading the connection to SPDY/3.1 (`spdy`)
//! or WebSocket (`websocket`) after negotiating the protocol version;
//! `remote_command` speaks Kubernetes' remote-command protocol over it for
//! exec and attach, `port_forward` the port-forward protocol.

mod http;
mod port_forward;
mod port_forward_ws;
mod remote_command;
pub mod rpc;
pub mod spdy;
pub mod tokens;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::manager::Manager;

/// A running streaming server.
pub struct StreamServer {
    pub m: Arc<Manager>,
    pub tokens: tokens::Tokens,
    /// Where clients reach it (what the URLs start with).
    pub addr: SocketAddr,
}

impl std::fmt::Debug for StreamServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl StreamServer {
    /// The URL a client uses for `token` of `kind`.
    pub fn url(&self, kind: &str, token: &str) -> String {
        format!("http://{}/{kind}/{token}", self.addr)
    }
}

/// Bind `address:port` and serve on it in the background.
pub async fn start(
    m: Arc<Manager>,
    address: &str,
    port: u16,
) -> std::io::Result<Arc<StreamServer>> {
    let host = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_string()
    };
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}")).await?;
    let addr = listener.local_addr()?;
    let server = Arc::new(StreamServer {
        m,
        tokens: tokens::Tokens::default(),
        addr,
    });
    tracing::info!(%addr, "CRI streaming server listening");
    tokio::spawn(http::accept_loop(server.clone(), listener));
    Ok(server)
}
