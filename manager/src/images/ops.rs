//! Image operations on the metadata DB: lookup by name or ID, tag, delete.

use crate::content::now_secs;
use crate::error::{Error, Result};
use crate::images::{self, ImageRecord, Platform, Resolved};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};
pub use hull_types::reference::{dangling_name, is_dangling};

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

/// Find images by name (normalized; an unnamed image's record name as
/// is), by full digest, or by ID prefix.
pub fn find(m: &Manager, ns: &str, what: &str) -> Result<Vec<ImageRecord>> {
    if is_dangling(what) {
        if let Some(r) = m.db.get::<ImageRecord>(Table::Images, &ns_key(ns, what))? {
            return Ok(vec![r]);
        }
    }
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
        let ids: std::collections::HashSet<String> = hits.iter().map(|i| image_id(m, i)).collect();
        if ids.len() > 1 {
            return Err(Error::InvalidArgument(format!(
                "image ID prefix {what} is ambiguous: {} images match",
                ids.len()
            )));
        }
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
    put_name(m, ns, &name, src.target.clone(), src.labels.clone())
}

/// Name `target` `name` (normalized) in `ns`, keeping the creation time
/// of a record the name had, and publish the event.
pub fn put_name(
    m: &Manager,
    ns: &str,
    name: &str,
    target: images::Descriptor,
    labels: std::collections::BTreeMap<String, String>,
) -> Result<ImageRecord> {
    let now = now_secs();
    let key = ns_key(ns, name);
    let existed = m.db.get::<ImageRecord>(Table::Images, &key)?;
    let rec = ImageRecord {
        name: name.to_string(),
        target,
        labels,
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
    if !is_dangling(name) {
        drop_dangling(m, ns, &rec.target.digest)?;
        keep_replaced(m, ns, existed.as_ref(), &rec.target.digest)?;
    }
    Ok(rec)
}

/// After a name moved from the image `before` to `now` (a rebuild, a tag,
/// a pull of a newer image): the old image stays, unnamed, when no other
/// name holds it, as Docker's `<none>:<none>` (until `image prune`).
pub fn keep_replaced(m: &Manager, ns: &str, before: Option<&ImageRecord>, now: &str) -> Result<()> {
    match before {
        Some(b) if b.target.digest != now && !is_dangling(&b.name) => {
            put_dangling(m, ns, b.target.clone())
        }
        _ => Ok(()),
    }
}

/// Keep `target` in `ns` without a name (a build without `-t`), as
/// Docker's `<none>:<none>`: a record named [`dangling_name`] of its
/// digest, unless a named record already points at it. Reachable by ID
/// only; gone once the image is named or removed.
pub fn put_dangling(m: &Manager, ns: &str, target: images::Descriptor) -> Result<()> {
    if list(m, ns)?
        .iter()
        .any(|i| i.target.digest == target.digest)
    {
        return Ok(());
    }
    put_name(
        m,
        ns,
        &dangling_name(&target.digest),
        target,
        Default::default(),
    )?;
    Ok(())
}

/// Remove the unnamed record of `digest` in `ns`, if any (the image got a
/// name).
pub fn drop_dangling(m: &Manager, ns: &str, digest: &str) -> Result<()> {
    m.db.delete(Table::Images, &ns_key(ns, &dangling_name(digest)))?;
    Ok(())
}

/// Docker's short form of an image or container ID: 12 hex digits.
fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// A container as image removal sees it: the image it was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageUser {
    pub container_id: String,
    /// The image's name as given when the container was made.
    pub image: String,
    /// The image's ID then (empty in records made before it was kept).
    pub image_id: String,
    /// Running or paused.
    pub running: bool,
}

/// Those of `containers` made from the image with ID `id`: (container ID,
/// running or paused), in listing order.
fn users(m: &Manager, ns: &str, id: &str, containers: &[ImageUser]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for c in containers {
        let cid = if c.image_id.is_empty() {
            // Made before containers recorded their image's ID.
            match find(m, ns, &c.image) {
                Ok(v) if v.len() == 1 => image_id(m, &v[0]),
                _ => continue,
            }
        } else {
            c.image_id.clone()
        };
        if cid == id {
            out.push((c.container_id.clone(), c.running));
        }
    }
    out
}

/// `host/path` of `host/path:tag` or `host/path@digest`.
fn repository(name: &str) -> &str {
    if let Some((repo, _)) = name.split_once('@') {
        return repo;
    }
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    }
}

fn conflict(id: &str, forceable: bool, why: String) -> Error {
    Error::FailedPrecondition(format!(
        "conflict: unable to delete {} ({}) - {why}",
        short(id),
        if forceable {
            "must be forced"
        } else {
            "cannot be forced"
        }
    ))
}

/// Delete by name or ID, as Docker does. By name: untag; refused when it is
/// the image's last tag and a container uses the image, unless `force`
/// (which only untags: the container keeps what it needs). By ID: every tag
/// of the image; refused while a running container uses it, and unless
/// `force` while several repositories tag it or a stopped container uses it.
/// Remove the image `what` (name, ID or prefix) unless `containers` (the
/// namespace's) use it, Docker's rules.
pub fn delete(
    m: &Manager,
    ns: &str,
    what: &str,
    force: bool,
    containers: &[ImageUser],
) -> Result<Vec<String>> {
    let hits = find(m, ns, what)?;
    let by_name = images::normalize_name(what)
        .ok()
        .is_some_and(|n| hits.len() == 1 && hits[0].name == n);
    let id = image_id(m, &hits[0]);
    let users = users(m, ns, &id, containers);
    if by_name {
        let tags = list(m, ns)?.iter().filter(|i| image_id(m, i) == id).count();
        if !force && tags <= 1 {
            if let Some((cid, _)) = users.first() {
                return Err(Error::FailedPrecondition(format!(
                    "conflict: unable to remove repository reference \"{what}\" (must force) - container {} is using its referenced image {}",
                    short(cid),
                    short(&id)
                )));
            }
        }
    } else {
        if let Some((cid, _)) = users.iter().find(|(_, running)| *running) {
            return Err(conflict(
                &id,
                false,
                format!("image is being used by running container {}", short(cid)),
            ));
        }
        if !force {
            // Docker removes every reference only when they are one tag
            // (and digests) of one repository.
            let repos: std::collections::HashSet<&str> =
                hits.iter().map(|h| repository(&h.name)).collect();
            let tags = hits.iter().filter(|h| !h.name.contains('@')).count();
            if repos.len() > 1 || tags > 1 {
                return Err(conflict(
                    &id,
                    true,
                    "image is referenced in multiple repositories".into(),
                ));
            }
            if let Some((cid, _)) = users.first() {
                return Err(conflict(
                    &id,
                    true,
                    format!("image is being used by stopped container {}", short(cid)),
                ));
            }
        }
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
