//! Push and login.

use std::sync::Arc;

use hull_proto::v1::Progress;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::images::Platform;
use crate::manager::Manager;
use crate::registry::{is_insecure, Credentials};

/// Push an image (not implemented yet).
pub async fn push(
    _m: Arc<Manager>,
    _ns: &str,
    _local: &str,
    _remote: &str,
    _p: Platform,
    _c: Credentials,
    _tx: mpsc::Sender<Progress>,
) -> Result<()> {
    Err(Error::Unsupported("push is not implemented yet".into()))
}

/// Check credentials against `registry`: GET /v2/ and follow its challenge
/// (Basic: retry with credentials; Bearer: ask the realm for a token).
pub async fn login(m: &Manager, registry: &str, c: &Credentials) -> Result<()> {
    let registry = match registry {
        "" | "docker.io" | "index.docker.io" => "registry-1.docker.io",
        r => r
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/'),
    };
    let scheme = if is_insecure(m.registries.config(), registry) {
        "http"
    } else {
        "https"
    };
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| Error::Registry(e.to_string()))?;
    let url = format!("{scheme}://{registry}/v2/");
    let net = |e: reqwest::Error| Error::Registry(format!("{registry}: {e}"));
    let res = client.get(&url).send().await.map_err(net)?;
    if res.status().is_success() {
        return Ok(());
    }
    if res.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::Registry(format!(
            "{registry}: GET /v2/ answered {}",
            res.status()
        )));
    }
    let challenge = res
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bad = || {
        Error::Unauthorized(format!(
            "login to {registry}: incorrect username or password"
        ))
    };
    if challenge.to_ascii_lowercase().starts_with("bearer") {
        let params = parse_challenge(&challenge);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                Error::Registry(format!("{registry}: bearer challenge without realm"))
            })?;
        let mut q = Vec::new();
        if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
            q.push(("service", s.clone()));
        }
        q.push(("account", c.username.clone()));
        let r = client
            .get(&realm)
            .query(&q)
            .basic_auth(&c.username, Some(&c.password))
            .send()
            .await
            .map_err(net)?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(bad())
        }
    } else {
        let r = client
            .get(&url)
            .basic_auth(&c.username, Some(&c.password))
            .send()
            .await
            .map_err(net)?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(bad())
        }
    }
}

/// `Bearer realm="x",service="y"` → [(realm, x), (service, y)].
pub fn parse_challenge(h: &str) -> Vec<(String, String)> {
    let rest = h.split_once(' ').map(|(_, r)| r).unwrap_or("");
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((k, v)) = s.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_string();
        let v = v.trim_start();
        let (val, tail) = if let Some(v) = v.strip_prefix('"') {
            match v.find('"') {
                Some(i) => (v[..i].to_string(), &v[i + 1..]),
                None => (v.to_string(), ""),
            }
        } else {
            match v.find(',') {
                Some(i) => (v[..i].to_string(), &v[i..]),
                None => (v.to_string(), ""),
            }
        };
        out.push((k, val));
        s = tail.trim_start_matches(',').trim();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn challenge() {
        let p = super::parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "http://127.0.0.1:1/token".into()));
        assert_eq!(p[1], ("service".into(), "reg".into()));
        assert_eq!(p[2].0, "scope");
    }
}
