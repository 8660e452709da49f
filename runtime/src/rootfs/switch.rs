//! Entering the rootfs: pivot_root, or MS_MOVE + chroot with `--no-pivot`
//! after detaching the host's mounts.

use super::mount_err;
use crate::error::{Error, MountStep, Result};
use crate::syscall::Syscall;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Switch root: pivot_root(".", ".") then detach the old root (runc's way,
/// no temporary directory), or MS_MOVE + chroot with `--no-pivot`.
pub fn switch_root(sys: &dyn Syscall, rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        detach_host_mounts(sys, rootfs)?;
        sys.chdir(rootfs)
            .map_err(|e| mount_err(rootfs, MountStep::Chdir, e))?;
        sys.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
            .map_err(|e| mount_err(rootfs, MountStep::MoveToRoot, e))?;
        sys.chroot(Path::new("."))
            .map_err(|e| mount_err(rootfs, MountStep::Chroot, e))?;
    } else {
        let old_root = nix::fcntl::open(
            "/",
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| mount_err(Path::new("/"), MountStep::OpenOldRoot, e))?;
        sys.chdir(rootfs)
            .map_err(|e| mount_err(rootfs, MountStep::Chdir, e))?;
        sys.pivot_root(Path::new("."), Path::new("."))
            .map_err(|e| mount_err(rootfs, MountStep::PivotRoot, e))?;
        // The old root is now stacked on top of the new one. Step onto it,
        // keep its unmount from propagating to the host, and detach it.
        sys.fchdir(old_root.as_fd())
            .map_err(|e| mount_err(Path::new("/"), MountStep::FchdirOldRoot, e))?;
        sys.mount(
            None,
            Path::new("."),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
        )
        .map_err(|e| mount_err(Path::new("/"), MountStep::MakeOldRootSlave, e))?;
        sys.umount2(Path::new("."), MntFlags::MNT_DETACH)
            .map_err(|e| mount_err(Path::new("/"), MountStep::DetachOldRoot, e))?;
    }
    sys.chdir(Path::new("/"))
        .map_err(|e| mount_err(Path::new("/"), MountStep::Chdir, e))?;
    Ok(())
}

/// `--no-pivot` leaves the old root's mounts in the container's mount
/// namespace (under the chroot, but listed in mountinfo, and host procfs
/// or sysfs mounts there would let a new procfs mount past its masks).
/// Detach every mount that is neither the rootfs (or below it) nor one of
/// its parents, each made a slave first so nothing propagates to the host;
/// where detaching is not permitted, cover procfs/sysfs with a tmpfs.
fn detach_host_mounts(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let rootfs = std::fs::canonicalize(rootfs).map_err(|e| Error::ResolveRootfs {
        rootfs: rootfs.to_path_buf(),
        source: e,
    })?;
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts: Vec<(PathBuf, String)> = text
        .lines()
        .filter_map(|l| {
            let mp = l.split(' ').nth(4)?;
            let fstype = l.split(" - ").nth(1)?.split(' ').next()?;
            Some((
                PathBuf::from(crate::cgroups::detect::unescape(mp)),
                fstype.to_string(),
            ))
        })
        .collect();
    // Deepest first: mountinfo lists children after their parents.
    for (mp, fstype) in mounts.iter().rev() {
        if mp.starts_with(&rootfs) || rootfs.starts_with(mp) {
            continue;
        }
        match sys.mount(None, mp, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None) {
            Ok(()) => {}
            // Gone with a parent detached before it.
            Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::EINVAL) => continue,
            Err(e) => return Err(mount_err(mp, MountStep::MakeHostMountSlave, e)),
        }
        match sys.umount2(mp, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(nix::errno::Errno::EPERM) if fstype == "proc" || fstype == "sysfs" => {
                sys.mount(
                    Some(Path::new("tmpfs")),
                    mp,
                    Some("tmpfs"),
                    MsFlags::empty(),
                    None,
                )
                .map_err(|e| mount_err(mp, MountStep::CoverHostMount, e))?;
            }
            Err(nix::errno::Errno::EPERM) => {}
            Err(e) => return Err(mount_err(mp, MountStep::DetachHostMount, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::recording::{Call, Recorder};

    #[test]
    fn pivot_sequence() {
        let rec = Recorder::default();
        switch_root(&rec, Path::new("/r"), false).unwrap();
        let calls = rec.calls.borrow();
        assert_eq!(calls[0], Call::Chdir("/r".into()));
        assert_eq!(calls[1], Call::PivotRoot(".".into()));
        assert!(matches!(calls[2], Call::Chdir(_)));
        assert!(matches!(calls[4], Call::Umount(_)));
        let rec = Recorder::default();
        let t = tempfile::tempdir().unwrap();
        switch_root(&rec, t.path(), true).unwrap();
        let calls = rec.calls.borrow();
        assert!(calls.contains(&Call::Chroot(".".into())));
        // --no-pivot detaches the host's mounts (here: /proc) first.
        let detach = calls
            .iter()
            .position(|c| *c == Call::Umount("/proc".into()));
        let chroot = calls.iter().position(|c| *c == Call::Chroot(".".into()));
        assert!(detach.is_some() && detach < chroot, "{calls:?}");
    }
}
