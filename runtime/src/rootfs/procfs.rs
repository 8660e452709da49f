//! Writes into the container's /proc that cannot be redirected: /proc is
//! opened once and checked to be a real procfs (`fstatfs` magic), every
//! file below it is opened with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)` and checked again, so a symlink
//! or a mount over /proc (an image's `/data -> /proc/sys/net/core` with a
//! volume at /data, CVE-2025-52881 class) never receives the write.

use crate::error::{Error, Result};
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, FsType, PROC_SUPER_MAGIC};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

fn err(what: impl std::fmt::Display, source: nix::Error) -> Error {
    Error::Procfs {
        what: what.to_string(),
        source,
    }
}

fn refused(what: impl std::fmt::Display, why: &'static str) -> Error {
    Error::ProcfsRefused {
        what: what.to_string(),
        why,
    }
}

/// Whether `fd` lies on a file system of type `magic`.
pub fn is_fs(fd: BorrowedFd<'_>, magic: FsType) -> bool {
    fstatfs(fd).is_ok_and(|s| s.filesystem_type() == magic)
}

/// The container's /proc (after pivot_root), refused unless it is procfs.
pub fn open_proc() -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err("/proc", e))?;
    if !is_fs(fd.as_fd(), PROC_SUPER_MAGIC) {
        return Err(refused("/proc", "not a procfs mount (refused)"));
    }
    Ok(fd)
}

/// Open `rel` below an fd of procfs, never through a symlink or another
/// mount, and check the result is procfs too.
pub fn open_beneath(proc: BorrowedFd<'_>, rel: &str, flags: OFlag) -> Result<OwnedFd> {
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_NO_MAGICLINKS
            | ResolveFlag::RESOLVE_NO_XDEV,
    );
    let fd = openat2(proc, rel, how).map_err(|e| err(format!("/proc/{rel}"), e))?;
    if !is_fs(fd.as_fd(), PROC_SUPER_MAGIC) {
        return Err(refused(format!("/proc/{rel}"), "not on procfs (refused)"));
    }
    Ok(fd)
}

/// Write `value` to the sysctl `key` ("net.core.somaxconn" or with '/').
pub fn write_sysctl(proc: BorrowedFd<'_>, key: &str, value: &str) -> Result<()> {
    let rel = format!("sys/{}", key.replace('.', "/"));
    let fd = open_beneath(proc, &rel, OFlag::O_WRONLY)?;
    let mut f = std::fs::File::from(fd);
    f.write_all(value.as_bytes())
        .map_err(|source| Error::Sysctl {
            key: key.to_string(),
            value: value.to_string(),
            source,
        })
}

/// Reopen an O_PATH fd (exec.fifo) for writing through /proc/self/fd. The
/// container's /proc is used when it is procfs; otherwise a private,
/// detached procfs instance (fsopen + fsmount) that nothing else sees.
pub fn reopen_for_write(opath: &OwnedFd) -> Result<OwnedFd> {
    let rel = format!("self/fd/{}", opath.as_raw_fd());
    let proc = match open_proc() {
        Ok(p) => p,
        Err(_) => detached_procfs()?,
    };
    let fd = nix::fcntl::openat(
        proc.as_fd(),
        Path::new(&rel),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err("open exec fifo", e))?;
    drop(proc);
    let (a, b) = (
        nix::sys::stat::fstat(opath.as_fd()).map_err(|e| err("exec fifo", e))?,
        nix::sys::stat::fstat(fd.as_fd()).map_err(|e| err("exec fifo", e))?,
    );
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return Err(refused("exec fifo", "reopened a different file (refused)"));
    }
    Ok(fd)
}

/// A new procfs instance, mounted nowhere (new mount API).
fn detached_procfs() -> Result<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    let name = c"proc";
    // SAFETY: fsopen takes a valid C string and flags; returns an fd or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) };
    let fs = nix::errno::Errno::result(fs).map_err(|e| err("fsopen proc", e))?;
    // SAFETY: fs is an fd we just got and own from here on.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
    // SAFETY: FSCONFIG_CMD_CREATE takes no key/value (null pointers, 0).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    nix::errno::Errno::result(rc).map_err(|e| err("fsconfig proc", e))?;
    // SAFETY: fsmount on our fs context fd; returns a new mount fd or -1.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    let mnt = nix::errno::Errno::result(mnt).map_err(|e| err("fsmount proc", e))?;
    // SAFETY: a fresh fd returned by fsmount, owned from here on.
    Ok(unsafe { OwnedFd::from_raw_fd(mnt as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_proc_is_procfs_and_tmp_is_not() {
        let p = nix::fcntl::open("/proc", OFlag::O_PATH, Mode::empty()).unwrap();
        assert!(is_fs(p.as_fd(), PROC_SUPER_MAGIC));
        let t = tempfile::tempdir().unwrap();
        let f = nix::fcntl::open(t.path(), OFlag::O_PATH, Mode::empty()).unwrap();
        assert!(!is_fs(f.as_fd(), PROC_SUPER_MAGIC));
    }

    #[test]
    fn open_beneath_refuses_escapes() {
        let p = nix::fcntl::open("/proc", OFlag::O_PATH, Mode::empty()).unwrap();
        // `..` and symlinks (/proc/self) are refused.
        assert!(open_beneath(p.as_fd(), "../etc/passwd", OFlag::O_RDONLY).is_err());
        assert!(open_beneath(p.as_fd(), "self/status", OFlag::O_RDONLY).is_err());
        assert!(open_beneath(p.as_fd(), "sys/kernel/ostype", OFlag::O_RDONLY).is_ok());
    }
}
