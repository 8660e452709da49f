//! Image operations on the metadata DB: lookup by name or ID, tag, delete.

use crate::content::now_secs;
use crate::error::{Error, Result};
use crate::images::{self, ImageRecord, Platform, Resolved};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

pub fn list(m: &Manager, ns: &str) -> Result<Vec<ImageRecord>> {
    Ok(m.db
        .list::<ImageRecord>(Table::Images, &format!("{ns}/"))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// The config digest (Docker's image ID) of an image for the host platform,
/// or its target digest when it cannot be resolved.
pub fn image_id(m: &Manager, img: &ImageRecord) -> String {
    images::resolve(&m.content, &img.target, &Platform::host())
        .map(|r| r.manifest.config.digest)
        .unwrap_or_else(|_| img.target.digest.clone())
}

/// Find images by name (normalized), by full digest, or by ID prefix.
pub fn find(m: &Manager, ns: &str, what: &str) -> Result<Vec<ImageRecord>> {
    if let Ok(name) = images::normalize_name(what) {
        if let Some(r) = m.db.get::<ImageRecord>(Table::Images, &ns_key(ns, &name))? {
            return Ok(vec![r]);
        }
    }
    let id = what.strip_prefix("sha256:").unwrap_or(what);
    if id.len() >= 4 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let all = list(m, ns)?;
        let hits: Vec<ImageRecord> = all
            .into_iter()
            .filter(|i| {
                let iid = image_id(m, i);
                iid.trim_start_matches("sha256:").starts_with(id)
                    || i.target
                        .digest
                        .trim_start_matches("sha256:")
                        .starts_with(id)
            })
            .collect();
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    Err(Error::NotFound(format!("image {what}: No such image")))
}

pub fn get_one(m: &Manager, ns: &str, what: &str) -> Result<ImageRecord> {
    let mut v = find(m, ns, what)?;
    Ok(v.remove(0))
}

pub fn resolve(m: &Manager, img: &ImageRecord, p: &Platform) -> Result<Resolved> {
    images::resolve(&m.content, &img.target, p)
}

pub fn tag(m: &Manager, ns: &str, source: &str, target: &str) -> Result<ImageRecord> {
    let src = get_one(m, ns, source)?;
    let name = images::normalize_name(target)?;
    let now = now_secs();
    let key = ns_key(ns, &name);
    let existed = m.db.get::<ImageRecord>(Table::Images, &key)?;
    let rec = ImageRecord {
        name: name.clone(),
        target: src.target.clone(),
        labels: src.labels.clone(),
        created_at: existed.as_ref().map(|e| e.created_at).unwrap_or(now),
        updated_at: now,
    };
    m.db.put(Table::Images, &key, &rec)?;
    m.events.publish(
        ns,
        if existed.is_some() {
            "/images/update"
        } else {
            "/images/create"
        },
        serde_json::json!({ "name": name, "digest": rec.target.digest }),
    );
    Ok(rec)
}

/// Delete by name or ID. An ID naming several tags needs `force`.
pub fn delete(m: &Manager, ns: &str, what: &str, force: bool) -> Result<Vec<String>> {
    let hits = find(m, ns, what)?;
    let by_name = images::normalize_name(what)
        .ok()
        .is_some_and(|n| hits.len() == 1 && hits[0].name == n);
    if !by_name && hits.len() > 1 && !force {
        return Err(Error::FailedPrecondition(format!(
            "conflict: unable to delete {what} (must be forced) - image is referenced in multiple repositories"
        )));
    }
    let mut out = Vec::new();
    for h in hits {
        if m.db.delete(Table::Images, &ns_key(ns, &h.name))? {
            m.events
                .publish(ns, "/images/delete", serde_json::json!({ "name": h.name }));
            out.push(h.name);
        }
    }
    Ok(out)
}
