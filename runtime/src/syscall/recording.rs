//! A `Syscall` that records calls instead of making them (unit tests only;
//! mounting needs root, which unit tests must not require).

use super::Syscall;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    SetAttr(PathBuf, u64, u64),
    Umount(PathBuf),
    PivotRoot(PathBuf),
    Chroot(PathBuf),
    Chdir(PathBuf),
    Mknod(PathBuf, SFlag, u32, u64),
    Chown(PathBuf, u32, u32),
    Hostname(String),
    Domainname(String),
}

#[derive(Default)]
pub struct Recorder {
    pub calls: RefCell<Vec<Call>>,
}

/// `/proc/self/fd/N` targets are shown as the path they point to.
fn shown(p: &Path) -> PathBuf {
    let comps: Vec<_> = p.components().collect();
    if p.starts_with("/proc/self/fd") && comps.len() >= 5 {
        let fd: PathBuf = comps[..5].iter().collect();
        if let Ok(t) = std::fs::read_link(&fd) {
            return comps[5..].iter().fold(t, |acc, c| acc.join(c));
        }
    }
    p.to_path_buf()
}

impl Syscall for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: shown(target),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        });
        Ok(())
    }
    fn mount_setattr_recursive(&self, target: &Path, set: u64, clear: u64) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::SetAttr(shown(target), set, clear));
        Ok(())
    }
    fn umount2(&self, target: &Path, _flags: MntFlags) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::Umount(shown(target)));
        Ok(())
    }
    fn pivot_root(&self, new_root: &Path, _put_old: &Path) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::PivotRoot(new_root.to_path_buf()));
        Ok(())
    }
    fn chroot(&self, path: &Path) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Chroot(path.to_path_buf()));
        Ok(())
    }
    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Chdir(path.to_path_buf()));
        Ok(())
    }
    fn fchdir(&self, dir: std::os::fd::BorrowedFd<'_>) -> nix::Result<()> {
        use std::os::fd::AsRawFd;
        let p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        self.calls.borrow_mut().push(Call::Chdir(shown(&p)));
        Ok(())
    }
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Mknod(shown(path), kind, perm.bits(), dev));
        Ok(())
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Chown(shown(path), uid, gid));
        Ok(())
    }
    fn sethostname(&self, name: &str) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::Hostname(name.into()));
        Ok(())
    }
    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::Domainname(name.into()));
        Ok(())
    }
}
