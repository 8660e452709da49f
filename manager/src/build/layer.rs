//! A build step's layer: the diff held in an overlay upper directory,
//! written as a reproducible tar. Entries come in sorted path order with
//! normalized metadata (no atime/ctime, no user or group names, mtimes
//! clamped to SOURCE_DATE_EPOCH when given); overlay whiteouts (0:0
//! character devices) become `.wh.NAME` entries and opaque directories
//! (`trusted.overlay.opaque=y`) a `.wh..wh..opq` entry, as the OCI image
//! spec writes deletions.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::images::Compression;

/// How layers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerOptions {
    pub compression: Compression,
    /// SOURCE_DATE_EPOCH: no entry's mtime is later than this.
    pub epoch: Option<i64>,
}

/// A written layer: the digests of its tar and of its compressed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub diff_id: Digest,
    pub digest: Digest,
    pub size: u64,
    /// Entries in the tar (0: the step changed nothing).
    pub entries: usize,
}

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// One entry of the diff, in tar order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A file, directory, link or device of the upper dir.
    Node { rel: PathBuf },
    /// A deletion: `.wh.NAME` for `rel` = `dir/NAME`.
    Whiteout { rel: PathBuf },
    /// The directory `rel` hides everything below it in the lowers.
    Opaque { rel: PathBuf },
}

/// The diff of `upper` in tar order: each directory before its content,
/// names sorted bytewise.
fn walk(upper: &Path) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    walk_dir(upper, Path::new(""), &mut out)?;
    Ok(out)
}

fn walk_dir(upper: &Path, rel: &Path, out: &mut Vec<Item>) -> Result<()> {
    let dir = upper.join(rel);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| Error::io(format!("read {}", dir.display()), e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let rel = rel.join(&name);
        let path = upper.join(&rel);
        let md = fs::symlink_metadata(&path)
            .map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            out.push(Item::Whiteout { rel });
            continue;
        }
        out.push(Item::Node { rel: rel.clone() });
        if ft.is_dir() {
            if is_opaque(&path) {
                out.push(Item::Opaque { rel: rel.clone() });
            }
            walk_dir(upper, &rel, out)?;
        }
    }
    Ok(())
}

pub(super) fn is_opaque(path: &Path) -> bool {
    matches!(xattr_get(path, OPAQUE_XATTR), Some(v) if v == b"y")
}

/// An extended attribute of `path` (not following a symlink).
fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: p and n are NUL-terminated; buf is valid for buf.len() bytes.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

/// Counts and hashes what passes through.
struct Tee<W: Write> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> Tee<W> {
    fn new(inner: W) -> Self {
        Tee {
            inner,
            hasher: Hasher::new(Algorithm::Sha256),
            count: 0,
        }
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Write the diff held in `upper` as a compressed layer to `out`.
pub fn write_layer<W: Write>(upper: &Path, opts: &LayerOptions, out: W) -> Result<Written> {
    let items = walk(upper)?;
    let mut blob = Tee::new(out);
    let diff_id = {
        let compressed: Box<dyn Write + '_> = match opts.compression {
            Compression::None => Box::new(&mut blob),
            Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
                &mut blob,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Box::new(
                zstd::stream::write::Encoder::new(&mut blob, 3)
                    .map_err(|e| Error::io("zstd encoder", e))?
                    .auto_finish(),
            ),
        };
        let mut tee = Tee::new(compressed);
        write_tar(upper, &items, opts.epoch, &mut tee)?;
        tee.flush().map_err(|e| Error::io("write layer", e))?;
        let Tee { inner, hasher, .. } = tee;
        drop(inner); // finishes the compressor
        hasher.finish()
    };
    blob.flush().map_err(|e| Error::io("write layer", e))?;
    Ok(Written {
        diff_id,
        digest: blob.hasher.finish(),
        size: blob.count,
        entries: items.len(),
    })
}

fn write_tar<W: Write>(upper: &Path, items: &[Item], epoch: Option<i64>, out: W) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Deterministic);
    let werr = |e: io::Error| Error::io("write layer tar", e);
    // First path of each inode with several links: later ones are hard links.
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for item in items {
        match item {
            Item::Whiteout { rel } => {
                let name = rel.file_name().map(|n| n.to_string_lossy().into_owned());
                let wh =
                    rel.with_file_name(format!("{WHITEOUT_PREFIX}{}", name.unwrap_or_default()));
                let h = marker_header(upper, rel.parent(), epoch);
                b.append_data(&mut h.clone(), &wh, io::empty())
                    .map_err(werr)?;
            }
            Item::Opaque { rel } => {
                let h = marker_header(upper, Some(rel), epoch);
                b.append_data(&mut h.clone(), rel.join(OPAQUE_MARKER), io::empty())
                    .map_err(werr)?;
            }
            Item::Node { rel } => {
                let path = upper.join(rel);
                let md = fs::symlink_metadata(&path)
                    .map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
                let mut h = header_of(&md, epoch);
                let attrs = super::xattrs::carried(&path)?;
                if !attrs.is_empty() {
                    let mut x = h.clone();
                    let records = super::xattrs::pax_records(&attrs);
                    x.set_entry_type(tar::EntryType::XHeader);
                    x.set_mode(0o644);
                    x.set_uid(0);
                    x.set_gid(0);
                    x.set_size(records.len() as u64);
                    b.append_data(&mut x, "././@PaxHeader", &records[..])
                        .map_err(werr)?;
                }
                let ft = md.file_type();
                if ft.is_file() && md.nlink() > 1 {
                    let key = (md.dev(), md.ino());
                    if let Some(first) = links.get(&key) {
                        h.set_entry_type(tar::EntryType::Link);
                        h.set_size(0);
                        b.append_link(&mut h, rel, first).map_err(werr)?;
                        continue;
                    }
                    links.insert(key, rel.clone());
                }
                if ft.is_file() {
                    let f = fs::File::open(&path)
                        .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
                    b.append_data(&mut h, rel, f).map_err(werr)?;
                } else if ft.is_symlink() {
                    let target = fs::read_link(&path)
                        .map_err(|e| Error::io(format!("readlink {}", path.display()), e))?;
                    b.append_link(&mut h, rel, target).map_err(werr)?;
                } else if ft.is_dir() {
                    let mut name = rel.as_os_str().to_os_string();
                    name.push("/");
                    b.append_data(&mut h, name, io::empty()).map_err(werr)?;
                } else {
                    b.append_data(&mut h, rel, io::empty()).map_err(werr)?;
                }
            }
        }
    }
    b.finish().map_err(werr)?;
    Ok(())
}

fn clamp(mtime: i64, epoch: Option<i64>) -> u64 {
    let t = match epoch {
        Some(e) if mtime > e => e,
        _ => mtime,
    };
    t.max(0) as u64
}

/// A tar header for `md`: type, mode, owner, size and clamped mtime only.
fn header_of(md: &fs::Metadata, epoch: Option<i64>) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        tar::EntryType::Directory
    } else if ft.is_symlink() {
        tar::EntryType::Symlink
    } else if ft.is_char_device() {
        tar::EntryType::Char
    } else if ft.is_block_device() {
        tar::EntryType::Block
    } else if ft.is_fifo() {
        tar::EntryType::Fifo
    } else {
        tar::EntryType::Regular
    };
    h.set_entry_type(kind);
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(u64::from(md.uid()));
    h.set_gid(u64::from(md.gid()));
    h.set_mtime(clamp(md.mtime(), epoch));
    h.set_size(if ft.is_file() { md.len() } else { 0 });
    if ft.is_char_device() || ft.is_block_device() {
        let rdev = md.rdev();
        let _ = h.set_device_major(libc::major(rdev));
        let _ = h.set_device_minor(libc::minor(rdev));
    }
    h
}

/// The header of a whiteout or opaque marker: an empty 0644 root file with
/// the mtime of the directory it sits in.
fn marker_header(upper: &Path, dir: Option<&Path>, epoch: Option<i64>) -> tar::Header {
    let mtime = fs::symlink_metadata(upper.join(dir.unwrap_or(Path::new(""))))
        .map(|m| m.mtime())
        .unwrap_or(0);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    h.set_mtime(clamp(mtime, epoch));
    h
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
