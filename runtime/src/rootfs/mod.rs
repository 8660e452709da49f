//! The container's filesystem: mounts in config order, /dev, then
//! pivot_root (or MS_MOVE + chroot), then masked/readonly paths and a
//! read-only root. Runs inside the container's new mount namespace; every
//! syscall goes through `Syscall` so the sequence is unit-testable.

pub mod bind_sources;
mod cgroup_mount;
pub mod devices;
mod finalize;
pub mod guard;
pub use hull_linux::mount_options as options;
pub mod paths;
pub mod procfs;
mod switch;

pub use finalize::finalize;
pub use switch::switch_root;

use crate::cgroups::CgroupConfig;
use crate::error::{Error, MountStep, Result};
use crate::syscall::Syscall;
use bind_sources::BindSources;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{Mount, Spec};
use options::MountOptions;
use paths::{create_in_root, fd_path, open_in_root, Leaf};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Everything the rootfs setup needs, taken from the spec up front.
pub struct RootfsPlan<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// In a new user namespace: bind host devices instead of mknod.
    pub in_userns: bool,
    /// A new cgroup namespace: mount cgroupfs instead of binding dirs.
    pub cgroupns: bool,
    pub cgroup: &'a CgroupConfig,
    /// Bind sources opened on the host (user namespaces), by mount index.
    pub bind_sources: &'a BindSources,
}

fn mount_err(dest: &Path, step: MountStep, source: nix::Error) -> Error {
    Error::MountStep {
        dest: dest.to_path_buf(),
        step,
        source,
    }
}

/// Propagation of "/" before anything else, from `rootfsPropagation`.
pub fn root_propagation(spec: &Spec) -> Result<MsFlags> {
    let p = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
        .unwrap_or_default();
    Ok(match p.as_str() {
        "" | "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => {
            return Err(Error::Config {
                path: "config.json".into(),
                msg: format!("unknown linux.rootfsPropagation {other:?}"),
            })
        }
    })
}

/// Steps before pivot_root: propagation, the rootfs bind, every mount, /dev.
pub fn prepare(sys: &dyn Syscall, plan: &RootfsPlan<'_>) -> Result<()> {
    let prop = root_propagation(plan.spec)?;
    sys.mount(None, Path::new("/"), None, prop, None)
        .map_err(|e| mount_err(Path::new("/"), MountStep::SetPropagation, e))?;
    // pivot_root refuses a shared new root or parent: if the mount holding
    // the rootfs is still shared, make just that one private.
    if let Some(parent) = shared_mount_point_of(plan.rootfs) {
        sys.mount(None, &parent, None, MsFlags::MS_PRIVATE, None)
            .map_err(|e| mount_err(&parent, MountStep::MakeParentPrivate, e))?;
    }
    sys.mount(
        Some(plan.rootfs),
        plan.rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| mount_err(plan.rootfs, MountStep::BindRootfs, e))?;
    let root = nix::fcntl::open(
        plan.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| mount_err(plan.rootfs, MountStep::OpenRootfs, e))?;
    guard::check_pseudo_dirs(root.as_fd())?;

    let mounts = plan.spec.mounts().clone().unwrap_or_default();
    let mut dev_is_mounted = false;
    let mut has_pts = false;
    for (index, m) in mounts.iter().enumerate() {
        let dest = m.destination();
        if dest == Path::new("/dev") {
            dev_is_mounted = true;
        }
        if dest == Path::new("/dev/pts") {
            has_pts = true;
        }
        mount_one(sys, &root, plan, m, plan.bind_sources.get(index))?;
    }
    let _ = dev_is_mounted;
    let spec_devs = plan
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    let devs = devices::all_devices(&spec_devs)?;
    // Device nodes are created with exactly the requested mode.
    let old = nix::sys::stat::umask(Mode::empty());
    let res = devices::create_devices(sys, root.as_fd(), &devs, plan.in_userns);
    nix::sys::stat::umask(old);
    res?;
    devices::create_symlinks(root.as_fd(), has_pts)?;
    // createContainer hooks run from here, in the rootfs (as runc).
    sys.chdir(plan.rootfs)
        .map_err(|e| mount_err(plan.rootfs, MountStep::Chdir, e))
}

/// The mount point containing `path` (longest prefix in mountinfo), if
/// that mount is shared.
fn shared_mount_point_of(path: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (mp, shared) = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let mp = PathBuf::from(f.get(4)?);
            let shared = f
                .iter()
                .skip(6)
                .take_while(|x| **x != "-")
                .any(|x| x.starts_with("shared:"));
            Some((mp, shared))
        })
        .filter(|(mp, _)| path.starts_with(mp))
        .max_by_key(|(mp, _)| mp.as_os_str().len())?;
    shared.then_some(mp)
}

fn mount_one(
    sys: &dyn Syscall,
    root: &OwnedFd,
    plan: &RootfsPlan<'_>,
    m: &Mount,
    source_fd: Option<&OwnedFd>,
) -> Result<()> {
    let dest = m.destination();
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    for u in &opts.unsupported {
        tracing::warn!(mount = %dest.display(), option = %u, "mount option not supported; ignored");
    }
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return cgroup_mount::mount_cgroup(sys, root, plan, dest, &opts);
    }
    if bind_sources::is_bind(m) {
        return mount_bind(sys, root, plan, m, &opts, source_fd);
    }
    let target = create_in_root(root.as_fd(), dest, Leaf::Dir)?;
    let real = guard::container_path(root.as_fd(), &target)?;
    guard::check_destination(dest, &real, typ, None)?;
    let tpath = fd_path(&target);
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let mut flags = opts.flags & !MsFlags::MS_REMOUNT;
    if is_readonly_dev(m) {
        // Device nodes and /dev/pts go in first; finalize makes it ro.
        flags.remove(MsFlags::MS_RDONLY);
    }
    match sys.mount(Some(&source), &tpath, Some(typ), flags, opts.data()) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) if typ == "sysfs" => {
            // sysfs cannot be mounted in a user namespace that does not own
            // the network namespace: give a read-only view of the host's.
            sys.mount(
                Some(Path::new("/sys")),
                &tpath,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .map_err(|e| mount_err(dest, MountStep::BindHostSys, e))?;
            let _ = sys.mount(
                None,
                &tpath,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | opts.flags,
                None,
            );
        }
        Err(e) => return Err(mount_err(dest, MountStep::Mount(typ.to_string()), e)),
    }
    if opts.propagation.is_empty() && !opts.has_recursive() {
        return Ok(());
    }
    // The fd names the directory under the new mount; re-resolve.
    let target =
        open_in_root(root.as_fd(), dest).map_err(|e| mount_err(dest, MountStep::Reopen, e))?;
    let tpath = fd_path(&target);
    for p in &opts.propagation {
        sys.mount(None, &tpath, None, *p, None)
            .map_err(|e| mount_err(dest, MountStep::SetPropagation, e))?;
    }
    apply_recursive(sys, &tpath, dest, &opts)
}

/// "rro", "rnosuid"…: attributes on the mount and every mount below it.
fn apply_recursive(
    sys: &dyn Syscall,
    tpath: &Path,
    dest: &Path,
    opts: &MountOptions,
) -> Result<()> {
    if !opts.has_recursive() {
        return Ok(());
    }
    sys.mount_setattr_recursive(tpath, opts.rec_set, opts.rec_clear)
        .map_err(|e| mount_err(dest, MountStep::SetRecursiveAttributes, e))
}

fn mount_bind(
    sys: &dyn Syscall,
    root: &OwnedFd,
    plan: &RootfsPlan<'_>,
    m: &Mount,
    opts: &MountOptions,
    source_fd: Option<&OwnedFd>,
) -> Result<()> {
    let dest = m.destination();
    let src = bind_sources::source_path(m, plan.bundle);
    // A source opened on the host is reached through its fd: the init's
    // mapped root may not be able to search the directories above it.
    let reach = source_fd.map(fd_path).unwrap_or_else(|| src.clone());
    let meta = std::fs::metadata(&reach).map_err(|e| Error::BindSource {
        dest: dest.to_path_buf(),
        path: src.clone(),
        source: e,
    })?;
    let leaf = if meta.is_dir() { Leaf::Dir } else { Leaf::File };
    let target = create_in_root(root.as_fd(), dest, leaf)?;
    let real = guard::container_path(root.as_fd(), &target)?;
    guard::check_destination(dest, &real, "bind", Some(&reach))?;
    let tpath = fd_path(&target);
    let base = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    sys.mount(Some(&reach), &tpath, None, base, None)
        .map_err(|e| mount_err(dest, MountStep::Bind(src.clone()), e))?;
    // Re-open: the path now names the new mount, not the dir beneath it.
    let target =
        open_in_root(root.as_fd(), dest).map_err(|e| mount_err(dest, MountStep::Reopen, e))?;
    let tpath = fd_path(&target);
    // Flags other than bind/rec need a remount of the new bind mount.
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        remount_keep_locked(sys, &tpath, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra)
            .map_err(|e| mount_err(dest, MountStep::RemountBind, e))?;
    }
    for p in &opts.propagation {
        sys.mount(None, &tpath, None, *p, None)
            .map_err(|e| mount_err(dest, MountStep::SetPropagation, e))?;
    }
    apply_recursive(sys, &tpath, dest, opts)
}

/// Remount; if the kernel refuses because flags of the underlying mount are
/// locked (user namespaces), retry keeping them.
fn remount_keep_locked(sys: &dyn Syscall, target: &Path, flags: MsFlags) -> nix::Result<()> {
    match sys.mount(None, target, None, flags, None) {
        Err(nix::errno::Errno::EPERM) => {
            let st = nix::sys::statvfs::statvfs(target)?;
            let f = st.flags();
            use nix::sys::statvfs::FsFlags;
            let mut keep = MsFlags::empty();
            for (a, b) in [
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
                (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
                (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
                (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            ] {
                if f.contains(a) {
                    keep |= b;
                }
            }
            sys.mount(None, target, None, flags | keep, None)
        }
        r => r,
    }
}

/// An explicit `rootfsPropagation` also applies to the new "/" (it could
/// not be set before pivot_root without affecting the host).
pub fn apply_root_propagation(sys: &dyn Syscall, spec: &Spec) -> Result<()> {
    let explicit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
        .is_some_and(|p| !p.is_empty());
    if explicit {
        let prop = root_propagation(spec)?;
        sys.mount(None, Path::new("/"), None, prop, None)
            .map_err(|e| mount_err(Path::new("/"), MountStep::SetRootfsPropagation, e))?;
    }
    Ok(())
}

/// A tmpfs at /dev asked read-only (as runc, made so at the very end).
fn is_readonly_dev(m: &Mount) -> bool {
    m.destination() == Path::new("/dev")
        && m.typ().as_deref() == Some("tmpfs")
        && options::parse(m.options().as_deref().unwrap_or_default())
            .flags
            .contains(MsFlags::MS_RDONLY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::recording::{Call, Recorder};

    /// A spec with `mounts`, masked and readonly paths, a read-only root.
    pub(super) fn spec(mounts: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs","readonly":true}},
            "process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
            "mounts":{mounts},
            "linux":{{"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn mounts_in_order_with_flags_and_binds_remounted() {
        let t = tempfile::tempdir().unwrap();
        let rootfs = t.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", rootfs.join("data")).unwrap();
        let hostdir = t.path().join("host");
        std::fs::create_dir(&hostdir).unwrap();
        let s = spec(&format!(
            r#"[{{"destination":"/proc","type":"proc","source":"proc"}},
               {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755"]}},
               {{"destination":"/data/x","type":"bind","source":"{}","options":["rbind","ro"]}}]"#,
            hostdir.display()
        ));
        let rec = Recorder::default();
        let plan = RootfsPlan {
            spec: &s,
            rootfs: &rootfs,
            bundle: t.path(),
            in_userns: false,
            cgroupns: false,
            cgroup: &CgroupConfig::None,
            bind_sources: &BindSources::default(),
        };
        prepare(&rec, &plan).unwrap();
        let calls = rec.calls.borrow();
        let mounts: Vec<&Call> = calls
            .iter()
            .filter(|c| matches!(c, Call::Mount { .. }))
            .collect();
        // "/" propagation, rootfs bind, proc, tmpfs, bind, remount ro, then device binds none (mknod)
        match mounts[0] {
            Call::Mount { target, flags, .. } => {
                assert_eq!(target, Path::new("/"));
                assert_eq!(*flags, MsFlags::MS_SLAVE | MsFlags::MS_REC);
            }
            _ => unreachable!(),
        }
        match mounts[2] {
            Call::Mount { target, fstype, .. } => {
                assert_eq!(target, &rootfs.join("proc"));
                assert_eq!(fstype.as_deref(), Some("proc"));
            }
            _ => unreachable!(),
        }
        match mounts[3] {
            Call::Mount {
                target,
                data,
                flags,
                ..
            } => {
                assert_eq!(target, &rootfs.join("dev"));
                assert_eq!(data.as_deref(), Some("mode=755"));
                assert_eq!(*flags, MsFlags::MS_NOSUID);
            }
            _ => unreachable!(),
        }
        // the symlink /data → /etc resolved inside the rootfs
        match mounts[4] {
            Call::Mount { target, source, .. } => {
                assert_eq!(target, &rootfs.join("etc/x"));
                assert_eq!(source.as_deref(), Some(hostdir.as_path()));
            }
            _ => unreachable!(),
        }
        match mounts[5] {
            Call::Mount { flags, .. } => {
                assert!(flags.contains(MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_BIND))
            }
            _ => unreachable!(),
        }
        assert!(calls
            .iter()
            .any(|c| matches!(c, Call::Mknod(p, ..) if p == &rootfs.join("dev/null"))));
    }
}
