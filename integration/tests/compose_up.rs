//! `hull compose up -d`, `ps` and `down` against a real hulld: containers
//! named PROJECT-SERVICE-N with Compose's labels on the project's network,
//! reachable by service name and alias, published ports, a named volume
//! that survives `down` and goes with `down -v`, and a second `up` that
//! recreates only the service whose configuration changed.
//!
//! The whole stack runs in a network namespace of the test's own
//! (`NetNs::enter`), as the other network suites do.

mod manager_support;

use manager_support::compose::*;
use manager_support::net::*;
use manager_support::network_suite::*;
use manager_support::*;

fn project_file(image: &str, port: u16, worker_cmd: &str) -> String {
    format!(
        "services:
  web:
    image: {image}
    ports: [\"127.0.0.1:{port}:80\"]
    init: true
    depends_on: [db]
    networks:
      default:
        aliases: [www]
  db:
    image: {image}
    command: [\"sh\", \"-c\", \"echo stored > /data/x; exec httpd -f -p 80 -h /www\"]
    volumes: [\"data:/data\"]
    stop_grace_period: 1s
  worker:
    image: {image}
    init: true
    command: [\"sh\", \"-c\", \"{worker_cmd}\"]
    deploy:
      replicas: 2
volumes:
  data: {{}}
"
    )
}

fn id_of(h: &Hulld, name: &str) -> String {
    fmt(h, "{{.Id}}", name)
}

#[test]
fn up_ps_down_a_three_service_project() {
    require_root!();
    let _ns = NetNs::enter("cmp");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, project_file(&image, port, "sleep 1000")).expect("write");

    compose_ok(&h, dir.path(), &["up", "-d"]);
    let ps = compose_ok(&h, dir.path(), &["ps"]);
    for name in [
        "tproj-web-1",
        "tproj-db-1",
        "tproj-worker-1",
        "tproj-worker-2",
    ] {
        assert!(ps.contains(name), "{name} not in ps:\n{ps}");
    }
    assert_eq!(ps.lines().count(), 5, "{ps}");
    assert_eq!(
        fmt(&h, "{{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.container-number\"}} {{index .Config.Labels \"com.docker.compose.project\"}}", "tproj-worker-2"),
        "worker 2 tproj"
    );
    // The published port answers; the services reach each other by
    // service name and by alias on the project network.
    wait_http(&format!("127.0.0.1:{port}"), &h);
    for host in ["web", "www", "db"] {
        let o = h.hull(&["exec", "tproj-worker-1", "sh", "-c", &fetch(host)]);
        assert!(
            stdout(&o).contains("hello from hull"),
            "{host}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    let nets = h.hull_ok(&["network", "ls"]);
    assert!(nets.contains("tproj_default"), "{nets}");
    assert!(h.hull_ok(&["volume", "ls"]).contains("tproj_data"));

    // A second `up` with one service changed recreates only that one.
    let before: Vec<String> = ["tproj-web-1", "tproj-db-1", "tproj-worker-1"]
        .iter()
        .map(|n| id_of(&h, n))
        .collect();
    compose_ok(&h, dir.path(), &["up", "-d"]);
    let same: Vec<String> = ["tproj-web-1", "tproj-db-1", "tproj-worker-1"]
        .iter()
        .map(|n| id_of(&h, n))
        .collect();
    assert_eq!(before, same, "an unchanged up recreated containers");
    std::fs::write(&file, project_file(&image, port, "sleep 2000")).expect("write");
    compose_ok(&h, dir.path(), &["up", "-d"]);
    assert_eq!(id_of(&h, "tproj-web-1"), before[0]);
    assert_eq!(id_of(&h, "tproj-db-1"), before[1]);
    assert_ne!(
        id_of(&h, "tproj-worker-1"),
        before[2],
        "the changed service was not recreated"
    );

    // --scale over deploy.replicas: the highest numbers go.
    compose_ok(&h, dir.path(), &["up", "-d", "--scale", "worker=1"]);
    let ps = compose_ok(&h, dir.path(), &["ps"]);
    assert!(
        ps.contains("tproj-worker-1") && !ps.contains("tproj-worker-2"),
        "{ps}"
    );

    // down: nothing of the project runs; the named volume stays.
    compose_ok(&h, dir.path(), &["down"]);
    let ps = h.hull_ok(&["ps", "-a"]);
    assert!(!ps.contains("tproj-"), "{ps}");
    assert!(!h.hull_ok(&["network", "ls"]).contains("tproj_default"));
    assert!(h.hull_ok(&["volume", "ls"]).contains("tproj_data"));
    assert_no_net_leftovers(&h, &[]);

    // up again and down -v: the volume goes too.
    compose_ok(&h, dir.path(), &["up", "-d", "db"]);
    let ps = compose_ok(&h, dir.path(), &["ps", "--services"]);
    assert_eq!(ps.trim(), "db");
    compose_ok(&h, dir.path(), &["down", "-v"]);
    assert!(!h.hull_ok(&["volume", "ls"]).contains("tproj_data"));
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn up_refuses_a_bad_project_before_making_anything() {
    require_root!();
    let _ns = NetNs::enter("cmpbad");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
    )
    .expect("write");
    let o = compose(&h, dir.path(), &["up", "-d"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("dependency cycle between services: a -> b -> a"),
        "{}",
        stderr(&o)
    );
    assert!(!h.hull_ok(&["network", "ls"]).contains("tproj"));
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());
}

/// `depends_on: {db: {condition: service_healthy}}`: `up` starts `web` only
/// once db's healthcheck passed (db becomes ready after a while, so a `up`
/// that did not wait would start web with db still starting); a dependency
/// that turns unhealthy fails `up` and leaves the dependent uncreated.
#[test]
fn up_waits_for_a_healthy_dependency_and_fails_on_an_unhealthy_one() {
    require_root!();
    let _ns = NetNs::enter("cmphl");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |ready: &str| {
        format!(
            "services:
  web:
    image: {image}
    command: [\"sleep\", \"60\"]
    stop_grace_period: 1s
    depends_on:
      db: {{condition: service_healthy}}
  db:
    image: {image}
    command: [\"sh\", \"-c\", \"sleep 0.5; {ready}; exec sleep 60\"]
    stop_grace_period: 1s
    healthcheck:
      test: [\"CMD-SHELL\", \"test -f /tmp/ready\"]
      interval: 200ms
      retries: 10
"
        )
    };
    std::fs::write(dir.path().join("compose.yaml"), file("touch /tmp/ready")).expect("write");
    compose_ok(&h, dir.path(), &["up", "-d"]);
    assert_eq!(fmt(&h, "{{.State.Health.Status}}", "tproj-db-1"), "healthy");
    assert_eq!(fmt(&h, "{{.State.Status}}", "tproj-web-1"), "running");
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);

    std::fs::write(dir.path().join("compose.yaml"), file("true")).expect("write");
    let o = compose(&h, dir.path(), &["up", "-d"]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("container tproj-db-1 is unhealthy"),
        "{}",
        stderr(&o)
    );
    assert!(!h.hull_ok(&["ps", "-a"]).contains("tproj-web-1"));
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
}

/// The project network's interfaces are hulld's own: a bridge with its
/// iptables chains, one veth per container. A stopped service leaves the
/// hosts files of the running ones at once; `down` leaves no veth, no
/// bridge, no chain or rule, no namespace and no lease behind.
#[test]
fn down_leaves_no_interface_or_rule_and_hosts_follow_a_stop() {
    require_root!();
    let _ns = NetNs::enter("cmpdn");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    let service = |name: &str| {
        format!(
            "  {name}:\n    image: {image}\n    command: [\"sleep\", \"1000\"]\n    init: true\n"
        )
    };
    std::fs::write(
        dir.path().join("compose.yaml"),
        format!(
            "services:\n{}{}{}",
            service("a"),
            service("b"),
            service("c")
        ),
    )
    .expect("write");
    compose_ok(&h, dir.path(), &["up", "-d"]);
    let net: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["network", "inspect", "tproj_default"])).expect("json");
    let bridge = net[0]["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(bridge.starts_with("hull-"), "{bridge}");
    let ips: Vec<String> = ["tproj-a-1", "tproj-b-1", "tproj-c-1"]
        .iter()
        .map(|c| ip_of(&h, c))
        .collect();
    assert!(ips.iter().all(|ip| ip.starts_with("10.89.")), "{ips:?}");
    let l = links();
    assert!(l.contains(&bridge) && l.matches("veth").count() == 3, "{l}");
    let ipt = iptables_dump();
    assert!(ipt.contains(&format!("HULL-POST-{bridge}")), "{ipt}");
    assert!(ipt.contains(&format!("HULL-FWD-{bridge}")), "{ipt}");
    let hosts = |c: &str| h.hull_ok(&["exec", c, "cat", "/etc/hosts"]);
    let b_line = format!("{}\ttproj-b-1", ips[1]);
    assert!(
        hosts("tproj-a-1").contains(&b_line),
        "{}",
        hosts("tproj-a-1")
    );

    compose_ok(&h, dir.path(), &["stop", "b"]);
    for c in ["tproj-a-1", "tproj-c-1"] {
        let t = hosts(c);
        assert!(!t.contains(&ips[1]), "{c} still lists b:\n{t}");
        assert!(t.contains(&ips[0]) && t.contains(&ips[2]), "{c}:\n{t}");
    }
    assert_eq!(links().matches("veth").count(), 2, "{}", links());

    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
    assert!(!h.hull_ok(&["network", "ls"]).contains("tproj_default"));
    let l = links();
    assert!(!l.contains(&bridge), "bridge left: {l}");
    let ipt = iptables_dump();
    assert!(!ipt.contains(&bridge), "rules of {bridge} left:\n{ipt}");
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    assert_no_net_leftovers(&h, &ips);
}
