//! Networking across hulld restarts and container restarts, and two hulld
//! on one host each with their own bridge and subnet.
//!
//! Each test runs the whole stack — hulld, the shims, the containers, the
//! HTTP/UDP clients — inside a network namespace it makes (`ip netns add`):
//! the test thread joins it with setns(2) before starting anything, so
//! every process it spawns is in there too and the host's interfaces and
//! iptables are never touched. The namespace is deleted on drop, also when
//! the test fails.

mod manager_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use manager_support::net::*;
use manager_support::network_suite::*;
use manager_support::*;

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
