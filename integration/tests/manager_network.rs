//! Container networking through hulld: bridge networks made by the CNI
//! plugins, published ports (TCP, UDP, random, -P), user networks with
//! names and aliases, `--network none|host`, and teardown (no veth,
//! iptables rule, lease or namespace left).
//!
//! Each test runs the whole stack — hulld, the shims, the containers, the
//! HTTP/UDP clients — inside a network namespace it makes (`ip netns add`):
//! the test thread joins it with setns(2) before starting anything, so
//! every process it spawns is in there too and the host's interfaces and
//! iptables are never touched. The namespace is deleted on drop, also when
//! the test fails.

mod manager_support;

use std::io::{BufRead, BufReader, Read};
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hull_integration::cleanup;
use manager_support::net::*;
use manager_support::*;

/// hulld's config here: containers default to the bridge network (the
/// shared helper defaults other suites to "none").
const BRIDGE: &str = "default_network = \"bridge\"\n";

/// A shell command fetching http://HOST/ with busybox nc (this
/// busybox-static's wget crashes before it does anything).
fn fetch(host: &str) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} 80")
}

fn udp_echo(addr: &str) -> bool {
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

fn netns_files(h: &Hulld) -> Vec<PathBuf> {
    std::fs::read_dir(h.state.join("netns"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Nothing of a stopped/removed container's networking is left.
fn assert_no_net_leftovers(h: &Hulld, ips: &[&str]) {
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
fn fmt(h: &Hulld, t: &str, c: &str) -> String {
    h.hull_ok(&["inspect", "--format", t, c]).trim().to_string()
}

/// `hull events --filter type=network`, live: network connect and
/// disconnect events as they come (the probe events that proved the
/// subscription live are skipped).
struct NetEvents {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<String>,
}

impl NetEvents {
    fn watch(h: &Hulld) -> NetEvents {
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
    fn take(&self, n: usize, ids: &[&str]) -> Vec<String> {
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

#[test]
fn published_ports_tcp_udp_random_and_teardown() {
    require_root!();
    let _ns = NetNs::enter("pub");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    // -p HOST:CONTAINER, fetched on the namespace's 127.0.0.1.
    let port = free_port();
    let t0 = std::time::Instant::now();
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        &image,
    ]);
    let body = wait_http(&format!("127.0.0.1:{port}"), &h);
    eprintln!("run -d -p to first HTTP response: {:?}", t0.elapsed());
    assert!(
        body.starts_with("HTTP/1.") && body.contains("200"),
        "{body}"
    );

    // inspect: the address (template over Networks), the Ports map, the mode.
    let ip = ip_of(&h, "web");
    assert!(ip.starts_with("10.88."), "ip {ip:?}");
    let doc: serde_json::Value = serde_json::from_str(&h.hull_ok(&["inspect", "web"])).unwrap();
    let ns = &doc[0]["NetworkSettings"];
    assert_eq!(
        ns["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string(),
        "{ns}"
    );
    assert_eq!(ns["Networks"]["bridge"]["Gateway"], "10.88.0.1", "{ns}");
    assert_eq!(doc[0]["HostConfig"]["NetworkMode"], "bridge");
    // `ps`: Docker's PORTS and NETWORKS cells, and the default table's
    // PORTS column.
    assert_eq!(
        h.hull_ok(&[
            "ps",
            "--filter",
            "name=web",
            "--format",
            "{{.Ports}}|{{.Networks}}"
        ])
        .trim(),
        format!("0.0.0.0:{port}->80/tcp|bridge")
    );
    let table = h.hull_ok(&["ps", "--filter", "name=web"]);
    assert!(
        table.lines().next().is_some_and(|l| l.contains("PORTS"))
            && table.contains(&format!("0.0.0.0:{port}->80/tcp")),
        "{table}"
    );
    // Docker's port fields: what was asked, what is bound (the image's
    // EXPOSE 80/tcp is the one published here), what is exposed.
    assert_eq!(
        fmt(&h, "{{json .HostConfig.PortBindings}}", "web"),
        format!(r#"{{"80/tcp":[{{"HostIp":"","HostPort":"{port}"}}]}}"#)
    );
    assert_eq!(
        fmt(&h, "{{json .NetworkSettings.Ports}}", "web"),
        format!(r#"{{"80/tcp":[{{"HostIp":"0.0.0.0","HostPort":"{port}"}}]}}"#)
    );
    assert_eq!(
        fmt(
            &h,
            r#"{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}"#,
            "web"
        ),
        port.to_string()
    );
    assert_eq!(
        fmt(
            &h,
            "{{json .Config.ExposedPorts}} {{.HostConfig.PublishAllPorts}}",
            "web"
        ),
        r#"{"80/tcp":{}} false"#
    );
    // The container's address answers directly too, and its interface is up.
    wait_http(&format!("{ip}:80"), &h);
    assert_eq!(
        h.hull_ok(&["port", "web"]).trim(),
        format!("80/tcp -> 0.0.0.0:{port}")
    );
    assert_eq!(
        h.hull_ok(&["port", "web", "80"]).trim(),
        format!("0.0.0.0:{port}")
    );
    let l = links();
    assert!(l.contains("hull0") && l.contains("veth"), "{l}");
    // Outbound masquerade rule for the container.
    assert!(iptables_dump().contains(&ip), "no rule for {ip}");

    // The same host port again: Docker's error, nothing made.
    let o = h.hull(&[
        "run",
        "-d",
        "--name",
        "web2",
        "-p",
        &format!("{port}:80"),
        &image,
    ]);
    assert_ne!(o.status.code(), Some(0));
    let e = stderr(&o);
    assert!(
        e.contains("port is already allocated") && e.lines().count() == 1,
        "{e}"
    );
    assert_eq!(netns_files(&h).len(), 1, "{:?}", netns_files(&h));
    h.hull_ok(&["rm", "web2"]);

    // -P: EXPOSEd 80/tcp on a random port; -p CONTAINERPORT: random too.
    h.hull_ok(&["run", "-d", "--name", "pall", "-P", "-p", "8080", &image]);
    let ports = h.hull_ok(&["port", "pall"]);
    let random: Vec<u16> = ports
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.trim().parse().ok())
        .collect();
    assert_eq!(random.len(), 2, "{ports}");
    let p80 = h.hull_ok(&["port", "pall", "80/tcp"]);
    let p80: u16 = p80.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(p80 > 0 && p80 != port);
    wait_http(&format!("127.0.0.1:{p80}"), &h);
    // -P is not a binding of its own; -p 8080 asks for a random port.
    assert_eq!(
        fmt(
            &h,
            "{{json .HostConfig.PortBindings}} {{.HostConfig.PublishAllPorts}}",
            "pall"
        ),
        r#"{"8080/tcp":[{"HostIp":"","HostPort":""}]} true"#
    );
    let bound: serde_json::Value =
        serde_json::from_str(&fmt(&h, "{{json .NetworkSettings.Ports}}", "pall")).unwrap();
    let mut shown: Vec<u16> = ["80/tcp", "8080/tcp"]
        .iter()
        .map(|k| {
            bound[k][0]["HostPort"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{k} not bound: {bound}"))
        })
        .collect();
    shown.sort();
    let mut random = random.clone();
    random.sort();
    assert_eq!(shown, random, "{bound}");

    // UDP publish.
    let uport = free_port();
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-p",
        &format!("127.0.0.1:{uport}:5353/udp"),
        "--entrypoint",
        "/bin/udpecho",
        &image,
        "5353",
    ]);
    assert!(
        udp_echo(&format!("127.0.0.1:{uport}")),
        "no UDP echo\n{}",
        tail(&h.log(), 30)
    );
    // Exposed (by the image) but not published: null, as Docker shows it.
    assert_eq!(
        fmt(&h, "{{json .NetworkSettings.Ports}}", "udp"),
        format!(r#"{{"5353/udp":[{{"HostIp":"127.0.0.1","HostPort":"{uport}"}}],"80/tcp":null}}"#)
    );
    assert_eq!(
        fmt(&h, "{{json .HostConfig.PortBindings}}", "udp"),
        format!(r#"{{"5353/udp":[{{"HostIp":"127.0.0.1","HostPort":"{uport}"}}]}}"#)
    );

    // Stop and remove: nothing left; the lease is free again.
    let ips: Vec<String> = ["web", "pall", "udp"]
        .iter()
        .map(|c| ip_of(&h, c))
        .collect();
    h.hull_ok(&["stop", "-t", "1", "web", "pall", "udp"]);
    assert_eq!(ip_of(&h, "web"), "", "address kept after stop");
    // Stopped: nothing bound, the request kept.
    assert_eq!(fmt(&h, "{{json .NetworkSettings.Ports}}", "web"), "{}");
    assert_eq!(
        fmt(&h, "{{json .HostConfig.PortBindings}}", "web"),
        format!(r#"{{"80/tcp":[{{"HostIp":"","HostPort":"{port}"}}]}}"#)
    );
    assert!(http_get(&format!("127.0.0.1:{port}")).is_err());
    h.hull_ok(&["rm", "web", "pall", "udp"]);
    let ipr: Vec<&str> = ips.iter().map(String::as_str).collect();
    assert_no_net_leftovers(&h, &ipr);
    h.hull_ok(&["run", "-d", "--name", "again", &image]);
    assert_eq!(
        ip_of(&h, "again"),
        ips[0],
        "the first address was not released"
    );
    assert_eq!(
        fmt(
            &h,
            "{{json .NetworkSettings.Ports}} {{json .HostConfig.PortBindings}}",
            "again"
        ),
        r#"{"80/tcp":null} {}"#
    );
    h.hull_ok(&["rm", "-f", "again"]);
    assert_no_net_leftovers(&h, &ipr);
}

#[test]
fn user_networks_names_aliases_connect() {
    require_root!();
    let _ns = NetNs::enter("usr");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    let id = h.hull_ok(&["network", "create", "--subnet", "10.90.0.0/24", "front"]);
    assert_eq!(id.trim().len(), 64);
    let ls = h.hull_ok(&["network", "ls"]);
    assert!(
        ls.contains("front") && ls.contains("10.90.0.0/24") && ls.contains("bridge"),
        "{ls}"
    );

    let events = NetEvents::watch(&h);
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "front",
        "--network-alias",
        "www",
        &image,
    ]);
    assert!(ip_of(&h, "srv").starts_with("10.90.0."));
    let front_id = h
        .hull_ok(&["network", "inspect", "--format", "{{.Id}}", "front"])
        .trim()
        .to_string();
    // A client on the same network reaches it by name and by alias.
    for name in ["srv", "www"] {
        let o = h.hull(&[
            "run",
            "--rm",
            "--network",
            "front",
            &image,
            "sh",
            "-c",
            &fetch(name),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}\n{}",
            stderr(&o),
            tail(&h.log(), 20)
        );
        assert!(
            stdout(&o).contains("hello from hull"),
            "{name}: {}",
            stdout(&o)
        );
        let o = h.hull(&[
            "run",
            "--rm",
            "--network",
            "front",
            &image,
            "ping",
            "-c",
            "1",
            "-W",
            "5",
            name,
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "ping {name}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    // Not from the default network.
    h.hull_ok(&["run", "-d", "--name", "outside", &image]);
    let o = h.hull(&["exec", "outside", "sh", "-c", &fetch("srv")]);
    assert!(!stdout(&o).contains("hello"), "{}", stdout(&o));
    // Connected to front, it reaches srv by name; disconnected, no more.
    h.hull_ok(&["network", "connect", "front", "outside"]);
    let o = h.hull(&["exec", "outside", "sh", "-c", &fetch("srv")]);
    assert!(
        stdout(&o).contains("hello from hull"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let doc: serde_json::Value = serde_json::from_str(&h.hull_ok(&["inspect", "outside"])).unwrap();
    let nets = doc[0]["NetworkSettings"]["Networks"]
        .as_object()
        .unwrap()
        .clone();
    assert!(
        nets.contains_key("front") && nets.contains_key("bridge"),
        "{nets:?}"
    );
    h.hull_ok(&["network", "disconnect", "front", "outside"]);
    // Docker's network events, in order: srv's start, outside's connect
    // and disconnect (its start on the default network too).
    let id_of = |c: &str| fmt(&h, "{{.Id}}", c);
    let (srv_id, outside_id) = (id_of("srv"), id_of("outside"));
    let want = [
        ("connect", "front", &srv_id),
        ("connect", "bridge", &outside_id),
        ("connect", "front", &outside_id),
        ("disconnect", "front", &outside_id),
    ];
    let got = events.take(want.len(), &[&srv_id, &outside_id]);
    for (line, (action, net, cid)) in got.iter().zip(want) {
        let ev: serde_json::Value = serde_json::from_str(
            line.splitn(4, ' ')
                .nth(3)
                .unwrap_or_else(|| panic!("{line}")),
        )
        .unwrap();
        assert!(
            line.contains(&format!(" /networks/{action} ")),
            "want {action} {net}: {got:?}"
        );
        assert_eq!(ev["container"], cid.as_str(), "{line}");
        assert_eq!(ev["name"], net, "{line}");
        if net == "front" {
            assert_eq!(ev["id"], front_id.as_str(), "{line}");
        }
    }
    let o = h.hull(&["exec", "outside", "cat", "/etc/hosts"]);
    assert!(!stdout(&o).contains("srv"), "{}", stdout(&o));
    let o = h.hull(&["exec", "outside", "ip", "-o", "link"]);
    assert!(!stdout(&o).contains("eth1"), "{}", stdout(&o));

    // --add-host and --dns.
    let o = h.hull(&[
        "run",
        "--rm",
        "--add-host",
        "db.local:10.1.2.3",
        "--dns",
        "10.9.9.9",
        &image,
        "cat",
        "/etc/hosts",
        "/etc/resolv.conf",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("10.1.2.3\tdb.local") && out.contains("nameserver 10.9.9.9"),
        "{out}"
    );

    // network inspect lists srv; rm refuses while in use.
    let doc: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["network", "inspect", "front"])).unwrap();
    let names: Vec<&str> = doc[0]["Containers"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|c| c["Name"].as_str())
        .collect();
    assert_eq!(names, ["srv"]);
    let o = h.hull(&["network", "rm", "front"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("active endpoints"), "{}", stderr(&o));
    let srv_ip = ip_of(&h, "srv");
    h.hull_ok(&["rm", "-f", "srv", "outside"]);
    // rm -f of running containers: one disconnect per interface.
    let mut got = events.take(2, &[&srv_id, &outside_id]);
    got.sort();
    assert!(
        got.iter().all(|l| l.contains(" /networks/disconnect "))
            && got
                .iter()
                .any(|l| l.contains(&srv_id) && l.contains("\"front\""))
            && got
                .iter()
                .any(|l| l.contains(&outside_id) && l.contains("\"bridge\"")),
        "{got:?}"
    );
    drop(events);
    h.hull_ok(&["network", "rm", "front"]);
    assert!(!h.hull_ok(&["network", "ls"]).contains("front"));
    let l = links();
    // Interface names only (the default bridge's alias names hulld's root).
    assert!(
        !l.lines()
            .any(|x| x.split(": ").nth(1).is_some_and(|n| n.starts_with("hull-"))),
        "bridge left: {l}"
    );
    assert_no_net_leftovers(&h, &[&srv_ip]);

    // prune removes unused user networks only.
    h.hull_ok(&["network", "create", "spare"]);
    let out = h.hull_ok(&["network", "prune", "-f"]);
    assert!(out.contains("spare"), "{out}");
    assert!(h.hull_ok(&["network", "ls"]).contains("bridge"));
}

#[test]
fn none_and_host_modes() {
    require_root!();
    let _ns = NetNs::enter("mode");
    sh(Command::new("ip").args(["link", "add", "hulldummy0", "type", "bridge"]));
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    let o = h.hull(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let o = h.hull(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "ip",
        "-o",
        "link",
    ]);
    assert!(
        stdout(&o).contains("lo:") && stdout(&o).contains("UP"),
        "{}",
        stdout(&o)
    );

    let o = h.hull(&[
        "run",
        "--rm",
        "--network",
        "host",
        &image,
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("hulldummy0"), "{}", stdout(&o));

    // container:NAME shares the other's namespace (its localhost).
    h.hull_ok(&["run", "-d", "--name", "web", &image]);
    let get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 127.0.0.1 80";
    let o = h.hull(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        &image,
        "sh",
        "-c",
        get,
    ]);
    assert!(
        stdout(&o).contains("hello from hull"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = h.hull(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "-p",
        "80",
        &image,
    ]);
    assert!(stderr(&o).contains("conflicting options"), "{}", stderr(&o));
    let web_ip = ip_of(&h, "web");
    h.hull_ok(&["stop", "-t", "1", "web"]);
    let o = h.hull(&["run", "--rm", "--network", "container:web", &image, "true"]);
    assert!(
        stderr(&o).contains("non running container"),
        "{}",
        stderr(&o)
    );
    h.hull_ok(&["rm", "web"]);
    assert_no_net_leftovers(&h, &[&web_ip]);
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    require_root!();
    let _ns = NetNs::enter("bad");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    let one_line_error = |args: &[&str], want: &str| {
        let o = h.hull(args);
        assert_ne!(o.status.code(), Some(0), "{args:?} succeeded");
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{args:?}: {e}");
    };
    one_line_error(
        &["network", "create", "--subnet", "10.91.0.0/33", "x1"],
        "invalid subnet",
    );
    one_line_error(
        &["network", "create", "--subnet", "banana", "x1"],
        "invalid subnet",
    );
    one_line_error(
        &[
            "network",
            "create",
            "--subnet",
            "10.91.0.0/24",
            "--gateway",
            "10.92.0.1",
            "x1",
        ],
        "invalid gateway",
    );
    h.hull_ok(&["network", "create", "--subnet", "10.91.0.0/24", "a1"]);
    one_line_error(
        &["network", "create", "--subnet", "10.91.0.0/16", "a2"],
        "overlaps",
    );
    one_line_error(
        &["network", "create", "--subnet", "10.88.1.0/24", "a3"],
        "overlaps",
    );
    one_line_error(&["network", "create", "a1"], "already exists");
    one_line_error(&["network", "rm", "nosuch"], "not found");
    one_line_error(&["network", "rm", "bridge"], "pre-defined");
    let ls = h.hull_ok(&["network", "ls", "-q"]);
    assert_eq!(ls.lines().count(), 2, "{ls}");

    one_line_error(
        &["run", "-d", "--network", "nosuch", &image],
        "network nosuch not found",
    );
    one_line_error(
        &["run", "-d", "-p", "99999:80", &image],
        "invalid publish spec",
    );
    one_line_error(&["run", "-d", "-p", "80/sctp", &image], "protocol");
    one_line_error(
        &["run", "-d", "--network-alias", "x", &image],
        "user-defined",
    );
    one_line_error(&["run", "-d", "--dns", "nope", &image], "--dns");
    // A bind of a missing host path, on a container that would get a
    // network and a published port.
    let missing = h.dir.path().join("no-such-dir");
    let mount = format!("type=bind,source={},target=/x", missing.display());
    one_line_error(
        &["run", "-d", "-p", "80", "--mount", &mount, &image],
        "bind source path does not exist",
    );
    assert!(!missing.exists());
    let ps = h.hull_ok(&["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "containers made: {ps}");
    assert_no_net_leftovers(&h, &[]);
    let vols = h.hull_ok(&["volume", "ls", "-q"]);
    assert!(vols.trim().is_empty(), "volumes made: {vols}");

    // A host port someone else holds.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    one_line_error(
        &[
            "run",
            "-d",
            "--name",
            "busy",
            "-p",
            &format!("{port}:80"),
            &image,
        ],
        "already allocated",
    );
    assert_no_net_leftovers(&h, &[]);
    assert!(!links().contains("veth"));
    h.hull_ok(&["rm", "busy"]);
    drop(held);
}

#[test]
fn restart_keeps_running_networking_and_reconciles_dead_ones() {
    require_root!();
    let _ns = NetNs::enter("rst");
    let mut h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    let port = free_port();
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "keep",
        "-p",
        &format!("{port}:80"),
        &image,
    ]);
    h.hull_ok(&["run", "-d", "--name", "dies", &image]);
    wait_http(&format!("127.0.0.1:{port}"), &h);
    let keep_ip = ip_of(&h, "keep");
    let dies_ip = ip_of(&h, "dies");

    h.kill();
    // While hulld is away, "dies" exits (its init is killed).
    let bundle = h.state.join("containers/default");
    let dies_id = h_id(&bundle, &dies_ip, &h);
    let pid: i32 = std::fs::read_to_string(bundle.join(&dies_id).join("init.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Still served without hulld.
    wait_http(&format!("127.0.0.1:{port}"), &h);

    h.spawn();
    wait_http(&format!("127.0.0.1:{port}"), &h);
    assert_eq!(ip_of(&h, "keep"), keep_ip);
    wait_until("dies to be torn down", Duration::from_secs(20), || {
        ip_of(&h, "dies").is_empty()
    });
    assert!(!iptables_dump().contains(&format!("{dies_ip}/")));
    assert_eq!(netns_files(&h).len(), 1, "{:?}", netns_files(&h));
    // Only the running one still holds an address.
    let leases = h.hull_ok(&[
        "network",
        "inspect",
        "--format",
        "{{range $ip, $owner := .IPAM.Leases}}{{$ip}} {{end}}",
        "bridge",
    ]);
    assert_eq!(leases.trim(), keep_ip, "leases after reconciliation");
    // The port stays reserved across the restart.
    let o = h.hull(&[
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        &format!("{port}:80"),
        &image,
    ]);
    assert!(stderr(&o).contains("already allocated"), "{}", stderr(&o));
    h.hull_ok(&["rm", "-f", "keep", "dies", "clash"]);
    assert_no_net_leftovers(&h, &[&keep_ip, &dies_ip]);
}

/// The ID of the container whose bundle's hosts file names `ip`.
fn h_id(bundles: &Path, ip: &str, h: &Hulld) -> String {
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
struct Outside {
    name: String,
}

impl Outside {
    fn make(tag: &str) -> Outside {
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
    fn accept_one(&self, port: u16) -> std::thread::JoinHandle<(String, String)> {
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

#[test]
fn outbound_masquerade_and_published_ports_from_containers() {
    require_root!();
    let _ns = NetNs::enter("nat");
    let out = Outside::make("wan");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    // Outbound: the outside sees the namespace's address, not 10.88.x.
    let t = out.accept_one(9000);
    let o = h.hull(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "echo hello-outside | nc -w 5 192.0.2.2 9000",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (peer, data) = t.join().unwrap();
    assert_eq!(peer, "192.0.2.1", "not masqueraded");
    assert_eq!(data, "hello-outside\n");

    // A published port reached from another container (through the
    // gateway address) and from the publishing container itself (hairpin).
    let port = free_port();
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        &image,
    ]);
    wait_http(&format!("127.0.0.1:{port}"), &h);
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.88.0.1 {port}");
    let o = h.hull(&["run", "--rm", &image, "sh", "-c", &get]);
    assert!(
        stdout(&o).contains("hello from hull"),
        "from a peer: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = h.hull(&["exec", "web", "sh", "-c", &get]);
    assert!(
        stdout(&o).contains("hello from hull"),
        "hairpin: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let web_ip = ip_of(&h, "web");
    h.hull_ok(&["rm", "-f", "web"]);
    assert_no_net_leftovers(&h, &[&web_ip]);
}

#[test]
fn restart_policy_brings_the_network_back() {
    require_root!();
    let _ns = NetNs::enter("rpol");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    // httpd for two seconds, then a failure: the policy starts it again,
    // and each run is wired afresh (netns, address, published port).
    let port = free_port();
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure",
        "-p",
        &format!("{port}:80"),
        &image,
        "sh",
        "-c",
        "timeout 2 httpd -f -p 80 -h /www; exit 3",
    ]);
    wait_http(&format!("127.0.0.1:{port}"), &h);
    let count = || {
        h.hull_ok(&["inspect", "--format", "{{.RestartCount}}", "flaky"])
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
    };
    wait_until("a restart", Duration::from_secs(30), || count() >= 1);
    wait_http(&format!("127.0.0.1:{port}"), &h);
    h.hull_ok(&["rm", "-f", "flaky"]);
    assert_no_net_leftovers(&h, &[]);
    // Every run's lease was given back: the next container gets the first.
    h.hull_ok(&["run", "-d", "--name", "next", &image]);
    assert_eq!(ip_of(&h, "next"), "10.88.0.2");
    h.hull_ok(&["rm", "-f", "next"]);
}

/// Two hulld on one host (different roots): the second may not take the
/// first one's default bridge, nor a subnet that overlaps it; with a bridge
/// and subnet of its own (config keys) both serve published ports.
#[test]
fn two_hulld_need_their_own_bridge_and_subnet() {
    require_root!();
    let _ns = NetNs::enter("twod");
    let a = Hulld::start_with_config(BRIDGE);
    let _ca = Containers::of(&a);
    let img_a = load_image(&a);
    let port_a = free_port();
    a.hull_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port_a}:80"),
        &img_a,
    ]);
    wait_http(&format!("127.0.0.1:{port_a}"), &a);

    // Same bridge: refused, naming it, and nothing attached.
    let b = Hulld::start_with_config(BRIDGE);
    let _cb = Containers::of(&b);
    let img_b = load_image(&b);
    let o = b.hull(&["run", "--rm", &img_b, "true"]);
    let err = stderr(&o);
    assert!(!o.status.success(), "second hulld took hull0: {err}");
    assert!(
        err.contains("bridge hull0 belongs to another hulld") && err.lines().count() == 1,
        "{err}"
    );

    // Its own bridge but the same subnet: refused as overlapping.
    let c = Hulld::start_with_config(&format!("{BRIDGE}default_bridge = \"hulltb1\"\n"));
    let _cc = Containers::of(&c);
    let img_c = load_image(&c);
    let o = c.hull(&["run", "--rm", &img_c, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("overlaps"), "{}", stderr(&o));
    assert!(!links().contains("hulltb1"), "a refused bridge was made");

    // Its own bridge and subnet: both answer.
    let d = Hulld::start_with_config(&format!(
        "{BRIDGE}default_bridge = \"hulltb2\"\ndefault_subnet = \"10.89.0.0/16\"\n"
    ));
    let _cd = Containers::of(&d);
    let img_d = load_image(&d);
    let port_d = free_port();
    d.hull_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port_d}:80"),
        &img_d,
    ]);
    wait_http(&format!("127.0.0.1:{port_d}"), &d);
    wait_http(&format!("127.0.0.1:{port_a}"), &a);
    assert!(
        ip_of(&d, "web").starts_with("10.89."),
        "{}",
        ip_of(&d, "web")
    );
    assert!(ip_of(&a, "web").starts_with("10.88."));
    // A bad value is refused at start, naming the key.
    let bad = d.dir.path().join("bad.toml");
    std::fs::write(&bad, "default_subnet = \"10.1.2.3\"\n").unwrap();
    let o = Command::new(hull_integration::bin_path("hulld"))
        .arg("--root")
        .arg(d.dir.path().join("badroot"))
        .arg("--state")
        .arg(d.dir.path().join("badstate"))
        .arg("--address")
        .arg(d.dir.path().join("bad.sock"))
        .arg("--config")
        .arg(&bad)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("default_subnet"), "{}", stderr(&o));
}
