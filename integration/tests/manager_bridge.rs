//! The default bridge as hulld wires it in-process (rtnetlink, no CNI
//! plugin): containers on it reach each other and the outside, published
//! ports answer on 127.0.0.1, and nothing is left — no veth, no DNAT rule,
//! no lease, no namespace — after `run --rm`, after `rm -f`, and after a
//! container died while hulld was killed.
//!
//! Like manager_network.rs, each test lives in a network namespace of its
//! own (`NetNs`), so the host's interfaces and iptables are never touched.

mod manager_support;

use std::process::Command;
use std::time::Duration;

use manager_support::net::*;
use manager_support::*;

const BRIDGE: &str = "default_network = \"bridge\"\n";

/// The veth devices of the namespace.
fn veths() -> Vec<String> {
    stdout(&sh(
        Command::new("ip").args(["-o", "link", "show", "type", "veth"])
    ))
    .lines()
    .filter_map(|l| l.split(": ").nth(1))
    .map(|n| n.split('@').next().unwrap_or(n).to_string())
    .collect()
}

/// hull's per-container DNAT rules (`iptables-save` lines appending to
/// HULL-DNAT).
fn dnat_rules() -> Vec<String> {
    iptables_dump()
        .lines()
        .filter(|l| l.starts_with("-A HULL-DNAT"))
        .map(String::from)
        .collect()
}

fn netns_left(h: &Hulld) -> usize {
    std::fs::read_dir(h.state.join("netns"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn leases(h: &Hulld) -> String {
    h.hull_ok(&[
        "network",
        "inspect",
        "--format",
        "{{range $ip, $owner := .IPAM.Leases}}{{$ip}} {{end}}",
        "bridge",
    ])
    .trim()
    .to_string()
}

fn assert_nothing_left(h: &Hulld, ips: &[&str]) {
    assert_eq!(veths(), Vec::<String>::new(), "veth left");
    assert_eq!(dnat_rules(), Vec::<String>::new(), "DNAT rules left");
    let ipt = iptables_dump();
    for ip in ips {
        assert!(
            !ipt.contains(&format!("{ip}:")) && !ipt.contains(&format!("{ip}/")),
            "iptables rule for {ip} left:\n{ipt}"
        );
    }
    assert_eq!(netns_left(h), 0, "network namespaces left");
    assert_eq!(leases(h), "", "leases left");
}

#[test]
fn run_rm_rm_and_a_killed_hulld_leave_no_veth_or_rules() {
    require_root!();
    let _ns = NetNs::enter("brrm");
    let mut h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    // run --rm: an address and a default route inside, nothing after.
    let o = h.hull(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "ip -4 -o addr show dev eth0; ip route",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("inet 10.88.0.2/16"), "{out}");
    assert!(out.contains("default via 10.88.0.1"), "{out}");
    assert_nothing_left(&h, &["10.88.0.2"]);
    // The bridge carries its owner (this hulld) in its alias.
    let alias = stdout(&sh(Command::new("ip").args(["-o", "link", "show", "hull0"])));
    assert!(alias.contains("alias hulld pid="), "{alias}");

    // A published port answers on 127.0.0.1; rm -f takes its veth and
    // DNAT rule away.
    run_published_web(&h, "web", &image);
    let ip = ip_of(&h, "web");
    assert_eq!(veths().len(), 1, "{:?}", veths());
    let rules = dnat_rules();
    assert!(
        rules.len() == 1 && rules[0].contains(&format!("{ip}:80")),
        "{rules:?}"
    );
    h.hull_ok(&["rm", "-f", "web"]);
    assert_nothing_left(&h, &[&ip]);

    // A container that dies while hulld is killed: its veth and rules go
    // when hulld comes back.
    run_published_web(&h, "dies", &image);
    let ip = ip_of(&h, "dies");
    let pid: u32 = h
        .hull_ok(&["inspect", "--format", "{{.State.Pid}}", "dies"])
        .trim()
        .parse()
        .unwrap();
    h.kill();
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    h.spawn();
    wait_until("dies to be torn down", Duration::from_secs(20), || {
        ip_of(&h, "dies").is_empty()
    });
    assert_nothing_left(&h, &[&ip]);
    h.hull_ok(&["rm", "dies"]);
}

#[test]
fn containers_on_the_default_bridge_reach_each_other_by_ip() {
    require_root!();
    let _ns = NetNs::enter("brpeer");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);

    h.hull_ok(&["run", "-d", "--name", "pa", &image]);
    h.hull_ok(&["run", "-d", "--name", "pb", &image]);
    let (ia, ib) = (ip_of(&h, "pa"), ip_of(&h, "pb"));
    assert!(ia.starts_with("10.88.") && ib.starts_with("10.88.") && ia != ib);
    wait_http(&format!("{ia}:80"), &h);
    wait_http(&format!("{ib}:80"), &h);
    let get = |ip: &str| format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 80");
    // a → b and b → a, each from inside the other.
    for (from, to) in [("pa", &ib), ("pb", &ia)] {
        let o = h.hull(&["exec", from, "sh", "-c", &get(to)]);
        assert!(
            stdout(&o).contains("hello from hull"),
            "{from} → {to}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    // And from a third, short-lived one.
    let o = h.hull(&["run", "--rm", &image, "sh", "-c", &get(&ia)]);
    assert!(stdout(&o).contains("hello from hull"), "{}", stderr(&o));
    h.hull_ok(&["rm", "-f", "pa", "pb"]);
    assert_nothing_left(&h, &[&ia, &ib]);
}
