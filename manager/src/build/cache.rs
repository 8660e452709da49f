//! The build cache: what a step made, by the step's key (its parent's key,
//! the instruction after substitution, the digests of the files it reads,
//! the ARG values a RUN sees). Records live in the metadata database, so
//! they survive a hulld restart; garbage collection keeps the layers and
//! snapshots they name.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::content::now_secs;
use crate::error::Result;
use crate::images::Descriptor;
use crate::manager::Manager;
use crate::metadata::Table;

/// What a step made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The layer (None: the step changed only the config, or nothing).
    pub layer: Option<Layer>,
    /// The history entry's time, so that a cached rebuild makes the same
    /// config.
    pub created: String,
    pub used_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    pub descriptor: Descriptor,
    pub diff_id: String,
    /// The snapshot holding the image's filesystem after this step.
    pub chain: String,
}

/// The key of a step: sha256 over the parent's key and `parts`.
pub fn key(parent: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    for p in parts {
        h.update([0]);
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The record of `key` when everything it names is still there.
pub fn lookup(m: &Manager, key: &str) -> Result<Option<CacheRecord>> {
    let Some(mut rec) = m.db.get::<CacheRecord>(Table::BuildCache, key)? else {
        return Ok(None);
    };
    if let Some(l) = &rec.layer {
        let blob = l.descriptor.digest().is_ok_and(|d| m.content.exists(&d));
        if !blob || !m.snapshots.exists(&l.chain) {
            return Ok(None);
        }
    }
    rec.used_at = now_secs();
    m.db.put(Table::BuildCache, key, &rec)?;
    Ok(Some(rec))
}

pub fn store(m: &Manager, key: &str, rec: &CacheRecord) -> Result<()> {
    m.db.put(Table::BuildCache, key, rec)
}

/// Every record (for garbage collection).
pub fn all(m: &Manager) -> Result<Vec<CacheRecord>> {
    Ok(m.db
        .list::<CacheRecord>(Table::BuildCache, "")?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// Drop every record; garbage collection then frees what only they held.
/// Returns how many there were.
pub fn clear(m: &Manager) -> Result<u64> {
    let mut n = 0;
    for (k, _) in m.db.list::<serde_json::Value>(Table::BuildCache, "")? {
        if m.db.delete(Table::BuildCache, &k)? {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_parent_and_every_part() {
        let a = key("", &["FROM scratch"]);
        assert_eq!(a, key("", &["FROM scratch"]));
        assert_ne!(a, key("x", &["FROM scratch"]));
        assert_ne!(key(&a, &["RUN a", "b"]), key(&a, &["RUN ab"]));
        assert_eq!(a.len(), 64);
    }
}
