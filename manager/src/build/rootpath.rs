//! Paths inside a root: a container path resolved under a mounted rootfs
//! (or the build context) as the container would see it, symlinks
//! followed but never out of the root (`..` stops at it, absolute link
//! targets start again from it), as a chroot would.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Symlinks followed at most (Linux's limit).
const MAX_LINKS: usize = 40;

/// `path` resolved under `root`: the host path it names. Components that do
/// not exist are kept as written. With `follow_last` false, a symlink as
/// the last component is not followed.
pub fn resolve(root: &Path, path: &str, follow_last: bool) -> Result<PathBuf> {
    let mut rest: VecDeque<OsString> = components(Path::new(path));
    let mut cur = PathBuf::new();
    let mut links = 0;
    while let Some(name) = rest.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&name);
        let host = root.join(&next);
        let is_link = std::fs::symlink_metadata(&host).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link || (!follow_last && rest.is_empty()) {
            cur = next;
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(Error::InvalidArgument(format!(
                "{path}: too many levels of symbolic links"
            )));
        }
        let target = std::fs::read_link(&host)
            .map_err(|e| Error::io(format!("readlink {}", host.display()), e))?;
        if target.is_absolute() {
            cur = PathBuf::new();
        }
        let mut t = components(&target);
        while let Some(c) = t.pop_back() {
            rest.push_front(c);
        }
    }
    Ok(root.join(cur))
}

/// The normal and `..` components of `p` (root and `.` dropped).
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// `path` made absolute against `workdir` and cleaned (Docker's rule for
/// WORKDIR and COPY destinations), keeping a trailing `/`.
pub fn absolute(workdir: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", if workdir.is_empty() { "/" } else { workdir })
    };
    let mut out = hull_dockerfile::dockerignore::clean(&joined);
    if (path.ends_with('/') || path.ends_with("/.") || path == ".") && !out.ends_with('/') {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_stay_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        symlink("/usr/lib", r.join("lib")).unwrap();
        symlink("../../../../etc", r.join("usr/escape")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        assert_eq!(resolve(r, "/lib/x", true).unwrap(), r.join("usr/lib/x"));
        assert_eq!(
            resolve(r, "/usr/escape/passwd", true).unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(resolve(r, "/../../lib", false).unwrap(), r.join("lib"));
        assert_eq!(resolve(r, "lib", true).unwrap(), r.join("usr/lib"));
        assert!(resolve(r, "/loop", true).is_err());
    }

    #[test]
    fn absolute_paths_against_workdir() {
        assert_eq!(absolute("/app", "src/"), "/app/src/");
        assert_eq!(absolute("/app", "."), "/app/");
        assert_eq!(absolute("", "x"), "/x");
        assert_eq!(absolute("/app", "/etc/../opt"), "/opt");
        assert_eq!(absolute("/", "a/./b"), "/a/b");
    }
}
