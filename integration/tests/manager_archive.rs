//! `hull save` / `hull load`: OCI archives and docker-archives, interoperable
//! with skopeo in both directions.

mod manager_support;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

#[test]
fn save_and_load_roundtrip_with_skopeo_interop() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    let tag = multilayer(&l);
    let r = reg.reference("arch/img:v1");
    l.push(tag, &r, &["--format", "oci"]);
    let h = Hulld::start();
    h.hull_ok(&["pull", &r]);
    let orig = h.inspect(&r);
    let orig_tree = {
        let mnt = h.dir.path().join("m0");
        let v = h.mount_image(&r, &mnt);
        tree(&v.target)
    };
    let work = tempfile::tempdir().unwrap();

    // hull save (OCI) → skopeo reads it → same manifest digest.
    let oci_tar = work.path().join("img-oci.tar");
    h.hull_ok(&["save", "-o", oci_tar.to_str().unwrap(), &r]);
    let sk_oci = work.path().join("from-hull-oci");
    skopeo_copy(
        &format!("oci-archive:{}", oci_tar.display()),
        &format!("oci:{}:x", sk_oci.display()),
        &[],
    );
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sk_oci.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["manifests"][0]["digest"], orig["Descriptor"]["digest"]);

    // hull save --format docker → skopeo reads it as docker-archive.
    let dk_tar = work.path().join("img-docker.tar");
    h.hull_ok(&[
        "save",
        "--format",
        "docker",
        "-o",
        dk_tar.to_str().unwrap(),
        &r,
    ]);
    let out = sh(std::process::Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", dk_tar.display())));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Architecture"], orig["Architecture"]);
    assert_eq!(v["Layers"].as_array().unwrap().len(), 3);

    // Fresh daemon: load both; same digests / config ID and the same files.
    let h2 = Hulld::start();
    let out = h2.hull_ok(&["load", "-i", oci_tar.to_str().unwrap()]);
    assert!(out.contains("Loaded image: "), "{out}");
    let back = h2.inspect(&r);
    assert_eq!(back["Descriptor"]["digest"], orig["Descriptor"]["digest"]);
    assert_eq!(back["Id"], orig["Id"]);
    {
        let mnt = h2.dir.path().join("m1");
        let v = h2.mount_image(&r, &mnt);
        assert_eq!(tree(&v.target), orig_tree);
    }
    h2.hull_ok(&["rmi", &r]);
    let out = h2.hull_ok(&["load", "-i", dk_tar.to_str().unwrap()]);
    assert!(out.contains("Loaded image: "), "{out}");
    let back = h2.inspect(&r);
    assert_eq!(back["Id"], orig["Id"], "docker-archive keeps the config");
    {
        let mnt = h2.dir.path().join("m2");
        let v = h2.mount_image(&r, &mnt);
        assert_eq!(tree(&v.target), orig_tree);
    }

    // Archives written by skopeo load into hull.
    let h3 = Hulld::start();
    let s_dk = work.path().join("skopeo-docker.tar");
    skopeo_copy(
        &format!("docker://{r}"),
        &format!("docker-archive:{}:skopeo/dk:v1", s_dk.display()),
        &[],
    );
    let out = h3.hull_ok(&["load", "-i", s_dk.to_str().unwrap()]);
    assert!(out.contains("skopeo/dk:v1"), "{out}");
    assert_eq!(h3.inspect("skopeo/dk:v1")["Id"], orig["Id"]);
    let s_oci = work.path().join("skopeo-oci.tar");
    skopeo_copy(
        &format!("docker://{r}"),
        &format!("oci-archive:{}:skopeo/oci:v2", s_oci.display()),
        &[],
    );
    let out = h3.hull_ok(&["load", "-i", s_oci.to_str().unwrap()]);
    assert!(out.contains("skopeo/oci:v2"), "{out}");
    let got = h3.inspect("skopeo/oci:v2");
    assert_eq!(got["Id"], orig["Id"]);
    let mnt = h3.dir.path().join("m3");
    let v = h3.mount_image("skopeo/oci:v2", &mnt);
    assert_eq!(tree(&v.target), orig_tree);
    drop(v);

    // Garbage in, clear error out.
    let junk = work.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all").unwrap();
    let out = h3.hull(&["load", "-i", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let out = h3.hull(&[
        "save",
        "-o",
        work.path().join("x.tar").to_str().unwrap(),
        "no/such:img",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("No such image"), "{}", stderr(&out));
}
