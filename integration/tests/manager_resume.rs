//! A pull stopped midway (hulld SIGKILLed) resumes after a restart and
//! downloads only what is missing (HTTP Range), measured through a
//! throttling byte-counting proxy in front of the registry.

mod manager_support;

use std::fs;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hull_integration::registry::{Auth, Registry};
use manager_support::proxy::Proxy;
use manager_support::*;

#[test]
fn killed_pull_resumes_after_restart_and_fetches_only_the_rest() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    const SIZE: usize = 24 << 20;
    let mut x = 0x9e3779b97f4a7c15u64;
    let mut data = Vec::with_capacity(SIZE);
    while data.len() < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    let expect_sum = sha256_hex(&data);
    l.layer("empty", "big", |r| {
        fs::write(r.join("big.bin"), &data).unwrap()
    });
    l.push("big", &reg.reference("big/one:v1"), &["--format", "oci"]);

    let proxy = Proxy::start(&reg.addr, 6 << 20);
    let r = format!("{}/big/one:v1", proxy.addr);
    let mut h = Hulld::start();
    let mut client = h
        .hull_cmd(&["pull", &r])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        "part of the layer downloaded",
        Duration::from_secs(30),
        || ingest_bytes(&h.root) >= 6 << 20,
    );
    h.kill();
    let _ = client.kill();
    let _ = client.wait();
    let partial = ingest_bytes(&h.root);
    assert!(partial > 0 && partial < SIZE as u64, "partial {partial}");

    h.spawn();
    proxy.down.store(0, Ordering::SeqCst);
    let out = h.hull_ok(&["pull", &r]);
    assert!(out.contains("Resuming"), "{out}");
    let fetched = proxy.down.load(Ordering::SeqCst);
    let missing = SIZE as u64 - partial;
    // The rest of the layer plus headers, manifest and config; not the whole blob again.
    assert!(fetched >= missing, "fetched {fetched} < missing {missing}");
    assert!(
        fetched < missing + (512 << 10),
        "fetched {fetched}, missing only {missing}"
    );
    assert_eq!(ingest_bytes(&h.root), 0, "no ingest left");

    let mnt = h.dir.path().join("mnt");
    let v = h.mount_image(&r, &mnt);
    assert_eq!(
        sha256_hex(&fs::read(v.target.join("big.bin")).unwrap()),
        expect_sum
    );
}
