//! The container's filesystem: mounts in config order, /dev, then
//! pivot_root (or MS_MOVE + chroot), then masked/readonly paths and a
//! read-only root. Runs inside the container's new mount namespace; every
//! syscall goes through `Syscall` so the sequence is unit-testable.

pub mod devices;
pub mod guard;
pub use hull_linux::mount_options as options;
pub mod paths;
pub mod procfs;

use crate::cgroups::detect::{detect, Hierarchy};
use crate::cgroups::CgroupConfig;
use crate::error::{Error, Result};
use crate::syscall::Syscall;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
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
}

fn bind_source_path(m: &Mount, bundle: &Path) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_absolute() {
        src
    } else {
        bundle.join(src)
    }
}

fn mount_err(dest: &Path, what: &str, e: nix::Error) -> Error {
    Error::Mount {
        dest: dest.display().to_string(),
        msg: format!("{what}: {e}"),
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
        .map_err(|e| mount_err(Path::new("/"), "set propagation", e))?;
    // pivot_root refuses a shared new root or parent: if the mount holding
    // the rootfs is still shared, make just that one private.
    if let Some(parent) = shared_mount_point_of(plan.rootfs) {
        sys.mount(None, &parent, None, MsFlags::MS_PRIVATE, None)
            .map_err(|e| mount_err(&parent, "make parent private", e))?;
    }
    sys.mount(
        Some(plan.rootfs),
        plan.rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| mount_err(plan.rootfs, "bind rootfs", e))?;
    let root = nix::fcntl::open(
        plan.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| mount_err(plan.rootfs, "open rootfs", e))?;
    guard::check_pseudo_dirs(root.as_fd())?;

    let mounts = plan.spec.mounts().clone().unwrap_or_default();
    let mut dev_is_mounted = false;
    let mut has_pts = false;
    for m in &mounts {
        let dest = m.destination();
        if dest == Path::new("/dev") {
            dev_is_mounted = true;
        }
        if dest == Path::new("/dev/pts") {
            has_pts = true;
        }
        mount_one(sys, &root, plan, m)?;
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
        .map_err(|e| mount_err(plan.rootfs, "chdir", e))
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

fn mount_one(sys: &dyn Syscall, root: &OwnedFd, plan: &RootfsPlan<'_>, m: &Mount) -> Result<()> {
    let dest = m.destination();
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    for u in &opts.unsupported {
        tracing::warn!(mount = %dest.display(), option = %u, "mount option not supported; ignored");
    }
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(sys, root, plan, dest, &opts);
    }
    if opts.is_bind() || typ == "bind" {
        return mount_bind(sys, root, plan, m, &opts);
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
            .map_err(|e| mount_err(dest, "bind /sys", e))?;
            let _ = sys.mount(
                None,
                &tpath,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | opts.flags,
                None,
            );
        }
        Err(e) => return Err(mount_err(dest, &format!("mount {typ}"), e)),
    }
    if opts.propagation.is_empty() && !opts.has_recursive() {
        return Ok(());
    }
    // The fd names the directory under the new mount; re-resolve.
    let target = open_in_root(root.as_fd(), dest).map_err(|e| mount_err(dest, "reopen", e))?;
    let tpath = fd_path(&target);
    for p in &opts.propagation {
        sys.mount(None, &tpath, None, *p, None)
            .map_err(|e| mount_err(dest, "set propagation", e))?;
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
        .map_err(|e| mount_err(dest, "set recursive mount attributes", e))
}

fn mount_bind(
    sys: &dyn Syscall,
    root: &OwnedFd,
    plan: &RootfsPlan<'_>,
    m: &Mount,
    opts: &MountOptions,
) -> Result<()> {
    let dest = m.destination();
    let src = bind_source_path(m, plan.bundle);
    let meta = std::fs::metadata(&src).map_err(|e| Error::Mount {
        dest: dest.display().to_string(),
        msg: format!("bind source {}: {e}", src.display()),
    })?;
    let leaf = if meta.is_dir() { Leaf::Dir } else { Leaf::File };
    let target = create_in_root(root.as_fd(), dest, leaf)?;
    let real = guard::container_path(root.as_fd(), &target)?;
    guard::check_destination(dest, &real, "bind", Some(&src))?;
    let tpath = fd_path(&target);
    let base = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    sys.mount(Some(&src), &tpath, None, base, None)
        .map_err(|e| mount_err(dest, &format!("bind {}", src.display()), e))?;
    // Re-open: the path now names the new mount, not the dir beneath it.
    let target = open_in_root(root.as_fd(), dest).map_err(|e| mount_err(dest, "reopen", e))?;
    let tpath = fd_path(&target);
    // Flags other than bind/rec need a remount of the new bind mount.
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        remount_keep_locked(sys, &tpath, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra)
            .map_err(|e| mount_err(dest, "remount bind", e))?;
    }
    for p in &opts.propagation {
        sys.mount(None, &tpath, None, *p, None)
            .map_err(|e| mount_err(dest, "set propagation", e))?;
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

/// A "cgroup" mount: the container's own cgroup(s). With a cgroup namespace
/// the kernel shows the namespace root, so fresh cgroupfs mounts suffice;
/// without one, bind the container's directories.
fn mount_cgroup(
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
                .map_err(|e| mount_err(dest, "mount cgroup2", e))?;
            } else {
                sys.mount(
                    Some(dir),
                    &tpath,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .map_err(|e| mount_err(dest, "bind cgroup", e))?;
                let target =
                    open_in_root(root.as_fd(), dest).map_err(|e| mount_err(dest, "reopen", e))?;
                remount_keep_locked(
                    sys,
                    &fd_path(&target),
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                )
                .map_err(|e| mount_err(dest, "remount cgroup", e))?;
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
            .map_err(|e| mount_err(dest, "mount tmpfs for cgroups", e))?;
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
                    .map_err(|e| mount_err(&sub, "mount cgroup", e))?;
                } else if let Some(dir) = dirs.get(*ctrls.first().unwrap_or(&"")) {
                    sys.mount(
                        Some(dir),
                        &spath,
                        None,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None,
                    )
                    .map_err(|e| mount_err(&sub, "bind cgroup", e))?;
                    let sfd = open_in_root(root.as_fd(), &sub)
                        .map_err(|e| mount_err(&sub, "reopen", e))?;
                    remount_keep_locked(
                        sys,
                        &fd_path(&sfd),
                        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                    )
                    .map_err(|e| mount_err(&sub, "remount cgroup", e))?;
                }
            }
            if flags.contains(MsFlags::MS_RDONLY) {
                let target =
                    open_in_root(root.as_fd(), dest).map_err(|e| mount_err(dest, "reopen", e))?;
                sys.mount(
                    None,
                    &fd_path(&target),
                    None,
                    MsFlags::MS_REMOUNT | tmpfs_flags | MsFlags::MS_RDONLY,
                    Some("mode=755"),
                )
                .map_err(|e| mount_err(dest, "remount cgroup tmpfs ro", e))?;
            }
        }
        CgroupConfig::None => {}
    }
    Ok(())
}

/// Switch root: pivot_root(".", ".") then detach the old root (runc's way,
/// no temporary directory), or MS_MOVE + chroot with `--no-pivot`.
pub fn switch_root(sys: &dyn Syscall, rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        detach_host_mounts(sys, rootfs)?;
        sys.chdir(rootfs)
            .map_err(|e| mount_err(rootfs, "chdir", e))?;
        sys.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
            .map_err(|e| mount_err(rootfs, "move to /", e))?;
        sys.chroot(Path::new("."))
            .map_err(|e| mount_err(rootfs, "chroot", e))?;
    } else {
        let old_root = nix::fcntl::open(
            "/",
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| mount_err(Path::new("/"), "open old root", e))?;
        sys.chdir(rootfs)
            .map_err(|e| mount_err(rootfs, "chdir", e))?;
        sys.pivot_root(Path::new("."), Path::new("."))
            .map_err(|e| mount_err(rootfs, "pivot_root", e))?;
        // The old root is now stacked on top of the new one. Step onto it,
        // keep its unmount from propagating to the host, and detach it.
        sys.fchdir(old_root.as_fd())
            .map_err(|e| mount_err(Path::new("/"), "fchdir old root", e))?;
        sys.mount(
            None,
            Path::new("."),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
        )
        .map_err(|e| mount_err(Path::new("/"), "make old root slave", e))?;
        sys.umount2(Path::new("."), MntFlags::MNT_DETACH)
            .map_err(|e| mount_err(Path::new("/"), "detach old root", e))?;
    }
    sys.chdir(Path::new("/"))
        .map_err(|e| mount_err(Path::new("/"), "chdir", e))?;
    Ok(())
}

/// `--no-pivot` leaves the old root's mounts in the container's mount
/// namespace (under the chroot, but listed in mountinfo, and host procfs
/// or sysfs mounts there would let a new procfs mount past its masks).
/// Detach every mount that is neither the rootfs (or below it) nor one of
/// its parents, each made a slave first so nothing propagates to the host;
/// where detaching is not permitted, cover procfs/sysfs with a tmpfs.
fn detach_host_mounts(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let rootfs = std::fs::canonicalize(rootfs).map_err(|e| Error::Mount {
        dest: rootfs.display().to_string(),
        msg: format!("resolve rootfs: {e}"),
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
            Err(e) => return Err(mount_err(mp, "make host mount slave", e)),
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
                .map_err(|e| mount_err(mp, "cover host mount", e))?;
            }
            Err(nix::errno::Errno::EPERM) => {}
            Err(e) => return Err(mount_err(mp, "detach host mount", e)),
        }
    }
    Ok(())
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
            .map_err(|e| mount_err(Path::new("/"), "set rootfs propagation", e))?;
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
    .map_err(|e| mount_err(Path::new("/"), "open root", e))?;
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
                    return Err(mount_err(path, "not on procfs", nix::errno::Errno::EXDEV));
                }
                Ok(Some(fd))
            }
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(e) => Err(mount_err(path, "resolve", e)),
        }
    };
    for p in linux.readonly_paths().iter().flatten() {
        let path = Path::new(p);
        let Some(fd) = resolve(path)? else { continue };
        let t = target(path, &fd);
        sys.mount(Some(&t), &t, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
            .map_err(|e| mount_err(path, "bind readonly path", e))?;
        // The path now names the new bind mount: resolve it again.
        let Some(fd) = resolve(path)? else {
            return Err(mount_err(
                path,
                "readonly path vanished",
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
        .map_err(|e| mount_err(path, "remount readonly path", e))?;
    }
    for p in linux.masked_paths().iter().flatten() {
        let path = Path::new(p);
        let Some(fd) = resolve(path)? else { continue };
        let is_dir = nix::sys::stat::fstat(fd.as_fd())
            .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .map_err(|e| mount_err(path, "stat masked path", e))?;
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
        res.map_err(|e| mount_err(path, "mask", e))?;
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
        .map_err(|e| mount_err(Path::new("/dev"), "remount read-only", e))?;
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
        .map_err(|e| mount_err(Path::new("/"), "remount root read-only", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::recording::{Call, Recorder};

    fn spec(mounts: &str) -> Spec {
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
