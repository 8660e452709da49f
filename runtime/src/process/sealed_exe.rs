//! Running from a sealed memfd copy of hullc (the CVE-2019-5736 defence).
//!
//! While a container's init (or an exec'd process) still runs hullc's code
//! inside the container, /proc/<pid>/exe names the hullc binary. A process
//! in the container able to open it for writing could overwrite the host's
//! runtime. Before entering a container, hullc therefore re-executes itself
//! from an anonymous memfd that is sealed against writes, shrink and grow:
//! /proc/<pid>/exe then names that memfd, which no one can modify, and the
//! host binary is never reachable from the container. The init is also
//! made non-dumpable. Cost: one copy of the binary into memory and one
//! extra execve per create/run/exec (measured by `make bench`).

use crate::error::{Error, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// True if we already run from a write-sealed memfd.
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS on a valid fd; returns -1 (EINVAL) for non-memfds.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_WRITE != 0
}

/// Re-exec from a sealed memfd unless already sealed. Returns only on
/// failure (or when already sealed).
pub fn ensure_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let exe = std::fs::File::open("/proc/self/exe").map_err(|e| Error::io("/proc/self/exe", e))?;
    let len = exe
        .metadata()
        .map_err(|e| Error::io("/proc/self/exe", e))?
        .len();
    let name = c"hullc";
    // SAFETY: memfd_create with a valid C string and flags.
    let raw =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(Error::Other(format!(
            "memfd_create: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: raw was just returned by memfd_create.
    let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut left = len as usize;
    while left > 0 {
        // SAFETY: both fds are valid; a null offset uses the file offsets.
        let n = unsafe {
            libc::sendfile(
                memfd.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                left,
            )
        };
        if n <= 0 {
            let e = std::io::Error::last_os_error();
            if n < 0 && e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Other(format!("copy hullc into memfd: {e}")));
        }
        left -= n as usize;
    }
    // SAFETY: F_ADD_SEALS on our memfd.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(Error::Other(format!(
            "seal memfd: {}",
            std::io::Error::last_os_error()
        )));
    }
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_vec()).unwrap_or_default())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let e = nix::unistd::fexecve(&memfd, &args, &env).unwrap_err();
    Err(Error::Other(format!("re-exec from sealed memfd: {e}")))
}
