//! Bind sources opened with the host's privileges (runc's "mount sources").
//!
//! In a new user namespace the init runs as the mapped root, an ordinary
//! uid on the host: a bind source under a directory it may not search
//! (e.g. a 0700 root-owned one) cannot be reached from inside. As runc
//! does, the parent (host root) opens every bind source O_PATH and passes
//! the fds to the init over the sync channel; the init mounts
//! `/proc/self/fd/N` instead of the path. The fds must name mounts of the
//! init's own mount namespace (the kernel refuses to bind from another
//! one), so the parent resolves the paths below `/proc/<init>/root`, the
//! init's root in its new mount namespace (runc joins that namespace
//! instead). Used only with a user namespace and a new mount namespace,
//! runc's condition.

use super::options;
use super::paths::open_in_root;
use crate::process::namespaces::Plan;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The pre-opened source of each bind in `mounts`, by index. A missing one
/// (not a bind, or the parent could not open it) makes the init use the
/// path, and report any error as it would without pre-opening.
#[derive(Default)]
pub struct BindSources(Vec<Option<OwnedFd>>);

impl BindSources {
    /// Record the fd of `mounts[index]`.
    pub fn insert(&mut self, index: usize, fd: OwnedFd) {
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(fd);
    }

    /// The pre-opened source of `mounts[index]`, if any.
    pub fn get(&self, index: usize) -> Option<&OwnedFd> {
        self.0.get(index).and_then(Option::as_ref)
    }
}

/// Whether the init should ask the parent for its bind sources: a user
/// namespace, a new mount namespace, and at least one bind.
pub fn wanted(spec: &Spec, ns: &Plan) -> bool {
    ns.has(LinuxNamespaceType::User)
        && ns.is_new(LinuxNamespaceType::Mount)
        && spec.mounts().iter().flatten().any(is_bind)
}

/// Parent side: open every bind source of `spec` inside the mount
/// namespace of process `pid`, with this process's (host) privileges.
/// Sources that cannot be opened this way are left out.
pub fn open_for(pid: i32, spec: &Spec, bundle: &Path) -> Vec<(usize, OwnedFd)> {
    let root = match nix::fcntl::open(
        &PathBuf::from(format!("/proc/{pid}/root")),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            tracing::debug!(pid, "open the init's root for bind sources: {e}");
            return Vec::new();
        }
    };
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| is_bind(m))
        .filter_map(|(index, m)| {
            let src = source_path(m, bundle);
            match open_in_root(root.as_fd(), &src) {
                Ok(fd) => Some((index, fd)),
                Err(e) => {
                    tracing::debug!(source = %src.display(), "pre-open bind source: {e}");
                    None
                }
            }
        })
        .collect()
}

/// Whether the mount is a bind the rootfs setup mounts from a host path
/// (cgroup mounts never bind their source).
pub fn is_bind(m: &Mount) -> bool {
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return false;
    }
    typ == "bind" || options::parse(m.options().as_deref().unwrap_or_default()).is_bind()
}

/// A bind's host source: relative sources are relative to the bundle.
pub fn source_path(m: &Mount, bundle: &Path) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_absolute() {
        src
    } else {
        bundle.join(src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_binds_only_and_keeps_their_index() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("vol")).unwrap();
        let spec: Spec = serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
            "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},
                      {{"destination":"/a","type":"bind","source":"vol"}},
                      {{"destination":"/b","source":"{}/missing","options":["rbind"]}},
                      {{"destination":"/c","source":"{}/vol","options":["bind"]}}]}}"#,
            t.path().display(),
            t.path().display()
        ))
        .unwrap();
        let fds = open_for(std::process::id() as i32, &spec, t.path());
        let idx: Vec<usize> = fds.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, [1, 3]);
        let mut b = BindSources::default();
        for (i, fd) in fds {
            b.insert(i, fd);
        }
        assert!(b.get(0).is_none() && b.get(2).is_none() && b.get(9).is_none());
        assert!(b.get(1).is_some() && b.get(3).is_some());
    }
}
