//! A service's configuration hash: sha256 of its normalized JSON, leaving
//! out what changes no container (the replica count, profiles).

use sha2::{Digest, Sha256};

use crate::model::service::Service;

pub fn config_hash(svc: &Service) -> String {
    let mut svc = svc.clone();
    svc.scale = None;
    svc.profiles.clear();
    if let Some(d) = &mut svc.deploy {
        d.replicas = None;
    }
    // Fields serialize in declaration order and maps are sorted: the same
    // service always gives the same bytes.
    let bytes = serde_json::to_vec(&svc).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}
