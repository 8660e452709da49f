//! What COPY and ADD read: their sources found under a root (the build
//! context or another stage's filesystem) with globs expanded and paths
//! kept inside that root, and a digest of what they hold for the cache
//! key (content, type, mode and link targets; no timestamps).

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use hull_dockerfile::dockerignore::{clean, is_glob, path_match};

use super::rootpath;
use crate::error::{Error, Result};

/// One source found: its path on the host and the name it is copied under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub name: String,
    pub is_dir: bool,
}

/// The paths `src` names under `root` (`what` names the root in errors,
/// e.g. "build context"); nothing found is an error naming `src`.
pub fn expand(root: &Path, src: &str, what: &str) -> Result<Vec<Found>> {
    let cleaned = clean(src.trim_start_matches('/'));
    if cleaned == ".." || cleaned.starts_with("../") {
        return Err(Error::InvalidArgument(format!(
            "forbidden path outside the {what}: {src}"
        )));
    }
    let mut found = Vec::new();
    if is_glob(&cleaned) {
        glob(root, Path::new(""), &cleaned, &mut found)?;
        found.sort();
    } else {
        let p = rootpath::resolve(root, &cleaned, true)?;
        if fs::symlink_metadata(&p).is_ok() {
            found.push(p);
        }
    }
    if found.is_empty() {
        return Err(Error::NotFound(format!(
            "COPY source {src:?} not found in the {what}"
        )));
    }
    found
        .into_iter()
        .map(|path| {
            let md = fs::metadata(&path).map_err(|e| Error::io(format!("stat {src}"), e))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Found {
                path,
                name,
                is_dir: md.is_dir(),
            })
        })
        .collect()
}

/// Matches of `pattern` (a cleaned relative path) below `root/at`, one
/// component at a time.
fn glob(root: &Path, at: &Path, pattern: &str, out: &mut Vec<PathBuf>) -> Result<()> {
    let (first, rest) = match pattern.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (pattern, None),
    };
    let dir = rootpath::resolve(root, &at.to_string_lossy(), true)?;
    let names: Vec<String> = if is_glob(first) {
        let mut v: Vec<String> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| path_match(first, n))
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    } else {
        vec![first.to_string()]
    };
    for n in names {
        let next = at.join(&n);
        match rest {
            Some(r) => glob(root, &next, r, out)?,
            None => {
                let p = rootpath::resolve(root, &next.to_string_lossy(), true)?;
                if fs::symlink_metadata(&p).is_ok() {
                    out.push(p);
                }
            }
        }
    }
    Ok(())
}

/// A digest of what `found` holds, for the cache key: each entry's path
/// below its source, type, mode, size, content and link target.
pub fn digest(found: &[Found]) -> Result<String> {
    let mut h = Sha256::new();
    for f in found {
        h.update(f.name.as_bytes());
        h.update([0]);
        hash_tree(&f.path, Path::new(""), &mut h, true)?;
    }
    Ok(hex::encode(h.finalize()))
}

fn hash_tree(path: &Path, rel: &Path, h: &mut Sha256, top: bool) -> Result<()> {
    let md = if top {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    }
    .map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
    let ft = md.file_type();
    h.update(rel.as_os_str().as_encoded_bytes());
    h.update(format!("\0{:o}\0", md.mode()).as_bytes());
    if ft.is_symlink() {
        let t = fs::read_link(path)
            .map_err(|e| Error::io(format!("readlink {}", path.display()), e))?;
        h.update(t.as_os_str().as_encoded_bytes());
    } else if ft.is_file() {
        h.update(md.len().to_le_bytes());
        let mut f =
            fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    } else if ft.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            hash_tree(&path.join(&n), &rel.join(&n), h, false)?;
        }
    }
    h.update([0xff]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("src/sub")).unwrap();
        fs::write(d.path().join("src/a.txt"), "a").unwrap();
        fs::write(d.path().join("src/b.txt"), "b").unwrap();
        fs::write(d.path().join("src/sub/c.txt"), "c").unwrap();
        fs::write(d.path().join("top.md"), "t").unwrap();
        d
    }

    #[test]
    fn globs_files_and_outside_paths() {
        let d = ctx();
        let f = expand(d.path(), "src/*.txt", "build context").unwrap();
        let names: Vec<_> = f.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        let f = expand(d.path(), "/src", "build context").unwrap();
        assert!(f[0].is_dir);
        let e = expand(d.path(), "../etc/passwd", "build context").unwrap_err();
        assert!(e.to_string().contains("outside the build context"), "{e}");
        let e = expand(d.path(), "nope.txt", "build context").unwrap_err();
        assert!(e.to_string().contains("\"nope.txt\" not found"), "{e}");
        assert!(expand(d.path(), "*.none", "build context").is_err());
    }

    #[test]
    fn digest_sees_content_and_mode_not_times() {
        let d = ctx();
        let f = expand(d.path(), "src", "c").unwrap();
        let before = digest(&f).unwrap();
        let out = std::process::Command::new("touch")
            .arg(d.path().join("src/a.txt"))
            .status()
            .unwrap();
        assert!(out.success());
        assert_eq!(digest(&f).unwrap(), before, "mtime is not part of it");
        fs::write(d.path().join("src/sub/c.txt"), "changed").unwrap();
        let after = digest(&f).unwrap();
        assert_ne!(after, before);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            d.path().join("src/a.txt"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert_ne!(digest(&f).unwrap(), after);
    }
}
