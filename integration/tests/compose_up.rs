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
