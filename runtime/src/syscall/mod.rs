//! A thin trait over the privileged syscalls that set up a container's
//! filesystem and identity, so the mount logic can be unit-tested without
//! root (see `recording::Recorder`).

pub mod linux;
#[cfg(test)]
pub mod recording;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use std::path::Path;

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// mount_setattr(2) on the whole tree under `target` (AT_RECURSIVE).
    fn mount_setattr_recursive(&self, target: &Path, set: u64, clear: u64) -> nix::Result<()>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chroot(&self, path: &Path) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn fchdir(&self, dir: std::os::fd::BorrowedFd<'_>) -> nix::Result<()>;
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()>;
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()>;
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    fn setdomainname(&self, name: &str) -> nix::Result<()>;
}
