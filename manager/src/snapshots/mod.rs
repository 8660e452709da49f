//! Snapshotter: overlayfs layers by chain ID, with a copy-based fallback
//! where overlay cannot be mounted.
//!
//! Each snapshot has a directory `<root>/snapshots/<id>/` holding `fs/` (its
//! upper layer, or with the copy driver its full tree) and `work/`.
//! Committed layers are read-only lowerdirs; active snapshots get mounts
//! with upper/work. Records live in the metadata DB, keyed by snapshot name.

pub mod unpack;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::content::now_secs;
use crate::error::{Error, IoContext, Result};
use crate::metadata::{Db, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    View,
    Active,
    Committed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub name: String,
    pub id: String,
    pub kind: Kind,
    pub parent: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
}

/// How snapshots are stacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// Layers as overlay lowerdirs, whiteouts as 0:0 char devices and the
    /// `trusted.overlay.opaque` xattr.
    Overlay,
    /// Each snapshot is a full copy of its parent; whiteouts delete.
    Copy,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlayfs",
            Driver::Copy => "native-copy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

#[derive(Clone)]
pub struct Snapshotter {
    root: PathBuf,
    db: Arc<Db>,
    driver: Driver,
    lock: Arc<Mutex<()>>,
}

impl Snapshotter {
    pub fn open(root: &Path, db: Arc<Db>, driver: Driver) -> Result<Self> {
        crate::private::dir(root).ctx(|| format!("create {}", root.display()))?;
        Ok(Snapshotter {
            root: root.to_path_buf(),
            db,
            driver,
            lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// Directory of a snapshot (`.../<id>`).
    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The `fs` directory of a snapshot by name.
    pub fn fs_dir(&self, name: &str) -> Result<PathBuf> {
        let r = self.stat(name)?;
        Ok(self.dir(&r.id).join("fs"))
    }

    pub fn stat(&self, name: &str) -> Result<SnapshotRecord> {
        self.db
            .get(Table::Snapshots, name)?
            .ok_or_else(|| Error::NotFound(format!("snapshot {name}")))
    }

    pub fn exists(&self, name: &str) -> bool {
        matches!(
            self.db.get::<SnapshotRecord>(Table::Snapshots, name),
            Ok(Some(_))
        )
    }

    pub fn list(&self) -> Result<Vec<SnapshotRecord>> {
        Ok(self
            .db
            .list::<SnapshotRecord>(Table::Snapshots, "")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Parent chain, nearest first: the `fs` dirs of all ancestors.
    pub fn lower_dirs(&self, parent: Option<&str>) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut cur = parent.map(|s| s.to_string());
        while let Some(name) = cur {
            let r = self.stat(&name)?;
            if r.kind != Kind::Committed {
                return Err(Error::FailedPrecondition(format!(
                    "parent {name} is not committed"
                )));
            }
            out.push(self.dir(&r.id).join("fs"));
            cur = r.parent;
            if out.len() > 500 {
                return Err(Error::FailedPrecondition("snapshot chain too long".into()));
            }
        }
        Ok(out)
    }

    fn new_id() -> String {
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{n:x}-{}", std::process::id())
    }

    fn create(
        &self,
        key: &str,
        parent: &str,
        kind: Kind,
        labels: BTreeMap<String, String>,
    ) -> Result<Vec<Mount>> {
        if key.is_empty() {
            return Err(Error::InvalidArgument("empty snapshot key".into()));
        }
        let _g = self
            .lock
            .lock()
            .map_err(|_| Error::Db("snapshot lock".into()))?;
        if self.exists(key) {
            return Err(Error::AlreadyExists(format!("snapshot {key}")));
        }
        let parent = (!parent.is_empty()).then(|| parent.to_string());
        let lowers = self.lower_dirs(parent.as_deref())?;
        let id = Self::new_id();
        let dir = self.dir(&id);
        // `<id>/` is root's alone; `fs/` is the container's `/` (the
        // upper dir's mode shows through overlayfs), so Docker's 0755.
        crate::private::dir(&dir).ctx(|| format!("create {}", dir.display()))?;
        crate::private::dir_with_mode(&dir.join("fs"), crate::private::CONTENT_DIR_MODE)
            .ctx(|| format!("create {}", dir.display()))?;
        if self.driver == Driver::Overlay {
            crate::private::dir(&dir.join("work")).ctx(|| format!("create {}", dir.display()))?;
        } else if let Some(p) = lowers.first() {
            copy_tree(p, &dir.join("fs"))?;
        }
        let rec = SnapshotRecord {
            name: key.to_string(),
            id,
            kind,
            parent,
            labels,
            created_at: now_secs(),
        };
        if !self.db.create(Table::Snapshots, key, &rec)? {
            let _ = fs::remove_dir_all(&dir);
            return Err(Error::AlreadyExists(format!("snapshot {key}")));
        }
        self.mounts_of(&rec)
    }

    pub fn prepare(
        &self,
        key: &str,
        parent: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<Vec<Mount>> {
        self.create(key, parent, Kind::Active, labels)
    }

    pub fn view(
        &self,
        key: &str,
        parent: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<Vec<Mount>> {
        self.create(key, parent, Kind::View, labels)
    }

    pub fn mounts(&self, key: &str) -> Result<Vec<Mount>> {
        let rec = self.stat(key)?;
        self.mounts_of(&rec)
    }

    fn mounts_of(&self, rec: &SnapshotRecord) -> Result<Vec<Mount>> {
        let dir = self.dir(&rec.id);
        let fsdir = dir.join("fs").display().to_string();
        let lowers = self.lower_dirs(rec.parent.as_deref())?;
        let bind = |src: String, ro: bool| Mount {
            kind: "bind".into(),
            source: src,
            options: vec![if ro { "ro" } else { "rw" }.into(), "rbind".into()],
        };
        if self.driver == Driver::Copy {
            return Ok(vec![bind(fsdir, rec.kind != Kind::Active)]);
        }
        let lower_s: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        Ok(match rec.kind {
            Kind::Active if lowers.is_empty() => vec![bind(fsdir, false)],
            Kind::Active => vec![Mount {
                kind: "overlay".into(),
                source: "overlay".into(),
                options: vec![
                    "index=off".into(),
                    format!("lowerdir={}", lower_s.join(":")),
                    format!("upperdir={fsdir}"),
                    format!("workdir={}", dir.join("work").display()),
                ],
            }],
            Kind::View | Kind::Committed if lowers.is_empty() => vec![bind(fsdir, true)],
            Kind::View | Kind::Committed if lowers.len() == 1 && rec.kind == Kind::View => {
                vec![bind(lower_s[0].clone(), true)]
            }
            Kind::View | Kind::Committed => {
                let mut all = Vec::new();
                if rec.kind == Kind::Committed {
                    all.push(fsdir);
                }
                all.extend(lower_s);
                if all.len() == 1 {
                    vec![bind(all.remove(0), true)]
                } else {
                    vec![Mount {
                        kind: "overlay".into(),
                        source: "overlay".into(),
                        options: vec!["ro".into(), format!("lowerdir={}", all.join(":"))],
                    }]
                }
            }
        })
    }

    /// Commit active snapshot `key` as `name`.
    pub fn commit(&self, name: &str, key: &str, labels: BTreeMap<String, String>) -> Result<()> {
        let _g = self
            .lock
            .lock()
            .map_err(|_| Error::Db("snapshot lock".into()))?;
        let mut rec = self.stat(key)?;
        if rec.kind != Kind::Active {
            return Err(Error::FailedPrecondition(format!(
                "snapshot {key} is not active"
            )));
        }
        if self.exists(name) {
            return Err(Error::AlreadyExists(format!("snapshot {name}")));
        }
        rec.name = name.to_string();
        rec.kind = Kind::Committed;
        rec.labels.extend(labels);
        let _ = fs::remove_dir_all(self.dir(&rec.id).join("work"));
        self.db.put(Table::Snapshots, name, &rec)?;
        self.db.delete(Table::Snapshots, key)?;
        Ok(())
    }

    pub fn remove(&self, key: &str) -> Result<()> {
        let _g = self
            .lock
            .lock()
            .map_err(|_| Error::Db("snapshot lock".into()))?;
        let rec = self.stat(key)?;
        if self
            .list()?
            .iter()
            .any(|s| s.parent.as_deref() == Some(key))
        {
            return Err(Error::FailedPrecondition(format!(
                "snapshot {key} has children"
            )));
        }
        self.db.delete(Table::Snapshots, key)?;
        remove_tree(&self.dir(&rec.id))
    }

    /// Disk usage (bytes, inodes) of a snapshot's own layer.
    pub fn usage(&self, key: &str) -> Result<(u64, u64)> {
        let rec = self.stat(key)?;
        let mut size = 0;
        let mut inodes = 0;
        du(&self.dir(&rec.id).join("fs"), &mut size, &mut inodes);
        Ok((size, inodes))
    }

    /// Remove directories with no record (left by a crash mid-unpack).
    pub fn cleanup_orphans(&self) -> Result<usize> {
        let ids: std::collections::HashSet<String> =
            self.list()?.into_iter().map(|r| r.id).collect();
        let mut n = 0;
        if let Ok(rd) = fs::read_dir(&self.root) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !ids.contains(&name) && remove_tree(&e.path()).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

fn du(p: &Path, size: &mut u64, inodes: &mut u64) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(md) = fs::symlink_metadata(p) {
        *inodes += 1;
        *size += md.blocks() * 512;
        if md.is_dir() {
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    du(&e.path(), size, inodes);
                }
            }
        }
    }
}

/// Delete a tree without following symlinks or crossing into mounts.
pub fn remove_tree(p: &Path) -> Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("remove {}", p.display()), e)),
    }
}

/// Copy a tree preserving owners, modes, links, devices and xattrs.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let out = Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .output()
        .ctx(|| "run cp".into())?;
    if !out.status.success() {
        return Err(Error::io(
            format!("cp -a {} {}", from.display(), to.display()),
            std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        ));
    }
    Ok(())
}

/// Can this kernel mount overlay with upper/work under `dir`? Tries a real
/// mount in a scratch directory and unmounts it.
pub fn overlay_supported(dir: &Path) -> bool {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let t = dir.join(format!(".overlay-check-{}", std::process::id()));
    let ok = (|| -> std::io::Result<bool> {
        for d in ["l1", "l2", "u", "w", "m"] {
            fs::create_dir_all(t.join(d))?;
        }
        let opts = format!(
            "lowerdir={}:{},upperdir={},workdir={}",
            t.join("l1").display(),
            t.join("l2").display(),
            t.join("u").display(),
            t.join("w").display()
        );
        let r = mount(
            Some("overlay"),
            &t.join("m"),
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        );
        if r.is_ok() {
            let _ = umount2(&t.join("m"), MntFlags::MNT_DETACH);
        }
        Ok(r.is_ok())
    })()
    .unwrap_or(false);
    let _ = fs::remove_dir_all(&t);
    ok
}
