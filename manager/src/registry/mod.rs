//! Registry access (Distribution spec) through oci-client: manifests and
//! blobs streamed with ranged resume, anonymous/basic/bearer auth with
//! per-client token caching. hull adds platform selection, zstd layers,
//! mirrors and plain-HTTP rules (Docker config.json credentials are the
//! CLI's: it sends them with each request).

pub mod fetch;
pub mod progress;
pub mod pull;
pub mod push;
pub mod reference;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::config::Config;
use crate::error::Error;

/// Credentials for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// A bearer token sent to the registry as is (CRI's `registry_token`);
    /// when set, username and password are not used.
    pub registry_token: String,
}

impl Credentials {
    pub fn to_auth(&self) -> RegistryAuth {
        if !self.registry_token.is_empty() {
            RegistryAuth::Bearer(self.registry_token.clone())
        } else if self.username.is_empty() && self.password.is_empty() {
            RegistryAuth::Anonymous
        } else {
            RegistryAuth::Basic(self.username.clone(), self.password.clone())
        }
    }
}

/// Is `registry` (host[:port]) reached over plain HTTP?
pub fn is_insecure(cfg: &Config, registry: &str) -> bool {
    let host = host_of(registry);
    host == "localhost"
        || host == "127.0.0.1"
        || host == "::1"
        || host.starts_with("127.")
        || cfg
            .insecure_registries
            .iter()
            .any(|r| r == registry || r == host)
}

fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(registry)
}

/// Caches one oci-client per (registry, credentials) so bearer tokens are
/// reused across pulls.
pub struct Registries {
    cfg: Arc<Config>,
    clients: Mutex<HashMap<ClientKey, (Arc<Client>, std::time::Instant)>>,
}

/// (registry, credentials) of a cached client.
type ClientKey = (String, Credentials);

impl Registries {
    pub fn new(cfg: Arc<Config>) -> Self {
        Registries {
            cfg,
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The client for `registry` (as oci-client resolves it) and `creds`.
    pub fn client(&self, registry: &str, creds: &Credentials) -> Arc<Client> {
        self.client_with(registry, creds, false)
    }

    /// A client whose blob uploads are monolithic (one PUT) or chunked
    /// (PATCH per chunk, then PUT).
    pub fn client_with(
        &self,
        registry: &str,
        creds: &Credentials,
        monolithic: bool,
    ) -> Arc<Client> {
        let key = (
            if monolithic {
                format!("{registry}#mono")
            } else {
                registry.to_string()
            },
            creds.clone(),
        );
        if let Ok(mut m) = self.clients.lock() {
            if let Some((c, used)) = m.get_mut(&key) {
                *used = std::time::Instant::now();
                return c.clone();
            }
        }
        let protocol = if is_insecure(&self.cfg, registry) {
            ClientProtocol::HttpsExcept(vec![registry.to_string()])
        } else {
            ClientProtocol::Https
        };
        let conf = ClientConfig {
            protocol,
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            read_timeout: Some(std::time::Duration::from_secs(300)),
            use_monolithic_push: monolithic,
            ..Default::default()
        };
        let c = Arc::new(Client::new(conf));
        if let Ok(mut m) = self.clients.lock() {
            m.insert(key, (c.clone(), std::time::Instant::now()));
        }
        c
    }

    /// Drop clients (connection pools, cached tokens) unused for `idle`, so
    /// an idle daemon gives their memory back. Returns how many went.
    pub fn sweep(&self, idle: std::time::Duration) -> usize {
        let Ok(mut m) = self.clients.lock() else {
            return 0;
        };
        let before = m.len();
        m.retain(|_, (c, used)| used.elapsed() < idle || Arc::strong_count(c) > 1);
        before - m.len()
    }

    /// Candidate references: mirrors of the registry first, then itself.
    pub fn candidates(&self, r: &Reference) -> Vec<Reference> {
        let mut out = Vec::new();
        if let Some(mirrors) = self.cfg.registry_mirrors.get(r.registry()) {
            for m in mirrors {
                let m = m
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/');
                let mr = match r.digest() {
                    Some(d) => Reference::with_digest(
                        m.to_string(),
                        r.repository().to_string(),
                        d.to_string(),
                    ),
                    None => Reference::with_tag(
                        m.to_string(),
                        r.repository().to_string(),
                        r.tag().unwrap_or("latest").to_string(),
                    ),
                };
                out.push(mr);
            }
        }
        out.push(r.clone());
        out
    }
}

/// Parse a user reference (Docker's normalization).
pub fn parse_ref(s: &str) -> Result<Reference, Error> {
    crate::images::normalize_name(s)?;
    reference::parse(s)
        .map_err(|e| Error::InvalidArgument(format!("invalid reference format {s:?}: {e}")))
}

/// Map an oci-client error to a clear hull error.
pub fn map_err(what: &str, e: OciDistributionError) -> Error {
    match &e {
        OciDistributionError::AuthenticationFailure(m) => {
            Error::Unauthorized(format!("{what}: authentication failed: {}", m.trim()))
        }
        OciDistributionError::UnauthorizedError { .. } => Error::Unauthorized(format!(
            "{what}: unauthorized: authentication required or incorrect username or password"
        )),
        OciDistributionError::ImageManifestNotFoundError(_) => {
            Error::NotFound(format!("manifest for {what}"))
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                )
            }) {
                Error::NotFound(format!("manifest for {what}"))
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                Error::Unauthorized(format!("{what}: unauthorized: {envelope}"))
            } else {
                Error::Registry(format!("{what}: {envelope}"))
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => {
            Error::NotFound(format!("manifest for {what}"))
        }
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => Error::Unauthorized(format!("{what}: unauthorized")),
        OciDistributionError::DigestError(d) => Error::DigestMismatch {
            expected: what.to_string(),
            actual: d.to_string(),
        },
        _ => Error::Registry(format!("{what}: {e}")),
    }
}
