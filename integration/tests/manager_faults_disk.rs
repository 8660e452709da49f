//! hulld on a full disk: its root on a small tmpfs this test mounts (and
//! unmounts on drop). A full disk fails metadata writes until space is
//! freed, then the same daemon and a restarted one work; an unpack cut
//! short is freed at start-up and by `system prune`; a layer claiming more
//! than the disk and a gzip bomb stop while `min_free_space` is still free.

mod manager_support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hull_integration::registry::{Auth, Registry};
use manager_support::faults::*;
use manager_support::proxy::Proxy;
use manager_support::*;
use sha2::{Digest, Sha256};

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
