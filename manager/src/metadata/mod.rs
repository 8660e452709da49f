//! Metadata: one redb file (`<root>/meta.redb`) with JSON values.
//!
//! Namespaced tables (images, leases, containers) use keys `"<ns>/<name>"`;
//! snapshots are global (layers are shared by namespaces, as content is).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Error, Result};

/// The tables of the database.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Images,
    Snapshots,
    Leases,
    Containers,
    Namespaces,
    /// Networks (global, key: name).
    Networks,
    /// The network side of containers (key `<ns>/<id>`).
    Endpoints,
    /// Containers' OCI specs (key `<ns>/<id>`, raw JSON text), apart from
    /// their records so that a listing reads no spec.
    ContainerSpecs,
    /// CRI pod sandboxes (key `<ns>/<id>`).
    Sandboxes,
    /// What CRI knows of the containers in pods (key `<ns>/<id>`).
    PodContainers,
    /// `hull build`'s step cache (key: the step's cache key).
    BuildCache,
}

impl Table {
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Table::Images => TableDefinition::new("images"),
            Table::Snapshots => TableDefinition::new("snapshots"),
            Table::Leases => TableDefinition::new("leases"),
            Table::Containers => TableDefinition::new("containers"),
            Table::Namespaces => TableDefinition::new("namespaces"),
            Table::Networks => TableDefinition::new("networks"),
            Table::Endpoints => TableDefinition::new("endpoints"),
            Table::ContainerSpecs => TableDefinition::new("container_specs"),
            Table::Sandboxes => TableDefinition::new("sandboxes"),
            Table::PodContainers => TableDefinition::new("pod_containers"),
            Table::BuildCache => TableDefinition::new("build_cache"),
        }
    }
    const ALL: [Table; 11] = [
        Table::Images,
        Table::Snapshots,
        Table::Leases,
        Table::Containers,
        Table::Namespaces,
        Table::Networks,
        Table::Endpoints,
        Table::ContainerSpecs,
        Table::Sandboxes,
        Table::PodContainers,
        Table::BuildCache,
    ];
}

/// Key of a namespaced record.
pub fn ns_key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Validate a namespace name (like containerd: letters, digits, `.`, `_`, `-`).
pub fn validate_namespace(ns: &str) -> Result<()> {
    let ok = !ns.is_empty()
        && ns.len() <= 76
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        && ns.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("invalid namespace {ns:?}")))
    }
}

/// The database handle. After an I/O error (a full disk, say) redb refuses
/// every later operation ("previous I/O error") until the `Database` is
/// dropped and opened again, so the handle sits behind a lock: the next
/// caller after a failure reopens it (waiting for the operations still
/// running on the old one), and every caller then uses the new one.
pub struct Db {
    path: PathBuf,
    db: RwLock<Option<redb::Database>>,
    /// Set when an operation failed with an I/O error: reopen before the next.
    broken: AtomicBool,
}

/// Does this error leave redb's handle unusable until it is reopened?
fn needs_reopen(e: &redb::Error) -> bool {
    matches!(
        e,
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
    )
}

fn open_database(path: &Path) -> Result<redb::Database> {
    // Container specs hold `-e` values: root's alone, made so before
    // redb writes anything into the file.
    crate::private::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .and_then(|f| crate::private::fix_open_file(&f, crate::private::FILE_MODE))
        .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let db = redb::Database::builder()
        .set_cache_size(2 << 20)
        .create(path)?;
    let w = db.begin_write()?;
    for t in Table::ALL {
        w.open_table(t.def())?;
    }
    w.commit()?;
    Ok(db)
}

impl Db {
    pub fn open(path: &Path) -> Result<Self> {
        let db = open_database(path)?;
        Ok(Db {
            path: path.to_path_buf(),
            db: RwLock::new(Some(db)),
            broken: AtomicBool::new(false),
        })
    }

    /// Drop the handle and open the file again (redb repairs it if needed).
    fn reopen(&self) -> Result<()> {
        let mut g = self
            .db
            .write()
            .map_err(|_| Error::Db("metadata lock poisoned".into()))?;
        if !self.broken.load(Ordering::SeqCst) {
            return Ok(()); // another caller reopened it meanwhile
        }
        // The old handle must be closed before the file can be opened again.
        *g = None;
        let db = open_database(&self.path)?;
        *g = Some(db);
        self.broken.store(false, Ordering::SeqCst);
        tracing::warn!(path = %self.path.display(), "metadata database reopened after an I/O error");
        Ok(())
    }

    /// Run `op` on the current handle; reopen first when an earlier call hit
    /// an I/O error, and once more when `op` finds the handle poisoned by
    /// someone else's error.
    fn run<T>(&self, op: impl Fn(&redb::Database) -> Result<T, redb::Error>) -> Result<T> {
        let mut retried = false;
        loop {
            if self.broken.load(Ordering::SeqCst) {
                self.reopen()?;
            }
            let r = {
                let g = self
                    .db
                    .read()
                    .map_err(|_| Error::Db("metadata lock poisoned".into()))?;
                match g.as_ref() {
                    Some(db) => op(db),
                    None => Err(redb::Error::DatabaseClosed),
                }
            };
            match r {
                Ok(v) => return Ok(v),
                Err(e) if needs_reopen(&e) => {
                    self.broken.store(true, Ordering::SeqCst);
                    // This call's own I/O error is reported; a handle
                    // poisoned earlier is reopened and the call retried.
                    if !retried && !matches!(e, redb::Error::Io(_)) {
                        retried = true;
                        continue;
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn get<T: DeserializeOwned>(&self, t: Table, key: &str) -> Result<Option<T>> {
        match self.get_raw(t, key)? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// A value stored as is (see `put_raw`).
    pub fn get_raw(&self, t: Table, key: &str) -> Result<Option<Vec<u8>>> {
        self.run(|db| {
            let r = db.begin_read()?;
            let table = r.open_table(t.def())?;
            Ok(table.get(key)?.map(|v| v.value().to_vec()))
        })
    }

    pub fn put<T: Serialize>(&self, t: Table, key: &str, value: &T) -> Result<()> {
        self.put_raw(t, key, &serde_json::to_vec(value)?)
    }

    /// Store bytes as they are (no JSON encoding).
    pub fn put_raw(&self, t: Table, key: &str, bytes: &[u8]) -> Result<()> {
        self.run(|db| {
            let w = db.begin_write()?;
            {
                let mut table = w.open_table(t.def())?;
                table.insert(key, bytes)?;
            }
            w.commit()?;
            Ok(())
        })
    }

    /// Insert only if absent; false when the key exists.
    pub fn create<T: Serialize>(&self, t: Table, key: &str, value: &T) -> Result<bool> {
        let bytes = serde_json::to_vec(value)?;
        self.run(|db| {
            let w = db.begin_write()?;
            {
                let mut table = w.open_table(t.def())?;
                if table.get(key)?.is_some() {
                    return Ok(false);
                }
                table.insert(key, bytes.as_slice())?;
            }
            w.commit()?;
            Ok(true)
        })
    }

    pub fn delete(&self, t: Table, key: &str) -> Result<bool> {
        self.run(|db| {
            let w = db.begin_write()?;
            let existed = {
                let mut table = w.open_table(t.def())?;
                let r = table.remove(key)?;
                r.is_some()
            };
            w.commit()?;
            Ok(existed)
        })
    }

    /// Store `value` under `new_key` and delete `old_key`, in one transaction.
    pub fn rename<T: Serialize>(
        &self,
        t: Table,
        old_key: &str,
        new_key: &str,
        value: &T,
    ) -> Result<()> {
        let bytes = serde_json::to_vec(value)?;
        self.run(|db| {
            let w = db.begin_write()?;
            {
                let mut table = w.open_table(t.def())?;
                table.insert(new_key, bytes.as_slice())?;
                table.remove(old_key)?;
            }
            w.commit()?;
            Ok(())
        })
    }

    /// All records whose key starts with `prefix`, key order.
    pub fn list<T: DeserializeOwned>(&self, t: Table, prefix: &str) -> Result<Vec<(String, T)>> {
        let raw = self.run(|db| {
            let r = db.begin_read()?;
            let table = r.open_table(t.def())?;
            let mut out = Vec::new();
            for item in table.range::<&str>(prefix..)? {
                let (k, v) = item?;
                let k = k.value();
                if !k.starts_with(prefix) {
                    break;
                }
                out.push((k.to_string(), v.value().to_vec()));
            }
            Ok(out)
        })?;
        let mut out = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            match serde_json::from_slice(&v) {
                Ok(val) => out.push((k, val)),
                Err(e) => tracing::warn!(key = k, "skipping undecodable record: {e}"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("meta.redb")).unwrap();
        db.put(Table::Images, &ns_key("default", "a:1"), &1u32)
            .unwrap();
        db.put(Table::Images, &ns_key("default", "b:1"), &2u32)
            .unwrap();
        db.put(Table::Images, &ns_key("k8s.io", "a:1"), &3u32)
            .unwrap();
        assert!(!db
            .create(Table::Images, &ns_key("default", "a:1"), &9u32)
            .unwrap());
        let l: Vec<(String, u32)> = db.list(Table::Images, "default/").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(db.get::<u32>(Table::Images, "k8s.io/a:1").unwrap(), Some(3));
        assert!(db.delete(Table::Images, "k8s.io/a:1").unwrap());
        assert_eq!(db.get::<u32>(Table::Images, "k8s.io/a:1").unwrap(), None);
        assert!(validate_namespace("k8s.io").is_ok());
        assert!(validate_namespace("../x").is_err());
    }
}
