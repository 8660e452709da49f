//! Relative paths of a file made absolute against a directory, lexically
//! (the paths need not exist yet: a bind source may be created on `up`).

use std::path::{Component, Path, PathBuf};

use crate::model::service::Service;
use crate::model::volumes::MountKind;

/// `p` against `dir`; `~` and `~/…` against `home`.
pub fn absolute(dir: &Path, home: Option<&str>, p: &str) -> String {
    let joined = if p == "~" || p.starts_with("~/") {
        match home {
            Some(h) => Path::new(h).join(p.trim_start_matches('~').trim_start_matches('/')),
            None => return p.to_string(),
        }
    } else {
        dir.join(p)
    };
    clean(&joined).to_string_lossy().into_owned()
}

/// Removes `.` and folds `..` without touching the file system.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A build context that is a URL (git repository, tarball) stays as written.
pub fn is_remote(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("github.com/")
}

/// Makes a service's relative paths (build context, bind sources,
/// env files) absolute against `dir`, the directory of its file.
pub fn rebase(svc: &mut Service, dir: &Path, home: Option<&str>) {
    if let Some(build) = &mut svc.build {
        let ctx = build.context.get_or_insert_with(|| ".".to_string());
        if !is_remote(ctx) {
            *ctx = absolute(dir, home, ctx);
        }
    }
    for m in &mut svc.volumes {
        if m.kind == MountKind::Bind {
            if let Some(src) = &mut m.source {
                *src = absolute(dir, home, src);
            }
        }
    }
    for f in &mut svc.env_file {
        f.path = absolute(dir, home, &f.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        let d = Path::new("/p/app");
        assert_eq!(absolute(d, None, "./data"), "/p/app/data");
        assert_eq!(absolute(d, None, "../x/./y"), "/p/x/y");
        assert_eq!(absolute(d, None, "/abs/../b"), "/b");
        assert_eq!(absolute(d, Some("/root"), "~/c"), "/root/c");
        assert_eq!(absolute(d, Some("/root"), "~"), "/root");
    }
}
