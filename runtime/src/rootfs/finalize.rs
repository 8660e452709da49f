//! After entering the rootfs: readonly paths, masked paths, a read-only
//! /dev asked for, and a read-only root.

use super::paths::{fd_path, open_in_root};
use super::{is_readonly_dev, mount_err, options, procfs, remount_keep_locked};
use crate::error::{MountStep, Result};
use crate::syscall::Syscall;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// After switch_root: readonly paths, masked paths, read-only root. Each
/// path is resolved inside the new root; one that exists but cannot be
/// masked or made read-only is an error, and when /proc is procfs a path
/// under it must be on procfs (nothing else may stand in for it).
pub fn finalize(sys: &dyn Syscall, spec: &Spec) -> Result<()> {
    let linux = spec.linux().clone().unwrap_or_default();
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| mount_err(Path::new("/"), MountStep::OpenRoot, e))?;
    let proc_fs = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .is_ok_and(|fd| procfs::is_fs(fd.as_fd(), nix::sys::statfs::PROC_SUPER_MAGIC));
    // Mount targets: the resolved fd through /proc/self/fd when /proc is
    // there; the path itself otherwise (resolved inside the new root).
    let target = |path: &Path, fd: &OwnedFd| {
        if proc_fs {
            fd_path(fd)
        } else {
            path.to_path_buf()
        }
    };
    let resolve = |path: &Path| -> Result<Option<OwnedFd>> {
        match open_in_root(root.as_fd(), path) {
            Ok(fd) => {
                if proc_fs
                    && path.starts_with("/proc")
                    && !procfs::is_fs(fd.as_fd(), nix::sys::statfs::PROC_SUPER_MAGIC)
                {
                    return Err(mount_err(
                        path,
                        MountStep::NotOnProcfs,
                        nix::errno::Errno::EXDEV,
                    ));
                }
                Ok(Some(fd))
            }
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(e) => Err(mount_err(path, MountStep::Resolve, e)),
        }
    };
    for p in linux.readonly_paths().iter().flatten() {
        let path = Path::new(p);
        let Some(fd) = resolve(path)? else { continue };
        let t = target(path, &fd);
        sys.mount(Some(&t), &t, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
            .map_err(|e| mount_err(path, MountStep::BindReadonlyPath, e))?;
        // The path now names the new bind mount: resolve it again.
        let Some(fd) = resolve(path)? else {
            return Err(mount_err(
                path,
                MountStep::ReadonlyPathVanished,
                nix::errno::Errno::ENOENT,
            ));
        };
        remount_keep_locked(
            sys,
            &target(path, &fd),
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_REC
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
        )
        .map_err(|e| mount_err(path, MountStep::RemountReadonlyPath, e))?;
    }
    for p in linux.masked_paths().iter().flatten() {
        let path = Path::new(p);
        let Some(fd) = resolve(path)? else { continue };
        let is_dir = nix::sys::stat::fstat(fd.as_fd())
            .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .map_err(|e| mount_err(path, MountStep::StatMaskedPath, e))?;
        let t = target(path, &fd);
        let res = if is_dir {
            sys.mount(
                Some(Path::new("tmpfs")),
                &t,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )
        } else {
            sys.mount(
                Some(Path::new("/dev/null")),
                &t,
                None,
                MsFlags::MS_BIND,
                None,
            )
        };
        res.map_err(|e| mount_err(path, MountStep::Mask, e))?;
    }
    for m in spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| is_readonly_dev(m))
    {
        let opts = options::parse(m.options().as_deref().unwrap_or_default());
        sys.mount(
            None,
            Path::new("/dev"),
            None,
            opts.flags | MsFlags::MS_REMOUNT,
            None,
        )
        .map_err(|e| mount_err(Path::new("/dev"), MountStep::RemountDevReadOnly, e))?;
    }
    if spec
        .root()
        .as_ref()
        .is_some_and(|r| r.readonly() == Some(true))
    {
        remount_keep_locked(
            sys,
            Path::new("/"),
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        )
        .map_err(|e| mount_err(Path::new("/"), MountStep::RemountRootReadOnly, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::tests::spec;
    use crate::syscall::recording::{Call, Recorder};

    #[test]
    fn finalize_masks_and_readonly_root() {
        let s = spec("[]");
        let rec = Recorder::default();
        finalize(&rec, &s).unwrap();
        let calls = rec.calls.borrow();
        let last = calls.last().unwrap();
        assert!(
            matches!(last, Call::Mount { target, flags, .. } if target == Path::new("/") && flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT))
        );
    }
}
