//! User networks made by the CNI plugins: names, aliases, connect and
//! disconnect.
//!
//! Each test runs the whole stack — hulld, the shims, the containers, the
//! HTTP/UDP clients — inside a network namespace it makes (`ip netns add`):
//! the test thread joins it with setns(2) before starting anything, so
//! every process it spawns is in there too and the host's interfaces and
//! iptables are never touched. The namespace is deleted on drop, also when
//! the test fails.

mod manager_support;

use manager_support::net::*;
use manager_support::network_suite::*;
use manager_support::*;

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
