//! Snapshotter: overlayfs layers by chain ID, with a copy-based fallback
//! where overlay cannot be mounted.
//!
//! Each snapshot has a directory `<root>/snapshots/<id>/` holding `fs/` (its
//! upper layer, or with the copy driver its full tree) and `work/`.
//! Committed layers are read-only lowerdirs; active snapshots get mounts
//! with upper/work. Records live in the metadata DB, keyed by snapshot name.

pub mod compressed;
pub mod fsops;
pub mod space;
pub mod unpack;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
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
    /// `extract-*` keys an unpack is writing now.
    extracting: Arc<Mutex<HashSet<String>>>,
    /// Per-chain-ID unpack locks.
    chains: Arc<Mutex<HashMap<String, Weak<Mutex<()>>>>>,
}

/// Name prefix of the snapshots layers are unpacked into before commit.
pub const EXTRACT_PREFIX: &str = "extract-";

/// See `Snapshotter::extracting`.
pub struct ExtractGuard {
    set: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for ExtractGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.key);
        }
    }
}

impl Snapshotter {
    pub fn open(root: &Path, db: Arc<Db>, driver: Driver) -> Result<Self> {
        crate::private::dir(root).ctx(|| format!("create {}", root.display()))?;
        Ok(Snapshotter {
            root: root.to_path_buf(),
            db,
            driver,
            lock: Arc::new(Mutex::new(())),
            extracting: Default::default(),
            chains: Default::default(),
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
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        format!("{n:x}-{}-{seq}", std::process::id())
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
        let rec = SnapshotRecord {
            name: key.to_string(),
            id,
            kind,
            parent,
            labels,
            created_at: now_secs(),
        };
        // Nothing of a snapshot that could not be made stays behind (a full
        // disk fails the copy or the record).
        let made = (|| {
            // `<id>/` is root's alone; `fs/` is the container's `/` (the
            // upper dir's mode shows through overlayfs), so Docker's 0755.
            crate::private::dir(&dir).ctx(|| format!("create {}", dir.display()))?;
            crate::private::dir_with_mode(&dir.join("fs"), crate::private::CONTENT_DIR_MODE)
                .ctx(|| format!("create {}", dir.display()))?;
            if self.driver == Driver::Overlay {
                crate::private::dir(&dir.join("work"))
                    .ctx(|| format!("create {}", dir.display()))?;
            } else if let Some(p) = lowers.first() {
                copy_tree(p, &dir.join("fs"))?;
            }
            if !self.db.create(Table::Snapshots, key, &rec)? {
                return Err(Error::AlreadyExists(format!("snapshot {key}")));
            }
            Ok(())
        })();
        if let Err(e) = made {
            let _ = remove_tree(&dir);
            return Err(e);
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
        // One transaction: never two records for one directory.
        self.db.rename(Table::Snapshots, key, name, &rec)?;
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
        // The directory goes first: its space must be freed even when the
        // record cannot be deleted (a full disk fails metadata writes). A
        // record left without its directory is removed on the next try.
        remove_tree(&self.dir(&rec.id))?;
        self.db.delete(Table::Snapshots, key)?;
        Ok(())
    }

    /// Remove unfinished unpacks (`extract-*` snapshots) that no unpack is
    /// working on: left by a crash, a cancelled pull or a failed removal.
    pub fn remove_stale_extracts(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for s in self.list()? {
            if !s.name.starts_with(EXTRACT_PREFIX) || self.is_extracting(&s.name) {
                continue;
            }
            match self.remove(&s.name) {
                Ok(()) => out.push(s.name),
                Err(e) => tracing::warn!(snapshot = s.name, "removing unfinished unpack: {e}"),
            }
        }
        Ok(out)
    }

    /// Mark `key` as being unpacked until the guard drops.
    pub fn extracting(&self, key: &str) -> ExtractGuard {
        if let Ok(mut s) = self.extracting.lock() {
            s.insert(key.to_string());
        }
        ExtractGuard {
            set: self.extracting.clone(),
            key: key.to_string(),
        }
    }

    fn is_extracting(&self, key: &str) -> bool {
        self.extracting
            .lock()
            .map(|s| s.contains(key))
            .unwrap_or(false)
    }

    /// Serialise unpacks of one chain ID: a second unpacker of the same
    /// layer waits here, then finds the first one's snapshot.
    pub fn lock_chain(&self, chain: &str) -> Arc<Mutex<()>> {
        let mut m = match self.chains.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.retain(|_, w| w.strong_count() > 0);
        if let Some(l) = m.get(chain).and_then(Weak::upgrade) {
            return l;
        }
        let l = Arc::new(Mutex::new(()));
        m.insert(chain.to_string(), Arc::downgrade(&l));
        l
    }

    /// Disk usage (bytes, inodes) of a snapshot's own layer.
    pub fn usage(&self, key: &str) -> Result<(u64, u64)> {
        let rec = self.stat(key)?;
        let mut size = 0;
        let mut inodes = 0;
        du(&self.dir(&rec.id).join("fs"), None, &mut size, &mut inodes);
        Ok((size, inodes))
    }

    /// The directory every snapshot lives under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Disk usage (bytes, inodes) of every snapshot, without crossing into
    /// mounts below the root.
    pub fn total_usage(&self) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        let mut size = 0;
        let mut inodes = 0;
        if let Ok(md) = fs::symlink_metadata(&self.root) {
            du(&self.root, Some(md.dev()), &mut size, &mut inodes);
        }
        (size, inodes)
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

/// Add the blocks and inodes under `p` (not following links; when `dev`
/// is given, not entering other file systems).
fn du(p: &Path, dev: Option<u64>, size: &mut u64, inodes: &mut u64) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(md) = fs::symlink_metadata(p) {
        if dev.is_some_and(|d| d != md.dev()) {
            return;
        }
        *inodes += 1;
        *size += md.blocks() * 512;
        if md.is_dir() {
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    du(&e.path(), dev, size, inodes);
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
