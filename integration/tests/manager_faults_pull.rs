//! Pulls under registry faults, against real registries (`docker-registry`
//! on 127.0.0.1, throttled by a proxy where a pull must be caught midway):
//! concurrent pulls and first runs of one image, a manifest listing a layer
//! twice, a registry stopped with SIGSTOP (idle timeout, then a resumed
//! pull), a client that goes away, and an index lying about a size.

mod manager_support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use hull_integration::registry::{Auth, Registry};
use manager_support::faults::*;
use manager_support::proxy::Proxy;
use manager_support::*;

// ------------------------------------------------------------ 6: concurrency

#[test]
fn concurrent_pulls_of_one_image_wait_for_each_other_and_all_succeed() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut tars = Vec::new();
    for i in 0..2 {
        let mut t = Vec::new();
        tar_entry(
            &mut t,
            &format!("part{i}"),
            b'0',
            "",
            &noise(6 << 20, i + 1),
            0o644,
        );
        tar_finish(&mut t);
        tars.push(t);
    }
    image(&reg, tmp.path(), "faults/shared:v1", &tars);
    // Slow enough that the four pulls overlap.
    let proxy = Proxy::start(&reg.addr, 8 << 20);
    let r = format!("{}/faults/shared:v1", proxy.addr);
    let h = Hulld::start();
    let clients: Vec<Client> = (0..4).map(|_| Client::spawn(&h, &["pull", &r])).collect();
    for c in clients {
        let (ok, out, err) = c.wait(Duration::from_secs(120));
        assert!(ok, "a concurrent pull failed: {out}\n{err}");
    }
    assert!(extracts(&h).is_empty());
    assert_eq!(ingest_bytes(&h.root), 0);
    let info = h.inspect(&r);
    assert_eq!(info["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    let mnt = h.dir.path().join("mnt");
    let v = h.mount_image(&r, &mnt);
    assert_eq!(
        sha256_hex(&fs::read(v.target.join("part1")).unwrap()),
        sha256_hex(&noise(6 << 20, 2))
    );
}

#[test]
fn concurrent_first_runs_of_one_image_all_pull_and_run() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("faults/busybox:v1");
    l.push("bb", &image, &[]);
    let h = Hulld::start();
    let _cleanup = Containers::of(&h);
    // Each container outlives its start by a moment: what is tested is the
    // concurrent pull, not how `run --rm` meets an instant exit.
    let clients: Vec<Client> = (0..6)
        .map(|i| {
            let script = format!("echo run-{i}; sleep 1");
            Client::spawn(&h, &["run", "--rm", &image, "sh", "-c", &script])
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let (ok, out, err) = c.wait(Duration::from_secs(120));
        assert!(ok, "first run {i} failed: {out}\n{err}");
        assert!(out.contains(&format!("run-{i}")), "{out}");
    }
    assert!(extracts(&h).is_empty());
}

#[test]
fn a_manifest_listing_a_layer_twice_pulls() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = small_tar("twice", "same layer");
    let r = image(&reg, tmp.path(), "faults/twice:v1", &[t.clone(), t]);
    let h = Hulld::start();
    h.hull_ok(&["pull", &r]);
    let info = h.inspect(&r);
    assert_eq!(info["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    let mnt = h.dir.path().join("mnt");
    let v = h.mount_image(&r, &mnt);
    assert_eq!(
        fs::read_to_string(v.target.join("twice")).unwrap(),
        "same layer"
    );
}

// ------------------------------------------------------------ 7: stalls

/// A 16 MiB layer image behind a 3 MiB/s proxy: (registry, proxy, reference
/// through the proxy).
fn slow_image(tmp: &Path) -> (Registry, Proxy, String) {
    let reg = Registry::start(Auth::None).unwrap();
    let mut t = Vec::new();
    tar_entry(&mut t, "big.bin", b'0', "", &noise(16 << 20, 11), 0o644);
    tar_finish(&mut t);
    image(&reg, tmp, "faults/slow:v1", &[t]);
    let proxy = Proxy::start(&reg.addr, 3 << 20);
    let r = format!("{}/faults/slow:v1", proxy.addr);
    (reg, proxy, r)
}

#[test]
fn a_stalled_registry_times_out_and_the_next_pull_resumes() {
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let (reg, _proxy, r) = slow_image(tmp.path());
    let h = Hulld::start_with_config("pull_idle_timeout = 2\n");
    let client = Client::spawn(&h, &["pull", &r]);
    wait_until("part of the layer", Duration::from_secs(30), || {
        ingest_bytes(&h.root) >= 2 << 20
    });
    let stopped = Stopped::stop(&reg);
    let t0 = Instant::now();
    let (ok, _, err) = client.wait(Duration::from_secs(60));
    assert!(!ok, "pull from a stopped registry succeeded");
    assert!(err.contains("pull_idle_timeout"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Socket buffers drain for a moment before the stall is seen.
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    let partial = ingest_bytes(&h.root);
    assert!(partial > 0, "the partial download is kept");

    drop(stopped); // SIGCONT
    let out = h.hull_ok(&["pull", &r]);
    assert!(out.contains("Resuming"), "{out}");
    assert_eq!(ingest_bytes(&h.root), 0);
}

#[test]
fn a_client_that_goes_away_cancels_its_pull_and_frees_the_download() {
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let (reg, _proxy, r) = slow_image(tmp.path());
    // The same image in a second registry: the content (and its ingest) is
    // the same whichever registry serves it.
    let reg2 = Registry::start(Auth::None).unwrap();
    let r2 = reg2.reference("faults/slow:v1");
    push(
        &tmp.path().join("layout-faults-slow-v1"),
        "faults-slow-v1",
        &r2,
    );
    // No idle timeout: only the client leaving can end the first pull.
    let h = Hulld::start_with_config("pull_idle_timeout = 0\n");
    let client = Client::spawn(&h, &["pull", &r]);
    wait_until("part of the layer", Duration::from_secs(30), || {
        ingest_bytes(&h.root) >= 2 << 20
    });
    let _stopped = Stopped::stop(&reg);
    drop(client); // the user gives up (SIGKILL of the client)
                  // The first registry stays stopped: a second pull only succeeds when
                  // the abandoned one let go of the layer's ingest.
    let c2 = Client::spawn(&h, &["pull", &r2]);
    let (ok, out, err) = c2.wait(Duration::from_secs(60));
    assert!(ok, "second pull: {out}\n{err}");
    assert!(out.contains("Resuming"), "{out}");
    assert!(extracts(&h).is_empty());
}

// ------------------------------------------------------------ 8: lying sizes

#[test]
fn an_index_whose_descriptor_lies_about_a_size_is_refused() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let r = image(&reg, tmp.path(), "faults/lie:img", &[small_tar("x", "y")]);
    // The manifest's bytes as the registry stores them.
    let (code, stored) = http(
        &reg.addr,
        "GET",
        "/v2/faults/lie/manifests/img",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        b"",
    );
    assert_eq!(code, 200);
    assert!(!stored.is_empty());
    let digest = format!("sha256:{}", sha256_hex(&stored));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": 10,
            "platform": {"architecture": ARCH, "os": "linux"},
        }],
    });
    let (code, body) = http(
        &reg.addr,
        "PUT",
        "/v2/faults/lie/manifests/v1",
        "Content-Type: application/vnd.oci.image.index.v1+json",
        index.to_string().as_bytes(),
    );
    assert_eq!(
        code,
        201,
        "registry refused the index: {}",
        String::from_utf8_lossy(&body)
    );

    let h = Hulld::start();
    let lie = reg.reference("faults/lie:v1");
    let out = h.hull(&["pull", &lie]);
    let err = stderr(&out);
    assert!(!out.status.success(), "a lying index was accepted");
    assert!(
        err.contains(&digest)
            && err.contains("10 bytes")
            && err.contains(&stored.len().to_string()),
        "{err}"
    );
    assert!(!h.hull_ok(&["images"]).contains("faults/lie"));
    // The manifest's own tag still pulls.
    h.hull_ok(&["pull", &r]);
}
