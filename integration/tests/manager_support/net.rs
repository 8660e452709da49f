//! Helpers for the networking suites: a network namespace the test thread
//! lives in (so hulld, its containers and their bridge, veths and iptables
//! rules never touch the host's), a web image, HTTP on a port, and what is
//! left of containers' networking (links, iptables rules).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

use super::{sh, skopeo_copy, stdout, tail, Hulld, Layout};

/// A network namespace this test thread lives in until drop.
pub struct NetNs {
    name: String,
    orig: OwnedFd,
}

impl NetNs {
    pub fn enter(tag: &str) -> NetNs {
        let name = format!("hullt-{}-{tag}", std::process::id());
        sh(Command::new("ip").args(["netns", "add", &name]));
        let orig: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")
            .unwrap()
            .into();
        let ns = NetNs { name, orig };
        let f = std::fs::File::open(format!("/run/netns/{}", ns.name)).unwrap();
        nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        sh(Command::new("ip").args(["link", "set", "lo", "up"]));
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = nix::sched::setns(self.orig.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub const UDP_ECHO_C: &str = r#"
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    char buf[2048];
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
    }
}
"#;

/// A busybox image (EXPOSE 80/tcp, /www/index.html, a static UDP echo
/// server) loaded into `h` from an archive (hulld has no registry to pull
/// from in its namespace). Returns its reference.
pub fn load_image(h: &Hulld) -> String {
    let l = Layout::new();
    let src = l.dir.path().join("udpecho.c");
    std::fs::write(&src, UDP_ECHO_C).unwrap();
    let bin = l.dir.path().join("udpecho");
    sh(Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src));
    l.layer("empty", "web", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
        std::fs::create_dir_all(r.join("www")).unwrap();
        std::fs::write(r.join("www/index.html"), "hello from hull\n").unwrap();
        std::fs::copy(&bin, r.join("bin/udpecho")).unwrap();
    });
    let mut cfg = Vec::new();
    for a in ["httpd", "-f", "-p", "80", "-h", "/www"] {
        cfg.extend(["--config.cmd", a]);
    }
    cfg.extend(["--config.exposedports", "80/tcp"]);
    l.config("web", &cfg);
    let archive = l.dir.path().join("web.tar");
    let reference = "hull.test/web:v1";
    skopeo_copy(
        &format!("oci:{}", l.image("web")),
        &format!("docker-archive:{}:{reference}", archive.display()),
        &[],
    );
    h.hull_ok(&["load", "-i", archive.to_str().unwrap()]);
    reference.to_string()
}

/// GET / on addr; the body.
pub fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

pub fn wait_http(addr: &str, h: &Hulld) -> String {
    let mut last;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match http_get(addr) {
            Ok(b) if b.contains("hello from hull") => return b,
            Ok(b) => last = b,
            Err(e) => last = e.to_string(),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no HTTP answer on {addr}: {last}\n{}",
            tail(&h.log(), 30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ip -o link show`, one line per interface ("N: NAME: <FLAGS> …").
pub fn links() -> String {
    stdout(&sh(Command::new("ip").args(["-o", "link", "show"])))
}

pub fn iptables_dump() -> String {
    // Every table (filter, nat, …).
    stdout(&sh(&mut Command::new("iptables-save")))
}

/// The container's address on its (first) network; empty when it has none.
pub fn ip_of(h: &Hulld, c: &str) -> String {
    h.hull_ok(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        c,
    ])
    .trim()
    .to_string()
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `hull run -d --name NAME -p PORT:80 IMAGE` (the image's httpd) on a free
/// port, once it answers on 127.0.0.1; the port.
pub fn run_published_web(h: &Hulld, name: &str, image: &str) -> u16 {
    let port = free_port();
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        name,
        "-p",
        &format!("{port}:80"),
        image,
    ]);
    wait_http(&format!("127.0.0.1:{port}"), h);
    port
}
