//! Copies out of and into a container's rootfs (`hull cp`): a running
//! container's rootfs is the one its shim mounted; a stopped container's
//! active snapshot is mounted on a private temporary directory for the copy
//! and unmounted after it.

use std::io;
use std::path::{Path, PathBuf};

use super::copy::{self, Root};
use super::ContainerRecord;
use crate::error::{Error, IoContext, Result};
use crate::manager::Manager;
use crate::metadata::ns_key;

/// A container's rootfs opened for a copy; unmounts a temporary mount
/// when dropped.
pub struct Rootfs {
    pub root: Root,
    _mount: Option<TempMount>,
}

struct TempMount(PathBuf);

impl Drop for TempMount {
    fn drop(&mut self) {
        use nix::mount::{umount2, MntFlags};
        if let Err(e) = umount2(&self.0, MntFlags::MNT_DETACH) {
            tracing::warn!(path = %self.0.display(), "unmount after copy: {e}");
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Whether something is mounted exactly at `p`.
fn is_mountpoint(p: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = p.display().to_string();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| hull_linux::mountinfo::unescape(mp) == want)
}

/// Mount the snapshot mounts of a stopped container on `target`.
fn mount_snapshot(m: &Manager, r: &ContainerRecord, target: &Path) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    let mounts = m.snapshots.mounts(&r.snapshot_key)?;
    for mt in mounts {
        let err = |e: nix::errno::Errno| {
            Error::io(
                format!("mount {} {} on {}", mt.kind, mt.source, target.display()),
                io::Error::from(e),
            )
        };
        if mt.kind == "bind" {
            mount(
                Some(mt.source.as_str()),
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(err)?;
        } else {
            let data: Vec<&str> = mt
                .options
                .iter()
                .map(String::as_str)
                .filter(|o| *o != "rw" && *o != "ro")
                .collect();
            let flags = if mt.options.iter().any(|o| o == "ro") {
                MsFlags::MS_RDONLY
            } else {
                MsFlags::empty()
            };
            mount(
                Some(mt.source.as_str()),
                target,
                Some(mt.kind.as_str()),
                flags,
                Some(data.join(",").as_str()),
            )
            .map_err(err)?;
        }
    }
    // Keep the temporary mount out of other mount namespaces.
    let _ = mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        None::<&str>,
    );
    Ok(())
}

/// The rootfs of container `what` (ID, prefix or name), mounted if needed.
pub fn open_rootfs(m: &Manager, ns: &str, what: &str) -> Result<(ContainerRecord, Rootfs)> {
    let r = super::find(m, ns, what)?;
    let live = m.tasks.get(&ns_key(ns, &r.id)).is_some();
    let rootfs = r.bundle.join("rootfs");
    if live && is_mountpoint(&rootfs) {
        let root = Root::open(&rootfs)?;
        return Ok((r, Rootfs { root, _mount: None }));
    }
    let tmp = m.state.join("tmp").join(format!(
        "cp-{}-{}",
        &r.id[..12.min(r.id.len())],
        &super::new_id()[..8]
    ));
    crate::private::dir(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    if let Err(e) = mount_snapshot(m, &r, &tmp) {
        let _ = nix::mount::umount2(&tmp, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&tmp);
        return Err(e);
    }
    let guard = TempMount(tmp.clone());
    let root = Root::open(&tmp)?;
    Ok((
        r,
        Rootfs {
            root,
            _mount: Some(guard),
        },
    ))
}

pub fn not_found(path: &str, container: &str) -> Error {
    Error::NotFound(format!(
        "Could not find the file {path} in container {container}"
    ))
}

/// A copy into a container as the client asked for it.
#[derive(Debug, Clone, Default)]
pub struct CopyTo {
    pub container_id: String,
    /// Where to copy to, as the user wrote it (a trailing `/` matters).
    pub dest: String,
    /// The source as the tar names it: its top-level entry, whether it is
    /// a directory, and whether only its contents are copied (`SRC/.`).
    pub src_base: String,
    pub src_is_dir: bool,
    pub contents_only: bool,
    /// Extract the tar as it is into `dest`, a directory (`-`).
    pub raw: bool,
    /// Keep the archive's uid/gid (`cp -a`); else files belong to root.
    pub archive: bool,
}

/// Where a copy into the container lands (Docker's rules), checking that
/// the destination's parent exists.
pub fn target_in(root: &Root, t: &CopyTo) -> Result<copy::Target> {
    let dest_stat = root.stat(&t.dest, true)?;
    if t.raw {
        return match dest_stat {
            Some(s) if s.is_dir => Ok(copy::Target {
                dir: copy::components(&t.dest),
                rename: None,
                chown: t.archive,
            }),
            Some(_) => Err(Error::InvalidArgument(
                "extraction point is not a directory".into(),
            )),
            None => Err(not_found(&t.dest, &t.container_id)),
        };
    }
    if dest_stat.is_none() {
        let mut parent = copy::components(&t.dest);
        parent.pop();
        let p = format!("/{}", parent.join("/"));
        if !root.stat(&p, true)?.is_some_and(|s| s.is_dir) {
            return Err(not_found(&p, &t.container_id));
        }
    }
    let mut target = copy::plan(
        &t.src_base,
        t.src_is_dir,
        t.contents_only,
        &t.dest,
        dest_stat.as_ref(),
    )?;
    target.chown = t.archive;
    Ok(target)
}

pub use hull_types::chunks::{ChunkReader, ChunkWriter};
