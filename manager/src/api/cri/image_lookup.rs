//! Finding the image a CRI ImageSpec names (a tag, `repo@digest`, an image
//! ID or its prefix) in hulld's `k8s.io` images, and describing it as a CRI
//! Image. hull records one entry per name; CRI sees one image per ID with
//! all its names, so both are grouped here.

use std::collections::BTreeMap;

use hull_cri_api::v1;

use crate::error::Result;
use crate::images::{self, ops, ImageRecord, Platform, Resolved};
use crate::manager::Manager;

/// One image as CRI sees it: its ID and every record naming it.
#[derive(Debug, Clone)]
pub struct CriImage {
    /// The config digest (Docker's image ID).
    pub id: String,
    /// Its records, ordered by name.
    pub records: Vec<ImageRecord>,
    /// The first record resolved for the host platform.
    pub resolved: Option<Resolved>,
}

/// `host/path` of `host/path:tag` or `host/path@digest`.
fn repository(name: &str) -> String {
    images::split_repo_tag(name).0
}

/// Every image of `ns`, grouped by ID (ordered by ID).
pub fn list(m: &Manager, ns: &str) -> Result<Vec<CriImage>> {
    let mut by_id: BTreeMap<String, Vec<ImageRecord>> = BTreeMap::new();
    for r in ops::list(m, ns)? {
        by_id.entry(ops::image_id(m, &r)).or_default().push(r);
    }
    Ok(by_id
        .into_iter()
        .map(|(id, mut records)| {
            records.sort_by(|a, b| a.name.cmp(&b.name));
            let resolved = records
                .first()
                .and_then(|r| ops::resolve(m, r, &Platform::host()).ok());
            CriImage {
                id,
                records,
                resolved,
            }
        })
        .collect())
}

/// The image `what` names, `None` when there is none: a name (normalized
/// as Docker does), a `repo@digest` whose repository has that manifest, an
/// image ID, or an unambiguous prefix of at least 4 hex digits.
pub fn find(m: &Manager, ns: &str, what: &str) -> Result<Option<CriImage>> {
    let all = list(m, ns)?;
    if let Ok(name) = images::normalize_name(what) {
        if let Some(i) = all
            .iter()
            .find(|i| i.records.iter().any(|r| r.name == name))
        {
            return Ok(Some(i.clone()));
        }
        if let Some((repo, digest)) = name.split_once('@') {
            let hit = all.iter().find(|i| {
                i.records
                    .iter()
                    .any(|r| repository(&r.name) == repo && r.target.digest == digest)
            });
            if let Some(i) = hit {
                return Ok(Some(i.clone()));
            }
        }
    }
    let hex = what.strip_prefix("sha256:").unwrap_or(what);
    if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut hits = all
            .iter()
            .filter(|i| i.id.trim_start_matches("sha256:").starts_with(hex));
        if let (Some(i), None) = (hits.next(), hits.next()) {
            return Ok(Some(i.clone()));
        }
    }
    Ok(None)
}

/// The user an image's config names: a numeric UID, or a user name.
fn user(config_raw: &[u8]) -> (Option<i64>, String) {
    let v: serde_json::Value = serde_json::from_slice(config_raw).unwrap_or_default();
    let u = v["config"]["User"].as_str().unwrap_or("");
    let u = u.split(':').next().unwrap_or("");
    match u.parse::<i64>() {
        Ok(uid) => (Some(uid), String::new()),
        Err(_) => (None, u.to_string()),
    }
}

impl CriImage {
    /// Tags: the names without a digest.
    pub fn repo_tags(&self) -> Vec<String> {
        self.records
            .iter()
            .filter(|r| !r.name.contains('@'))
            .map(|r| r.name.clone())
            .collect()
    }

    /// `repo@digest` of each repository, by the digest it was pulled as.
    pub fn repo_digests(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .records
            .iter()
            .filter(|r| !crate::images::ops::is_dangling(&r.name))
            .map(|r| format!("{}@{}", repository(&r.name), r.target.digest))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn to_cri(&self) -> v1::Image {
        let (uid, username) = self
            .resolved
            .as_ref()
            .map(|r| user(&r.config_raw))
            .unwrap_or_default();
        let size = self
            .resolved
            .as_ref()
            .map(|r| r.size())
            .or_else(|| self.records.first().map(|r| r.target.size))
            .unwrap_or(0);
        v1::Image {
            id: self.id.clone(),
            repo_tags: self.repo_tags(),
            repo_digests: self.repo_digests(),
            size: u64::try_from(size).unwrap_or(0),
            uid: uid.map(|value| v1::Int64Value { value }),
            username,
            spec: Some(v1::ImageSpec {
                image: self.id.clone(),
                ..Default::default()
            }),
            pinned: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_of_config() {
        assert_eq!(
            user(br#"{"config":{"User":"1000:1000"}}"#),
            (Some(1000), "".into())
        );
        assert_eq!(
            user(br#"{"config":{"User":"nobody"}}"#),
            (None, "nobody".into())
        );
        assert_eq!(user(br#"{"config":{}}"#), (None, "".into()));
        assert_eq!(user(b"not json"), (None, "".into()));
    }

    #[test]
    fn repositories() {
        assert_eq!(
            repository("docker.io/library/busybox:1"),
            "docker.io/library/busybox"
        );
        assert_eq!(
            repository("127.0.0.1:5000/a/b@sha256:00"),
            "127.0.0.1:5000/a/b"
        );
        assert_eq!(repository("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
    }
}
