//! What the networking suites share beyond `net`: hulld on the bridge,
//! clients in the container, leftovers checks, the event stream, a peer
//! outside the bridge.

use std::io::{BufRead, BufReader, Read};
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hull_integration::cleanup;

use super::net::*;
use super::*;

/// hulld's config here: containers default to the bridge network (the
/// shared helper defaults other suites to "none").
pub const BRIDGE: &str = "default_network = \"bridge\"\n";

/// A shell command fetching http://HOST/ with busybox nc (this
/// busybox-static's wget crashes before it does anything).
pub fn fetch(host: &str) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} 80")
}

pub fn udp_echo(addr: &str) -> bool {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for _ in 0..30 {
        let _ = s.send_to(b"ping-udp", addr);
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            if &buf[..n] == b"ping-udp" {
                return true;
            }
        }
    }
    false
}

pub fn netns_files(h: &Hulld) -> Vec<PathBuf> {
    std::fs::read_dir(h.state.join("netns"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Nothing of a stopped/removed container's networking is left.
pub fn assert_no_net_leftovers(h: &Hulld, ips: &[&str]) {
    let l = links();
    assert!(!l.contains("veth"), "veth left: {l}");
    let ipt = iptables_dump();
    for ip in ips {
        assert!(
            !ipt.contains(&format!("{ip}/")) && !ipt.contains(&format!("{ip}:")),
            "iptables rule for {ip} left:\n{ipt}"
        );
    }
    let files = netns_files(h);
    assert!(files.is_empty(), "netns files left: {files:?}");
    let mounts = cleanup::mounts_under(&h.state.join("netns"));
    assert!(mounts.is_empty(), "netns mounts left: {mounts:?}");
    let nets: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["network", "inspect", "bridge"])).unwrap();
    assert_eq!(
        nets[0]["Containers"].as_object().map(|o| o.len()),
        Some(0),
        "{nets}"
    );
    assert_eq!(
        nets[0]["IPAM"]["Leases"].as_object().map(|o| o.len()),
        Some(0),
        "IPAM leases left: {nets}"
    );
}

/// `hull inspect --format T C`, trimmed.
pub fn fmt(h: &Hulld, t: &str, c: &str) -> String {
    h.hull_ok(&["inspect", "--format", t, c]).trim().to_string()
}

/// `hull events --filter type=network`, live: network connect and
/// disconnect events as they come (the probe events that proved the
/// subscription live are skipped).
pub struct NetEvents {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<String>,
}

impl NetEvents {
    pub fn watch(h: &Hulld) -> NetEvents {
        let mut child = h
            .hull_cmd(&["events", "--filter", "type=network"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let ev = NetEvents { child, rx };
        // The subscription is live once a probe network's create shows up.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            h.hull_ok(&["network", "create", "evprobe"]);
            h.hull_ok(&["network", "rm", "evprobe"]);
            if let Ok(l) = ev.rx.recv_timeout(Duration::from_millis(300)) {
                assert!(l.contains(" /networks/"), "{l}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no network event seen"
            );
        }
        ev
    }

    /// The next n connect/disconnect lines naming one of `ids` (10 s at
    /// most; other containers' lines are skipped).
    pub fn take(&self, n: usize, ids: &[&str]) -> Vec<String> {
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while got.len() < n && std::time::Instant::now() < deadline {
            if let Ok(l) = self.rx.recv_timeout(Duration::from_millis(200)) {
                let link = l.contains("/networks/connect ") || l.contains("/networks/disconnect ");
                if link && ids.iter().any(|id| l.contains(id)) {
                    got.push(l);
                }
            }
        }
        assert_eq!(got.len(), n, "{got:?}");
        got
    }
}

impl Drop for NetEvents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ID of the container whose bundle's hosts file names `ip`.
pub fn h_id(bundles: &Path, ip: &str, h: &Hulld) -> String {
    for b in std::fs::read_dir(bundles).unwrap().flatten() {
        let hosts = std::fs::read_to_string(b.path().join("hosts")).unwrap_or_default();
        if hosts.contains(&format!("{ip}\t")) {
            return b.file_name().to_string_lossy().into_owned();
        }
    }
    panic!("no bundle with {ip}: {}", tail(&h.log(), 20));
}

/// A second namespace ("the outside world") joined to ours by a veth pair:
/// 192.0.2.1 here, 192.0.2.2 there, and no route back to container
/// subnets, so only masqueraded traffic gets answers.
pub struct Outside {
    name: String,
}

impl Outside {
    pub fn make(tag: &str) -> Outside {
        let name = format!("hullt-{}-{tag}", std::process::id());
        sh(Command::new("ip").args(["netns", "add", &name]));
        let o = Outside { name };
        sh(Command::new("ip").args([
            "link", "add", "hullout0", "type", "veth", "peer", "name", "hullout1", "netns", &o.name,
        ]));
        sh(Command::new("ip").args(["addr", "add", "192.0.2.1/24", "dev", "hullout0"]));
        sh(Command::new("ip").args(["link", "set", "hullout0", "up"]));
        for args in [
            &["addr", "add", "192.0.2.2/24", "dev", "hullout1"][..],
            &["link", "set", "hullout1", "up"],
            &["link", "set", "lo", "up"],
        ] {
            sh(Command::new("ip").arg("-n").arg(&o.name).args(args));
        }
        o
    }

    /// Accept one TCP connection on 192.0.2.2:PORT (in a thread that
    /// joins the outside namespace); the peer address and what it sent.
    pub fn accept_one(&self, port: u16) -> std::thread::JoinHandle<(String, String)> {
        let path = format!("/run/netns/{}", self.name);
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let l = std::net::TcpListener::bind(("192.0.2.2", port)).unwrap();
            tx.send(()).unwrap();
            l.set_nonblocking(true).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            let (mut s, peer) = loop {
                match l.accept() {
                    Ok(x) => break x,
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(e) => return (format!("no connection: {e}"), String::new()),
                }
            };
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut data = String::new();
            let _ = s.read_to_string(&mut data);
            (peer.ip().to_string(), data)
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("listener up");
        t
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
