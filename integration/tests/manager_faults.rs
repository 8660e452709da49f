//! Pulls under real faults: hulld's root on a small tmpfs this test mounts
//! (a full disk, a layer claiming more than the disk, a gzip bomb), a
//! registry stopped with SIGSTOP midway through a layer, concurrent pulls
//! of one image, a manifest listing a layer twice and an index whose
//! descriptor lies about a manifest's size. Registries are real
//! (`docker-registry` on 127.0.0.1), throttled by a proxy where a pull must
//! be caught midway.

mod manager_support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hull_integration::registry::{Auth, Registry};
use manager_support::proxy::Proxy;
use manager_support::*;
use nix::sys::signal::Signal;
use sha2::{Digest, Sha256};

const ARCH: &str = if cfg!(target_arch = "aarch64") {
    "arm64"
} else {
    "amd64"
};

/// A small valid layer tar with one file.
fn small_tar(name: &str, content: &str) -> Vec<u8> {
    let mut t = Vec::new();
    tar_entry(&mut t, name, b'0', "", content.as_bytes(), 0o644);
    tar_finish(&mut t);
    t
}

/// Deterministic incompressible bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Push an OCI layout's tag to `dest` (`registry/repo:tag`).
fn push(layout: &Path, tag: &str, dest: &str) {
    skopeo_copy(
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker://{dest}"),
        &[],
    );
}

/// An image of the given layer tars pushed to `reg` as `repo_tag`.
fn image(reg: &Registry, dir: &Path, repo_tag: &str, tars: &[Vec<u8>]) -> String {
    let tag = repo_tag.replace(['/', ':'], "-");
    let layout = layout_from_tars(dir, &tag, tars, ARCH);
    let r = reg.reference(repo_tag);
    push(&layout, &tag, &r);
    r
}

/// Resumes a registry stopped by the test, so that its own guard can kill it.
struct Stopped(u32);

impl Stopped {
    fn stop(reg: &Registry) -> Stopped {
        let pid = reg.pid().expect("registry pid");
        signal(pid, Signal::SIGSTOP);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, Signal::SIGCONT);
    }
}

/// Kills a spawned `hull` client on drop.
struct Client(Option<Child>);

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Client {
    fn spawn(h: &Hulld, args: &[&str]) -> Client {
        Client(Some(
            h.hull_cmd(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn hull"),
        ))
    }

    /// Wait up to `timeout` for the exit; (success, stdout, stderr).
    fn wait(mut self, timeout: Duration) -> (bool, String, String) {
        let deadline = Instant::now() + timeout;
        let c = self.0.as_mut().expect("client");
        loop {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "hull did not exit in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        let out = self.0.take().expect("client").wait_with_output().unwrap();
        (out.status.success(), stdout(&out), stderr(&out))
    }
}

/// Bytes used under `p` (allocated blocks), not following mounts.
fn du(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = fs::symlink_metadata(p) else {
        return 0;
    };
    let mut n = md.blocks() * 512;
    if md.is_dir() {
        for e in fs::read_dir(p).into_iter().flatten().flatten() {
            n += du(&e.path());
        }
    }
    n
}

fn snapshot_names(h: &Hulld) -> Vec<String> {
    h.hull_ok(&["snapshot", "ls"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn extracts(h: &Hulld) -> Vec<String> {
    snapshot_names(h)
        .into_iter()
        .filter(|n| n.starts_with("extract-"))
        .collect()
}

// ------------------------------------------------------------ 4: full disk

#[test]
fn a_full_disk_fails_calls_until_space_is_freed_then_works_without_and_after_restart() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let r = image(
        &reg,
        tmp.path(),
        "faults/small:v1",
        &[small_tar("hello", "hi")],
    );
    let mut h = Hulld::start_on_tmpfs("min_free_space = \"0\"\n", 64);
    h.hull_ok(&["pull", &r]);

    // Fill the file system to the last block.
    let filler = h.root.join("filler");
    {
        let mut f = fs::File::create(&filler).unwrap();
        let mb = vec![0u8; 1 << 20];
        while f.write_all(&mb).is_ok() {}
        let kb = vec![0u8; 4096];
        while f.write_all(&kb).is_ok() {}
        let _ = f.flush();
    }
    assert!(avail_bytes(&h.root) < 4096 * 2);

    // Metadata writes fail now, each with a one-line error.
    let mut failed = None;
    for i in 0..4000 {
        let out = h.hull(&["tag", &r, &format!("faults/t{i}:v1")]);
        if !out.status.success() {
            failed = Some(stderr(&out));
            break;
        }
    }
    let err = failed.expect("a metadata write fails on a full disk");
    assert!(
        err.contains("metadata database") && err.to_lowercase().contains("no space left"),
        "unexpected error: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Space freed: the same daemon works again, reads and writes.
    fs::remove_file(&filler).unwrap();
    h.hull_ok(&["tag", &r, "faults/after:v1"]);
    let images = h.hull_ok(&["images"]);
    assert!(images.contains("faults/after"), "{images}");
    h.hull_ok(&["rmi", "faults/t0:v1"]);
    assert!(
        h.log().contains("metadata database reopened"),
        "{}",
        h.log()
    );

    // And after a restart.
    h.stop();
    h.spawn();
    let images = h.hull_ok(&["images"]);
    assert!(images.contains("faults/after"), "{images}");
    h.hull_ok(&["tag", &r, "faults/after-restart:v1"]);
    assert!(h.hull_ok(&["images"]).contains("faults/after-restart"));
}

#[test]
fn an_unpack_cut_short_is_freed_at_start_up_and_by_prune() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    const SIZE: usize = 16 << 20;
    let mut t = Vec::new();
    tar_entry(&mut t, "big.bin", b'0', "", &noise(SIZE, 7), 0o644);
    tar_finish(&mut t);
    image(&reg, tmp.path(), "faults/big:v1", &[t]);
    let proxy = Proxy::start(&reg.addr, 3 << 20);
    let r = format!("{}/faults/big:v1", proxy.addr);

    let mut h = Hulld::start_on_tmpfs("min_free_space = \"0\"\n", 128);
    let client = Client::spawn(&h, &["pull", &r]);
    let snaps = h.root.join("snapshots");
    wait_until(
        "the unpack to have written part of the layer",
        Duration::from_secs(30),
        || du(&snaps) >= 2 << 20,
    );
    // Killed mid-unpack: the extract snapshot stays behind.
    h.kill();
    drop(client);
    assert!(du(&snaps) >= 2 << 20);

    h.spawn();
    assert!(extracts(&h).is_empty(), "{:?}", snapshot_names(&h));
    assert!(du(&snaps) < 1 << 20, "start-up left {} bytes", du(&snaps));

    // An unfinished unpack the running daemon holds a record of (as when
    // removing it failed): `system prune` frees it.
    let out = h.hull_ok(&["snapshot", "prepare", "extract-1-abandoned"]);
    let src = out
        .split_whitespace()
        .nth(3)
        .expect("mount source")
        .to_string();
    fs::write(Path::new(&src).join("half"), noise(4 << 20, 3)).unwrap();
    assert!(du(&snaps) >= 4 << 20);
    h.hull_ok(&["system", "prune", "-f"]);
    assert!(extracts(&h).is_empty(), "{:?}", snapshot_names(&h));
    assert!(!Path::new(&src).exists());
    assert!(du(&snaps) < 1 << 20);
    // The partial download went too (prune frees idle ingests).
    assert_eq!(ingest_bytes(&h.root), 0);
}

// ------------------------------------------------------------ 5: expansion

/// A GNU sparse entry of `real` bytes holding one data byte at its end:
/// ~1 KiB of tar, a few hundred bytes of gzip.
fn sparse_claim_tar(real: u64) -> Vec<u8> {
    let mut h = [0u8; 512];
    let name = b"claims-a-lot";
    h[..name.len()].copy_from_slice(name);
    let oct = |h: &mut [u8; 512], off: usize, len: usize, v: u64| {
        let s = format!("{:0width$o}\0", v, width = len - 1);
        h[off..off + len].copy_from_slice(s.as_bytes());
    };
    oct(&mut h, 100, 8, 0o644);
    oct(&mut h, 108, 8, 0);
    oct(&mut h, 116, 8, 0);
    oct(&mut h, 124, 12, 1); // one byte of data in the archive
    oct(&mut h, 136, 12, 1_700_000_000);
    h[156] = b'S';
    h[257..263].copy_from_slice(b"ustar ");
    h[263..265].copy_from_slice(b" \0");
    oct(&mut h, 386, 12, real - 1); // sparse[0].offset
    oct(&mut h, 398, 12, 1); // sparse[0].numbytes
    oct(&mut h, 483, 12, real); // realsize
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..156].copy_from_slice(format!("{:06o}\0 ", sum).as_bytes());
    let mut t = h.to_vec();
    let mut data = [0u8; 512];
    data[0] = b'x';
    t.extend_from_slice(&data);
    tar_finish(&mut t);
    t
}

/// `files` files of `each` zero bytes, gzipped as they are written:
/// (gzip bytes, diff ID).
fn zero_bomb(files: usize, each: usize) -> (Vec<u8>, String) {
    struct Both {
        gz: flate2::write::GzEncoder<Vec<u8>>,
        sha: Sha256,
    }
    impl Write for Both {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.sha.update(b);
            self.gz.write_all(b)?;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = Both {
        gz: flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()),
        sha: Sha256::new(),
    };
    let zeros = vec![0u8; each];
    for i in 0..files {
        let mut t = Vec::new();
        tar_entry(&mut t, &format!("zero-{i}"), b'0', "", &zeros, 0o644);
        w.write_all(&t).unwrap();
    }
    let mut end = Vec::new();
    tar_finish(&mut end);
    w.write_all(&end).unwrap();
    let diff_id = format!("sha256:{}", hex::encode(w.sha.finalize()));
    (w.gz.finish().unwrap(), diff_id)
}

/// The daemon refused `r` with a one-line "no space left" error, quickly,
/// and kept nothing of it.
fn assert_refused_for_space(h: &Hulld, r: &str, must_mention: &str) {
    let t0 = Instant::now();
    let out = h.hull(&["pull", r]);
    let took = t0.elapsed();
    let err = stderr(&out);
    assert!(!out.status.success(), "pull of {r} succeeded");
    assert!(err.contains("no space left"), "{err}");
    assert!(err.contains(must_mention), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(extracts(h).is_empty(), "{:?}", snapshot_names(h));
    assert!(
        !h.hull_ok(&["images"]).contains("faults/"),
        "image recorded"
    );
    let used = du(&h.root.join("snapshots"));
    assert!(used < 1 << 20, "{used} bytes of snapshots left");
}

#[test]
fn a_layer_claiming_more_than_the_disk_and_a_gzip_bomb_are_stopped_in_time() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let h = Hulld::start_on_tmpfs("min_free_space = \"8MiB\"\n", 64);

    // A ~1 KiB layer whose sparse header claims 4 GiB.
    let sparse = image(
        &reg,
        tmp.path(),
        "faults/sparse:v1",
        &[sparse_claim_tar(4 << 30)],
    );
    assert_refused_for_space(&h, &sparse, "4.0 GiB");

    // 200 MiB of zeros in 25 files (~200 KiB of gzip) on a 64 MiB disk:
    // each file fits alone, their sum does not.
    let (gz, diff_id) = zero_bomb(25, 8 << 20);
    assert!(gz.len() < 2 << 20, "bomb of {} bytes", gz.len());
    let layout = layout_from_gz_layers(tmp.path(), "bomb", &[(gz, diff_id)], ARCH);
    let bomb = reg.reference("faults/bomb:v1");
    push(&layout, "bomb", &bomb);
    // Watch the free space while the bomb goes off.
    let root = h.root.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let watcher = std::thread::spawn(move || {
        let mut min = u64::MAX;
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            min = min.min(avail_bytes(&root));
            std::thread::sleep(Duration::from_millis(2));
        }
        min
    });
    assert_refused_for_space(&h, &bomb, "min_free_space keeps 8.0 MiB");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let min = watcher.join().unwrap();
    assert!(min >= 4 << 20, "free space fell to {min} bytes");

    // The daemon still pulls what fits.
    let ok = image(
        &reg,
        tmp.path(),
        "fits/small:v1",
        &[small_tar("hello", "still fine")],
    );
    h.hull_ok(&["pull", &ok]);
}

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
    let clients: Vec<Client> = (0..6)
        .map(|i| Client::spawn(&h, &["run", "--rm", &image, "echo", &format!("run-{i}")]))
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
    let manifest = skopeo_inspect(&r, true);
    let raw = serde_json::to_vec(&manifest).unwrap();
    // skopeo re-serialises; fetch the stored bytes for the exact size.
    let out = sh(Command::new("curl").args([
        "-sf",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        &format!("http://{}/v2/faults/lie/manifests/img", reg.addr),
    ]));
    let stored = out.stdout;
    assert!(!stored.is_empty() && !raw.is_empty());
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
    let body = tmp.path().join("index.json");
    fs::write(&body, index.to_string()).unwrap();
    let put = sh(Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.oci.image.index.v1+json",
        "--data-binary",
        &format!("@{}", body.display()),
        &format!("http://{}/v2/faults/lie/manifests/v1", reg.addr),
    ]));
    assert_eq!(stdout(&put), "201", "registry refused the index");

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

#[test]
fn bad_space_settings_are_refused_at_start() {
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("config.toml");
    fs::write(&cfg, "min_free_space = \"lots\"\n").unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(hull_integration::bin_path("hulld"))
            .arg("--root")
            .arg(tmp.path().join("root"))
            .arg("--state")
            .arg(tmp.path().join("state"))
            .arg("--address")
            .arg(tmp.path().join("s.sock"))
            .arg("--config")
            .arg(&cfg)
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "hulld started with {extra:?}");
        stderr(&out)
    };
    let err = run(&[]);
    assert!(
        err.contains("min_free_space") && err.contains("lots"),
        "{err}"
    );
    fs::write(&cfg, "").unwrap();
    let err = run(&["--min-free-space", "101%"]);
    assert!(
        err.contains("min_free_space") && err.contains("101%"),
        "{err}"
    );
}
