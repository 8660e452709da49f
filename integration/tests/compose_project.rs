//! `hull compose up` semantics as Docker Compose v2 has them, against a
//! real hulld: the foreground mode (prefixed output, exit codes, Ctrl-C),
//! `--wait`, `--no-deps`, `--force-recreate`/`--no-recreate`, replicas
//! reachable by name, a named volume across `down`, and bad input that
//! fails with one error line and leaves nothing of the project behind.
//!
//! The whole stack runs in a network namespace of the test's own
//! (`NetNs::enter`), as the other network suites do.

mod manager_support;

use std::io::BufRead;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use manager_support::compose::*;
use manager_support::net::*;
use manager_support::network_suite::*;
use manager_support::*;

/// A project directory with `compose.yaml` holding `yaml`.
fn project(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("compose.yaml"), yaml).expect("write");
    dir
}

/// Nothing of project tproj is left: no container, network or volume.
fn assert_nothing_left(h: &Hulld) {
    let ps = h.hull_ok(&["ps", "-a"]);
    assert!(!ps.contains("tproj"), "containers left: {ps}");
    let nets = h.hull_ok(&["network", "ls"]);
    assert!(!nets.contains("tproj"), "networks left: {nets}");
    let vols = h.hull_ok(&["volume", "ls"]);
    assert!(!vols.contains("tproj"), "volumes left: {vols}");
}

/// Foreground `up`: each line prefixed `NAME  | ` (padded to the longest
/// name), "NAME exited with code N" per container, and the return once all
/// exited; `--exit-code-from` returns that service's code.
#[test]
fn foreground_up_prefixes_output_and_returns_when_all_exited() {
    require_root!();
    let _ns = NetNs::enter("cpfg");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = project(&format!(
        "services:
  a:
    image: {image}
    command: [\"sh\", \"-c\", \"echo one; echo two >&2; exit 3\"]
  longer:
    image: {image}
    command: [\"sh\", \"-c\", \"sleep 2; echo three\"]
    init: true
"
    ));
    let out = compose_ok(&h, dir.path(), &["up"]);
    for line in [
        "tproj-a-1       | one",
        "tproj-a-1       | two",
        "tproj-longer-1  | three",
        "tproj-a-1 exited with code 3",
        "tproj-longer-1 exited with code 0",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} not in:\n{out}");
    }
    // Started again from the existing containers; the code is a's.
    let o = compose(&h, dir.path(), &["up", "--exit-code-from", "a"]);
    assert_eq!(code(&o), 3, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("tproj-a-1       | one"),
        "{}",
        stdout(&o)
    );
    compose_ok(&h, dir.path(), &["down"]);
    assert_nothing_left(&h);
}

/// SIGINT to a foreground `up` stops the project's containers (which keep
/// existing, stopped) and exits 130.
#[test]
fn ctrl_c_stops_a_foreground_up() {
    require_root!();
    let _ns = NetNs::enter("cpint");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = project(&format!(
        "services:
  web:
    image: {image}
    command: [\"sh\", \"-c\", \"echo web ready; exec sleep 1000\"]
    init: true
    depends_on: [db]
  db:
    image: {image}
    command: [\"sh\", \"-c\", \"echo db ready; exec sleep 1000\"]
    init: true
"
    ));
    let mut child = h
        .hull_cmd(&["compose", "-p", "tproj", "up"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hull compose up");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(seen.iter().any(|l: &String| l.ends_with("| web ready"))
        && seen.iter().any(|l| l.ends_with("| db ready")))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("no output from both services: {seen:?}");
            }
        }
    }
    assert_eq!(fmt(&h, "{{.State.Status}}", "tproj-web-1"), "running");
    signal(child.id(), nix::sys::signal::Signal::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("up did not return after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("read stderr");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("Gracefully stopping..."), "{err}");
    for c in ["tproj-web-1", "tproj-db-1"] {
        assert_eq!(fmt(&h, "{{.State.Status}}", c), "exited", "{c}");
    }
    compose_ok(&h, dir.path(), &["down"]);
    assert_nothing_left(&h);
}

/// A foreground `up` spawned by the test, killed (by pid) if the test
/// ends before it does.
struct Spawned(std::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// SIGINT while a foreground `up` is still starting (web waits on db's
/// healthcheck, which stays "starting") stops what was started, creates
/// nothing more and exits 130, as Compose's "Gracefully stopping...".
#[test]
fn ctrl_c_while_up_is_still_starting_stops_what_it_started() {
    require_root!();
    let _ns = NetNs::enter("cpints");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = project(&format!(
        "services:
  web:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    depends_on:
      db:
        condition: service_healthy
  db:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    healthcheck:
      test: [\"CMD\", \"true\"]
      interval: 1h
"
    ));
    let mut child = Spawned(
        h.hull_cmd(&["compose", "-p", "tproj", "up"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hull compose up"),
    );
    let err = child.0.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen
        .iter()
        .any(|l: &String| l.contains("tproj-db-1  Started"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("db was not started: {seen:?}"),
        }
    }
    // up is now waiting for db to be healthy.
    assert_eq!(
        fmt(&h, "{{.State.Health.Status}}", "tproj-db-1"),
        "starting"
    );
    signal(child.0.id(), nix::sys::signal::Signal::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "up did not return after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    seen.extend(rx.iter());
    let err = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("Gracefully stopping..."), "{err}");
    assert_eq!(fmt(&h, "{{.State.Status}}", "tproj-db-1"), "exited");
    let ps = h.hull_ok(&["ps"]);
    assert!(!ps.contains("tproj"), "left running: {ps}");
    let all = h.hull_ok(&["ps", "-a"]);
    assert!(!all.contains("tproj-web-1"), "web was created: {all}");
    compose_ok(&h, dir.path(), &["down"]);
    assert_nothing_left(&h);
}

/// `--wait` returns once the healthcheck passed, and fails on a service
/// that exits; `--no-deps` starts only the named service.
#[test]
fn wait_and_no_deps() {
    require_root!();
    let _ns = NetNs::enter("cpwait");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let file = |db_cmd: &str| {
        format!(
            "services:
  web:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    depends_on: [db]
  db:
    image: {image}
    command: [\"sh\", \"-c\", \"{db_cmd}\"]
    init: true
    healthcheck:
      test: [\"CMD-SHELL\", \"test -f /tmp/ready\"]
      interval: 200ms
      retries: 20
"
        )
    };
    let dir = project(&file("sleep 0.5; touch /tmp/ready; exec sleep 1000"));
    compose_ok(&h, dir.path(), &["up", "--no-deps", "-d", "web"]);
    let ps = compose_ok(&h, dir.path(), &["ps", "--services"]);
    assert_eq!(ps.trim(), "web", "--no-deps started more: {ps}");
    compose_ok(&h, dir.path(), &["up", "--wait"]);
    assert_eq!(fmt(&h, "{{.State.Health.Status}}", "tproj-db-1"), "healthy");
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);

    std::fs::write(dir.path().join("compose.yaml"), file("exit 4")).expect("write");
    let o = compose(&h, dir.path(), &["up", "--wait", "db"]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("container tproj-db-1 exited (4)"),
        "{}",
        stderr(&o)
    );
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
    assert_nothing_left(&h);
}

/// Three replicas by --scale: each reachable from another container by its
/// name PROJECT-SERVICE-N, and the service name resolving to all three.
#[test]
fn scaled_replicas_are_reachable_by_name() {
    require_root!();
    let _ns = NetNs::enter("cpscale");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = project(&format!(
        "services:
  worker:
    image: {image}
    command: [\"sh\", \"-c\", \"hostname -i > /www/index.html; exec httpd -f -p 80 -h /www\"]
    init: true
  client:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
"
    ));
    compose_ok(&h, dir.path(), &["up", "-d", "--scale", "worker=3"]);
    let mut ips = Vec::new();
    for n in 1..=3 {
        let name = format!("tproj-worker-{n}");
        let ip = ip_of(&h, &name);
        let o = h.hull(&["exec", "tproj-client-1", "sh", "-c", &fetch(&name)]);
        assert!(
            stdout(&o).contains(&ip),
            "{name} ({ip}) answered: {}{}",
            stdout(&o),
            stderr(&o)
        );
        ips.push(ip);
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 3, "{ips:?}");
    let hosts = h.hull_ok(&["exec", "tproj-client-1", "cat", "/etc/hosts"]);
    let mut by_service: Vec<String> = hosts
        .lines()
        .filter(|l| l.split_whitespace().skip(1).any(|n| n == "worker"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    by_service.sort();
    assert_eq!(by_service, ips, "service name entries in:\n{hosts}");
    let o = h.hull(&["exec", "tproj-client-1", "sh", "-c", &fetch("worker")]);
    assert!(
        ips.iter().any(|ip| stdout(&o).contains(ip.as_str())),
        "worker: {}",
        stdout(&o)
    );
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
    assert_nothing_left(&h);
}

/// A second `up` after one service changed recreates that one only: the
/// other keeps its id and its start time. `--no-recreate` keeps a changed
/// service's container; `--force-recreate` recreates an unchanged one.
#[test]
fn up_twice_recreates_only_the_changed_service() {
    require_root!();
    let _ns = NetNs::enter("cprec");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let file = |env: &str| {
        format!(
            "services:
  keep:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
  change:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    environment: [V={env}]
"
        )
    };
    let dir = project(&file("1"));
    compose_ok(&h, dir.path(), &["up", "-d"]);
    let state = |c: &str| fmt(&h, "{{.Id}} {{.State.StartedAt}}", c);
    let keep = state("tproj-keep-1");
    let change = state("tproj-change-1");
    std::fs::write(dir.path().join("compose.yaml"), file("2")).expect("write");
    compose_ok(&h, dir.path(), &["up", "-d", "--no-recreate"]);
    assert_eq!(state("tproj-change-1"), change, "--no-recreate recreated");
    compose_ok(&h, dir.path(), &["up", "-d"]);
    assert_eq!(
        state("tproj-keep-1"),
        keep,
        "the unchanged service was touched"
    );
    let changed = state("tproj-change-1");
    assert_ne!(changed, change, "the changed service was not recreated");
    assert_eq!(
        h.hull_ok(&["exec", "tproj-change-1", "sh", "-c", "echo $V"])
            .trim(),
        "2"
    );
    compose_ok(&h, dir.path(), &["up", "-d", "--force-recreate", "keep"]);
    assert_ne!(state("tproj-keep-1"), keep, "--force-recreate kept it");
    assert_eq!(state("tproj-change-1"), changed);
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
    assert_nothing_left(&h);
}

/// A named volume keeps its data across `down` and `up`; `down -v`
/// removes it, and the next `up` starts with an empty one.
#[test]
fn a_named_volume_survives_down_and_goes_with_down_v() {
    require_root!();
    let _ns = NetNs::enter("cpvol");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = project(&format!(
        "services:
  db:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    volumes: [\"data:/data\"]
volumes:
  data: {{}}
"
    ));
    compose_ok(&h, dir.path(), &["up", "-d"]);
    h.hull_ok(&["exec", "tproj-db-1", "sh", "-c", "echo kept > /data/f"]);
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
    assert!(h.hull_ok(&["volume", "ls"]).contains("tproj_data"));
    assert!(!h.hull_ok(&["ps", "-a"]).contains("tproj-db-1"));
    compose_ok(&h, dir.path(), &["up", "-d"]);
    assert_eq!(
        h.hull_ok(&["exec", "tproj-db-1", "cat", "/data/f"]).trim(),
        "kept"
    );
    compose_ok(&h, dir.path(), &["down", "-v", "-t", "1"]);
    assert_nothing_left(&h);
    compose_ok(&h, dir.path(), &["up", "-d"]);
    let o = h.hull(&["exec", "tproj-db-1", "ls", "/data"]);
    assert_eq!(stdout(&o).trim(), "", "the volume was not emptied");
    compose_ok(&h, dir.path(), &["down", "-v", "-t", "1"]);
    assert_nothing_left(&h);
}

/// `up` on bad input: a non-zero exit, a last line naming the file and
/// line, the key, the image or the port, and nothing of the project left:
/// what this `up` made before the failure is stopped and removed.
#[test]
fn bad_input_fails_with_one_line_and_leaves_nothing_running() {
    require_root!();
    let _ns = NetNs::enter("cpbad");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let port = free_port();
    let busy = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let cases = [
        (
            "services:\n  web:\n    image: x\n   bad: [\n".to_string(),
            "compose.yaml: ".to_string(),
            "line 4",
        ),
        (
            "services:\n  web:\n    image: x\n    depends-on: [db]\n".to_string(),
            "services.web.depends-on".to_string(),
            "unknown key",
        ),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n".to_string(),
            "dependency cycle between services: a -> b -> a".to_string(),
            "",
        ),
        (
            format!("services:\n  db:\n    image: {image}\n    command: [sleep, \"1000\"]\n  web:\n    image: 127.0.0.1:1/nosuch:v1\n    depends_on: [db]\nvolumes:\n  v: {{}}\n"),
            "127.0.0.1:1/nosuch:v1".to_string(),
            "web",
        ),
        (
            format!("services:\n  db:\n    image: {image}\n    command: [sleep, \"1000\"]\n    init: true\n    volumes: [\"v:/v\"]\n  web:\n    image: {image}\n    init: true\n    ports: [\"127.0.0.1:{port}:80\"]\n    depends_on: [db]\nvolumes:\n  v: {{}}\n"),
            format!("127.0.0.1:{port}"),
            "port is already allocated",
        ),
    ];
    for (yaml, what, also) in &cases {
        let dir = project(yaml);
        let o = compose(&h, dir.path(), &["up", "-d"]);
        let err = stderr(&o);
        assert_eq!(code(&o), 1, "{yaml}\n{err}");
        eprintln!("--- {what}:\n{err}");
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.starts_with("Error: ") && last.contains(what.as_str()) && last.contains(also),
            "{what:?}/{also:?} not in the last line of:\n{err}"
        );
        assert_eq!(last.matches(what.as_str()).count(), 1, "repeated: {last}");
        assert_nothing_left(&h);
    }
    drop(busy);
}

/// ulimits, sysctls, shm_size and security_opt reach the container; a
/// sysctl outside the container's namespaces fails `up` naming it.
#[test]
fn kernel_and_security_options_reach_the_container() {
    require_root!();
    let _ns = NetNs::enter("cpkern");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let file = |sysctl: &str| {
        format!(
            "services:
  app:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    ulimits:
      nofile: {{soft: 1000, hard: 2000}}
      nproc: 500
    sysctls:
      {sysctl}: \"1\"
    shm_size: 32m
    security_opt: [\"no-new-privileges:true\", \"seccomp:unconfined\", \"label:disable\"]
"
        )
    };
    let dir = project(&file("net.ipv4.ip_forward"));
    let o = compose(&h, dir.path(), &["up", "-d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"label:disable\" ignored"),
        "{}",
        stderr(&o)
    );
    let got = h.hull_ok(&[
        "exec",
        "tproj-app-1",
        "sh",
        "-c",
        "ulimit -Sn; ulimit -Hn; ulimit -u; cat /proc/sys/net/ipv4/ip_forward; \
         grep ' /dev/shm ' /proc/mounts; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
    ]);
    let lines: Vec<&str> = got.lines().map(str::trim).collect();
    assert_eq!(&lines[..4], ["1000", "2000", "500", "1"], "{got}");
    assert!(lines[4].contains("size=32768k"), "{got}");
    assert!(lines[5..].contains(&"NoNewPrivs:\t1"), "{got}");
    assert!(lines[5..].contains(&"Seccomp:\t0"), "{got}");
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);

    std::fs::write(dir.path().join("compose.yaml"), file("kernel.hostname")).expect("write");
    let o = compose(&h, dir.path(), &["up", "-d"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("sysctl \"kernel.hostname\" is not allowed"),
        "{err}"
    );
    assert_nothing_left(&h);
}

/// A service on an `internal: true` network reaches its peers there but
/// nothing outside; one on the default network reaches the outside (so
/// the check can tell the two apart).
#[test]
fn an_internal_network_has_no_outside_access() {
    require_root!();
    let _ns = NetNs::enter("cpintn");
    let out = Outside::make("cpintno");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = project(&format!(
        "services:
  inside:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    networks: [back]
  peer:
    image: {image}
    init: true
    networks: [back]
  open:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
networks:
  back:
    internal: true
"
    ));
    compose_ok(&h, dir.path(), &["up", "-d"]);
    let net = h.hull_ok(&["network", "inspect", "tproj_back"]);
    assert!(net.contains("\"Internal\": true"), "{net}");
    let o = h.hull(&["exec", "tproj-inside-1", "sh", "-c", &fetch("peer")]);
    assert!(
        stdout(&o).contains("hello from hull"),
        "peer: {}",
        stderr(&o)
    );

    let t = out.accept_one(9100);
    let o = h.hull(&[
        "exec",
        "tproj-open-1",
        "sh",
        "-c",
        "echo from-open | nc -w 5 192.0.2.2 9100",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(t.join().expect("join").1, "from-open\n");

    let t = out.accept_one(9101);
    let o = h.hull(&[
        "exec",
        "tproj-inside-1",
        "sh",
        "-c",
        "echo from-inside | nc -w 2 192.0.2.2 9101",
    ]);
    assert_ne!(code(&o), 0, "the internal network reached the outside");
    let (peer, data) = t.join().expect("join");
    assert!(data.is_empty(), "{peer} sent {data:?}");
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
    assert_nothing_left(&h);
}

/// A service on an internal network and a normal one gets its default
/// route through the normal one even when the internal one comes first
/// (here by name, as Compose orders them): it reaches the outside and its
/// peer on the internal network.
#[test]
fn an_internal_network_first_still_routes_through_the_other() {
    require_root!();
    let _ns = NetNs::enter("cpintf");
    let out = Outside::make("cpintfo");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    let image = load_image(&h);
    let dir = project(&format!(
        "services:
  both:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    networks: [aback, front]
  peer:
    image: {image}
    init: true
    networks: [aback]
networks:
  aback:
    internal: true
  front: {{}}
"
    ));
    compose_ok(&h, dir.path(), &["up", "-d"]);
    // eth0 is on aback (created on it), eth1 on front; the default route
    // (destination 00000000) goes out eth1.
    let o = h.hull(&["exec", "tproj-both-1", "cat", "/proc/net/route"]);
    let routes = stdout(&o);
    let default: Vec<&str> = routes
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("00000000"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(default, ["eth1"], "{routes}");

    let t = out.accept_one(9102);
    let o = h.hull(&[
        "exec",
        "tproj-both-1",
        "sh",
        "-c",
        "echo from-both | nc -w 5 192.0.2.2 9102",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(t.join().expect("join").1, "from-both\n");
    let o = h.hull(&["exec", "tproj-both-1", "sh", "-c", &fetch("peer")]);
    assert!(
        stdout(&o).contains("hello from hull"),
        "peer: {}",
        stderr(&o)
    );
    compose_ok(&h, dir.path(), &["down", "-t", "1"]);
    assert_nothing_left(&h);
}
