//! Running from a copy of hullc the container cannot modify (the
//! CVE-2019-5736 defence).
//!
//! While a container's init (or an exec'd process) still runs hullc's code
//! inside the container, /proc/<pid>/exe names the hullc binary. A process
//! in the container able to open it for writing could overwrite the host's
//! runtime. Before entering a container hullc therefore re-executes itself
//! through a *read-only, detached bind mount* of its own binary
//! (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY) +
//! execveat): /proc/<pid>/exe then resolves through a mount that refuses
//! writes (EROFS), which is attached nowhere, propagates nowhere and
//! vanishes with the process. No copy of the binary is made. Where the
//! kernel lacks the new mount API (or refuses it), hullc falls back to a
//! memfd copy sealed against writes. The init is also non-dumpable until it
//! execs. Cost: one extra execve per create/run/exec (`make bench` times
//! the whole `run`).

use crate::error::{Error, Result};
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::sendfile::sendfile;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// True if our binary cannot be written through /proc/self/exe: a
/// write-sealed memfd, or a file on a read-only mount.
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // EINVAL for anything but a memfd.
    let sealed = fcntl(&f, FcntlArg::F_GET_SEALS)
        .is_ok_and(|s| SealFlag::from_bits_truncate(s).contains(SealFlag::F_SEAL_WRITE));
    if sealed {
        return true;
    }
    nix::sys::statvfs::fstatvfs(&f)
        .is_ok_and(|st| st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

fn args_env() -> (Vec<CString>, Vec<CString>) {
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
    (args, env)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// execveat through a read-only detached bind mount of /proc/self/exe.
/// Returns the error if the kernel does not allow it.
fn reexec_readonly_bind() -> std::io::Error {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    // SAFETY: open_tree with a valid C path and flags returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
        )
    };
    if fd < 0 {
        return std::io::Error::last_os_error();
    }
    // SAFETY: fd was just returned by open_tree and is ours.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr on our detached tree with a valid attr struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return std::io::Error::last_os_error();
    }
    let (args, env) = args_env();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: argv/envp are NULL-terminated arrays of valid C strings that
    // outlive the call; on success it does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            tree.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    std::io::Error::last_os_error()
}

/// Re-exec from an unwritable copy unless already running from one.
/// Returns only on failure (or when already protected).
pub fn ensure_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let e = reexec_readonly_bind();
    tracing::debug!("read-only bind re-exec unavailable ({e}); using a sealed memfd copy");
    let exe = std::fs::File::open("/proc/self/exe").map_err(|e| Error::io("/proc/self/exe", e))?;
    let len = exe
        .metadata()
        .map_err(|e| Error::io("/proc/self/exe", e))?
        .len();
    let memfd = memfd_create(
        c"hullc",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(Error::MemfdCreate)?;
    let mut left = len as usize;
    while left > 0 {
        match sendfile(&memfd, &exe, None, left) {
            Ok(0) => return Err(Error::MemfdCopy(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => left -= n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::MemfdCopy(e.into())),
        }
    }
    fcntl(&memfd, FcntlArg::F_ADD_SEALS(seals())).map_err(Error::MemfdSeal)?;
    let (args, env) = args_env();
    let e = nix::unistd::fexecve(&memfd, &args, &env).unwrap_err();
    Err(Error::SealedReexec(e.into()))
}
