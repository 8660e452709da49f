//! Helpers of the fault suites (manager_faults_disk, manager_faults_pull):
//! small hand-made images pushed to a test registry, a SIGSTOP guard for a
//! registry, a spawned `hull` client killed on drop, disk usage.

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use hull_integration::registry::Registry;
use nix::sys::signal::Signal;

use super::*;

pub const ARCH: &str = if cfg!(target_arch = "aarch64") {
    "arm64"
} else {
    "amd64"
};

/// A small valid layer tar with one file.
pub fn small_tar(name: &str, content: &str) -> Vec<u8> {
    let mut t = Vec::new();
    tar_entry(&mut t, name, b'0', "", content.as_bytes(), 0o644);
    tar_finish(&mut t);
    t
}

/// Deterministic incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
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
pub fn push(layout: &Path, tag: &str, dest: &str) {
    skopeo_copy(
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker://{dest}"),
        &[],
    );
}

/// An image of the given layer tars pushed to `reg` as `repo_tag`.
pub fn image(reg: &Registry, dir: &Path, repo_tag: &str, tars: &[Vec<u8>]) -> String {
    let tag = repo_tag.replace(['/', ':'], "-");
    let layout = layout_from_tars(dir, &tag, tars, ARCH);
    let r = reg.reference(repo_tag);
    push(&layout, &tag, &r);
    r
}

/// Resumes a registry stopped by the test, so that its own guard can kill it.
pub struct Stopped(pub u32);

impl Stopped {
    pub fn stop(reg: &Registry) -> Stopped {
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
pub struct Client(Option<Child>);

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Client {
    pub fn spawn(h: &Hulld, args: &[&str]) -> Client {
        Client(Some(
            h.hull_cmd(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn hull"),
        ))
    }

    /// Wait up to `timeout` for the exit; (success, stdout, stderr).
    pub fn wait(mut self, timeout: Duration) -> (bool, String, String) {
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
pub fn du(p: &Path) -> u64 {
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

pub fn snapshot_names(h: &Hulld) -> Vec<String> {
    h.hull_ok(&["snapshot", "ls"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

pub fn extracts(h: &Hulld) -> Vec<String> {
    snapshot_names(h)
        .into_iter()
        .filter(|n| n.starts_with("extract-"))
        .collect()
}

/// One plain HTTP/1.0 request to `addr` with one extra header line; the
/// status and body of the answer.
pub fn http(addr: &str, method: &str, path: &str, header: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{header}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP answer without a header end");
    let status = String::from_utf8_lossy(&resp[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("HTTP status");
    (status, resp[split + 4..].to_vec())
}
