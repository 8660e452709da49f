//! Where a copy lands: Docker's rules for `cp SRC DEST`.

use super::{components, Error, Result, Stat, Target};

/// Docker's rules for `cp SRC DEST`: where the archive of SRC (its
/// top-level entry named `src_base`) is extracted, given what DEST is.
///
/// - SRC a file: DEST a directory → into it; DEST a file or missing →
///   written as DEST (a missing DEST ending in `/` is an error).
/// - SRC a directory: DEST missing → created with SRC's contents; DEST a
///   directory → SRC copied into it, or only its contents when SRC ends
///   in `/.`; DEST a file → error.
pub fn plan(
    src_base: &str,
    src_is_dir: bool,
    contents_only: bool,
    dest: &str,
    dest_stat: Option<&Stat>,
) -> Result<Target> {
    let dc = components(dest);
    let ends_slash = dest.ends_with('/') || dest.ends_with("/.");
    match dest_stat {
        Some(d) if d.is_dir => Ok(Target {
            dir: dc,
            rename: (src_is_dir && contents_only).then(|| (src_base.to_string(), String::new())),
            chown: false,
        }),
        Some(_) if src_is_dir => Err(Error::InvalidArgument(format!(
            "cannot copy a directory to a file: {dest}"
        ))),
        Some(_) if ends_slash => Err(Error::InvalidArgument(format!("not a directory: {dest}"))),
        _ if ends_slash && !src_is_dir => Err(Error::NotFound(format!(
            "the destination directory must exist: {dest}"
        ))),
        _ => {
            let Some((name, parent)) = dc.split_last() else {
                return Err(Error::InvalidArgument(format!("bad destination {dest:?}")));
            };
            Ok(Target {
                dir: parent.to_vec(),
                rename: Some((src_base.to_string(), name.clone())),
                chown: false,
            })
        }
    }
}

/// SRC ends in `/.`: copy the directory's contents, not the directory.
pub fn contents_only(src: &str) -> bool {
    src.ends_with("/.") || src == "."
}
