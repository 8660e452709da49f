//! What may be mounted on /proc and /sys (CVE-2019-16884 / CVE-2019-19921
//! class). An image's `/vol -> /proc` plus a bind at `/vol` would otherwise
//! put a fake /proc (taken from a host volume) under the container, and
//! masked and read-only paths would then apply to the fake; `/proc -> /`
//! would mount procfs over the container's root. So, as runc checks:
//! /proc and /sys must be real directories of the rootfs, a mount whose
//! destination resolves to /proc (/sys) must be procfs (sysfs), nothing may
//! be mounted inside /proc but the few files lxcfs emulates, and inside
//! /sys only sysfs, cgroup file systems or binds of the host's own /sys.

use super::paths::{fd_path, relative};
use crate::error::{Error, Result};
use nix::sys::stat::{fstatat, SFlag};
use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC, SYSFS_MAGIC};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// Files inside /proc that lxcfs (and similar) may bind over.
const LXCFS_FILES: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

fn refuse(dest: &Path, msg: impl Into<String>) -> Error {
    Error::Mount {
        dest: dest.display().to_string(),
        msg: msg.into(),
    }
}

/// /proc and /sys of the rootfs, when present, must be plain directories.
pub fn check_pseudo_dirs(root: BorrowedFd<'_>) -> Result<()> {
    for name in ["proc", "sys"] {
        match fstatat(root, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => {}
            Ok(_) => {
                return Err(refuse(
                    &Path::new("/").join(name),
                    "is a symlink or not a directory in the rootfs (refused)",
                ))
            }
            Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(refuse(&Path::new("/").join(name), e.to_string())),
        }
    }
    Ok(())
}

/// Where `target` (an fd resolved inside the rootfs) really is, as a path
/// of the container: "/proc" for `<rootfs>/proc`.
pub fn container_path(root: BorrowedFd<'_>, target: &impl AsRawFd) -> Result<PathBuf> {
    let root_real = std::fs::read_link(fd_path(&root.as_raw_fd()))
        .map_err(|e| refuse(Path::new("/"), format!("resolve rootfs: {e}")))?;
    let real = std::fs::read_link(fd_path(target))
        .map_err(|e| refuse(Path::new("/"), format!("resolve mount target: {e}")))?;
    let rest = real
        .strip_prefix(&root_real)
        .map_err(|_| refuse(&real, "resolves outside the rootfs (refused)"))?;
    Ok(Path::new("/").join(rest))
}

/// The checks on one mount: `dest` as written in config.json, `real` where
/// it resolved, `typ` its type ("bind" for binds), `source` a bind's
/// host source.
pub fn check_destination(dest: &Path, real: &Path, typ: &str, source: Option<&Path>) -> Result<()> {
    let literal = Path::new("/").join(relative(dest));
    let through_link = literal != real;
    if matches!(typ, "proc" | "sysfs") && through_link {
        return Err(refuse(
            dest,
            format!(
                "{typ} must be mounted on an ordinary directory, not through a symlink (resolves to {})",
                real.display()
            ),
        ));
    }
    let on_fs =
        |magic| source.is_some_and(|s| statfs(s).is_ok_and(|f| f.filesystem_type() == magic));
    let host_sys = || {
        source
            .and_then(|s| std::fs::canonicalize(s).ok())
            .is_some_and(|s| s.starts_with("/sys"))
    };
    if real == Path::new("/proc") {
        if typ == "proc" || (typ == "bind" && on_fs(PROC_SUPER_MAGIC)) {
            return Ok(());
        }
        return Err(refuse(
            dest,
            format!("resolves to /proc: only procfs may be mounted there, not {typ}"),
        ));
    }
    if real.starts_with("/proc") {
        if typ == "bind" && LXCFS_FILES.iter().any(|f| real == Path::new(f)) {
            return Ok(());
        }
        return Err(refuse(
            dest,
            format!("resolves inside /proc ({}): refused", real.display()),
        ));
    }
    if real == Path::new("/sys") {
        if typ == "sysfs" || (typ == "bind" && (on_fs(SYSFS_MAGIC) || host_sys())) {
            return Ok(());
        }
        return Err(refuse(
            dest,
            format!("resolves to /sys: only sysfs may be mounted there, not {typ}"),
        ));
    }
    if real.starts_with("/sys") {
        if matches!(typ, "sysfs" | "cgroup" | "cgroup2") || (typ == "bind" && host_sys()) {
            return Ok(());
        }
        return Err(refuse(
            dest,
            format!(
                "resolves inside /sys ({}): only sysfs, cgroups or the host's /sys may be mounted there",
                real.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(dest: &str, real: &str, typ: &str, src: Option<&str>) -> bool {
        check_destination(Path::new(dest), Path::new(real), typ, src.map(Path::new)).is_ok()
    }

    #[test]
    fn proc_rules() {
        assert!(ok("/proc", "/proc", "proc", None));
        // a symlink /vol -> /proc with a bind of a host dir at /vol
        assert!(!ok("/vol", "/proc", "bind", Some("/tmp")));
        // procfs through a symlink (/proc -> / in the image)
        assert!(!ok("/proc", "/", "proc", None));
        assert!(!ok("/myproc", "/proc", "proc", None));
        assert!(!ok("/data", "/proc/sys/net/core", "bind", Some("/tmp")));
        assert!(!ok("/proc/x", "/proc/x", "tmpfs", None));
        assert!(ok("/proc/meminfo", "/proc/meminfo", "bind", Some("/tmp")));
        // a bind of the host's procfs at /proc is procfs
        assert!(ok("/proc", "/proc", "bind", Some("/proc")));
        assert!(ok("/data", "/data", "bind", Some("/tmp")));
    }

    #[test]
    fn sys_rules() {
        assert!(ok("/sys", "/sys", "sysfs", None));
        assert!(ok("/sys/fs/cgroup", "/sys/fs/cgroup", "cgroup", None));
        assert!(ok(
            "/sys/fs/cgroup",
            "/sys/fs/cgroup",
            "bind",
            Some("/sys/fs/cgroup")
        ));
        assert!(!ok("/sys", "/sys", "tmpfs", None));
        assert!(!ok("/vol", "/sys/kernel", "bind", Some("/tmp")));
        assert!(!ok("/s", "/sys", "sysfs", None));
    }
}
