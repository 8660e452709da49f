//! Applying a layer tar to a snapshot directory, refusing hostile entries.
//!
//! With the overlay driver the tar is written into the new layer's own
//! (empty) upper directory, and OCI whiteouts become overlay whiteouts:
//! `.wh.NAME` → a 0:0 character device NAME, `.wh..wh..opq` → the
//! `trusted.overlay.opaque=y` xattr on the directory. With the copy driver
//! the directory already holds the parent's tree and whiteouts delete.
//!
//! Refused (the layer fails, nothing is written outside the target):
//! absolute paths, `..` components, any path whose parent is a symlink
//! (in this layer or a lower one), hardlinks whose target is outside or
//! missing, and device nodes unless allowed.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::snapshots::fsops::{lchown, lset_xattr, mknod, remove_any, set_mtime, set_xattr};
use crate::snapshots::space::{human, SpaceLimit, CHECK_EVERY};

const WH_PREFIX: &str = ".wh.";
const WH_OPAQUE: &str = ".wh..wh..opq";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    Overlay,
    Delete,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub whiteouts: WhiteoutMode,
    pub allow_devices: bool,
    /// Free space to leave and the largest file allowed.
    pub space: SpaceLimit,
}

/// Result of applying a layer.
#[derive(Debug, Clone)]
pub struct Applied {
    /// sha256 of the uncompressed tar (the layer's diff ID).
    pub diff_id: Digest,
    pub uncompressed_size: u64,
}

/// A reader that hashes what passes through.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    n: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
}

fn hostile(msg: String) -> Error {
    Error::HostileLayer(msg)
}

/// Turn a tar path into a clean relative path, refusing escapes.
fn clean(p: &Path) -> Result<Option<PathBuf>> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(hostile(format!("absolute path {:?} in layer", p)))
            }
            Component::ParentDir => {
                return Err(hostile(format!("path {:?} escapes the layer with ..", p)))
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Apply an uncompressed tar stream to `target`.
pub fn apply_tar<R: Read>(
    reader: R,
    target: &Path,
    lowers: &[PathBuf],
    opts: &ApplyOptions,
) -> Result<Applied> {
    let mut hr = HashingReader {
        inner: reader,
        hasher: Hasher::new(crate::digest::Algorithm::Sha256),
        n: 0,
    };
    {
        let mut ar = tar::Archive::new(&mut hr);
        let mut ap = Applier {
            root: target,
            lowers,
            opts,
            written: HashSet::new(),
            dirs: Vec::new(),
            entries: 0,
        };
        let entries = ar.entries().map_err(|e| Error::io("read layer tar", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| Error::io("read layer tar entry", e))?;
            ap.entry(&mut entry)?;
        }
        ap.finish_dirs();
    }
    // Hash the tar's trailing blocks too: the diff ID covers the whole stream.
    io::copy(&mut hr, &mut io::sink()).map_err(|e| Error::io("read layer tail", e))?;
    Ok(Applied {
        diff_id: hr.hasher.finish(),
        uncompressed_size: hr.n,
    })
}

struct Applier<'a> {
    root: &'a Path,
    lowers: &'a [PathBuf],
    opts: &'a ApplyOptions,
    /// Paths written by this layer (for opaque dirs with the copy driver).
    written: HashSet<PathBuf>,
    /// Directories whose mtime is set at the end.
    dirs: Vec<(PathBuf, u64)>,
    /// Entries seen (free space is re-checked every so many).
    entries: u64,
}

impl Applier<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let raw_path = entry
            .path()
            .map_err(|e| Error::io("tar entry path", e))?
            .into_owned();
        let Some(rel) = clean(&raw_path)? else {
            return Ok(()); // the root itself
        };
        self.entries += 1;
        if self.entries.is_multiple_of(1024) {
            self.opts
                .space
                .check(self.root, 0, &|| format!("unpacking entry {:?}", raw_path))?;
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        let mtime = header.mtime().unwrap_or(0);
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let parent_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();

        // Whiteouts.
        if name == WH_OPAQUE {
            let dir = self.ensure_parents(&rel)?;
            match self.opts.whiteouts {
                WhiteoutMode::Overlay => set_xattr(&dir, "trusted.overlay.opaque", b"y")?,
                WhiteoutMode::Delete => {
                    if let Ok(rd) = fs::read_dir(&dir) {
                        for e in rd.flatten() {
                            let child = parent_rel.join(e.file_name());
                            if !self.written.contains(&child) {
                                remove_any(&e.path())?;
                            }
                        }
                    }
                }
            }
            return Ok(());
        }
        if let Some(hidden) = name.strip_prefix(WH_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.contains('/') {
                return Err(hostile(format!("bad whiteout {:?}", raw_path)));
            }
            let dir = self.ensure_parents(&rel)?;
            let victim = dir.join(hidden);
            match self.opts.whiteouts {
                WhiteoutMode::Overlay => {
                    remove_any(&victim)?;
                    mknod(&victim, libc::S_IFCHR, 0, 0)?;
                }
                WhiteoutMode::Delete => remove_any(&victim)?,
            }
            return Ok(());
        }

        let dir = self.ensure_parents(&rel)?;
        let dest = dir.join(rel.file_name().unwrap_or_else(|| OsStr::new("")));
        let existing = fs::symlink_metadata(&dest).ok();
        // Replace what is there unless both are directories.
        if let Some(md) = &existing {
            if !(md.is_dir() && kind == tar::EntryType::Directory) {
                remove_any(&dest)?;
            }
        }
        let ctx = |what: &str| format!("{what} {}", dest.display());
        match kind {
            tar::EntryType::Directory => {
                if existing.as_ref().is_none_or(|m| !m.is_dir()) {
                    fs::create_dir(&dest).map_err(|e| Error::io(ctx("mkdir"), e))?;
                }
                self.dirs.push((dest.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                // What the file will take once written (holes of a sparse
                // file are written out as zeros).
                let claimed = header
                    .as_gnu()
                    .filter(|_| kind == tar::EntryType::GNUSparse)
                    .and_then(|g| g.real_size().ok())
                    .unwrap_or(0)
                    .max(entry.size());
                let max = self.opts.space.max_file_size;
                if max > 0 && claimed > max {
                    return Err(hostile(format!(
                        "file {:?} claims {}, more than max_layer_file_size {}",
                        raw_path,
                        human(claimed),
                        human(max)
                    )));
                }
                self.opts.space.check(self.root, claimed, &|| {
                    format!("unpacking file {:?} ({})", raw_path, human(claimed))
                })?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&dest)
                    .map_err(|e| Error::io(ctx("create"), e))?;
                self.copy_bounded(entry, &mut f, &raw_path)
                    .map_err(|e| match e {
                        Error::Io { source, .. } => Error::io(ctx("write"), source),
                        e => e,
                    })?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| Error::io("symlink target", e))?
                    .ok_or_else(|| hostile(format!("symlink {:?} without target", raw_path)))?;
                symlink(&target, &dest).map_err(|e| Error::io(ctx("symlink"), e))?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(|e| Error::io("hardlink target", e))?
                    .ok_or_else(|| hostile(format!("hardlink {:?} without target", raw_path)))?;
                let link_rel = clean(&link)?
                    .ok_or_else(|| hostile(format!("hardlink {:?} to the root", raw_path)))?;
                let src_dir = self.check_parents_only(&link_rel)?;
                let src = src_dir.join(link_rel.file_name().unwrap_or_else(|| OsStr::new("")));
                match fs::symlink_metadata(&src) {
                    Ok(md) if md.is_file() => {
                        fs::hard_link(&src, &dest).map_err(|e| Error::io(ctx("link"), e))?
                    }
                    Ok(_) => {
                        return Err(hostile(format!(
                            "hardlink {:?} points to a non-regular file {:?}",
                            raw_path, link
                        )))
                    }
                    Err(_) => {
                        // The target is in a lower layer: copy it up.
                        let lower = self.find_lower(&link_rel).ok_or_else(|| {
                            hostile(format!(
                                "hardlink {:?} points to missing {:?}",
                                raw_path, link
                            ))
                        })?;
                        let lmd = fs::symlink_metadata(&lower)
                            .map_err(|e| Error::io(ctx("stat lower"), e))?;
                        if !lmd.is_file() {
                            return Err(hostile(format!(
                                "hardlink {:?} points to a non-regular file",
                                raw_path
                            )));
                        }
                        self.opts.space.check(self.root, lmd.len(), &|| {
                            format!("copying up {:?} ({})", link, human(lmd.len()))
                        })?;
                        fs::copy(&lower, &dest).map_err(|e| Error::io(ctx("copy up"), e))?;
                    }
                }
                self.written.insert(rel);
                return Ok(()); // a hardlink shares the target's metadata
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                if !self.opts.allow_devices {
                    return Err(hostile(format!(
                        "device node {:?} in layer (not allowed)",
                        raw_path
                    )));
                }
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let t = if kind == tar::EntryType::Char {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                mknod(&dest, t, major, minor)?;
            }
            tar::EntryType::Fifo => mknod(&dest, libc::S_IFIFO, 0, 0)?,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => return Ok(()),
            other => {
                tracing::warn!(path = ?raw_path, ?other, "skipping unsupported tar entry type");
                return Ok(());
            }
        }
        // Extended attributes from PAX records (e.g. security.capability).
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                if let Ok(key) = ext.key() {
                    if let Some(attr) = key.strip_prefix("SCHILY.xattr.") {
                        if let Err(e) = lset_xattr(&dest, attr, ext.value_bytes()) {
                            tracing::debug!(path = ?dest, attr, "xattr not set: {e}");
                        }
                    }
                }
            }
        }
        lchown(&dest, uid, gid)?;
        if kind != tar::EntryType::Symlink {
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io(ctx("chmod"), e))?;
        }
        if kind != tar::EntryType::Directory {
            set_mtime(&dest, mtime);
        }
        self.written.insert(rel);
        Ok(())
    }

    /// Copy a file's data, re-checking free space as it grows (other
    /// writers share the file system).
    fn copy_bounded<R: Read>(&self, from: &mut R, to: &mut File, raw_path: &Path) -> Result<()> {
        use std::io::Write;
        let mut buf = vec![0u8; 128 * 1024];
        let mut since = 0u64;
        let mut total = 0u64;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read layer", e)),
            };
            to.write_all(&buf[..n]).map_err(|e| Error::io("write", e))?;
            since += n as u64;
            total += n as u64;
            if since >= CHECK_EVERY {
                since = 0;
                self.opts.space.check(self.root, 0, &|| {
                    format!("unpacking file {:?} ({} written)", raw_path, human(total))
                })?;
            }
        }
    }

    /// Check every ancestor of `rel` inside the target: directories only,
    /// never a symlink. Returns the parent directory path; missing parents
    /// are created (copying mode and owner from a lower layer's directory).
    fn ensure_parents(&mut self, rel: &Path) -> Result<PathBuf> {
        let mut cur = self.root.to_path_buf();
        let mut cur_rel = PathBuf::new();
        let comps: Vec<_> = rel.components().collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            cur.push(c);
            cur_rel.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(md) if md.is_dir() => {}
                Ok(md) if md.file_type().is_symlink() => {
                    return Err(hostile(format!(
                        "path {:?} goes through symlink {:?}",
                        rel, cur_rel
                    )))
                }
                Ok(_) => {
                    return Err(hostile(format!(
                        "path {:?}: parent {:?} is not a directory",
                        rel, cur_rel
                    )))
                }
                Err(_) => {
                    let (mode, uid, gid) = match self.find_lower(&cur_rel) {
                        Some(l) => {
                            let md = fs::symlink_metadata(&l)
                                .map_err(|e| Error::io(format!("stat {}", l.display()), e))?;
                            if md.file_type().is_symlink() {
                                return Err(hostile(format!(
                                    "path {:?} goes through symlink {:?} of a lower layer",
                                    rel, cur_rel
                                )));
                            }
                            if !md.is_dir() {
                                return Err(hostile(format!(
                                    "path {:?}: parent {:?} is not a directory",
                                    rel, cur_rel
                                )));
                            }
                            use std::os::unix::fs::MetadataExt;
                            (md.mode() & 0o7777, md.uid(), md.gid())
                        }
                        None => (0o755, 0, 0),
                    };
                    fs::create_dir(&cur)
                        .map_err(|e| Error::io(format!("mkdir {}", cur.display()), e))?;
                    lchown(&cur, uid, gid)?;
                    fs::set_permissions(&cur, fs::Permissions::from_mode(mode))
                        .map_err(|e| Error::io(format!("chmod {}", cur.display()), e))?;
                }
            }
        }
        Ok(cur)
    }

    /// Like ensure_parents but creates nothing (for hardlink sources).
    fn check_parents_only(&self, rel: &Path) -> Result<PathBuf> {
        let mut cur = self.root.to_path_buf();
        let comps: Vec<_> = rel.components().collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            cur.push(c);
            if let Ok(md) = fs::symlink_metadata(&cur) {
                if md.file_type().is_symlink() {
                    return Err(hostile(format!(
                        "hardlink target {:?} goes through a symlink",
                        rel
                    )));
                }
            }
        }
        for l in self.lowers {
            let mut p = l.clone();
            for c in &comps[..comps.len().saturating_sub(1)] {
                p.push(c);
                if let Ok(md) = fs::symlink_metadata(&p) {
                    if md.file_type().is_symlink() {
                        return Err(hostile(format!(
                            "hardlink target {:?} goes through a symlink",
                            rel
                        )));
                    }
                }
            }
        }
        Ok(cur)
    }

    /// The topmost lower layer's path for `rel`, if any has it.
    fn find_lower(&self, rel: &Path) -> Option<PathBuf> {
        for l in self.lowers {
            // Refuse to look through symlinks in lowers, too.
            let mut p = l.clone();
            let mut ok = true;
            let comps: Vec<_> = rel.components().collect();
            for (i, c) in comps.iter().enumerate() {
                p.push(c);
                match fs::symlink_metadata(&p) {
                    Ok(md) if i + 1 < comps.len() && !md.is_dir() => {
                        ok = false;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return Some(p);
            }
        }
        None
    }

    fn finish_dirs(&mut self) {
        for (d, mtime) in self.dirs.drain(..).rev() {
            set_mtime(&d, mtime);
        }
    }
}

/// Open a file for reading (helper for callers that apply from a blob).
pub fn open(p: &Path) -> Result<File> {
    File::open(p).map_err(|e| Error::io(format!("open {}", p.display()), e))
}

#[cfg(test)]
mod tests;
