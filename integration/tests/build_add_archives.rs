//! ADD of local archives (issue 15): every compression Docker reads
//! (gzip, bzip2, xz), and hostile archives — `..` entries, absolute paths,
//! symlinks out of the destination with files written through them, hard
//! links to host files, device nodes — that never write outside the
//! build's rootfs: they unpack inside it as Docker's chrooted untar does,
//! or fail the build with one error line naming the entry.

mod manager_support;

mod build_support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use build_support::*;
use manager_support::*;

fn tar_of(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut t = Vec::new();
    for (name, kind, link, data) in entries {
        let mode = if *kind == b'5' { 0o755 } else { 0o644 };
        tar_entry(&mut t, name, *kind, link, data, mode);
    }
    tar_finish(&mut t);
    t
}

/// A character device entry `name` (major 1, minor 3).
fn device(out: &mut Vec<u8>, name: &str) {
    let at = out.len();
    tar_entry(out, name, b'3', "", b"", 0o666);
    let h = &mut out[at..at + 512];
    h[329..337].copy_from_slice(b"0000001\0");
    h[337..345].copy_from_slice(b"0000003\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..156].copy_from_slice(format!("{:06o}\0 ", sum).as_bytes());
}

#[test]
fn add_unpacks_gzip_bzip2_and_xz_archives() {
    require_root!();
    let env = BuildEnv::start();
    let raw = tar_of(&[("dir/", b'5', "", b""), ("dir/f", b'0', "", b"packed\n")]);
    let bz = {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &raw[..], &mut xz).unwrap();
    let ctx = Ctx::new(&format!(
        "FROM {}\nADD a.tar.gz /gz/\nADD a.tar.bz2 /bz/\nADD a.tar.xz /xz/\nADD a.tar.xz /as-named.txz\n",
        env.base
    ));
    ctx.write_bytes("a.tar.gz", &gzip(&raw))
        .write_bytes("a.tar.bz2", &bz)
        .write_bytes("a.tar.xz", &xz);
    let tag = "add/archives:1";
    env.build_ok(ctx.path(), &["-t", tag]);
    let out = env.h.hull_ok(&[
        "run",
        "--rm",
        tag,
        "cat",
        "/gz/dir/f",
        "/bz/dir/f",
        "/xz/dir/f",
        "/as-named.txz/dir/f",
    ]);
    assert_eq!(out, "packed\n".repeat(4));
}

/// A host directory with a marker file, checked untouched on drop.
struct HostDir {
    dir: tempfile::TempDir,
}

impl HostDir {
    fn new() -> HostDir {
        let dir = tempfile::Builder::new()
            .prefix("hull-add-outside-")
            .tempdir()
            .unwrap();
        fs::write(dir.path().join("marker"), "untouched").unwrap();
        HostDir { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn abs(&self) -> String {
        self.path().to_str().unwrap().to_string()
    }
    fn assert_untouched(&self) {
        let names: Vec<String> = fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["marker"], "something was written outside");
        let marker = self.path().join("marker");
        assert_eq!(fs::read_to_string(&marker).unwrap(), "untouched");
        assert_eq!(fs::metadata(&marker).unwrap().nlink(), 1, "hard-linked");
    }
}

#[test]
fn hostile_archives_unpack_inside_the_destination() {
    require_root!();
    let env = BuildEnv::start();
    let host = HostDir::new();
    let abs = host.abs();
    let mut raw = Vec::new();
    for (name, kind, link, data) in [
        ("/abs/file", b'0', "", &b"abs\n"[..]),
        // A link to the host's directory, then a file written through it.
        ("esc", b'2', abs.as_str(), b""),
        ("esc/owned", b'0', "", b"through esc\n"),
        // A link up and out, then a file through it.
        ("up", b'2', "../../../../../../../..", b""),
        (&format!("up{abs}/owned2"), b'0', "", b"through up\n"),
        // A link to a host file, then a file of its name.
        ("over", b'2', &format!("{abs}/marker"), b""),
        ("over", b'0', "", b"replaced\n"),
    ] {
        tar_entry(&mut raw, name, kind, link, data, 0o644);
    }
    device(&mut raw, "dev/null");
    tar_finish(&mut raw);
    let ctx = Ctx::new(&format!("FROM {}\nADD hostile.tar /dest/\n", env.base));
    ctx.write_bytes("hostile.tar", &raw);
    let tag = "add/hostile:1";
    env.build_ok(ctx.path(), &["-t", tag]);
    host.assert_untouched();
    let script = format!(
        "cat /dest/abs/file /dest{abs}/owned /dest{abs}/owned2 /dest/over; test -c /dest/dev/null && echo char-device; ls /dest{abs}"
    );
    let out = env.h.hull_ok(&["run", "--rm", tag, "sh", "-c", &script]);
    assert_eq!(
        out,
        "abs\nthrough esc\nthrough up\nreplaced\nchar-device\nowned\nowned2\n"
    );
}

#[test]
fn archives_leaving_the_destination_fail_naming_the_entry() {
    require_root!();
    let env = BuildEnv::start();
    env.h.hull_ok(&["pull", "-q", &env.base]);
    let before = env.snapshots();
    let host = HostDir::new();
    let abs = host.abs();
    let up = "../".repeat(12);
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "dotdot.tar",
            tar_of(&[
                ("fine", b'0', "", b"fine\n"),
                (&format!("{up}{abs}/evil"), b'0', "", b"evil\n"),
            ]),
            format!("{up}{abs}/evil"),
        ),
        (
            "hardlink.tar",
            tar_of(&[("hl", b'1', &format!("{up}{abs}/marker"), b"")]),
            "entry hl".to_string(),
        ),
        (
            "abs-hardlink.tar",
            tar_of(&[("hl2", b'1', &format!("{abs}/marker"), b"")]),
            "entry hl2".to_string(),
        ),
    ];
    for (name, tar, entry) in cases {
        let ctx = Ctx::new(&format!("FROM {}\nADD {name} /dest/\n", env.base));
        ctx.write_bytes(name, &tar);
        let out = env.build(ctx.path(), &[]);
        assert!(!out.status.success(), "{name} was unpacked");
        let err = stderr(&out);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error")).collect();
        assert_eq!(errors.len(), 1, "{name}: one error line: {err}");
        assert!(errors[0].contains(name), "{name}: {err}");
        assert!(errors[0].contains(&entry), "{name}: {err}");
        host.assert_untouched();
        env.assert_nothing_left(&before);
    }
}

/// `hull save`'s layers of `image`, uncompressed, top last.
fn saved_layers(env: &BuildEnv, image: &str, scratch: &Scratch) -> Vec<Vec<u8>> {
    let archive = scratch.join("saved.tar");
    env.h
        .hull_ok(&["save", "-o", archive.to_str().unwrap(), image]);
    let dir = scratch.join("saved");
    fs::create_dir_all(&dir).unwrap();
    sh(std::process::Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&dir));
    let blob = |digest: &str| fs::read(dir.join("blobs/sha256").join(&digest[7..])).unwrap();
    let json = |b: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&b).unwrap();
    let index = json(fs::read(dir.join("index.json")).unwrap());
    let manifest = json(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let mut out = Vec::new();
            let raw = blob(l["digest"].as_str().unwrap());
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
                .unwrap();
            out
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn xattrs_of_added_files_are_carried_into_the_layer() {
    require_root!();
    let env = BuildEnv::start();
    // security.capability v2: cap_net_raw (13) permitted and effective.
    let mut cap = vec![0x01, 0x00, 0x00, 0x02];
    cap.extend_from_slice(&(1u32 << 13).to_le_bytes());
    cap.extend_from_slice(&[0u8; 12]);
    let mut records = Vec::new();
    for (key, value) in [
        ("SCHILY.xattr.user.note", b"hello".to_vec()),
        ("SCHILY.xattr.security.capability", cap.clone()),
    ] {
        let rest = 1 + key.len() + 1 + value.len() + 1;
        let len = rest + (rest + 2).to_string().len();
        records.extend_from_slice(format!("{len} {key}=").as_bytes());
        records.extend_from_slice(&value);
        records.push(b'\n');
    }
    let mut raw = Vec::new();
    tar_entry(&mut raw, "././@PaxHeader", b'x', "", &records, 0o644);
    tar_entry(&mut raw, "tool", b'0', "", b"#!/bin/sh\n", 0o755);
    tar_finish(&mut raw);
    let ctx = Ctx::new(&format!("FROM {}\nADD caps.tar /opt/\n", env.base));
    ctx.write_bytes("caps.tar", &raw);
    let tag = "add/xattrs:1";
    env.build_ok(ctx.path(), &["-t", tag]);
    let scratch = Scratch::new();
    let layers = saved_layers(&env, tag, &scratch);
    let top = layers.last().unwrap();
    assert!(contains(top, b"opt/tool"), "the ADD layer is the top one");
    assert!(
        contains(top, b" SCHILY.xattr.user.note=hello\n"),
        "user.note not in the layer"
    );
    let mut cap_record = b" SCHILY.xattr.security.capability=".to_vec();
    cap_record.extend_from_slice(&cap);
    assert!(
        contains(top, &cap_record),
        "security.capability not in the layer"
    );
}
