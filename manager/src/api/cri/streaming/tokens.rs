//! The streaming requests waiting for their client: each Exec, Attach and
//! PortForward RPC leaves its request here under a random token, the URL
//! it answers names the token, and the first connection to that URL takes
//! it (single use). A token not taken within `TTL` is gone, as in
//! kubelet's streaming cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token waits for its client (kubelet's default).
pub const TTL: Duration = Duration::from_secs(60);
/// Most requests waiting at once; the oldest go first.
const MAX_PENDING: usize = 1000;

/// A process to run in a container, its stdio over the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    pub container_id: String,
    pub cmd: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// A container's main process's stdio over the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachRequest {
    pub container_id: String,
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Connections to ports in a pod's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortForwardRequest {
    pub sandbox_id: String,
    /// The ports the CRI request named (a WebSocket client naming none in
    /// its query gets these).
    pub ports: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Exec(ExecRequest),
    Attach(AttachRequest),
    PortForward(PortForwardRequest),
}

impl Request {
    /// The URL path's first part for this kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Exec(_) => "exec",
            Request::Attach(_) => "attach",
            Request::PortForward(_) => "portforward",
        }
    }
}

#[derive(Debug, Default)]
pub struct Tokens {
    pending: Mutex<HashMap<String, (Instant, Request)>>,
}

impl Tokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Request)>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep `r` under a new token; the token.
    pub fn insert(&self, r: Request) -> String {
        let token = crate::ids::new_id();
        let now = Instant::now();
        let mut p = self.lock();
        p.retain(|_, (at, _)| now.duration_since(*at) < TTL);
        if p.len() >= MAX_PENDING {
            if let Some(oldest) = p
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                p.remove(&oldest);
            }
        }
        p.insert(token.clone(), (now, r));
        token
    }

    /// Take the request of `token` if it is of `kind` and not expired.
    pub fn take(&self, kind: &str, token: &str) -> Option<Request> {
        let mut p = self.lock();
        match p.get(token) {
            Some((_, r)) if r.kind() != kind => return None,
            None => return None,
            Some(_) => {}
        }
        let (at, r) = p.remove(token)?;
        (at.elapsed() < TTL).then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_single_use_and_of_one_kind() {
        let t = Tokens::default();
        let r = Request::PortForward(PortForwardRequest {
            sandbox_id: "p".into(),
            ports: vec![80],
        });
        let a = t.insert(r.clone());
        let b = t.insert(r.clone());
        assert_ne!(a, b);
        assert_eq!(t.take("exec", &a), None);
        assert_eq!(t.take("portforward", &a), Some(r.clone()));
        assert_eq!(t.take("portforward", &a), None);
        assert_eq!(t.take("portforward", "nope"), None);
        // Expired.
        t.lock().get_mut(&b).unwrap().0 -= TTL;
        assert_eq!(t.take("portforward", &b), None);
    }
}
