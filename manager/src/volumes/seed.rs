//! Seeding a new volume with what the image has at its mount point, as
//! Docker does: the container's rootfs is mounted for a moment, the tree
//! at the destination is copied (modes, owners, times of directories,
//! symlinks as links) into the volume, and the rootfs is unmounted.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, IoContext, Result};
use crate::snapshots::Mount;

/// Mount `mounts` (a snapshot's) at `at` for the life of the guard.
pub struct Mounted {
    at: PathBuf,
}

impl Mounted {
    pub fn new(mounts: &[Mount], at: &Path) -> Result<Mounted> {
        crate::private::dir(at).ctx(|| format!("create {}", at.display()))?;
        let m = mounts
            .first()
            .ok_or_else(|| Error::FailedPrecondition("snapshot has no mounts".into()))?;
        let (flags, data) = if m.kind == "bind" {
            (MsFlags::MS_BIND | MsFlags::MS_REC, None)
        } else {
            (MsFlags::empty(), Some(m.options.join(",")))
        };
        let data = data.filter(|d| !d.is_empty());
        mount(
            Some(m.source.as_str()),
            at,
            Some(m.kind.as_str()),
            flags,
            data.as_deref(),
        )
        .map_err(|e| Error::io(format!("mount rootfs at {}", at.display()), e.into()))?;
        Ok(Mounted {
            at: at.to_path_buf(),
        })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = umount2(&self.at, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.at);
    }
}

/// `root` + `dest` when no component of `dest` below `root` is a symlink
/// (a link could point the copy anywhere on the host); None when the image
/// has nothing there.
pub fn source_in(root: &Path, dest: &str) -> Result<Option<PathBuf>> {
    let mut p = root.to_path_buf();
    for c in Path::new(dest).components() {
        match c {
            Component::Normal(n) => p.push(n),
            Component::RootDir | Component::CurDir => continue,
            _ => return Err(Error::InvalidArgument(format!("bad mount point {dest:?}"))),
        }
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.file_type().is_symlink() => {
                tracing::info!(dest, "not seeding a volume through a symlink in the image");
                return Ok(None);
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("stat {}", p.display()), e)),
        }
    }
    Ok(Some(p))
}

/// Copy the tree at `src` into the (empty) directory `dst`; `dst` takes
/// the mode and owner of `src`.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let md = std::fs::symlink_metadata(src).ctx(|| format!("stat {}", src.display()))?;
    if !md.is_dir() {
        return Ok(()); // a file at a volume's mount point: Docker copies nothing either
    }
    own(dst, &md)?;
    for e in std::fs::read_dir(src).ctx(|| format!("read {}", src.display()))? {
        let e = e.ctx(|| format!("read {}", src.display()))?;
        let (s, d) = (e.path(), dst.join(e.file_name()));
        let md = std::fs::symlink_metadata(&s).ctx(|| format!("stat {}", s.display()))?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&d).ctx(|| format!("create {}", d.display()))?;
            copy_tree(&s, &d)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&s).ctx(|| format!("readlink {}", s.display()))?;
            std::os::unix::fs::symlink(&target, &d).ctx(|| format!("symlink {}", d.display()))?;
            let _ = std::os::unix::fs::lchown(&d, Some(md.uid()), Some(md.gid()));
        } else if ft.is_file() {
            std::fs::copy(&s, &d).ctx(|| format!("copy {}", s.display()))?;
            own(&d, &md)?;
        } else {
            tracing::debug!(path = %s.display(), "not seeding a special file");
        }
    }
    Ok(())
}

fn own(p: &Path, md: &std::fs::Metadata) -> Result<()> {
    std::os::unix::fs::chown(p, Some(md.uid()), Some(md.gid()))
        .ctx(|| format!("chown {}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(md.mode() & 0o7777))
        .ctx(|| format!("chmod {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_tree_and_refuses_symlinked_paths() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc/conf.d")).unwrap();
        std::fs::write(root.join("etc/conf.d/a"), "A").unwrap();
        std::fs::set_permissions(
            root.join("etc/conf.d"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        std::os::unix::fs::symlink("conf.d/a", root.join("etc/link")).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        let src = source_in(&root, "/etc").unwrap().unwrap();
        let dst = t.path().join("vol");
        std::fs::create_dir(&dst).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("conf.d/a")).unwrap(), "A");
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap(),
            Path::new("conf.d/a")
        );
        let mode = std::fs::metadata(dst.join("conf.d"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750);
        assert_eq!(source_in(&root, "/escape/etc").unwrap(), None);
        assert_eq!(source_in(&root, "/nothing/here").unwrap(), None);
    }
}
