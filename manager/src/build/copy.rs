//! COPY and ADD into a mounted rootfs, with Docker's rules: a directory
//! source copies its content; a destination ending in `/` (or an existing
//! directory, or several sources) is a directory the sources land in by
//! name, else the path the single source is written as; missing parents
//! are made; files keep their mode and mtime, and belong to root unless
//! `--chown` says otherwise; `--chmod` sets the mode of what is copied.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, FchownatFlags, Gid, Uid};

use super::rootpath;
use super::sources::Found;
use crate::error::{Error, Result};

/// How copied entries are owned and moded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    pub uid: u32,
    pub gid: u32,
    /// `--chmod`: the mode of every file and directory copied.
    pub mode: Option<u32>,
    /// Copied entries keep their source's owner (`COPY --from` without
    /// `--chown`); `uid`/`gid` then own only the directories made.
    pub keep_owner: bool,
}

/// Copy `sources` to `dest` (absolute, as the Dockerfile's destination
/// after WORKDIR, a trailing `/` kept) inside `rootfs`.
pub fn copy_into(rootfs: &Path, sources: &[Found], dest: &str, attrs: &Attrs) -> Result<()> {
    let dest_host = rootpath::resolve(rootfs, dest, true)?;
    let dest_is_dir = dest.ends_with('/')
        || sources.len() > 1
        || sources.first().is_some_and(|s| s.is_dir)
        || dest_host.is_dir();
    if sources.len() > 1 && !dest.ends_with('/') && !dest_host.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "when using COPY with more than one source file, the destination must be a directory and end with a /: {dest}"
        )));
    }
    if dest_is_dir {
        make_dirs(rootfs, dest, attrs)?;
    } else if let Some(parent) = Path::new(dest).parent() {
        make_dirs(rootfs, &parent.to_string_lossy(), attrs)?;
    }
    for s in sources {
        if s.is_dir {
            copy_dir_content(&s.path, &dest_host, attrs)?;
        } else {
            let target = if dest_is_dir {
                dest_host.join(&s.name)
            } else {
                dest_host.clone()
            };
            copy_entry(&s.path, &target, attrs, true)?;
        }
    }
    Ok(())
}

/// `mkdir -p` of the container path `dir` inside `rootfs`; directories it
/// makes are 0755 (or `--chmod`'s mode) and owned as `attrs` says.
pub fn make_dirs(rootfs: &Path, dir: &str, attrs: &Attrs) -> Result<()> {
    let mut cur = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty() && *p != ".") {
        cur.push('/');
        cur.push_str(part);
        let host = rootpath::resolve(rootfs, &cur, true)?;
        match fs::symlink_metadata(&host) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(Error::InvalidArgument(format!(
                    "cannot make directory {cur}: a file is in the way"
                )))
            }
            Err(_) => {}
        }
        // All of `host` that exists is directories (links were resolved);
        // a link to a missing path has its missing parents made too.
        fs::create_dir_all(&host).map_err(|e| Error::io(format!("mkdir {cur}"), e))?;
        set_attrs(&host, attrs, attrs.mode.unwrap_or(0o755))?;
    }
    Ok(())
}

/// The entries of directory `src` into directory `dest` (merged with what
/// is there).
fn copy_dir_content(src: &Path, dest: &Path, attrs: &Attrs) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(src)
        .map_err(|e| Error::io(format!("read {}", src.display()), e))?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for n in names {
        copy_entry(&src.join(&n), &dest.join(&n), attrs, false)?;
    }
    // The directory keeps its source's mtime (after its content changed).
    if let Ok(md) = fs::metadata(src) {
        set_mtime(dest, &md)?;
    }
    Ok(())
}

/// Copy one entry (a tree for a directory); `follow` copies what a top
/// symlink points to rather than the link.
fn copy_entry(src: &Path, dest: &Path, attrs: &Attrs, follow: bool) -> Result<()> {
    let md = if follow {
        fs::metadata(src)
    } else {
        fs::symlink_metadata(src)
    }
    .map_err(|e| Error::io(format!("stat {}", src.display()), e))?;
    let ft = md.file_type();
    let existing = fs::symlink_metadata(dest).ok();
    if let Some(e) = &existing {
        // A directory merges with a directory; anything else is replaced.
        if !(ft.is_dir() && e.is_dir()) {
            if e.is_dir() {
                fs::remove_dir_all(dest)
            } else {
                fs::remove_file(dest)
            }
            .map_err(|err| Error::io(format!("replace {}", dest.display()), err))?;
        }
    }
    let mode = attrs.mode.unwrap_or(md.mode() & 0o7777);
    let own = if attrs.keep_owner {
        Attrs {
            uid: md.uid(),
            gid: md.gid(),
            ..*attrs
        }
    } else {
        *attrs
    };
    let attrs = &own;
    if ft.is_symlink() {
        let target =
            fs::read_link(src).map_err(|e| Error::io(format!("readlink {}", src.display()), e))?;
        symlink(&target, dest).map_err(|e| Error::io(format!("symlink {}", dest.display()), e))?;
        chown(dest, attrs)?;
    } else if ft.is_dir() {
        if existing.as_ref().is_none_or(|e| !e.is_dir()) {
            fs::create_dir(dest).map_err(|e| Error::io(format!("mkdir {}", dest.display()), e))?;
        }
        set_attrs(dest, attrs, mode)?;
        copy_dir_content(src, dest, attrs)?;
        return Ok(());
    } else if ft.is_file() {
        fs::copy(src, dest).map_err(|e| Error::io(format!("copy to {}", dest.display()), e))?;
        set_attrs(dest, attrs, mode)?;
    } else {
        return Err(Error::InvalidArgument(format!(
            "cannot copy {}: not a file, directory or symlink",
            src.display()
        )));
    }
    set_mtime(dest, &md)
}

fn chown(p: &Path, attrs: &Attrs) -> Result<()> {
    fchownat(
        nix::fcntl::AT_FDCWD,
        p,
        Some(Uid::from_raw(attrs.uid)),
        Some(Gid::from_raw(attrs.gid)),
        FchownatFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| Error::io(format!("chown {}", p.display()), e.into()))
}

/// Owner first, then the mode (chown clears setuid bits).
pub(super) fn set_attrs(p: &Path, attrs: &Attrs, mode: u32) -> Result<()> {
    chown(p, attrs)?;
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {}", p.display()), e))
}

fn set_mtime(p: &Path, md: &fs::Metadata) -> Result<()> {
    let t = TimeSpec::new(md.mtime(), md.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        p,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| Error::io(format!("set times of {}", p.display()), e.into()))
}

#[cfg(test)]
mod tests {
    use super::super::sources::expand;
    use super::*;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir) {
        let ctx = tempfile::tempdir().unwrap();
        fs::create_dir_all(ctx.path().join("dir/sub")).unwrap();
        fs::write(ctx.path().join("dir/sub/f"), "f").unwrap();
        fs::write(ctx.path().join("one"), "1").unwrap();
        fs::set_permissions(ctx.path().join("one"), fs::Permissions::from_mode(0o750)).unwrap();
        symlink("one", ctx.path().join("link")).unwrap();
        (ctx, tempfile::tempdir().unwrap())
    }

    fn copy(ctx: &Path, root: &Path, srcs: &[&str], dest: &str) -> Result<()> {
        let mut found = Vec::new();
        for s in srcs {
            found.extend(expand(ctx, s, "build context")?);
        }
        copy_into(root, &found, dest, &Attrs::default())
    }

    #[test]
    fn docker_rules_for_files_dirs_and_slashes() {
        let (ctx, root) = setup();
        let (c, r) = (ctx.path(), root.path());
        copy(c, r, &["one"], "/as-file").unwrap();
        assert_eq!(fs::read_to_string(r.join("as-file")).unwrap(), "1");
        copy(c, r, &["one"], "/into/").unwrap();
        assert_eq!(fs::read_to_string(r.join("into/one")).unwrap(), "1");
        copy(c, r, &["dir"], "/d").unwrap();
        assert_eq!(fs::read_to_string(r.join("d/sub/f")).unwrap(), "f");
        assert!(!r.join("d/dir").exists(), "a directory copies its content");
        copy(c, r, &["one", "dir"], "/many/").unwrap();
        assert!(r.join("many/one").is_file() && r.join("many/sub/f").is_file());
        let e = copy(c, r, &["one", "dir"], "/many2").unwrap_err();
        assert!(e.to_string().contains("must be a directory"), "{e}");
        // An existing directory takes the file by name.
        copy(c, r, &["one"], "/d").unwrap();
        assert!(r.join("d/one").is_file());
        let md = fs::metadata(r.join("into/one")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o750);
        // A top-level symlink source copies its target.
        copy(c, r, &["link"], "/l").unwrap();
        assert!(fs::symlink_metadata(r.join("l")).unwrap().is_file());
    }

    #[test]
    fn chmod_and_links_inside_a_directory() {
        let (ctx, root) = setup();
        symlink("sub/f", ctx.path().join("dir/inner")).unwrap();
        let found = expand(ctx.path(), "dir", "build context").unwrap();
        let attrs = Attrs {
            mode: Some(0o700),
            ..Default::default()
        };
        copy_into(root.path(), &found, "/x/y/", &attrs).unwrap();
        let inner = root.path().join("x/y/inner");
        assert!(fs::symlink_metadata(&inner)
            .unwrap()
            .file_type()
            .is_symlink());
        let f = fs::metadata(root.path().join("x/y/sub/f")).unwrap();
        assert_eq!(f.mode() & 0o7777, 0o700);
        let x = fs::metadata(root.path().join("x")).unwrap();
        assert_eq!(x.mode() & 0o7777, 0o700);
    }
}
