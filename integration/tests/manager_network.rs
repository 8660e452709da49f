//! Container networking through hulld: published ports (TCP, UDP, random,
//! -P) and their teardown, `--network none|host`, bad input, and
//! masquerade to and ports from peers outside the bridge.
//!
//! Each test runs the whole stack — hulld, the shims, the containers, the
//! HTTP/UDP clients — inside a network namespace it makes (`ip netns add`):
//! the test thread joins it with setns(2) before starting anything, so
//! every process it spawns is in there too and the host's interfaces and
//! iptables are never touched. The namespace is deleted on drop, also when
//! the test fails.

mod manager_support;

use std::process::Command;

use manager_support::net::*;
use manager_support::network_suite::*;
use manager_support::*;

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
