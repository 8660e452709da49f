//! ADD's local archives: which files are archives (a tar, plain or gzip,
//! bzip2, xz or zstd compressed, told by magic bytes, as Docker does) and
//! their unpacking into a directory of the rootfs, confined to it as
//! Docker's chrooted untar is: paths and symlinks resolve inside the
//! destination (an absolute path or link starts again from it), an entry
//! naming `..` above it fails the build naming the entry, a hard link
//! links only what is inside, devices and fifos are made as nodes, and an
//! entry replaces what is in its way (a directory merges into one).

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

use super::copy::{make_dirs, set_attrs, Attrs};
use super::rootpath;
use crate::error::{Error, Result};
use crate::snapshots::fsops::{lchown, lset_xattr, mknod, remove_any, set_mtime};

/// How an ADD source archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// The kind of archive `path` is, None when it is no archive (ADD then
/// copies it as a file).
pub fn archive_kind(path: &Path) -> Option<ArchiveKind> {
    let mut head = [0u8; 512];
    let mut f = fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    let head = &head[..n];
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(ArchiveKind::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(ArchiveKind::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(ArchiveKind::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(ArchiveKind::Zstd)
    } else if n >= 262 && &head[257..262] == b"ustar" {
        Some(ArchiveKind::Tar)
    } else {
        None
    }
}

fn open_archive(path: &Path, kind: ArchiveKind) -> Result<tar::Archive<Box<dyn Read>>> {
    let f = fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let f = std::io::BufReader::new(f);
    let reader: Box<dyn Read> = match kind {
        ArchiveKind::Tar => Box::new(f),
        ArchiveKind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(f)),
        ArchiveKind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(f)),
        ArchiveKind::Xz => Box::new(XzReader::new(f)?),
        ArchiveKind::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(f).map_err(|e| Error::io("zstd decoder", e))?)
        }
    };
    Ok(tar::Archive::new(reader))
}

/// An xz stream decoded: lzma-rs decodes from a reader into a writer, so
/// it runs on a thread of its own into a pipe read here; a decoding error
/// comes out at the end of the stream (a cut stream is no short archive).
struct XzReader {
    pipe: std::io::PipeReader,
    decoder: Option<std::thread::JoinHandle<std::result::Result<(), String>>>,
}

impl XzReader {
    fn new(mut input: impl std::io::BufRead + Send + 'static) -> Result<XzReader> {
        let (pipe, mut w) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
        let decoder = std::thread::spawn(move || {
            lzma_rs::xz_decompress(&mut input, &mut w).map_err(|e| e.to_string())
        });
        Ok(XzReader {
            pipe,
            decoder: Some(decoder),
        })
    }
}

impl Read for XzReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(d) = self.decoder.take() {
                match d.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(std::io::Error::other(format!("xz: {e}"))),
                    Err(_) => return Err(std::io::Error::other("xz: the decoder failed")),
                }
            }
        }
        Ok(n)
    }
}

/// Unpack archive `path` into the directory `dest` (a container path) of
/// `rootfs`, owners, modes and times as in the archive, nothing outside
/// `dest`.
pub fn extract_into(rootfs: &Path, path: &Path, kind: ArchiveKind, dest: &str) -> Result<()> {
    make_dirs(rootfs, dest, &Attrs::default())?;
    let dir = rootpath::resolve(rootfs, dest, true)?;
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut a = open_archive(path, kind)?;
    let bad =
        |what: &str, e: std::io::Error| Error::InvalidArgument(format!("ADD {name}: {what}{e}"));
    // Directories get their times once all that goes into them is written.
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    for entry in a.entries().map_err(|e| bad("", e))? {
        let mut entry = entry.map_err(|e| bad("", e))?;
        let raw = entry.path().map_err(|e| bad("", e))?.into_owned();
        let shown = raw.display().to_string();
        let err = |e: Error| Error::InvalidArgument(format!("ADD {name}: entry {shown}: {e}"));
        let Some(rel) = inside(&raw) else {
            return Err(err(Error::InvalidArgument(format!(
                "{shown:?} is outside of {dest:?}"
            ))));
        };
        if let Some(mtime) = unpack_entry(&dir, &rel, &mut entry).map_err(err)? {
            dir_times.push((
                rootpath::resolve(&dir, &rel.to_string_lossy(), true)?,
                mtime,
            ));
        }
    }
    // The end of the stream too: a compressed stream's check (or a cut
    // one) is only seen there.
    std::io::copy(&mut a.into_inner(), &mut std::io::sink()).map_err(|e| bad("", e))?;
    for (p, mtime) in dir_times.iter().rev() {
        set_mtime(p, *mtime);
    }
    Ok(())
}

/// `p` as a path relative to the destination: root and `.` components
/// dropped; None when a `..` leaves it.
fn inside(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// Write one entry at `rel` under `dir`; for a directory, its mtime (set
/// at the end).
fn unpack_entry(
    dir: &Path,
    rel: &Path,
    entry: &mut tar::Entry<'_, Box<dyn Read>>,
) -> Result<Option<u64>> {
    let h = entry.header().clone();
    let num = |r: std::io::Result<u64>| r.map_err(|e| Error::InvalidArgument(e.to_string()));
    let (uid, gid) = (num(h.uid())? as u32, num(h.gid())? as u32);
    let mode = num(h.mode().map(u64::from))? as u32 & 0o7777;
    let mtime = num(h.mtime())?;
    let kind = h.entry_type();
    if kind.is_pax_global_extensions() || kind.is_gnu_longname() || kind.is_gnu_longlink() {
        return Ok(None);
    }
    // The parent resolved inside `dir` (made when missing), the entry's own
    // name not followed.
    let target = match (rel.parent(), rel.file_name()) {
        (Some(parent), Some(file)) => {
            let parent = parent.to_string_lossy();
            make_dirs(dir, &parent, &Attrs::default())?;
            rootpath::resolve(dir, &parent, true)?.join(file)
        }
        // The archive's root (`./`): its owner and mode go to `dir`.
        _ => {
            if kind.is_dir() {
                set_attrs(dir, &owner(uid, gid), mode)?;
                return Ok(Some(mtime));
            }
            return Err(Error::InvalidArgument("not a directory".into()));
        }
    };
    let existing = fs::symlink_metadata(&target).ok();
    if kind.is_dir() {
        if !existing.as_ref().is_some_and(|m| m.is_dir()) {
            remove_any(&target)?;
            fs::create_dir(&target).map_err(|e| Error::io("mkdir", e))?;
        }
        set_attrs(&target, &owner(uid, gid), mode)?;
        set_xattrs(&target, entry);
        return Ok(Some(mtime));
    }
    remove_any(&target)?;
    match kind {
        EntryType::Symlink => {
            let link = entry
                .link_name()
                .map_err(|e| Error::InvalidArgument(e.to_string()))?
                .ok_or_else(|| Error::InvalidArgument("symlink without a target".into()))?;
            symlink(&link, &target).map_err(|e| Error::io("symlink", e))?;
            lchown(&target, uid, gid)?;
        }
        EntryType::Link => {
            let link = entry
                .link_name()
                .map_err(|e| Error::InvalidArgument(e.to_string()))?
                .ok_or_else(|| Error::InvalidArgument("hard link without a target".into()))?;
            let Some(rel_src) = inside(&link) else {
                return Err(Error::InvalidArgument(format!(
                    "hard link to {:?} outside of the destination",
                    link.display()
                )));
            };
            let src = rootpath::resolve(dir, &rel_src.to_string_lossy(), false)?;
            match fs::symlink_metadata(&src) {
                Ok(m) if !m.is_dir() => {}
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "hard link to {:?}: no such file in the archive",
                        link.display()
                    )))
                }
            }
            fs::hard_link(&src, &target).map_err(|e| Error::io("hard link", e))?;
            return Ok(None);
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            let node = match kind {
                EntryType::Char => libc::S_IFCHR,
                EntryType::Block => libc::S_IFBLK,
                _ => libc::S_IFIFO,
            };
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            mknod(&target, node, major, minor)?;
            set_attrs(&target, &owner(uid, gid), mode)?;
        }
        // Anything else is a file, as POSIX tar says.
        _ => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o600)
                .open(&target)
                .map_err(|e| Error::io("create", e))?;
            std::io::copy(entry, &mut f).map_err(|e| Error::io("write", e))?;
            drop(f);
            set_attrs(&target, &owner(uid, gid), mode)?;
        }
    }
    set_xattrs(&target, entry);
    set_mtime(&target, mtime);
    Ok(None)
}

/// The entry's PAX `SCHILY.xattr.*` records on `target` (after its owner:
/// a chown drops `security.capability`), as Docker's untar: those a
/// layer carries; one the file system refuses is left out.
fn set_xattrs(target: &Path, entry: &mut tar::Entry<'_, Box<dyn Read>>) {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return;
    };
    for ext in exts.flatten() {
        let Some(name) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) else {
            continue;
        };
        if !super::xattrs::is_carried(name) {
            continue;
        }
        if let Err(e) = lset_xattr(target, name, ext.value_bytes()) {
            tracing::debug!(path = ?target, name, "xattr not set: {e}");
        }
    }
}

fn owner(uid: u32, gid: u32) -> Attrs {
    Attrs {
        uid,
        gid,
        ..Attrs::default()
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
