//! Volumes: named and anonymous data directories that outlive containers,
//! and the `-v`/`--mount`/`--tmpfs` mount specs that put them (or host
//! paths, or tmpfs) into a container.
//!
//! A volume is a directory `<root>/volumes/<ns>/<name>/` with `_data` (what
//! the container sees) and `volume.json` (its record). A new volume is
//! seeded from the image's content at the mount point, as Docker does, the
//! first time a container mounts it. Plain directories keep volumes across
//! daemon restarts without any metadata migration.

pub mod mounts;
pub mod seed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::content::now_secs;
use crate::error::{Error, IoContext, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Volume {
    pub name: String,
    pub created_at: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Made for an image's VOLUME or a `-v /path` without a name.
    #[serde(default)]
    pub anonymous: bool,
    /// Seeded from an image already (or mounted once): never again.
    #[serde(default)]
    pub seeded: bool,
    #[serde(skip)]
    pub mountpoint: PathBuf,
}

/// Docker's rule for volume names.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 255
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

pub struct Volumes {
    dir: PathBuf,
}

impl Volumes {
    pub fn new(root: &Path) -> Volumes {
        Volumes {
            dir: root.join("volumes"),
        }
    }

    fn vdir(&self, ns: &str, name: &str) -> PathBuf {
        self.dir.join(ns).join(name)
    }

    fn read(&self, ns: &str, name: &str) -> Result<Option<Volume>> {
        let d = self.vdir(ns, name);
        let text = match std::fs::read(d.join("volume.json")) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("read volume {name}"), e)),
        };
        let mut v: Volume = serde_json::from_slice(&text)?;
        v.mountpoint = d.join("_data");
        Ok(Some(v))
    }

    fn write(&self, ns: &str, v: &Volume) -> Result<()> {
        let d = self.vdir(ns, &v.name);
        let tmp = d.join("volume.json.tmp");
        crate::private::write(&tmp, serde_json::to_vec_pretty(v)?)
            .ctx(|| "write volume.json".into())?;
        std::fs::rename(&tmp, d.join("volume.json")).ctx(|| "write volume.json".into())
    }

    pub fn get(&self, ns: &str, name: &str) -> Result<Volume> {
        self.read(ns, name)?
            .ok_or_else(|| Error::NotFound(format!("get {name}: no such volume")))
    }

    /// Create a volume, or return the existing one of that name. An empty
    /// name makes an anonymous volume with a random 64-hex name.
    pub fn create(
        &self,
        ns: &str,
        name: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<(Volume, bool)> {
        let (name, anonymous) = if name.is_empty() {
            (crate::ids::new_id(), true)
        } else {
            (name.to_string(), false)
        };
        if !valid_name(&name) {
            return Err(Error::InvalidArgument(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
            )));
        }
        if let Some(v) = self.read(ns, &name)? {
            return Ok((v, false));
        }
        let d = self.vdir(ns, &name);
        // `<root>/volumes/<ns>/<name>` is root's; `_data` is the volume.
        crate::private::dir(&d).ctx(|| format!("create volume {name}"))?;
        crate::private::dir_with_mode(&d.join("_data"), crate::private::CONTENT_DIR_MODE)
            .ctx(|| format!("create volume {name}"))?;
        let v = Volume {
            name,
            created_at: now_secs(),
            labels,
            anonymous,
            seeded: false,
            mountpoint: d.join("_data"),
        };
        if let Err(e) = self.write(ns, &v) {
            let _ = std::fs::remove_dir_all(&d);
            return Err(e);
        }
        Ok((v, true))
    }

    pub fn mark_seeded(&self, ns: &str, name: &str) -> Result<()> {
        if let Some(mut v) = self.read(ns, name)? {
            if !v.seeded {
                v.seeded = true;
                self.write(ns, &v)?;
            }
        }
        Ok(())
    }

    pub fn list(&self, ns: &str) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(self.dir.join(ns)) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("list volumes", e)),
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(Some(v)) = self.read(ns, &name) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove a volume (the caller checked that no container uses it).
    pub fn remove(&self, ns: &str, name: &str) -> Result<()> {
        self.get(ns, name)?;
        let d = self.vdir(ns, name);
        // Rename first so a half-removed volume is never seen as one.
        let trash = self
            .dir
            .join(ns)
            .join(format!(".rm-{}", crate::ids::new_id()));
        std::fs::rename(&d, &trash).ctx(|| format!("remove volume {name}"))?;
        crate::snapshots::remove_tree(&trash)
    }

    /// The volume whose data directory is `path`, if any.
    pub fn name_of(&self, ns: &str, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.dir.join(ns)).ok()?;
        let mut c = rel.components();
        let name = c.next()?.as_os_str().to_str()?.to_string();
        (c.next()?.as_os_str() == "_data").then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_list_remove() {
        let t = tempfile::tempdir().unwrap();
        let vs = Volumes::new(t.path());
        let (v, new) = vs.create("default", "data", BTreeMap::new()).unwrap();
        assert!(new && v.mountpoint.is_dir() && !v.anonymous);
        let (again, new) = vs.create("default", "data", BTreeMap::new()).unwrap();
        assert!(!new);
        assert_eq!(again.created_at, v.created_at);
        let (anon, _) = vs.create("default", "", BTreeMap::new()).unwrap();
        assert!(anon.anonymous && anon.name.len() == 64);
        assert_eq!(vs.list("default").unwrap().len(), 2);
        assert!(vs.list("other").unwrap().is_empty());
        assert_eq!(
            vs.name_of("default", &v.mountpoint).as_deref(),
            Some("data")
        );
        vs.remove("default", "data").unwrap();
        assert!(matches!(vs.get("default", "data"), Err(Error::NotFound(_))));
        assert!(vs.create("default", "../x", BTreeMap::new()).is_err());
        assert!(vs.create("default", "-x", BTreeMap::new()).is_err());
    }
}
