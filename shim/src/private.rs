//! Modes of what the shim keeps in the bundle and its socket and console
//! directories: root's alone (directories 0700, files and sockets 0600).
//! The exec specs it writes hold `exec -e` values, its sockets drive the
//! container. The shim keeps its parent's umask (hullc needs the usual one
//! for what it makes inside containers), so modes are explicit here.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Create `p` and missing parents as 0700; a directory that was there
/// keeps its mode (it may be the caller's).
pub fn dir(p: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(p)
}

/// Create `p` and missing parents as 0700, and make `p` 0700 if it was
/// there (a directory of the shim's own).
pub fn own_dir(p: &Path) -> io::Result<()> {
    dir(p)?;
    fs::set_permissions(p, fs::Permissions::from_mode(DIR_MODE))
}

/// `OpenOptions` that create a file as 0600.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Write a whole file as 0600 (also when it was there with another mode).
pub fn write(p: &Path, data: impl AsRef<[u8]>) -> io::Result<()> {
    let mut f = options().write(true).create(true).truncate(true).open(p)?;
    f.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    f.write_all(data.as_ref())
}

/// A file another program made at `p` (a pid file of the runtime): 0600.
pub fn close_file(p: &Path) -> io::Result<()> {
    close_socket(p)
}

/// A socket just bound at `p`: 0600.
pub fn close_socket(p: &Path) -> io::Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(FILE_MODE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn modes() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        own_dir(&d).unwrap();
        let f = d.join("f");
        fs::write(&f, "x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        write(&f, "y").unwrap();
        let m = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(m(&t.path().join("a")), 0o700);
        assert_eq!(m(&d), 0o700);
        assert_eq!(m(&f), 0o600);
    }
}
