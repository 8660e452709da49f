//! A pull stopped midway (hulld SIGKILLed) resumes after a restart and
//! downloads only what is missing (HTTP Range), measured through a
//! throttling byte-counting proxy in front of the registry.

mod manager_support;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// TCP proxy on 127.0.0.1 that limits upstream→client bytes to `rate`
/// bytes/s and counts them. Stops when dropped.
struct Proxy {
    addr: String,
    down: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: &str, rate: u64) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let down = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (d2, s2, up) = (down.clone(), stop.clone(), upstream.to_string());
        std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        let Ok(u) = TcpStream::connect(&up) else {
                            continue;
                        };
                        let (c2, u2) = (c.try_clone().unwrap(), u.try_clone().unwrap());
                        let s3 = s2.clone();
                        std::thread::spawn(move || pump(c2, u2, None, None, s3));
                        let (d3, s4) = (d2.clone(), s2.clone());
                        std::thread::spawn(move || pump(u, c, Some(rate), Some(d3), s4));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Proxy { addr, down, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    rate: Option<u64>,
    count: Option<Arc<AtomicU64>>,
    stop: Arc<AtomicBool>,
) {
    let start = Instant::now();
    let mut total = 0u64;
    let mut buf = [0u8; 16384];
    from.set_read_timeout(Some(Duration::from_millis(200))).ok();
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(_) => break,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        total += n as u64;
        if let Some(c) = &count {
            c.fetch_add(n as u64, Ordering::SeqCst);
        }
        if let Some(r) = rate {
            let due = Duration::from_secs_f64(total as f64 / r as f64);
            let el = start.elapsed();
            if due > el {
                std::thread::sleep(due - el);
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

fn ingest_bytes(root: &Path) -> u64 {
    let dir = root.join("content/ingest");
    let mut n = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(md) = fs::metadata(e.path().join("data")) {
                n += md.len();
            }
        }
    }
    n
}

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
