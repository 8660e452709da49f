//! Extended attributes a layer carries, as buildah and Docker write them:
//! PAX `SCHILY.xattr.NAME` records before the entry. Carried: `user.*` and
//! `security.*` (`security.capability` from a RUN's `setcap`), not
//! `security.selinux` (the host's labels) nor `trusted.*` (overlayfs keeps
//! its own bookkeeping there) nor `system.*`.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Is the attribute `name` part of what a layer carries?
pub fn is_carried(name: &str) -> bool {
    name.starts_with("user.") || (name.starts_with("security.") && name != "security.selinux")
}

/// The carried attributes of `path` (a link not followed), sorted by name.
pub fn carried(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidArgument(format!("path with NUL: {}", path.display())))?;
    let err = |what: &str| {
        Error::io(
            format!("{what} {}", path.display()),
            std::io::Error::last_os_error(),
        )
    };
    // SAFETY: p is NUL-terminated; a null buffer of size 0 asks for the size.
    let size = unsafe { libc::llistxattr(p.as_ptr(), std::ptr::null_mut(), 0) };
    if size < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOTSUP) {
            return Ok(Vec::new());
        }
        return Err(Error::io(format!("list xattrs of {}", path.display()), e));
    }
    let mut names = vec![0u8; size as usize];
    // SAFETY: names is valid for names.len() bytes.
    let n = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return Err(err("list xattrs of"));
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Some(text) = OsStr::from_bytes(name).to_str() else {
            continue;
        };
        if !is_carried(text) {
            continue;
        }
        let c = CString::new(name).map_err(|_| err("xattr name of"))?;
        // SAFETY: both strings are NUL-terminated; a null buffer asks the size.
        let len = unsafe { libc::lgetxattr(p.as_ptr(), c.as_ptr(), std::ptr::null_mut(), 0) };
        if len < 0 {
            return Err(err("read xattr of"));
        }
        let mut value = vec![0u8; len as usize];
        // SAFETY: value is valid for value.len() bytes.
        let got = unsafe {
            libc::lgetxattr(
                p.as_ptr(),
                c.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if got < 0 {
            return Err(err("read xattr of"));
        }
        value.truncate(got as usize);
        out.push((text.to_string(), value));
    }
    out.sort();
    Ok(out)
}

/// PAX records `LEN SCHILY.xattr.NAME=VALUE\n`, LEN counting the whole
/// record, its own digits included.
pub fn pax_records(attrs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in attrs {
        let key = format!("SCHILY.xattr.{name}");
        let rest = 1 + key.len() + 1 + value.len() + 1;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_count_their_own_length() {
        let r = pax_records(&[("user.a".into(), b"v".to_vec())]);
        // " SCHILY.xattr.user.a=v\n" is 23 bytes, with "25" 25.
        assert_eq!(r, b"25 SCHILY.xattr.user.a=v\n");
        let long = vec![b'x'; 90];
        let r = pax_records(&[("user.b".into(), long)]);
        let (len, _) = std::str::from_utf8(&r[..4])
            .unwrap()
            .split_once(' ')
            .unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), r.len());
        assert!(is_carried("security.capability") && is_carried("user.x"));
        assert!(!is_carried("trusted.overlay.opaque") && !is_carried("security.selinux"));
    }
}
