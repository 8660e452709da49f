//! Images for the manager suites: OCI layouts built with umoci from the
//! busybox-static rootfs, hand-made layouts (for hostile layers), skopeo,
//! and the tree of a mounted snapshot for comparison.

use super::*;

/// An OCI layout built with umoci in a temp dir.
pub struct Layout {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Layout {
    pub fn new() -> Layout {
        let dir = tempfile::Builder::new()
            .prefix("hull-img-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("oci");
        sh(Command::new("umoci").arg("init").arg("--layout").arg(&path));
        sh(Command::new("umoci")
            .arg("new")
            .arg("--image")
            .arg(format!("{}:empty", path.display())));
        Layout { dir, path }
    }

    pub fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.path.display())
    }

    /// New tag `to` = `from` + one layer made by `f` editing the rootfs.
    pub fn layer(&self, from: &str, to: &str, f: impl FnOnce(&Path)) {
        let bundle = self.dir.path().join(format!("bundle-{to}"));
        sh(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(self.image(from))
            .arg(&bundle));
        f(&bundle.join("rootfs"));
        sh(Command::new("umoci")
            .args(["repack", "--image"])
            .arg(self.image(to))
            .arg(&bundle));
        let _ = cleanup::remove_tree_one_fs(&bundle);
    }

    pub fn config(&self, tag: &str, args: &[&str]) {
        sh(Command::new("umoci")
            .args(["config", "--image"])
            .arg(self.image(tag))
            .args(args));
    }

    /// The rootfs of a tag as umoci unpacks it (the expected tree).
    pub fn unpack(&self, tag: &str, into: &Path) -> PathBuf {
        sh(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(self.image(tag))
            .arg(into));
        into.join("rootfs")
    }

    /// Copy a tag to a registry with skopeo (extra args e.g. --format v2s2).
    pub fn push(&self, tag: &str, dest: &str, extra: &[&str]) {
        sh(Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(extra)
            .arg(format!("oci:{}", self.image(tag)))
            .arg(format!("docker://{dest}")));
    }
}

/// The 3-layer busybox image used by several tests, with whiteouts:
/// base busybox rootfs; layer 2 deletes /etc/gone and replaces /opq with an
/// opaque dir; layer 3 adds a file and a hardlink.
pub fn multilayer(l: &Layout) -> &'static str {
    l.layer("empty", "base", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
        fs::write(r.join("etc/gone"), "to be deleted").unwrap();
        fs::create_dir_all(r.join("opq/sub")).unwrap();
        fs::write(r.join("opq/old"), "old").unwrap();
        fs::write(r.join("opq/sub/older"), "older").unwrap();
        fs::write(r.join("etc/keep"), "kept").unwrap();
    });
    l.layer("base", "l2", |r| {
        fs::remove_file(r.join("etc/gone")).unwrap();
        fs::remove_dir_all(r.join("opq")).unwrap();
        fs::create_dir_all(r.join("opq")).unwrap();
        fs::write(r.join("opq/new"), "new").unwrap();
    });
    l.layer("l2", "multi", |r| {
        fs::write(r.join("etc/added"), "added in layer 3").unwrap();
        fs::set_permissions(r.join("etc/added"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(r.join("etc/added"), r.join("etc/added-link")).unwrap();
        std::os::unix::fs::symlink("/etc/added", r.join("etc/added-sym")).unwrap();
    });
    l.config(
        "multi",
        &["--config.cmd", "/bin/sh", "--config.env", "HULL=1"],
    );
    "multi"
}

/// A comparable description of a tree: path → (kind, mode, uid, gid, content hash / link).
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, String>) {
    let mut ents: Vec<_> = fs::read_dir(p).unwrap().flatten().collect();
    ents.sort_by_key(|e| e.file_name());
    for e in ents {
        let path = e.path();
        let md = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let ft = md.file_type();
        let desc = if ft.is_symlink() {
            format!("link -> {}", fs::read_link(&path).unwrap().display())
        } else if ft.is_dir() {
            format!("dir {:o} {}:{}", md.mode() & 0o7777, md.uid(), md.gid())
        } else if ft.is_file() {
            let data = fs::read(&path).unwrap();
            format!(
                "file {:o} {}:{} {}",
                md.mode() & 0o7777,
                md.uid(),
                md.gid(),
                hex::encode(Sha256::digest(&data))
            )
        } else {
            format!("other {:o}", md.mode())
        };
        out.insert(rel, desc);
        if ft.is_dir() {
            walk(root, &path, out);
        }
    }
}

// ------------------------------------------------------------ hand-made layouts

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Write a blob into an OCI layout; its descriptor JSON.
pub fn put_blob(layout: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
    let hex = sha256_hex(data);
    let dir = layout.join("blobs/sha256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(&hex), data).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": data.len()})
}

/// A raw ustar entry (names are written verbatim, hostile ones included).
pub fn tar_entry(out: &mut Vec<u8>, name: &str, kind: u8, link: &str, data: &[u8], mode: u32) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let oct = |h: &mut [u8; 512], off: usize, len: usize, v: u64| {
        let s = format!("{:0width$o}\0", v, width = len - 1);
        h[off..off + len].copy_from_slice(s.as_bytes());
    };
    oct(&mut h, 100, 8, mode as u64);
    oct(&mut h, 108, 8, 0);
    oct(&mut h, 116, 8, 0);
    oct(&mut h, 124, 12, data.len() as u64);
    oct(&mut h, 136, 12, 1_700_000_000);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    let s = format!("{:06o}\0 ", sum);
    h[148..156].copy_from_slice(s.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

pub fn tar_finish(out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(0u8, 1024));
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Write an OCI layout with one image made of the given uncompressed layer
/// tars (gzip-compressed here), tagged `tag`. Returns the layout path.
pub fn layout_from_tars(dir: &Path, tag: &str, tars: &[Vec<u8>], arch: &str) -> PathBuf {
    let layers: Vec<(Vec<u8>, String)> = tars
        .iter()
        .map(|t| (gzip(t), format!("sha256:{}", sha256_hex(t))))
        .collect();
    layout_from_gz_layers(dir, tag, &layers, arch)
}

/// Like `layout_from_tars` with layers already compressed: (gzip bytes,
/// diff ID of the tar inside).
pub fn layout_from_gz_layers(
    dir: &Path,
    tag: &str,
    gz_layers: &[(Vec<u8>, String)],
    arch: &str,
) -> PathBuf {
    let layout = dir.join(format!("layout-{tag}"));
    fs::create_dir_all(&layout).unwrap();
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (gz, diff_id) in gz_layers {
        diff_ids.push(diff_id.clone());
        layers.push(put_blob(
            &layout,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            gz,
        ));
    }
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let cdesc = put_blob(
        &layout,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cdesc, "layers": layers,
    });
    let mut mdesc = put_blob(
        &layout,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    mdesc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [mdesc]});
    fs::write(layout.join("index.json"), index.to_string()).unwrap();
    layout
}

pub fn skopeo_copy(src: &str, dest: &str, extra: &[&str]) {
    sh(Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .arg(src)
        .arg(dest));
}

pub fn skopeo_inspect(reference: &str, raw: bool) -> serde_json::Value {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--tls-verify=false"]);
    if raw {
        c.arg("--raw");
    }
    let out = sh(c.arg(format!("docker://{reference}")));
    serde_json::from_slice(&out.stdout).unwrap()
}
