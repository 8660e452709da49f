//! The file system calls applying a layer makes (mknod, lchown, xattrs,
//! mtimes), with errors naming the path.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

pub(crate) fn remove_any(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => {
            fs::remove_dir_all(p).map_err(|e| Error::io(format!("remove {}", p.display()), e))
        }
        Ok(_) => fs::remove_file(p).map_err(|e| Error::io(format!("remove {}", p.display()), e)),
        Err(_) => Ok(()),
    }
}

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidArgument(format!("path with NUL: {}", p.display())))
}

pub(crate) fn mknod(p: &Path, kind: libc::mode_t, major: u32, minor: u32) -> Result<()> {
    let kind = nix::sys::stat::SFlag::from_bits_truncate(kind);
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
    let dev = nix::sys::stat::makedev(u64::from(major), u64::from(minor));
    nix::sys::stat::mknod(p, kind, mode, dev)
        .map_err(|e| Error::io(format!("mknod {}", p.display()), io::Error::from(e)))
}

pub(crate) fn lchown(p: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .map_err(|e| Error::io(format!("chown {}", p.display()), e))
}

pub(super) fn set_xattr(p: &Path, name: &str, value: &[u8]) -> Result<()> {
    lset_xattr(p, name, value).map_err(|e| Error::io(format!("setxattr {name} {}", p.display()), e))
}

pub(crate) fn lset_xattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let n = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: both strings are NUL-terminated; value points to value.len() bytes.
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(crate) fn set_mtime(p: &Path, mtime: u64) {
    let Ok(c) = cpath(p) else { return };
    let ts = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [ts, ts];
    // SAFETY: c is a valid path, times points to two timespecs.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
}
