//! hulld + hull against a real docker-registry: pulls of OCI/Docker, gzip/zstd,
//! multi-arch images; whiteouts; digest, not-found and hostile-layer errors.

mod manager_support;

use std::fs;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

#[test]
fn pull_multilayer_oci_gzip_matches_image_and_skopeo() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    let tag = multilayer(&l);
    let r = reg.reference("test/multi:v1");
    l.push(tag, &r, &["--format", "oci"]);
    let h = Hulld::start();
    let out = h.hull_ok(&["pull", &r]);
    assert!(out.contains("Pull complete"), "{out}");
    assert!(out.trim_end().ends_with(&r), "{out}");

    // Files in the snapshot are exactly the image's.
    let expect_dir = l.dir.path().join("expected");
    let expected = tree(&l.unpack(tag, &expect_dir));
    let mnt = h.dir.path().join("mnt");
    let view = h.mount_image(&r, &mnt);
    let got = tree(&view.target);
    drop(view);
    assert_eq!(got, expected);
    assert!(!expected.contains_key("etc/gone"));
    assert!(expected.contains_key("opq/new") && !expected.contains_key("opq/old"));

    // skopeo inspect agrees with hull image inspect.
    let sk = skopeo_inspect(&r, false);
    let hi = h.inspect(&r);
    assert_eq!(hi["Descriptor"]["digest"], sk["Digest"]);
    assert_eq!(hi["Layers"], sk["Layers"]);
    assert_eq!(hi["Architecture"], sk["Architecture"]);
    assert_eq!(
        hi["Config"]["Env"][0]
            .as_str()
            .map(|s| s.contains("HULL=1")),
        Some(true)
    );
    assert_eq!(hi["Unpacked"], true);

    // images lists it; tag and rmi work; GC removes the blobs.
    let imgs = h.hull_ok(&["images"]);
    assert!(imgs.contains("test/multi") && imgs.contains("v1"), "{imgs}");
    h.hull_ok(&["tag", &r, "local/copy:2"]);
    let q = h.hull_ok(&["images", "-q"]);
    assert_eq!(q.lines().count(), 1, "one image ID for two tags: {q}");
    let js = h.hull_ok(&["images", "--format", "json"]);
    assert_eq!(js.lines().count(), 2);
    let layer0 = hi["Layers"][0].as_str().unwrap().to_string();
    assert!(h.blob_path(&layer0).exists());
    h.hull_ok(&["rmi", &r]);
    assert!(
        h.blob_path(&layer0).exists(),
        "still referenced by local/copy:2"
    );
    h.hull_ok(&["rmi", "local/copy:2"]);
    assert!(
        !h.blob_path(&layer0).exists(),
        "blob collected after the last rmi"
    );
    let snaps = h.hull_ok(&["snapshot", "ls"]);
    assert_eq!(snaps.lines().count(), 1, "only the header left: {snaps}");
}

#[test]
fn pull_docker_schema2_and_zstd_layers() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    let tag = multilayer(&l);
    let expect_dir = l.dir.path().join("expected");
    let expected = tree(&l.unpack(tag, &expect_dir));
    let docker = reg.reference("test/docker:v2s2");
    l.push(tag, &docker, &["--format", "v2s2"]);
    // Recompress into a second layout first: pushing straight to a registry
    // that has the gzip blobs makes skopeo reuse them.
    let zdir = l.dir.path().join("zstd-layout");
    skopeo_copy(
        &format!("oci:{}", l.image(tag)),
        &format!("oci:{}:z", zdir.display()),
        &["--dest-compress", "--dest-compress-format", "zstd"],
    );
    let zstd = reg.reference("test/zstd:v1");
    skopeo_copy(
        &format!("oci:{}:z", zdir.display()),
        &format!("docker://{zstd}"),
        &[],
    );
    let h = Hulld::start();
    for (r, mt) in [
        (&docker, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
        (&zstd, "application/vnd.oci.image.layer.v1.tar+zstd"),
    ] {
        h.hull_ok(&["pull", r]);
        let hi = h.inspect(r);
        assert_eq!(hi["LayerMediaTypes"][0], mt, "{hi}");
        let sk = skopeo_inspect(r, false);
        assert_eq!(hi["Descriptor"]["digest"], sk["Digest"]);
        let mnt = h.dir.path().join("mnt");
        let view = h.mount_image(r, &mnt);
        assert_eq!(tree(&view.target), expected, "{r}");
    }
}

#[test]
fn pull_index_selects_platform() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "amd", |r| {
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("etc/arch"), "amd64").unwrap();
    });
    l.config("amd", &["--architecture", "amd64", "--os", "linux"]);
    l.layer("empty", "arm", |r| {
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("etc/arch"), "arm64").unwrap();
    });
    l.config("arm", &["--architecture", "arm64", "--os", "linux"]);
    // Make an index of both manifests in the layout.
    let idx_path = l.path.join("index.json");
    let idx: serde_json::Value = serde_json::from_slice(&fs::read(&idx_path).unwrap()).unwrap();
    let find = |t: &str| {
        idx["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == t)
            .unwrap()
            .clone()
    };
    let mut amd = find("amd");
    let mut arm = find("arm");
    amd.as_object_mut().unwrap().remove("annotations");
    arm.as_object_mut().unwrap().remove("annotations");
    amd["platform"] = serde_json::json!({"architecture": "amd64", "os": "linux"});
    arm["platform"] = serde_json::json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [amd, arm],
    });
    let mut desc = put_blob(
        &l.path,
        "application/vnd.oci.image.index.v1+json",
        index.to_string().as_bytes(),
    );
    desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "multiarch"});
    let mut idx2 = idx.clone();
    idx2["manifests"].as_array_mut().unwrap().push(desc.clone());
    fs::write(&idx_path, idx2.to_string()).unwrap();
    let r = reg.reference("test/multiarch:v1");
    skopeo_copy(
        &format!("oci:{}", l.image("multiarch")),
        &format!("docker://{r}"),
        &["--all"],
    );

    let h = Hulld::start();
    h.hull_ok(&["pull", &r]);
    let hi = h.inspect(&r);
    assert_eq!(hi["Architecture"], "amd64");
    assert_eq!(hi["Descriptor"]["digest"], desc["digest"]);
    assert_eq!(
        hi["Descriptor"]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let r2 = reg.reference("test/multiarch:arm");
    skopeo_copy(
        &format!("oci:{}", l.image("multiarch")),
        &format!("docker://{r2}"),
        &["--all"],
    );
    h.hull_ok(&["pull", "--platform", "linux/arm64", &r2]);
    let hi = h.hull_ok(&["image", "inspect", "--platform", "linux/arm64", &r2]);
    let v: serde_json::Value = serde_json::from_str(&hi).unwrap();
    assert_eq!(v[0]["Architecture"], "arm64");
    let mnt = h.dir.path().join("mnt");
    // The arm64 layer is unpacked: its chain ID is a snapshot.
    let chain = v[0]["ChainIDs"][0].as_str().unwrap().to_string();
    let snaps = h.hull_ok(&["snapshot", "ls"]);
    assert!(snaps.contains(&chain), "{snaps}");
    let _ = mnt;
    // The same as a Docker manifest list (schema2 manifests).
    let r3 = reg.reference("test/multiarch:docker");
    skopeo_copy(
        &format!("oci:{}", l.image("multiarch")),
        &format!("docker://{r3}"),
        &["--all", "--format", "v2s2"],
    );
    let raw = skopeo_inspect(&r3, true);
    assert_eq!(
        raw["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    h.hull_ok(&["pull", "--platform", "linux/arm64/v8", &r3]);
    let v: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["image", "inspect", "--platform", "linux/arm64", &r3]))
            .unwrap();
    assert_eq!(v[0]["Architecture"], "arm64");
    assert_eq!(
        v[0]["Descriptor"]["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    // A platform the index lacks is a clear error.
    let out = h.hull(&["pull", "--platform", "linux/s390x", &r]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no matching manifest for linux/s390x"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pull_unknown_image_is_not_found() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let h = Hulld::start();
    let out = h.hull(&["pull", &reg.reference("nope/missing:v1")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not found"), "{err}");
    assert!(err.contains("nope/missing"), "{err}");
    let imgs = h.hull_ok(&["images", "-q"]);
    assert!(imgs.trim().is_empty());
    // Bad reference and bad platform fail before any network access.
    let out = h.hull(&["pull", "UPPER/case"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid reference"),
        "{}",
        stderr(&out)
    );
    let out = h.hull(&["pull", "--platform", "linux", &reg.reference("a:b")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid platform"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn layer_with_wrong_digest_fails_and_leaves_no_blob() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    let tag = multilayer(&l);
    let r = reg.reference("test/corrupt:v1");
    l.push(tag, &r, &["--format", "oci"]);
    let sk = skopeo_inspect(&r, false);
    let bad = sk["Layers"][1].as_str().unwrap().to_string();
    // Corrupt one layer in the registry's storage (same size, other bytes).
    let p = reg.blob_path(&bad);
    let mut data = fs::read(&p).unwrap();
    let n = data.len();
    data[n / 2] ^= 0xff;
    data[n - 20] ^= 0xff;
    fs::write(&p, &data).unwrap();

    let h = Hulld::start();
    let out = h.hull(&["pull", &r]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("digest mismatch") || err.contains("Digest"),
        "{err}"
    );
    assert!(
        !h.blob_path(&bad).exists(),
        "corrupt blob must never be visible"
    );
    let imgs = h.hull_ok(&["images", "-q"]);
    assert!(imgs.trim().is_empty(), "no image after a failed pull");
    // No snapshot of the bad layer or above.
    let snaps = h.hull_ok(&["snapshot", "ls"]);
    assert!(snaps.lines().count() <= 2, "{snaps}");
    assert!(!snaps.contains("extract-"), "{snaps}");
}

#[test]
fn hostile_layers_are_refused_with_nothing_written_outside() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let h = Hulld::start();
    let work = tempfile::tempdir().unwrap();
    let victim_dir = work.path().join("victim");
    fs::create_dir_all(&victim_dir).unwrap();
    let victim = victim_dir.join("pwned");
    let vd = victim_dir.display().to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("absolute", {
            let mut t = Vec::new();
            tar_entry(&mut t, &format!("{}/pwned", vd), b'0', "", b"x", 0o644);
            tar_finish(&mut t);
            t
        }),
        ("dotdot", {
            let mut t = Vec::new();
            let ups = "../".repeat(30);
            tar_entry(
                &mut t,
                &format!("a/{ups}{}/pwned", vd.trim_start_matches('/')),
                b'0',
                "",
                b"x",
                0o644,
            );
            tar_finish(&mut t);
            t
        }),
        ("symlink", {
            let mut t = Vec::new();
            tar_entry(&mut t, "escape", b'2', &vd, b"", 0o777);
            tar_entry(&mut t, "escape/pwned", b'0', "", b"x", 0o644);
            tar_finish(&mut t);
            t
        }),
        ("hardlink", {
            let mut t = Vec::new();
            tar_entry(
                &mut t,
                "hl",
                b'1',
                "../../../../../../../../etc/passwd",
                b"",
                0o644,
            );
            tar_finish(&mut t);
            t
        }),
        ("device", {
            let mut t = Vec::new();
            tar_entry(&mut t, "dev/sda", b'4', "", b"", 0o600);
            tar_finish(&mut t);
            t
        }),
    ];
    for (name, tarb) in cases {
        // A good first layer, then the hostile one.
        let mut good = Vec::new();
        tar_entry(&mut good, "etc/", b'5', "", b"", 0o755);
        tar_entry(&mut good, "etc/ok", b'0', "", b"ok", 0o644);
        tar_finish(&mut good);
        let layout = layout_from_tars(work.path(), name, &[good, tarb], "amd64");
        let r = reg.reference(&format!("hostile/{name}:v1"));
        skopeo_copy(
            &format!("oci:{}:{name}", layout.display()),
            &format!("docker://{r}"),
            &[],
        );
        let out = h.hull(&["pull", &r]);
        assert!(!out.status.success(), "{name}: pull must fail");
        let err = stderr(&out);
        assert!(err.contains("unpack refused"), "{name}: {err}");
        assert!(!victim.exists(), "{name}: wrote outside the snapshot");
        let imgs = h.hull_ok(&["images", "-q"]);
        assert!(imgs.trim().is_empty(), "{name}: no image");
        let snaps = h.hull_ok(&["snapshot", "ls"]);
        assert!(!snaps.contains("extract-"), "{name}: {snaps}");
    }
    assert_eq!(fs::read_dir(&victim_dir).unwrap().count(), 0);
    assert!(fs::read_to_string("/etc/passwd").unwrap().contains("root:"));
}

#[test]
fn daemon_refuses_second_instance_and_socket_is_private() {
    require_root!();
    let h = Hulld::start();
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&h.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let out = std::process::Command::new(hull_integration::bin_path("hulld"))
        .arg("--root")
        .arg(&h.root)
        .arg("--state")
        .arg(h.dir.path().join("state2"))
        .arg("--address")
        .arg(h.dir.path().join("other.sock"))
        .arg("--config")
        .arg(&h.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another hulld holds"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Still serving; info reports the root and a plausible RSS.
    let info = h.hull_ok(&["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(v["Root"], h.root.display().to_string());
    assert!(v["MemoryRSS"].as_i64().unwrap() > 0);
    // HULL_HOST selects the socket too.
    let out = std::process::Command::new(hull_integration::bin_path("hull"))
        .arg("version")
        .env("HULL_HOST", format!("unix://{}", h.sock.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("hull.v1"));
    // A wrong socket gives a clear error.
    let out = std::process::Command::new(hull_integration::bin_path("hull"))
        .args(["-H", "/nonexistent/hull.sock", "images"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cannot connect to the hull daemon"));
}

#[test]
fn copy_snapshotter_fallback_gives_the_same_tree() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    let tag = multilayer(&l);
    let r = reg.reference("test/copy:v1");
    l.push(tag, &r, &["--format", "oci"]);
    let h = Hulld::start_with_config("snapshotter = \"native\"\nmax_concurrent_downloads = 1\n");
    let info = h.hull_ok(&["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(v["Snapshotter"], "native-copy");
    assert_eq!(v["MaxConcurrentDownloads"], 1);
    h.hull_ok(&["pull", &r]);
    let expect_dir = l.dir.path().join("expected");
    let expected = tree(&l.unpack(tag, &expect_dir));
    let mnt = h.dir.path().join("mnt");
    let view = h.mount_image(&r, &mnt);
    assert_eq!(tree(&view.target), expected);
}
