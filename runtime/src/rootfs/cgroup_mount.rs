//! A "cgroup" mount in the container: cgroupfs with a cgroup namespace,
//! the container's own cgroup directories bound in without one (v1: a
//! tmpfs holding one directory per hierarchy).

use super::paths::{create_in_root, fd_path, open_in_root, Leaf};
use super::{guard, mount_err, remount_keep_locked, RootfsPlan};
use crate::cgroups::detect::{detect, Hierarchy};
use crate::cgroups::CgroupConfig;
use crate::error::{MountStep, Result};
use crate::rootfs::options::MountOptions;
use crate::syscall::Syscall;
use nix::mount::MsFlags;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A "cgroup" mount: the container's own cgroup(s). With a cgroup namespace
/// the kernel shows the namespace root, so fresh cgroupfs mounts suffice;
/// without one, bind the container's directories.
pub(super) fn mount_cgroup(
    sys: &dyn Syscall,
    root: &OwnedFd,
    plan: &RootfsPlan<'_>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<()> {
    let target = create_in_root(root.as_fd(), dest, Leaf::Dir)?;
    let real = guard::container_path(root.as_fd(), &target)?;
    guard::check_destination(dest, &real, "cgroup", None)?;
    let tpath = fd_path(&target);
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    match plan.cgroup {
        CgroupConfig::V2 { dir, .. } => {
            if plan.cgroupns {
                sys.mount(
                    Some(Path::new("cgroup2")),
                    &tpath,
                    Some("cgroup2"),
                    flags,
                    None,
                )
                .map_err(|e| mount_err(dest, MountStep::MountCgroup2, e))?;
            } else {
                sys.mount(
                    Some(dir),
                    &tpath,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .map_err(|e| mount_err(dest, MountStep::BindCgroup, e))?;
                let target = open_in_root(root.as_fd(), dest)
                    .map_err(|e| mount_err(dest, MountStep::Reopen, e))?;
                remount_keep_locked(
                    sys,
                    &fd_path(&target),
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                )
                .map_err(|e| mount_err(dest, MountStep::RemountCgroup, e))?;
            }
        }
        CgroupConfig::V1 { dirs } => {
            let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            sys.mount(
                Some(Path::new("tmpfs")),
                &tpath,
                Some("tmpfs"),
                tmpfs_flags,
                Some("mode=755"),
            )
            .map_err(|e| mount_err(dest, MountStep::MountCgroupTmpfs, e))?;
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let Hierarchy::Legacy {
                controllers, named, ..
            } = detect(&mountinfo)
            else {
                return Ok(());
            };
            let controllers: std::collections::BTreeMap<String, PathBuf> =
                controllers.into_iter().chain(named).collect();
            // Group controllers by host mount point ("cpu,cpuacct" share one).
            let mut seen = std::collections::BTreeSet::new();
            for (ctrl, host_mp) in &controllers {
                if !seen.insert(host_mp.clone()) {
                    continue;
                }
                let name = host_mp
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(ctrl));
                let sub = dest.join(&name);
                let sfd = create_in_root(root.as_fd(), &sub, Leaf::Dir)?;
                let spath = fd_path(&sfd);
                let ctrls: Vec<&str> = controllers
                    .iter()
                    .filter(|(_, mp)| *mp == host_mp)
                    .map(|(c, _)| c.as_str())
                    .collect();
                let mut data = ctrls.join(",");
                if ctrls.iter().all(|c| c.starts_with("name=")) {
                    data = format!("none,{data}");
                }
                if plan.cgroupns {
                    sys.mount(
                        Some(Path::new("cgroup")),
                        &spath,
                        Some("cgroup"),
                        flags,
                        Some(&data),
                    )
                    .map_err(|e| mount_err(&sub, MountStep::MountCgroup, e))?;
                } else if let Some(dir) = dirs.get(*ctrls.first().unwrap_or(&"")) {
                    sys.mount(
                        Some(dir),
                        &spath,
                        None,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None,
                    )
                    .map_err(|e| mount_err(&sub, MountStep::BindCgroup, e))?;
                    let sfd = open_in_root(root.as_fd(), &sub)
                        .map_err(|e| mount_err(&sub, MountStep::Reopen, e))?;
                    remount_keep_locked(
                        sys,
                        &fd_path(&sfd),
                        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                    )
                    .map_err(|e| mount_err(&sub, MountStep::RemountCgroup, e))?;
                }
            }
            if flags.contains(MsFlags::MS_RDONLY) {
                let target = open_in_root(root.as_fd(), dest)
                    .map_err(|e| mount_err(dest, MountStep::Reopen, e))?;
                sys.mount(
                    None,
                    &fd_path(&target),
                    None,
                    MsFlags::MS_REMOUNT | tmpfs_flags | MsFlags::MS_RDONLY,
                    Some("mode=755"),
                )
                .map_err(|e| mount_err(dest, MountStep::RemountCgroupTmpfsReadOnly, e))?;
            }
        }
        CgroupConfig::None => {}
    }
    Ok(())
}
