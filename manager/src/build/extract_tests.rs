//! ADD's archives: every compression Docker reads, and hostile entries
//! kept inside the destination or refused by name.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::*;

/// A tar entry with `name` written as is (`..` and all).
fn entry(out: &mut Vec<u8>, name: &str, kind: EntryType, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    {
        let g = h.as_gnu_mut().unwrap();
        g.name[..name.len()].copy_from_slice(name.as_bytes());
        g.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_000_000);
    h.set_size(data.len() as u64);
    if kind == EntryType::Char {
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// A work dir holding `root/` (the rootfs), `outside/marker` and the
/// archive; the archive's path.
fn setup(tar: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("root")).unwrap();
    fs::create_dir(d.path().join("outside")).unwrap();
    fs::write(d.path().join("outside/marker"), "untouched").unwrap();
    let p = d.path().join("a.tar");
    fs::write(&p, tar).unwrap();
    (d, p)
}

fn assert_outside_untouched(d: &Path) {
    let names: Vec<_> = fs::read_dir(d.join("outside")).unwrap().collect();
    assert_eq!(names.len(), 1, "something was written outside");
    assert_eq!(
        fs::read_to_string(d.join("outside/marker")).unwrap(),
        "untouched"
    );
    let mut top: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["a.tar", "outside", "root"]);
}

fn simple_tar() -> Vec<u8> {
    let mut t = Vec::new();
    entry(&mut t, "dir/", EntryType::Directory, "", b"");
    entry(&mut t, "dir/inner.txt", EntryType::Regular, "", b"in\n");
    finish(t)
}

#[test]
fn every_compression_docker_reads_is_unpacked() {
    let raw = simple_tar();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let bz = {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let xz = {
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut &raw[..], &mut out).unwrap();
        out
    };
    let zst = zstd::encode_all(&raw[..], 0).unwrap();
    for (data, kind) in [
        (raw.clone(), ArchiveKind::Tar),
        (gz, ArchiveKind::Gzip),
        (bz, ArchiveKind::Bzip2),
        (xz, ArchiveKind::Xz),
        (zst, ArchiveKind::Zstd),
    ] {
        let (d, p) = setup(&data);
        assert_eq!(archive_kind(&p), Some(kind));
        extract_into(&d.path().join("root"), &p, kind, "/unpacked/").unwrap();
        let f = d.path().join("root/unpacked/dir/inner.txt");
        assert_eq!(fs::read_to_string(&f).unwrap(), "in\n", "{kind:?}");
        assert_eq!(fs::metadata(&f).unwrap().mtime(), 1_000_000);
        assert_eq!(
            fs::metadata(d.path().join("root/unpacked/dir"))
                .unwrap()
                .mtime(),
            1_000_000,
            "a directory keeps its time after its content is written"
        );
    }
    let (d, p) = setup(b"just text");
    assert_eq!(archive_kind(&p), None);
    assert_eq!(archive_kind(&d.path().join("none")), None);
}

#[test]
fn a_cut_xz_stream_fails() {
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &simple_tar()[..], &mut xz).unwrap();
    xz.truncate(xz.len() - 20);
    let (d, p) = setup(&xz);
    let e = extract_into(&d.path().join("root"), &p, ArchiveKind::Xz, "/x/").unwrap_err();
    assert!(e.to_string().contains("a.tar"), "{e}");
}

#[test]
fn dot_dot_above_the_destination_fails_naming_the_entry() {
    let mut t = Vec::new();
    entry(&mut t, "ok/../fine", EntryType::Regular, "", b"fine");
    entry(
        &mut t,
        "../../outside/evil",
        EntryType::Regular,
        "",
        b"evil",
    );
    let (d, p) = setup(&finish(t));
    let e = extract_into(&d.path().join("root"), &p, ArchiveKind::Tar, "/dest/").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("../../outside/evil"), "{msg}");
    assert!(msg.contains("a.tar"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    assert_outside_untouched(d.path());
    assert!(d.path().join("root/dest/fine").is_file());
}

#[test]
fn absolute_paths_and_links_stay_inside_the_destination() {
    let out = tempfile::tempdir().unwrap();
    let abs_out = out.path().to_str().unwrap().to_string();
    let mut t = Vec::new();
    entry(&mut t, "/abs/file", EntryType::Regular, "", b"abs");
    // A link to the host's dir, then a file written through it.
    entry(&mut t, "esc", EntryType::Symlink, &abs_out, b"");
    entry(&mut t, "esc/owned", EntryType::Regular, "", b"owned");
    // A link up and out, then a file through it.
    entry(&mut t, "up", EntryType::Symlink, "../../../../..", b"");
    entry(&mut t, "up/owned2", EntryType::Regular, "", b"owned2");
    // A link to a host file, then a file of the same name: replaced.
    entry(
        &mut t,
        "over",
        EntryType::Symlink,
        &format!("{abs_out}/target"),
        b"",
    );
    entry(&mut t, "over", EntryType::Regular, "", b"replaced");
    let (d, p) = setup(&finish(t));
    fs::write(out.path().join("target"), "host").unwrap();
    let root = d.path().join("root");
    extract_into(&root, &p, ArchiveKind::Tar, "/dest/").unwrap();
    let dest = root.join("dest");
    assert_eq!(fs::read_to_string(dest.join("abs/file")).unwrap(), "abs");
    assert_eq!(
        fs::read_to_string(dest.join(abs_out.trim_start_matches('/')).join("owned")).unwrap(),
        "owned"
    );
    assert_eq!(fs::read_to_string(dest.join("owned2")).unwrap(), "owned2");
    assert_eq!(fs::read_to_string(dest.join("over")).unwrap(), "replaced");
    assert!(!out.path().join("owned").exists());
    assert_eq!(
        fs::read_to_string(out.path().join("target")).unwrap(),
        "host"
    );
    assert_outside_untouched(d.path());
}

#[test]
fn hard_links_link_only_what_is_inside() {
    for link in ["../../outside/marker", "/outside/marker", "missing"] {
        let mut t = Vec::new();
        entry(&mut t, "hl", EntryType::Link, link, b"");
        let (d, p) = setup(&finish(t));
        let e = extract_into(&d.path().join("root"), &p, ArchiveKind::Tar, "/dest/").unwrap_err();
        assert!(e.to_string().contains("entry hl"), "{link}: {e}");
        assert_eq!(
            fs::metadata(d.path().join("outside/marker"))
                .unwrap()
                .nlink(),
            1
        );
        assert_outside_untouched(d.path());
    }
    let mut t = Vec::new();
    entry(&mut t, "a", EntryType::Regular, "", b"a");
    entry(&mut t, "b", EntryType::Link, "/a", b"");
    let (d, p) = setup(&finish(t));
    extract_into(&d.path().join("root"), &p, ArchiveKind::Tar, "/dest/").unwrap();
    assert_eq!(
        fs::metadata(d.path().join("root/dest/b")).unwrap().nlink(),
        2
    );
}

#[test]
fn device_nodes_are_made_inside() {
    let mut t = Vec::new();
    entry(&mut t, "dev/null", EntryType::Char, "", b"");
    entry(&mut t, "fifo", EntryType::Fifo, "", b"");
    let (d, p) = setup(&finish(t));
    let root = d.path().join("root");
    match extract_into(&root, &p, ArchiveKind::Tar, "/dest/") {
        Ok(()) => {
            let md = fs::symlink_metadata(root.join("dest/dev/null")).unwrap();
            assert!(md.file_type().is_char_device());
            assert_eq!(md.rdev(), nix::sys::stat::makedev(1, 3));
            assert!(fs::symlink_metadata(root.join("dest/fifo"))
                .unwrap()
                .file_type()
                .is_fifo());
        }
        // Without CAP_MKNOD (tests not run as root) the build fails by name.
        Err(e) => assert!(e.to_string().contains("entry dev/null"), "{e}"),
    }
    assert_outside_untouched(d.path());
}
