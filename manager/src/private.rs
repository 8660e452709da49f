//! Modes of what hulld keeps under its root and state: nobody but root may
//! read or traverse them (the CVE-2021-41091 class: a local user running an
//! image's setuid binary straight from a snapshot, or reading a
//! container's `-e` secrets from the metadata, a bundle or a log).
//!
//! Directories are 0700 and files 0600. The exceptions all sit inside a
//! 0700 directory, so no other user reaches them either:
//! - container content keeps the image's modes: snapshots' `fs/` (0755
//!   when hull makes it, as it is the container's `/` with overlayfs) and
//!   `work/`, volumes' `_data`, a bundle's `rootfs`;
//! - a bundle's `hosts`, `hostname` and `resolv.conf` are 0644: they are
//!   bind-mounted into the container, where every user must read them;
//! - hullc's own state under `<state>/runtime` (the runtime's modes).
//!
//! Nothing needs 0710: hull makes no user-namespaced containers, and every
//! other container process reaches its rootfs, volumes and /etc files
//! through mounts hullc makes as root. (A raw OCI spec with a user
//! namespace, given through the API, would need traversal for its mapped
//! root, as Docker's userns-remap gives with 0710 and a remapped group.)
//!
//! hulld also runs with umask 077 (`restrict_umask`), so that a file made
//! without an explicit mode is private too; the shim it starts gets the
//! usual 022 back, because hullc makes mount points inside containers.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Directories of hulld's root and state.
pub const DIR_MODE: u32 = 0o700;
/// Files of hulld's root and state.
pub const FILE_MODE: u32 = 0o600;
/// Files bind-mounted into containers (hosts, hostname, resolv.conf).
pub const SHARED_FILE_MODE: u32 = 0o644;
/// Directories that are a container's content (a snapshot's `fs/`, a
/// volume's `_data`) when hull makes them: Docker's 0755.
pub const CONTENT_DIR_MODE: u32 = 0o755;

/// Bundle files bind-mounted into the container (see `SHARED_FILE_MODE`).
pub const SHARED_BUNDLE_FILES: [&str; 3] = ["hosts", "hostname", "resolv.conf"];

/// umask 077 for hulld itself.
pub fn restrict_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Give a child hulld starts (the shim, and through it hullc and the log
/// driver) the usual umask 022: hullc makes mount points and device nodes
/// inside containers, which must not come out 0700. They set explicit modes
/// on what they keep under hulld's state.
pub fn usual_umask(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: umask(2) is async-signal-safe and cannot fail.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
}

/// Create `p` (and missing parents) as 0700 and make it 0700 if it was
/// there already.
pub fn dir(p: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(p)?;
    set_mode(p, DIR_MODE)
}

/// Create `p` with `mode` (parents 0700) and set `mode` if it was there.
pub fn dir_with_mode(p: &Path, mode: u32) -> io::Result<()> {
    if let Some(parent) = p.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(parent)?;
    }
    match DirBuilder::new().mode(mode).create(p) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => {}
        Err(e) => return Err(e),
    }
    set_mode(p, mode)
}

/// Create `p` and its missing parents, each made with `mode` whatever the
/// umask (directories hulld makes for containers: Docker's 0755).
pub fn content_dir_all(p: &Path, mode: u32) -> io::Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    if let Some(parent) = p.parent() {
        content_dir_all(parent, mode)?;
    }
    match fs::create_dir(p) {
        Ok(()) => fs::set_permissions(p, fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// `OpenOptions` that create a file as 0600.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Write a whole file as 0600 (also when it was there with another mode).
pub fn write(p: &Path, data: impl AsRef<[u8]>) -> io::Result<()> {
    write_mode(p, data.as_ref(), FILE_MODE)
}

/// Write a whole file with `mode`.
pub fn write_mode(p: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(p)?;
    fix_open_file(&f, mode)?;
    f.write_all(data)
}

/// Give an open file `mode` if it has another (it was made before).
pub fn fix_open_file(f: &File, mode: u32) -> io::Result<()> {
    if f.metadata()?.mode() & 0o7777 != mode {
        f.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// chmod `p` (not following a symlink's target) unless it has `mode`.
pub fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    let md = fs::symlink_metadata(p)?;
    if md.file_type().is_symlink() || md.mode() & 0o7777 == mode {
        return Ok(());
    }
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
}

/// What `close_tree` does with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Close it (0700/0600) and, for a directory, its entries.
    Close,
    /// Give it this mode and leave what is in it alone.
    Only(u32),
    /// Leave it and what is in it alone (container content).
    Skip,
}

/// Close the modes of a tree an older hulld left open: directories 0700,
/// files 0600 (sockets and fifos too). Never follows symlinks nor enters
/// another filesystem (a container's rootfs, a netns file); `policy` picks
/// what to leave alone by path relative to `top`. Best effort: errors are
/// logged, not returned.
pub fn close_tree(top: &Path, policy: &dyn Fn(&Path, &fs::Metadata) -> Visit) {
    let Ok(md) = fs::symlink_metadata(top) else {
        return;
    };
    close_entry(top, top, &md, md.dev(), policy);
}

fn close_entry(
    top: &Path,
    p: &Path,
    md: &fs::Metadata,
    dev: u64,
    policy: &dyn Fn(&Path, &fs::Metadata) -> Visit,
) {
    let ft = md.file_type();
    if ft.is_symlink() || md.dev() != dev {
        return;
    }
    let rel = p.strip_prefix(top).unwrap_or(p);
    let visit = policy(rel, md);
    if visit == Visit::Skip {
        return;
    }
    let want = match visit {
        Visit::Only(m) => m,
        _ if ft.is_dir() => DIR_MODE,
        _ => FILE_MODE,
    };
    if md.mode() & 0o7777 != want {
        if let Err(e) = fs::set_permissions(p, fs::Permissions::from_mode(want)) {
            tracing::warn!("chmod {:o} {}: {e}", want, p.display());
        }
    }
    if !ft.is_dir() || visit != Visit::Close {
        return;
    }
    let Ok(rd) = fs::read_dir(p) else { return };
    for e in rd.flatten() {
        let path = e.path();
        if let Ok(md) = fs::symlink_metadata(&path) {
            close_entry(top, &path, &md, dev, policy);
        }
    }
}

/// On start: close what an older hulld left open under `root` and `state`,
/// leaving container content alone (see the module's exceptions).
pub fn close_daemon_dirs(root: &Path, state: &Path) {
    close_tree(root, &|rel, _| root_policy(rel));
    close_tree(state, &|rel, _| state_policy(rel));
}

fn parts(rel: &Path) -> Vec<&str> {
    rel.iter().map(|c| c.to_str().unwrap_or("")).collect()
}

/// `<root>`: snapshots' `fs/` and `work/` and volumes' `_data` are content.
pub fn root_policy(rel: &Path) -> Visit {
    match parts(rel).as_slice() {
        ["snapshots", _, _, "fs" | "work"] => Visit::Skip,
        ["volumes", _, _, "_data"] => Visit::Skip,
        _ => Visit::Close,
    }
}

/// `<state>`: bundles' rootfs is content, their hosts files are shared with
/// the container, and `runtime/` below its top is hullc's.
pub fn state_policy(rel: &Path) -> Visit {
    match parts(rel).as_slice() {
        ["containers", _, _, "rootfs"] => Visit::Skip,
        ["containers", _, _, f] if SHARED_BUNDLE_FILES.contains(f) => Visit::Only(SHARED_FILE_MODE),
        ["runtime"] => Visit::Only(DIR_MODE),
        _ => Visit::Close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn close_tree_closes_all_but_skipped() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("a/b")).unwrap();
        fs::create_dir_all(r.join("keep/inner")).unwrap();
        fs::write(r.join("a/b/f"), "x").unwrap();
        fs::write(r.join("keep/inner/g"), "y").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("a/link")).unwrap();
        for p in ["a", "a/b", "keep", "keep/inner"] {
            fs::set_permissions(r.join(p), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::set_permissions(r.join("a/b/f"), fs::Permissions::from_mode(0o644)).unwrap();
        let before = mode(Path::new("/etc/passwd"));
        close_tree(r, &|rel, _| {
            if rel == Path::new("keep/inner") {
                Visit::Skip
            } else {
                Visit::Close
            }
        });
        assert_eq!(mode(r), 0o700);
        assert_eq!(mode(&r.join("a/b")), 0o700);
        assert_eq!(mode(&r.join("a/b/f")), 0o600);
        assert_eq!(mode(&r.join("keep")), 0o700);
        assert_eq!(mode(&r.join("keep/inner")), 0o755);
        assert_eq!(mode(Path::new("/etc/passwd")), before);
    }

    #[test]
    fn write_fixes_an_open_mode() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write(&p, "new").unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        let d = t.path().join("x/y");
        dir(&d).unwrap();
        assert_eq!(mode(&t.path().join("x")), 0o700);
        assert_eq!(mode(&d), 0o700);
    }
}
