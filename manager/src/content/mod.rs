//! Content store: blobs by digest under `<root>/blobs/<algo>/<hex>`.
//!
//! Writes go to an ingest directory named after the writer's ref
//! (`<root>/ingest/<sha256(ref)>/data`), are verified for size and digest,
//! fsynced and renamed into place. A blob with the wrong digest is never
//! visible. Ingests survive restarts: reopening the same ref re-hashes what
//! is there and continues at its end (the registry pull then asks for the
//! rest with an HTTP Range request).

pub mod follow;

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, Hasher};
use crate::error::{Error, IoContext, Result};
pub use follow::Follow;

pub use hull_types::time::now_secs;

/// Stored facts about one blob.
#[derive(Debug, Clone)]
pub struct Info {
    pub digest: Digest,
    pub size: u64,
    pub created_at: i64,
}

/// State of an unfinished ingest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestStatus {
    #[serde(rename = "ref")]
    pub reference: String,
    pub expected: Option<String>,
    pub total: u64,
    #[serde(default)]
    pub offset: u64,
    pub started_at: i64,
    #[serde(default)]
    pub updated_at: i64,
}

/// The blob store.
#[derive(Clone)]
pub struct ContentStore {
    root: PathBuf,
    active: Arc<Mutex<HashSet<String>>>,
    /// Woken whenever a writer lets go of its ingest.
    released: Arc<tokio::sync::Notify>,
}

/// Ingests untouched this long are removed at start-up.
pub const INGEST_EXPIRY_SECS: i64 = 24 * 3600;

impl ContentStore {
    pub fn open(root: &Path) -> Result<Self> {
        for d in ["blobs/sha256", "blobs/sha512", "ingest"] {
            crate::private::dir(&root.join(d))
                .ctx(|| format!("create {}", root.join(d).display()))?;
        }
        Ok(ContentStore {
            root: root.to_path_buf(),
            active: Arc::new(Mutex::new(HashSet::new())),
            released: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a committed blob (whether or not it exists).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    pub fn exists(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub fn info(&self, d: &Digest) -> Result<Info> {
        let p = self.blob_path(d);
        let md = fs::metadata(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!("content {d}"))
            } else {
                Error::io(format!("stat {}", p.display()), e)
            }
        })?;
        let created_at = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Ok(Info {
            digest: d.clone(),
            size: md.len(),
            created_at,
        })
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!("content {d}"))
            } else {
                Error::io(format!("open {}", p.display()), e)
            }
        })
    }

    /// Read a whole (small) blob: manifests, configs.
    pub fn read_all(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut f = self.open_blob(d)?;
        let mut v = Vec::new();
        f.read_to_end(&mut v)
            .ctx(|| format!("read {}", self.blob_path(d).display()))?;
        Ok(v)
    }

    /// Store a small in-memory blob, verifying its digest.
    pub fn put_bytes(&self, expected: &Digest, data: &[u8]) -> Result<()> {
        if self.exists(expected) {
            return Ok(());
        }
        // A ref of its own: concurrent stores of the same bytes each write
        // their ingest and the renames into place are atomic.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut w = match self.writer(
            &format!("{PUT_PREFIX}{expected}-{seq}"),
            Some(expected.clone()),
            data.len() as u64,
        ) {
            Ok(w) => w,
            Err(Error::AlreadyExists(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        w.reset()?;
        w.write(data)?;
        w.commit()?;
        Ok(())
    }

    pub fn list(&self) -> Result<Vec<Info>> {
        let mut out = Vec::new();
        for algo in ["sha256", "sha512"] {
            let dir = self.root.join("blobs").join(algo);
            let rd = match fs::read_dir(&dir) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
            };
            for ent in rd.flatten() {
                let name = ent.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Ok(d) = format!("{algo}:{name}").parse::<Digest>() {
                    if let Ok(i) = self.info(&d) {
                        out.push(i);
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn delete(&self, d: &Digest) -> Result<()> {
        let p = self.blob_path(d);
        fs::remove_file(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!("content {d}"))
            } else {
                Error::io(format!("remove {}", p.display()), e)
            }
        })
    }

    fn ingest_dir(&self, reference: &str) -> PathBuf {
        self.root
            .join("ingest")
            .join(Digest::sha256_of(reference.as_bytes()).hex())
    }

    /// Status of the ingest `reference`, if one exists.
    pub fn status(&self, reference: &str) -> Result<IngestStatus> {
        let dir = self.ingest_dir(reference);
        read_status(&dir).ok_or_else(|| Error::NotFound(format!("ingest {reference}")))
    }

    pub fn list_statuses(&self) -> Result<Vec<IngestStatus>> {
        let dir = self.root.join("ingest");
        let mut out = Vec::new();
        for ent in fs::read_dir(&dir)
            .ctx(|| format!("read {}", dir.display()))?
            .flatten()
        {
            if let Some(s) = read_status(&ent.path()) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Remove an ingest (unless a writer holds it).
    pub fn abort(&self, reference: &str) -> Result<()> {
        if self.is_active(reference) {
            return Err(Error::FailedPrecondition(format!(
                "ingest {reference} is being written"
            )));
        }
        let dir = self.ingest_dir(reference);
        if !dir.exists() {
            return Err(Error::NotFound(format!("ingest {reference}")));
        }
        fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()))
    }

    /// Remove ingests nobody writes: all of them (`all`, for `system prune`)
    /// or those that cannot be resumed (small in-memory stores, unreadable
    /// status) and those untouched for `INGEST_EXPIRY_SECS` (start-up).
    /// Returns the bytes freed.
    pub fn cleanup_ingests(&self, all: bool) -> u64 {
        let dir = self.root.join("ingest");
        let Ok(rd) = fs::read_dir(&dir) else { return 0 };
        let mut freed = 0;
        for ent in rd.flatten() {
            let status = read_status(&ent.path());
            if let Some(s) = &status {
                if self.is_active(&s.reference) {
                    continue;
                }
            }
            let stale = match &status {
                None => true,
                Some(s) => {
                    all || s.reference.starts_with(PUT_PREFIX)
                        || now_secs() - s.updated_at > INGEST_EXPIRY_SECS
                }
            };
            if !stale {
                continue;
            }
            let size = status.map(|s| s.offset).unwrap_or(0);
            match fs::remove_dir_all(ent.path()) {
                Ok(()) => freed += size,
                Err(e) => tracing::warn!(path = %ent.path().display(), "remove ingest: {e}"),
            }
        }
        freed
    }

    fn is_active(&self, reference: &str) -> bool {
        self.active
            .lock()
            .map(|s| s.contains(reference))
            .unwrap_or(false)
    }

    /// Open (or resume) the ingest `reference`. When the expected blob is
    /// already present the error is `AlreadyExists`. An existing ingest for
    /// another digest or size is restarted from zero.
    pub fn writer(&self, reference: &str, expected: Option<Digest>, total: u64) -> Result<Writer> {
        self.try_writer(reference, expected, total)?.ok_or_else(|| {
            Error::FailedPrecondition(format!("ingest {reference} is locked by another writer"))
        })
    }

    /// Like `writer`, but while another writer holds `reference` wait for
    /// it to let go (as containerd does), then resume what it left or, when
    /// it committed the blob, answer `AlreadyExists`.
    pub async fn writer_wait(
        &self,
        reference: &str,
        expected: Option<Digest>,
        total: u64,
    ) -> Result<Writer> {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the attempt: a release in between is not missed.
            released.as_mut().enable();
            if let Some(w) = self.try_writer(reference, expected.clone(), total)? {
                return Ok(w);
            }
            tracing::debug!(reference, "ingest busy; waiting for its writer");
            released.await;
        }
    }

    /// Open the ingest; `None` while another writer holds it.
    fn try_writer(
        &self,
        reference: &str,
        expected: Option<Digest>,
        total: u64,
    ) -> Result<Option<Writer>> {
        if let Some(d) = &expected {
            if self.exists(d) {
                return Err(Error::AlreadyExists(format!("content {d}")));
            }
        }
        {
            let mut act = self
                .active
                .lock()
                .map_err(|_| Error::Db("content lock poisoned".into()))?;
            if !act.insert(reference.to_string()) {
                return Ok(None);
            }
        }
        let guard = ActiveGuard {
            set: self.active.clone(),
            reference: reference.to_string(),
            released: self.released.clone(),
        };
        // The previous writer may have committed just before letting go.
        if let Some(d) = &expected {
            if self.exists(d) {
                return Err(Error::AlreadyExists(format!("content {d}")));
            }
        }
        let dir = self.ingest_dir(reference);
        crate::private::dir(&dir).ctx(|| format!("create {}", dir.display()))?;
        let expected_s = expected.as_ref().map(|d| d.to_string());
        let mut status = match read_status(&dir) {
            Some(s) if s.expected == expected_s && s.total == total => s,
            _ => {
                let _ = fs::remove_file(dir.join("data"));
                IngestStatus {
                    reference: reference.to_string(),
                    expected: expected_s,
                    total,
                    offset: 0,
                    started_at: now_secs(),
                    updated_at: now_secs(),
                }
            }
        };
        let data = dir.join("data");
        let mut file = crate::private::options()
            .create(true)
            .read(true)
            .append(true)
            .open(&data)
            .ctx(|| format!("open {}", data.display()))?;
        crate::private::fix_open_file(&file, crate::private::FILE_MODE)
            .ctx(|| format!("chmod {}", data.display()))?;
        let algo = expected
            .as_ref()
            .map(|d| d.algorithm())
            .unwrap_or(crate::digest::Algorithm::Sha256);
        let mut hasher = Hasher::new(algo);
        // Resume: re-hash what an earlier writer left.
        let mut offset = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .ctx(|| format!("read {}", data.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            offset += n as u64;
        }
        if total > 0 && offset > total {
            file.set_len(0)
                .ctx(|| format!("truncate {}", data.display()))?;
            hasher = Hasher::new(algo);
            offset = 0;
        }
        status.offset = offset;
        let sjson = serde_json::to_vec(&status)?;
        crate::private::write(&dir.join("status.json"), sjson)
            .ctx(|| format!("write {}", dir.display()))?;
        Ok(Some(Writer {
            store: self.clone(),
            dir,
            file,
            hasher,
            offset,
            expected,
            total,
            algo,
            follow: None,
            _guard: guard,
        }))
    }
}

/// Ref prefix of `put_bytes` ingests (never resumed).
const PUT_PREFIX: &str = "put-";

fn read_status(dir: &Path) -> Option<IngestStatus> {
    let b = fs::read(dir.join("status.json")).ok()?;
    let mut s: IngestStatus = serde_json::from_slice(&b).ok()?;
    let md = fs::metadata(dir.join("data")).ok()?;
    s.offset = md.len();
    s.updated_at = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Some(s)
}

struct ActiveGuard {
    set: Arc<Mutex<HashSet<String>>>,
    reference: String,
    released: Arc<tokio::sync::Notify>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.reference);
        }
        self.released.notify_waiters();
    }
}

/// An open ingest.
pub struct Writer {
    store: ContentStore,
    dir: PathBuf,
    file: File,
    hasher: Hasher,
    offset: u64,
    expected: Option<Digest>,
    total: u64,
    algo: crate::digest::Algorithm,
    follow: Option<Arc<Follow>>,
    _guard: ActiveGuard,
}

impl Writer {
    /// Bytes already in the ingest.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn data_path(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Let readers follow the data file as it grows.
    pub fn set_follow(&mut self, f: Arc<Follow>) {
        f.advance(self.offset);
        self.follow = Some(f);
    }

    /// Start over at offset 0.
    pub fn reset(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .ctx(|| format!("truncate {}", self.dir.display()))?;
        self.hasher = Hasher::new(self.algo);
        self.offset = 0;
        if let Some(f) = &self.follow {
            f.restart();
        }
        Ok(())
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        if self.total > 0 && self.offset + data.len() as u64 > self.total {
            return Err(Error::SizeMismatch {
                digest: self
                    .expected
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                expected: self.total,
                actual: self.offset + data.len() as u64,
            });
        }
        self.file
            .write_all(data)
            .ctx(|| format!("write {}", self.dir.display()))?;
        self.hasher.update(data);
        self.offset += data.len() as u64;
        if let Some(f) = &self.follow {
            f.advance(self.offset);
        }
        Ok(())
    }

    /// Verify size and digest, then make the blob visible. On mismatch the
    /// ingest is discarded and nothing becomes visible.
    pub fn commit(self) -> Result<Digest> {
        let actual = self.hasher.clone().finish();
        let fail = |e: Error| {
            let _ = fs::remove_dir_all(&self.dir);
            if let Some(f) = &self.follow {
                f.finish(Err(e.to_string()));
            }
            Err(e)
        };
        if self.total > 0 && self.offset != self.total {
            return fail(Error::SizeMismatch {
                digest: self
                    .expected
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| actual.to_string()),
                expected: self.total,
                actual: self.offset,
            });
        }
        if let Some(exp) = &self.expected {
            if *exp != actual {
                return fail(Error::DigestMismatch {
                    expected: exp.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if let Err(e) = self.file.sync_all() {
            return fail(Error::io("fsync ingest", e));
        }
        let target = self.store.blob_path(&actual);
        if let Err(e) = fs::rename(self.dir.join("data"), &target) {
            return fail(Error::io(format!("rename to {}", target.display()), e));
        }
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(f) = &self.follow {
            f.finish(Ok(()));
        }
        Ok(actual)
    }

    /// Mark followers failed (download error) but keep the ingest for a
    /// later resume.
    pub fn fail(&self, msg: &str) {
        if let Some(f) = &self.follow {
            f.finish(Err(msg.to_string()));
        }
    }
}

#[cfg(test)]
mod tests;
