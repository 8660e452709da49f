//! Resolving paths inside the container's rootfs so that symlinks (and `..`)
//! can never lead outside it: every lookup is `openat2(RESOLVE_IN_ROOT)`
//! relative to an fd of the rootfs, and mounts target `/proc/self/fd/N` of
//! the resolved O_PATH fd, so a symlink swapped in after the check is not
//! followed either.

use crate::error::{Error, Result};
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// What to create at the end of the path when it is missing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Leaf {
    Dir,
    File,
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// The relative form of a container path ("/a/b" → "a/b"); "." for "/".
pub fn relative(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Open an existing path inside `root` as O_PATH.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> nix::Result<OwnedFd> {
    openat2(root, &relative(path), how(OFlag::O_PATH))
}

/// Resolve `path` inside `root`, creating missing directories (0755) and
/// the leaf as `leaf`. Returns an O_PATH fd of the leaf.
pub fn create_in_root(root: BorrowedFd<'_>, path: &Path, leaf: Leaf) -> Result<OwnedFd> {
    create_follow(root, path, leaf, 0)
}

fn create_follow(root: BorrowedFd<'_>, path: &Path, leaf: Leaf, depth: u32) -> Result<OwnedFd> {
    let err = |msg: String| Error::Mount {
        dest: path.display().to_string(),
        msg,
    };
    if depth > 40 {
        return Err(err("too many levels of symbolic links".into()));
    }
    if let Ok(fd) = open_in_root(root, path) {
        return Ok(fd);
    }
    let rel = relative(path);
    let comps: Vec<&std::ffi::OsStr> = rel.iter().collect();
    let mut prefix = PathBuf::new();
    let mut parent: OwnedFd = openat2(root, ".", how(OFlag::O_PATH | OFlag::O_DIRECTORY))
        .map_err(|e| err(format!("open rootfs: {e}")))?;
    for (i, name) in comps.iter().enumerate() {
        let parent_prefix = prefix.clone();
        prefix.push(name);
        let last = i + 1 == comps.len();
        match openat2(root, &prefix, how(OFlag::O_PATH)) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(err(format!("resolve {}: {e}", prefix.display()))),
        }
        if *name == ".." {
            return Err(err("'..' in a missing path".into()));
        }
        // A dangling symlink: continue from its target, inside the root.
        if let Ok(target) = nix::fcntl::readlinkat(parent.as_fd(), *name) {
            let target = PathBuf::from(target);
            let mut next = if target.is_absolute() {
                target
            } else {
                Path::new("/").join(&parent_prefix).join(target)
            };
            for rest in &comps[i + 1..] {
                next.push(rest);
            }
            return create_follow(root, &next, leaf, depth + 1);
        }
        let res = if last && leaf == Leaf::File {
            nix::fcntl::openat(
                parent.as_fd(),
                *name,
                OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        } else {
            nix::sys::stat::mkdirat(parent.as_fd(), *name, Mode::from_bits_truncate(0o755))
        };
        match res {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(err(format!("create {}: {e}", prefix.display()))),
        }
        parent = openat2(root, &prefix, how(OFlag::O_PATH))
            .map_err(|e| err(format!("resolve {}: {e}", prefix.display())))?;
    }
    Ok(parent)
}

/// A path that names `fd` for syscalls taking paths (mount, mknod…).
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, OwnedFd) {
        let t = tempfile::tempdir().unwrap();
        let fd =
            nix::fcntl::open(t.path(), OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        (t, fd)
    }

    #[test]
    fn absolute_symlink_stays_inside() {
        let (t, fd) = root();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        symlink("/etc", t.path().join("link")).unwrap();
        let got = create_in_root(fd.as_fd(), Path::new("/link/new"), Leaf::Dir).unwrap();
        let real = std::fs::read_link(fd_path(&got)).unwrap();
        assert_eq!(real, t.path().join("etc/new"));
    }

    #[test]
    fn dotdot_symlink_is_clamped() {
        let (t, fd) = root();
        symlink("../../../../tmp", t.path().join("up")).unwrap();
        let got = create_in_root(fd.as_fd(), Path::new("/up/x"), Leaf::File).unwrap();
        let real = std::fs::read_link(fd_path(&got)).unwrap();
        assert_eq!(real, t.path().join("tmp/x"));
        assert!(t.path().join("tmp/x").is_file());
    }

    #[test]
    fn relative_forms() {
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
        assert_eq!(relative(Path::new("/a//b/")), PathBuf::from("a/b"));
    }
}
