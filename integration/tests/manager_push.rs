//! Push: blobs (HEAD existence check, cross-repository mount, monolithic and
//! chunked uploads) and manifests; a pushed image pulls back identical.

mod manager_support;

use std::fs;
use std::io::Write;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// Deterministic incompressible bytes (xorshift).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

#[test]
fn push_then_pull_back_gives_same_digests() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    let tag = multilayer(&l);
    // A large layer so the chunked upload path runs (> 8 MiB).
    l.layer(tag, "big", |r| {
        let mut f = fs::File::create(r.join("big.bin")).unwrap();
        f.write_all(&noise(12 << 20, 7)).unwrap();
    });
    let src = reg.reference("src/app:v1");
    l.push("big", &src, &["--format", "oci"]);
    let h = Hulld::start();
    h.hull_ok(&["pull", &src]);
    let orig = h.inspect(&src);

    // Same registry, other repository: blobs are mounted, not uploaded.
    let same = reg.reference("dst/app:v1");
    h.hull_ok(&["tag", &src, &same]);
    let out = h.hull_ok(&["push", &same]);
    assert!(out.contains("Mounted from src/app"), "{out}");
    assert!(
        out.contains(&format!(
            "digest: {}",
            orig["Descriptor"]["digest"].as_str().unwrap()
        )),
        "{out}"
    );
    // Pushing again: everything exists.
    let out = h.hull_ok(&["push", &same]);
    assert!(out.contains("Layer already exists"), "{out}");
    assert!(!out.contains("Uploading"), "{out}");

    // Another registry: real uploads (monolithic for small, chunked for the big layer).
    let reg2 = Registry::start(Auth::None).unwrap();
    let other = reg2.reference("copy/app:v9");
    h.hull_ok(&["tag", &src, &other]);
    let out = h.hull_ok(&["push", &other]);
    assert!(out.contains("Pushed"), "{out}");
    let sk = skopeo_inspect(&other, false);
    assert_eq!(sk["Digest"], orig["Descriptor"]["digest"]);
    assert_eq!(sk["Layers"], orig["Layers"]);
    // The registry saw chunked PATCH uploads for the big layer.
    let log = fs::read_to_string(&reg2.log).unwrap_or_default()
        + &fs::read_to_string(reg2.dir.path().join("registry.err")).unwrap_or_default();
    assert!(
        log.contains("PATCH"),
        "chunked upload expected in registry log"
    );

    // A fresh daemon pulls it back with identical digests and files.
    let h2 = Hulld::start();
    h2.hull_ok(&["pull", &other]);
    let back = h2.inspect(&other);
    assert_eq!(back["Descriptor"], orig["Descriptor"]);
    assert_eq!(back["Layers"], orig["Layers"]);
    assert_eq!(back["Id"], orig["Id"]);
    let m1 = h.dir.path().join("m1");
    let m2 = h2.dir.path().join("m2");
    let v1 = h.mount_image(&src, &m1);
    let v2 = h2.mount_image(&other, &m2);
    assert_eq!(tree(&v1.target), tree(&v2.target));
}

#[test]
fn push_of_unknown_image_and_to_unreachable_registry_fail_clearly() {
    require_root!();
    let h = Hulld::start();
    let out = h.hull(&["push", "127.0.0.1:1/none/such:v1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("No such image"), "{}", stderr(&out));
}
