//! `hull compose`'s lifecycle and inspection commands against a real hulld:
//! create/start/stop/restart/kill/pause/unpause/rm in dependency order,
//! logs (prefixes, --tail, -t, -f until the containers stop), exec and run
//! (exit codes, flags, one-off containers, dependencies), top, port, events
//! and ls. Each test has its own hulld in a network namespace of its own,
//! its own project name, and a `Containers` guard that cleans up on failure.

mod manager_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use manager_support::net::*;
use manager_support::network_suite::*;
use manager_support::*;

/// `hull compose -p PROJECT ARGS` in `dir`.
fn compose(h: &Hulld, project: &str, dir: &Path, args: &[&str]) -> Output {
    compose_cmd(h, project, dir, args)
        .output()
        .expect("run hull compose")
}

fn compose_cmd(h: &Hulld, project: &str, dir: &Path, args: &[&str]) -> std::process::Command {
    let mut full = vec!["compose", "-p", project];
    full.extend_from_slice(args);
    let mut c = h.hull_cmd(&full);
    c.current_dir(dir);
    c
}

/// Runs and insists on success; (stdout, stderr).
fn ok(h: &Hulld, project: &str, dir: &Path, args: &[&str]) -> (String, String) {
    let o = compose(h, project, dir, args);
    assert!(
        o.status.success(),
        "hull compose {args:?} failed ({}): {}\n{}\n--- hulld log ---\n{}",
        code(&o),
        stdout(&o),
        stderr(&o),
        tail(&h.log(), 40)
    );
    (stdout(&o), stderr(&o))
}

fn state(h: &Hulld, name: &str) -> String {
    fmt(h, "{{.State.Status}}", name)
}

/// The position of the first line containing `what` (panics when none).
fn line_of(text: &str, what: &str) -> usize {
    text.lines()
        .position(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in:\n{text}"))
}

/// A spawned `hull compose …` whose stdout lines arrive on a channel.
struct Live {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl Live {
    fn spawn(h: &Hulld, project: &str, dir: &Path, args: &[&str]) -> Live {
        let mut child = compose_cmd(h, project, dir, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hull compose");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Live { child, rx }
    }

    /// Lines until one satisfies `f` (that one included), or panics after `timeout`.
    fn until(&self, timeout: Duration, mut f: impl FnMut(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = f(&l);
                    seen.push(l);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => panic!("timed out; lines so far: {seen:#?}"),
            }
        }
    }

    /// Waits for the process to end by itself; its exit code and the lines.
    fn finish(mut self, timeout: Duration) -> (i32, Vec<String>) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                // The reader thread ends with the pipe.
                let lines: Vec<String> = self.rx.iter().collect();
                return (st.code().unwrap_or(-1), lines);
            }
            assert!(Instant::now() < deadline, "hull compose did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // Our own child, by pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A network namespace, a hulld in it, the cleanup guard, the test image
/// and a project directory; bound in this order, so dropped in reverse
/// (the guard before hulld, the namespace last).
fn setup(tag: &str) -> (NetNs, Hulld, Containers, String, tempfile::TempDir) {
    let ns = NetNs::enter(tag);
    let h = Hulld::start_with_config(BRIDGE);
    let c = Containers::of(&h);
    let image = load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    (ns, h, c, image, dir)
}

fn two_services(image: &str) -> String {
    format!(
        "services:
  web:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    stop_grace_period: 1s
    depends_on: [db]
  db:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    stop_grace_period: 1s
"
    )
}

#[test]
fn lifecycle_commands_follow_dependency_order() {
    require_root!();
    let (_ns, h, _c, image, dir) = setup("cclife");
    std::fs::write(dir.path().join("compose.yaml"), two_services(&image)).expect("write");
    let (p, d) = ("cclife", dir.path());
    let (web, db) = ("cclife-web-1", "cclife-db-1");

    // start refuses a project never created; create makes without starting.
    let o = compose(&h, p, d, &["start"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("has no container to start"),
        "{}",
        stderr(&o)
    );
    ok(&h, p, d, &["create"]);
    assert_eq!(
        (state(&h, web), state(&h, db)),
        ("created".into(), "created".into())
    );
    // Again: kept; with db's configuration changed: db recreated (unless
    // --no-recreate), web kept.
    let ids = || (fmt(&h, "{{.Id}}", web), fmt(&h, "{{.Id}}", db));
    let first = ids();
    ok(&h, p, d, &["create"]);
    assert_eq!(ids(), first);
    let changed = format!("{}    environment: {{X: \"1\"}}\n", two_services(&image));
    std::fs::write(d.join("compose.yaml"), changed).expect("write");
    ok(&h, p, d, &["create", "--no-recreate"]);
    assert_eq!(ids(), first);
    ok(&h, p, d, &["create"]);
    let second = ids();
    assert_eq!(second.0, first.0, "web was recreated");
    assert_ne!(second.1, first.1, "db was not recreated");
    assert_eq!(state(&h, db), "created");

    let (_, err) = ok(&h, p, d, &["start"]);
    assert!(
        line_of(&err, db) < line_of(&err, web),
        "start order:\n{err}"
    );
    assert_eq!(
        (state(&h, web), state(&h, db)),
        ("running".into(), "running".into())
    );

    let (_, err) = ok(&h, p, d, &["stop", "-t", "1"]);
    assert!(line_of(&err, web) < line_of(&err, db), "stop order:\n{err}");
    assert!(err.contains(&format!("Container {web}  Stopped")), "{err}");
    assert_eq!(
        (state(&h, web), state(&h, db)),
        ("exited".into(), "exited".into())
    );

    // One service only.
    ok(&h, p, d, &["start", "db"]);
    assert_eq!(
        (state(&h, web), state(&h, db)),
        ("exited".into(), "running".into())
    );

    // restart: both run afterwards, dependencies first; db restarted anew.
    let before = fmt(&h, "{{.State.Pid}}", db);
    let (_, err) = ok(&h, p, d, &["restart", "-t", "1"]);
    assert!(
        line_of(&err, db) < line_of(&err, web),
        "restart order:\n{err}"
    );
    assert_eq!(
        (state(&h, web), state(&h, db)),
        ("running".into(), "running".into())
    );
    assert_ne!(fmt(&h, "{{.State.Pid}}", db), before);

    ok(&h, p, d, &["pause", "web"]);
    assert_eq!(
        (state(&h, web), state(&h, db)),
        ("paused".into(), "running".into())
    );
    ok(&h, p, d, &["unpause"]);
    assert_eq!(state(&h, web), "running");
    // Bad input: one line naming it, nothing touched.
    for (args, what) in [
        (&["kill", "-s", "BOGUS"][..], "invalid signal: BOGUS"),
        (&["logs", "--tail", "x"], "invalid value for \"tail\": x"),
        (&["port", "nope", "80"], "no such service: nope"),
    ] {
        let o = compose(&h, p, d, args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(what), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
    assert_eq!(
        (state(&h, web), state(&h, db)),
        ("running".into(), "running".into())
    );

    // kill -s TERM reaches the init, which ends; kill's default is SIGKILL.
    ok(&h, p, d, &["kill", "-s", "SIGTERM", "db"]);
    wait_until("db exits on SIGTERM", Duration::from_secs(10), || {
        state(&h, db) == "exited"
    });
    assert_eq!(state(&h, web), "running");
    ok(&h, p, d, &["kill"]);
    wait_until("web killed", Duration::from_secs(10), || {
        state(&h, web) == "exited"
    });
    assert_eq!(fmt(&h, "{{.State.ExitCode}}", web), "137");

    // rm asks first: "n" keeps the containers; -f removes without asking.
    let mut c = compose_cmd(&h, p, d, &["rm"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"n\n").expect("answer");
    let o = child.wait_with_output().expect("rm");
    assert!(stdout(&o).contains("Are you sure? [yN]"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(web) && stdout(&o).contains(db),
        "{}",
        stdout(&o)
    );
    assert_eq!(state(&h, db), "exited");
    ok(&h, p, d, &["rm", "-f"]);
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());

    // rm leaves running containers alone unless -s.
    ok(&h, p, d, &["up", "-d"]);
    let (_, err) = ok(&h, p, d, &["rm", "-f"]);
    assert!(err.contains("No stopped containers"), "{err}");
    assert_eq!(state(&h, web), "running");
    ok(&h, p, d, &["rm", "-f", "-s", "-v"]);
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());

    let o = compose(&h, p, d, &["stop", "nope"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no such service: nope"),
        "{}",
        stderr(&o)
    );
    ok(&h, p, d, &["down"]);
}

#[test]
fn logs_prefix_merge_tail_timestamps_and_follow() {
    require_root!();
    let (_ns, h, _c, image, dir) = setup("cclogs");
    let (p, d) = ("cclogs", dir.path());
    std::fs::write(
        d.join("compose.yaml"),
        format!(
            "services:
  a:
    image: {image}
    command: [\"sh\", \"-c\", \"echo a-one; echo a-two; echo a-err >&2; {wait}; echo a-three\"]
    volumes: [\"./ctl/a:/ctl\"]
  longname:
    image: {image}
    command: [\"sh\", \"-c\", \"echo b-one; {wait}; echo b-two\"]
    volumes: [\"./ctl/longname:/ctl\"]
  gate1:
    image: {image}
    command: [\"sh\", \"-c\", \"echo g-start; {wait}; echo g-end\"]
    volumes: [\"./ctl/gate1:/ctl\"]
  gate2:
    image: {image}
    command: [\"sh\", \"-c\", \"echo g-start; {wait}; echo g-end\"]
    volumes: [\"./ctl/gate2:/ctl\"]
",
            wait = "while [ ! -f /ctl/go ]; do sleep 0.1; done"
        ),
    )
    .expect("write");
    // Each service ends once its control directory holds `go`.
    let go = |svc: &str| std::fs::write(d.join("ctl").join(svc).join("go"), "").expect("go");
    for svc in ["a", "longname", "gate1", "gate2"] {
        std::fs::create_dir_all(d.join("ctl").join(svc)).expect("mkdir");
    }
    ok(&h, p, d, &["up", "-d"]);
    // b-one, then a-three, then b-two: each service ends when told to.
    wait_until("b-one logged", Duration::from_secs(20), || {
        ok(&h, p, d, &["logs", "longname"]).0.contains("b-one")
    });
    for (svc, c) in [("a", "cclogs-a-1"), ("longname", "cclogs-longname-1")] {
        go(svc);
        wait_until("the service ends", Duration::from_secs(20), || {
            state(&h, c) == "exited"
        });
    }
    let (out, err) = ok(&h, p, d, &["logs", "--no-color", "a", "longname"]);
    let lines: Vec<&str> = out.lines().collect();
    for l in [
        "cclogs-a-1        | a-one",
        "cclogs-a-1        | a-two",
        "cclogs-a-1        | a-three",
        "cclogs-longname-1 | b-one",
        "cclogs-longname-1 | b-two",
    ] {
        assert!(lines.contains(&l), "{l:?} not in:\n{out}");
    }
    assert_eq!(lines.len(), 5, "{out}");
    assert!(err.contains("cclogs-a-1        | a-err"), "{err}");
    // Merged in time order: b-one came before a-three, b-two after it.
    assert!(line_of(&out, "a-one") < line_of(&out, "a-two"));
    assert!(line_of(&out, "b-one") < line_of(&out, "a-three"), "{out}");
    assert!(line_of(&out, "a-three") < line_of(&out, "b-two"), "{out}");
    // Not a terminal: no colors even without --no-color.
    let (plain, _) = ok(&h, p, d, &["logs", "a"]);
    assert!(
        !plain.contains('\x1b') && !plain.contains("longname"),
        "{plain}"
    );

    let (out, _) = ok(&h, p, d, &["logs", "--tail", "1", "a"]);
    assert_eq!(out, "cclogs-a-1 | a-three\n");
    let (out, _) = ok(&h, p, d, &["logs", "-t", "longname"]);
    let first = out.lines().next().unwrap_or_default().to_string();
    let stamp = first
        .strip_prefix("cclogs-longname-1 | ")
        .and_then(|r| r.strip_suffix(" b-one"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        stamp.starts_with("20") && stamp.ends_with('Z') && stamp.contains('T'),
        "{stamp}"
    );

    // -f follows both gate containers at once while they run, and ends
    // once both stopped.
    let live = Live::spawn(&h, p, d, &["logs", "-f", "--no-color", "gate1", "gate2"]);
    let mut starts = 0;
    let g2 = live.until(Duration::from_secs(20), |l| {
        starts += usize::from(l.ends_with(" | g-start"));
        starts == 2
    });
    assert!(!g2.iter().any(|l| l.contains("g-end")), "{g2:?}");
    go("gate2");
    live.until(Duration::from_secs(20), |l| l == "cclogs-gate2-1 | g-end");
    go("gate1");
    let (code, rest) = live.finish(Duration::from_secs(20));
    assert_eq!(code, 0);
    assert!(
        rest.iter().any(|l| l == "cclogs-gate1-1 | g-end"),
        "{rest:?}"
    );
    ok(&h, p, d, &["down"]);
}

/// `logs -f` picks up containers that start while it follows (a replica
/// added by `up --scale`, one restarted), as Compose's; `--index N`,
/// `--no-log-prefix`, `--tail` and `--until` select what is shown.
#[test]
fn logs_follow_picks_up_new_containers_index_and_until() {
    require_root!();
    let (_ns, h, _c, image, dir) = setup("cclogf");
    let (p, d) = ("cclogf", dir.path());
    std::fs::write(
        d.join("compose.yaml"),
        format!(
            "services:
  web:
    image: {image}
    command: [\"sh\", \"-c\", \"echo started; exec sleep 1000\"]
    init: true
    stop_grace_period: 1s
"
        ),
    )
    .expect("write");
    ok(&h, p, d, &["up", "-d"]);
    let live = Live::spawn(&h, p, d, &["logs", "-f", "--no-color"]);
    live.until(Duration::from_secs(20), |l| l == "cclogf-web-1 | started");
    ok(&h, p, d, &["up", "-d", "--scale", "web=2"]);
    live.until(Duration::from_secs(20), |l| l == "cclogf-web-2 | started");
    ok(&h, p, d, &["restart", "web"]);
    let mut again = Vec::new();
    live.until(Duration::from_secs(30), |l| {
        if l.ends_with(" | started") {
            again.push(l.to_string());
        }
        again.len() == 2
    });
    again.sort();
    assert_eq!(
        again,
        ["cclogf-web-1 | started", "cclogf-web-2 | started"],
        "the restarted runs were not followed"
    );
    ok(&h, p, d, &["stop"]);
    let (status, _) = live.finish(Duration::from_secs(20));
    assert_eq!(status, 0);

    // web-2 ran twice: two lines, without prefix; the last one with --tail 1.
    let (out, _) = ok(
        &h,
        p,
        d,
        &["logs", "--index", "2", "--no-log-prefix", "web"],
    );
    assert_eq!(out, "started\nstarted\n");
    let (out, _) = ok(&h, p, d, &["logs", "--index", "2", "--tail", "1", "web"]);
    assert_eq!(out, "cclogf-web-2 | started\n");
    // Nothing was logged before Unix time 1; everything before now.
    let (out, _) = ok(&h, p, d, &["logs", "--until", "1"]);
    assert_eq!(out, "");
    let (out, _) = ok(&h, p, d, &["logs", "--until", "0s"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    let o = compose(&h, p, d, &["logs", "--index", "3", "web"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no container #3"), "{}", stderr(&o));
    ok(&h, p, d, &["down"]);
}

#[test]
fn exec_and_run_propagate_exit_codes_and_flags() {
    require_root!();
    let (_ns, h, _c, image, dir) = setup("ccexec");
    let (p, d) = ("ccexec", dir.path());
    std::fs::write(
        d.join("compose.yaml"),
        format!(
            "services:
  web:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    stop_grace_period: 1s
    environment: {{FROM_FILE: yes}}
    depends_on: [db]
    deploy:
      replicas: 2
  db:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    stop_grace_period: 1s
"
        ),
    )
    .expect("write");
    ok(&h, p, d, &["up", "-d"]);

    let o = compose(
        &h,
        p,
        d,
        &["exec", "-T", "web", "sh", "-c", "echo out; exit 3"],
    );
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (3, "out\n"),
        "{}",
        stderr(&o)
    );
    let (out, _) = ok(
        &h,
        p,
        d,
        &[
            "exec",
            "-T",
            "-e",
            "A=b",
            "-u",
            "1000",
            "-w",
            "/tmp",
            "web",
            "sh",
            "-c",
            "echo $A $(id -u) $(pwd) $FROM_FILE",
        ],
    );
    assert_eq!(out.trim(), "b 1000 /tmp yes");
    // --index picks the container by number.
    ok(
        &h,
        p,
        d,
        &["exec", "-T", "--index", "2", "web", "touch", "/tmp/marker"],
    );
    assert_eq!(
        code(&h.hull(&["exec", "ccexec-web-2", "test", "-f", "/tmp/marker"])),
        0
    );
    assert_eq!(
        code(&h.hull(&["exec", "ccexec-web-1", "test", "-f", "/tmp/marker"])),
        1
    );
    let o = compose(&h, p, d, &["exec", "--index", "3", "web", "true"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // -d returns at once; the command goes on in the background.
    let t = Instant::now();
    ok(
        &h,
        p,
        d,
        &["exec", "-d", "web", "sh", "-c", "sleep 1; touch /tmp/bg"],
    );
    assert!(t.elapsed() < Duration::from_secs(1), "exec -d waited");
    wait_until("the detached exec ran", Duration::from_secs(10), || {
        code(&h.hull(&["exec", "ccexec-web-1", "test", "-f", "/tmp/bg"])) == 0
    });

    // run: dependencies come up first, the exit code is ours, --rm removes
    // it; a relative -v starts at the project directory.
    ok(&h, p, d, &["down", "-t", "1"]);
    std::fs::create_dir_all(d.join("share")).expect("mkdir");
    std::fs::write(d.join("share/f"), "shared\n").expect("write");
    let o = compose(
        &h,
        p,
        d,
        &[
            "run",
            "--rm",
            "-v",
            "./share:/share:ro",
            "web",
            "sh",
            "-c",
            "echo $FROM_FILE; cat /share/f; exit 5",
        ],
    );
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert_eq!(stdout(&o), "yes\nshared\n");
    assert_eq!(state(&h, "ccexec-db-1"), "running");
    let all = h.hull_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        !all.contains("-run-") && !all.contains("ccexec-web-1"),
        "{all}"
    );

    // -d prints the one-off's name; it carries Compose's one-off labels.
    let (out, _) = ok(&h, p, d, &["run", "-d", "web", "sleep", "100"]);
    let name = out.trim().to_string();
    let suffix = name
        .strip_prefix("ccexec-web-run-")
        .unwrap_or_else(|| panic!("{name}"));
    assert!(
        suffix.len() == 12 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(state(&h, &name), "running");
    assert_eq!(
        fmt(&h, "{{index .Config.Labels \"com.docker.compose.oneoff\"}} {{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.project\"}}", &name),
        "True web ccexec"
    );
    // The one-off is not the service's container for exec.
    let o = compose(&h, p, d, &["exec", "-T", "web", "true"]);
    assert_ne!(code(&o), 0);

    // --no-deps, --entrypoint, -e, -w, --name.
    ok(&h, p, d, &["down", "-t", "1"]);
    let (out, _) = ok(
        &h,
        p,
        d,
        &[
            "run",
            "--no-deps",
            "--name",
            "ccexec-custom",
            "-e",
            "X=1",
            "-w",
            "/www",
            "--entrypoint",
            "sh -c",
            "web",
            "echo $X $(pwd)",
        ],
    );
    assert_eq!(out.trim(), "1 /www");
    let all = h.hull_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.contains("ccexec-db-1"), "--no-deps started db: {all}");
    assert!(all.contains("ccexec-custom"), "{all}");
    // A one-off container is removed by rm (stopped ones).
    ok(&h, p, d, &["rm", "-f"]);
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());
    ok(&h, p, d, &["down"]);
}

#[test]
fn top_port_events_and_ls() {
    require_root!();
    let (_ns, h, _c, image, dir) = setup("cctop");
    let (p, d) = ("cctop", dir.path());
    let port = free_port();
    let file = d.join("compose.yaml");
    std::fs::write(
        &file,
        format!(
            "services:
  web:
    image: {image}
    ports: [\"127.0.0.1:{port}:80\"]
  db:
    image: {image}
    command: [\"sleep\", \"1000\"]
    init: true
    stop_grace_period: 1s
"
        ),
    )
    .expect("write");

    // events: subscribed once a probe's event shows; then up's events come.
    ok(&h, p, d, &["up", "-d", "db"]);
    let ev = Live::spawn(&h, p, d, &["events", "--json"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        ok(&h, p, d, &["restart", "-t", "1", "db"]);
        if ev.rx.recv_timeout(Duration::from_secs(2)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "no events from compose events");
    }
    ok(&h, p, d, &["up", "-d"]);
    let seen = ev.until(Duration::from_secs(20), |l| {
        l.contains("\"action\":\"start\"") && l.contains("\"service\":\"web\"")
    });
    let start: serde_json::Value =
        serde_json::from_str(seen.last().expect("a line")).expect("json");
    assert_eq!(start["type"], "container");
    assert_eq!(start["attributes"]["name"], "cctop-web-1");
    assert_eq!(start["id"], fmt(&h, "{{.Id}}", "cctop-web-1"));
    assert!(
        seen.iter()
            .any(|l| l.contains("\"action\":\"create\"") && l.contains("cctop-web-1")),
        "{seen:#?}"
    );
    drop(ev);
    // Text form, only the named service.
    let ev = Live::spawn(&h, p, d, &["events", "db"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let line = loop {
        ok(&h, p, d, &["restart", "-t", "1"]);
        if let Ok(l) = ev.rx.recv_timeout(Duration::from_secs(2)) {
            break l;
        }
        assert!(Instant::now() < deadline, "no events from compose events");
    };
    let db_id = fmt(&h, "{{.Id}}", "cctop-db-1");
    assert!(line.contains(" container "), "{line}");
    assert!(
        line.contains(&db_id) && line.contains("name=cctop-db-1"),
        "{line}"
    );
    if !line.contains(" container start ") {
        let rest = ev.until(Duration::from_secs(20), |l| l.contains(" container start "));
        assert!(rest.iter().all(|l| !l.contains("cctop-web-1")), "{rest:#?}");
    }
    drop(ev);
    // --since replays the events hulld holds, --until ends the stream:
    // up to now, so this returns at once, web's start among the lines.
    let (out, _) = ok(
        &h,
        p,
        d,
        &["events", "--json", "--since", "10m", "--until", "0s"],
    );
    assert!(
        out.lines()
            .any(|l| l.contains("\"action\":\"start\"") && l.contains("\"service\":\"web\"")),
        "{out}"
    );
    assert!(out.lines().all(|l| l.contains("cctop-")), "{out}");
    let (out, _) = ok(&h, p, d, &["events", "--since", "0s", "--until", "0s"]);
    assert_eq!(out, "");
    // An --until ahead: it ends by itself then.
    let ev = Live::spawn(&h, p, d, &["events", "--until", "2s"]);
    let (status, _) = ev.finish(Duration::from_secs(20));
    assert_eq!(status, 0);

    // top: each container's name, then its processes.
    let (out, _) = ok(&h, p, d, &["top"]);
    assert!(
        line_of(&out, "cctop-db-1") < line_of(&out, "cctop-web-1"),
        "{out}"
    );
    assert!(
        out.contains("PID") && out.contains("httpd") && out.contains("sleep 1000"),
        "{out}"
    );

    // port: the published address; none for an unpublished port or udp.
    let (out, _) = ok(&h, p, d, &["port", "web", "80"]);
    assert_eq!(out.trim(), format!("127.0.0.1:{port}"));
    for args in [
        &["port", "web", "81"][..],
        &["port", "--protocol", "udp", "web", "80"],
    ] {
        let o = compose(&h, p, d, args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stdout(&o));
    }

    // ls needs no Compose file: run it from elsewhere.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let ls = |args: &[&str]| {
        let mut full = vec!["compose", "ls"];
        full.extend_from_slice(args);
        let o = h
            .hull_cmd(&full)
            .current_dir(elsewhere.path())
            .output()
            .expect("ls");
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let out = ls(&[]);
    let row = out
        .lines()
        .find(|l| l.starts_with("cctop"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("running(2)") && row.contains(file.to_str().unwrap()),
        "{row}"
    );
    ok(&h, p, d, &["stop", "-t", "1", "db"]);
    let v: serde_json::Value = serde_json::from_str(&ls(&["--format", "json"])).expect("json");
    assert_eq!(v[0]["Name"], "cctop");
    assert_eq!(v[0]["Status"], "exited(1), running(1)");
    assert_eq!(v[0]["ConfigFiles"], file.to_str().unwrap());
    ok(&h, p, d, &["stop", "-t", "1"]);
    assert!(!ls(&[]).contains("cctop"));
    assert_eq!(ls(&["-a", "-q"]).trim(), "cctop");
    assert_eq!(
        ls(&["-a", "-q", "--filter", "name=^cctop$"]).trim(),
        "cctop"
    );
    assert_eq!(ls(&["-a", "-q", "--filter", "name=ctto"]).trim(), "");
    let v: serde_json::Value =
        serde_json::from_str(&ls(&["-a", "--format", "json", "--filter", "name=top"]))
            .expect("json");
    assert_eq!(v[0]["Status"], "exited(2)");
    let o = h
        .hull_cmd(&["compose", "ls", "--filter", "status=running"])
        .current_dir(elsewhere.path())
        .output()
        .expect("ls");
    assert_eq!(code(&o), 1);
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid filter 'status'"),
        "{}",
        stderr(&o)
    );
    ok(&h, p, d, &["down"]);
    assert!(ls(&["-a", "-q"]).trim().is_empty());
}

/// On a terminal `exec` and `run` give the command one (no `-t` needed,
/// as Compose), with our keystrokes as its input and its exit code ours;
/// `logs` colors its prefixes there (and not with `--no-color`).
#[test]
fn exec_and_run_on_a_terminal() {
    use manager_support::pty::{PtyHull, WAIT};
    require_root!();
    let (_ns, h, _c, image, dir) = setup("cctty");
    let file = dir.path().join("compose.yaml");
    let project = two_services(&image).replacen(
        "command: [\"sleep\", \"1000\"]",
        "command: [\"sh\", \"-c\", \"echo hi-web; exec sleep 1000\"]",
        1,
    );
    std::fs::write(&file, project).expect("write");
    let f = file.to_str().expect("utf-8 path");
    ok(&h, "cctty", dir.path(), &["up", "-d"]);
    wait_until("web logged", WAIT, || {
        ok(&h, "cctty", dir.path(), &["logs", "web"])
            .0
            .contains("hi-web")
    });
    for (extra, colored) in [(None, true), (Some("--no-color"), false)] {
        let mut args = vec!["compose", "-p", "cctty", "-f", f, "logs", "web"];
        args.extend(extra);
        let mut p = PtyHull::spawn(&h, &args, 24, 80);
        p.expect(0, "hi-web", WAIT);
        assert_eq!(p.wait(WAIT), 0);
        let out = p.output();
        assert_eq!(
            out.contains("\x1b[36mcctty-web-1 | \x1b[0m"),
            colored,
            "{out:?}"
        );
        assert!(out.contains("cctty-web-1 | "), "{out:?}");
    }
    for first in [&["exec", "web", "sh"][..], &["run", "--rm", "web", "sh"]] {
        let mut args = vec!["compose", "-p", "cctty", "-f", f];
        args.extend_from_slice(first);
        let mut p = PtyHull::spawn(&h, &args, 24, 80);
        let at = p.expect(0, "# ", WAIT);
        p.type_("tty; exit 4\n");
        p.expect(at, "/dev/pts/", WAIT);
        assert_eq!(p.wait(WAIT), 4, "{first:?}: {:?}", p.output());
        p.assert_cooked();
    }
    let all = h.hull_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.contains("-run-"), "run --rm left its container: {all}");
    ok(&h, "cctty", dir.path(), &["down", "-t", "1"]);
}

/// `create` and `run` build a `build:` service's missing image (as `up`
/// does) and name it PROJECT-SERVICE.
#[test]
fn create_and_run_build_a_missing_image() {
    require_root!();
    let (_ns, h, _c, image, dir) = setup("ccbuild");
    let (p, d) = ("ccbuild", dir.path());
    std::fs::create_dir_all(d.join("app")).expect("mkdir");
    std::fs::write(
        d.join("app/Dockerfile"),
        format!("FROM {image}\nRUN echo built > /built\n"),
    )
    .expect("write");
    std::fs::write(
        d.join("compose.yaml"),
        "services:\n  app:\n    build: ./app\n    command: [\"sleep\", \"1000\"]\n    init: true\n",
    )
    .expect("write");
    let o = compose(&h, p, d, &["create", "--no-build"]);
    assert_ne!(code(&o), 0, "--no-build built: {}", stderr(&o));
    ok(&h, p, d, &["create"]);
    assert_eq!(state(&h, "ccbuild-app-1"), "created");
    assert!(h.hull_ok(&["images"]).contains("ccbuild-app"));
    let (out, _) = ok(&h, p, d, &["run", "--rm", "app", "cat", "/built"]);
    assert_eq!(out, "built\n");
    ok(&h, p, d, &["down", "--rmi", "local"]);
}
