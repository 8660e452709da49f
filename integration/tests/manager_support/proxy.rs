//! A throttling, byte-counting TCP proxy in front of a test registry, so
//! that a pull is slow enough to be caught midway.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// TCP proxy on 127.0.0.1 that limits upstream→client bytes to `rate`
/// bytes/s and counts them. Stops when dropped.
pub struct Proxy {
    pub addr: String,
    pub down: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: &str, rate: u64) -> Proxy {
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
