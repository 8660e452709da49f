use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;

fn opts(epoch: Option<i64>) -> LayerOptions {
    LayerOptions {
        compression: Compression::None,
        epoch,
    }
}

/// An upper dir: files, a nested dir, a symlink, a hard link.
fn tree(root: &Path) {
    fs::create_dir_all(root.join("etc/app")).unwrap();
    fs::write(root.join("etc/app/b.conf"), "b").unwrap();
    fs::write(root.join("etc/app/a.conf"), "a").unwrap();
    fs::write(root.join("zeta"), "z").unwrap();
    fs::set_permissions(root.join("zeta"), fs::Permissions::from_mode(0o4755)).unwrap();
    symlink("etc/app/a.conf", root.join("link")).unwrap();
    fs::hard_link(root.join("zeta"), root.join("alpha")).unwrap();
}

/// (name, type, mode, mtime, link target) of each tar entry.
fn entries(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, u32, u64, Option<String>)> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.entry_type(),
                h.mode().unwrap(),
                h.mtime().unwrap(),
                e.link_name().unwrap().map(|l| l.display().to_string()),
            )
        })
        .collect()
}

fn set_mtimes(root: &Path, secs: i64) {
    let out = std::process::Command::new("find")
        .arg(root)
        .args(["-exec", "touch", "-h", "-d"])
        .arg(format!("@{secs}"))
        .args(["{}", "+"])
        .status()
        .unwrap();
    assert!(out.success());
}

#[test]
fn entries_are_sorted_directories_first_with_links() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path());
    let mut buf = Vec::new();
    let w = write_layer(d.path(), &opts(None), &mut buf).unwrap();
    let names: Vec<_> = entries(&buf).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [
            "alpha",
            "etc/",
            "etc/app/",
            "etc/app/a.conf",
            "etc/app/b.conf",
            "link",
            "zeta"
        ]
    );
    assert_eq!(w.entries, 7);
    let all = entries(&buf);
    assert_eq!(all[0].2, 0o4755, "setuid bit kept");
    assert_eq!(all[5].1, tar::EntryType::Symlink);
    assert_eq!(all[5].4.as_deref(), Some("etc/app/a.conf"));
    assert_eq!(all[6].1, tar::EntryType::Link, "second name is a hard link");
    assert_eq!(all[6].4.as_deref(), Some("alpha"));
    assert_eq!(w.diff_id, Digest::sha256_of(&buf));
    assert_eq!(w.digest, w.diff_id, "uncompressed: blob is the tar");
}

#[test]
fn same_content_same_digest_when_mtimes_are_clamped() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    tree(a.path());
    tree(b.path());
    set_mtimes(a.path(), 2_000_000_000);
    set_mtimes(b.path(), 2_100_000_000);
    let gz = LayerOptions {
        compression: Compression::Gzip,
        epoch: Some(1_700_000_000),
    };
    let wa = write_layer(a.path(), &gz, io::sink()).unwrap();
    let wb = write_layer(b.path(), &gz, io::sink()).unwrap();
    assert_eq!(wa, wb);
    assert_ne!(wa.digest, wa.diff_id, "gzip blob differs from its tar");
    // Without the epoch the times differ, and so do the digests.
    let ua = write_layer(a.path(), &opts(None), io::sink()).unwrap();
    let ub = write_layer(b.path(), &opts(None), io::sink()).unwrap();
    assert_ne!(ua.diff_id, ub.diff_id);
    // Earlier times than the epoch are kept.
    let mut buf = Vec::new();
    write_layer(a.path(), &opts(Some(2_050_000_000)), &mut buf).unwrap();
    assert!(entries(&buf).iter().all(|e| e.3 == 2_000_000_000));
}

#[test]
fn gzip_and_zstd_decompress_to_the_diff() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path());
    for c in [Compression::Gzip, Compression::Zstd] {
        let mut blob = Vec::new();
        let w = write_layer(
            d.path(),
            &LayerOptions {
                compression: c,
                epoch: None,
            },
            &mut blob,
        )
        .unwrap();
        assert_eq!(w.size, blob.len() as u64);
        assert_eq!(w.digest, Digest::sha256_of(&blob));
        let mut tar_bytes = Vec::new();
        match c {
            Compression::Gzip => flate2::read::GzDecoder::new(&blob[..])
                .read_to_end(&mut tar_bytes)
                .unwrap(),
            _ => zstd::stream::read::Decoder::new(&blob[..])
                .unwrap()
                .read_to_end(&mut tar_bytes)
                .unwrap(),
        };
        assert_eq!(Digest::sha256_of(&tar_bytes), w.diff_id);
    }
}

#[test]
fn whiteouts_and_opaque_directories() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("var/cache")).unwrap();
    let dev = nix::sys::stat::makedev(0, 0);
    let made = nix::sys::stat::mknod(
        &d.path().join("var/gone"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0),
        dev,
    );
    let opaque = set_opaque(&d.path().join("var/cache"));
    if made.is_err() || !opaque {
        eprintln!("skipping: needs root (mknod, trusted xattrs)");
        return;
    }
    fs::write(d.path().join("var/cache/new"), "n").unwrap();
    let mut buf = Vec::new();
    write_layer(d.path(), &opts(None), &mut buf).unwrap();
    let all = entries(&buf);
    let names: Vec<_> = all.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "var/",
            "var/cache/",
            "var/cache/.wh..wh..opq",
            "var/cache/new",
            "var/.wh.gone"
        ]
    );
    assert_eq!(all[4].1, tar::EntryType::Regular);
    assert_eq!(all[4].2, 0o644);
}

#[test]
fn an_empty_upper_is_an_empty_layer() {
    let d = tempfile::tempdir().unwrap();
    let w = write_layer(d.path(), &opts(None), io::sink()).unwrap();
    assert_eq!(w.entries, 0);
}

fn set_opaque(dir: &Path) -> bool {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let n = CString::new(OPAQUE_XATTR).unwrap();
    // SAFETY: p and n are NUL-terminated; the value is 1 valid byte.
    let r = unsafe { libc::lsetxattr(p.as_ptr(), n.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    r == 0
}

#[test]
fn xattrs_travel_as_pax_records() {
    use crate::snapshots::fsops::lset_xattr;
    let d = tempfile::tempdir().unwrap();
    let upper = d.path().join("upper");
    fs::create_dir_all(upper.join("dir")).unwrap();
    fs::write(upper.join("dir/f"), "f").unwrap();
    lset_xattr(&upper.join("dir/f"), "user.note", b"hello").unwrap();
    lset_xattr(&upper.join("dir"), "user.dir", b"d").unwrap();
    // overlayfs's own bookkeeping stays out of the layer.
    lset_xattr(&upper.join("dir/f"), "trusted.overlay.origin", b"x").unwrap();
    let mut out = Vec::new();
    write_layer(&upper, &opts(None), &mut out).unwrap();
    let mut a = tar::Archive::new(&out[..]);
    let mut seen = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for x in exts {
                let x = x.unwrap();
                seen.push(format!(
                    "{path} {}={}",
                    x.key().unwrap(),
                    x.value().unwrap()
                ));
            }
        }
    }
    assert_eq!(
        seen,
        [
            "dir/ SCHILY.xattr.user.dir=d",
            "dir/f SCHILY.xattr.user.note=hello"
        ]
    );
    // The same layer twice is the same bytes.
    let mut again = Vec::new();
    write_layer(&upper, &opts(None), &mut again).unwrap();
    assert_eq!(out, again);
}
