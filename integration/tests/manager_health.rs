//! Healthchecks as Docker runs them: `--health-*` flags and an image's
//! HEALTHCHECK, run by hulld as execs in real containers; the status in
//! `ps`, `ps --filter health=`, `inspect`'s State.Health and
//! Config.Healthcheck, `health_status` events; timeouts, start periods,
//! restart policies and hulld restarts.

mod manager_support;

use std::io::BufRead;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use manager_support::containers::setup;
use manager_support::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn inspect(h: &Hulld, c: &str) -> Value {
    let out = h.hull_ok(&["inspect", c]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn health(h: &Hulld, c: &str) -> Value {
    inspect(h, c)["State"]["Health"].clone()
}

fn wait_status(h: &Hulld, c: &str, want: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = health(h, c);
        if last["Status"] == want {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "{c} never became {want}: {last:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `run -d --name NAME FLAGS… IMAGE sleep 300`.
fn run_sleeping(h: &Hulld, image: &str, name: &str, flags: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[image, "sleep", "300"]);
    h.hull_ok(&args);
}

fn ps_names(h: &Hulld, args: &[&str]) -> Vec<String> {
    let mut a = vec!["ps", "-a", "--format", "{{.Names}}"];
    a.extend_from_slice(args);
    h.hull_ok(&a).lines().map(String::from).collect()
}

/// `hull events` lines as they come.
struct Events {
    child: std::process::Child,
    rx: mpsc::Receiver<String>,
}

impl Events {
    /// Subscribed, and seen live: a container made after the subscription
    /// shows in it.
    fn subscribe(h: &Hulld, image: &str) -> Events {
        let mut child = h
            .hull_cmd(&["events", "--filter", "type=container"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ev = Events { child, rx };
        let deadline = Instant::now() + WAIT;
        for i in 0.. {
            assert!(Instant::now() < deadline, "events never came live");
            let probe = format!("evprobe{i}");
            h.hull_ok(&["create", "--name", &probe, image, "true"]);
            let seen = ev.wait_for(&format!("\"name\":\"{probe}\""), Duration::from_secs(2));
            h.hull_ok(&["rm", &probe]);
            if seen.is_some() {
                break;
            }
        }
        ev
    }

    fn wait_for(&self, text: &str, limit: Duration) -> Option<String> {
        let until = Instant::now() + limit;
        while let Ok(line) = self
            .rx
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            if line.contains(text) {
                return Some(line);
            }
        }
        None
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_passing_check_makes_it_healthy_in_ps_inspect_and_events() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let ev = Events::subscribe(&h, &image);
    run_sleeping(
        &h,
        &image,
        "fine",
        &[
            "--health-cmd",
            "echo all good",
            "--health-interval",
            "200ms",
        ],
    );
    // An hour between checks: it stays starting.
    run_sleeping(
        &h,
        &image,
        "slow",
        &["--health-cmd", "true", "--health-interval", "1h"],
    );
    run_sleeping(&h, &image, "plain", &[]);

    let hl = wait_status(&h, "fine", "healthy");
    assert_eq!(hl["FailingStreak"], 0, "{hl:#}");
    let last = hl["Log"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(last["ExitCode"], 0, "{hl:#}");
    assert_eq!(last["Output"], "all good\n", "{hl:#}");
    for k in ["Start", "End"] {
        let t = last[k].as_str().unwrap();
        assert!(t.ends_with('Z') && t.contains('.'), "{k}: {t}");
    }
    let c = inspect(&h, "fine");
    assert_eq!(
        c["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo all good"], "Interval": 200_000_000})
    );
    let f = h.hull_ok(&["inspect", "--format", "{{.State.Health.Status}}", "fine"]);
    assert_eq!(f.trim(), "healthy");
    assert!(inspect(&h, "plain")["State"].get("Health").is_none());
    assert_eq!(health(&h, "slow")["Status"], "starting");

    let status = h.hull_ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    let line = |n: &str| {
        status
            .lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("{n} not in {status}"))
            .to_string()
    };
    assert!(line("fine").ends_with("(healthy)"), "{status}");
    assert!(line("slow").ends_with("(health: starting)"), "{status}");
    assert!(line("plain").starts_with("plain Up ") && !line("plain").contains('('));
    assert_eq!(ps_names(&h, &["--filter", "health=healthy"]), ["fine"]);
    assert_eq!(ps_names(&h, &["--filter", "health=starting"]), ["slow"]);
    assert_eq!(ps_names(&h, &["--filter", "health=none"]), ["plain"]);
    assert!(ps_names(&h, &["--filter", "health=unhealthy"]).is_empty());
    let bad = h.hull(&["ps", "--filter", "health=sick"]);
    assert_ne!(code(&bad), 0);
    assert!(stderr(&bad).contains("health"), "{}", stderr(&bad));

    let e = ev
        .wait_for("health_status", WAIT)
        .expect("a health_status event");
    assert!(e.contains("health_status: healthy"), "{e}");
    assert!(e.contains("\"name\":\"fine\""), "{e}");
}

#[test]
fn a_failing_check_makes_it_unhealthy_after_its_retries_and_no_restart() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let ev = Events::subscribe(&h, &image);
    run_sleeping(
        &h,
        &image,
        "sick",
        &[
            "--restart",
            "always",
            "--health-cmd",
            "echo one; echo two >&2; echo three; exit 1",
            "--health-interval",
            "200ms",
            "--health-retries",
            "3",
        ],
    );
    let hl = wait_status(&h, "sick", "unhealthy");
    let streak = hl["FailingStreak"].as_u64().unwrap();
    assert!(streak >= 3, "unhealthy before 3 failures: {hl:#}");
    let e = ev.wait_for("health_status", WAIT).expect("an event");
    assert!(e.contains("health_status: unhealthy"), "{e}");
    // The log keeps the last five.
    wait_until("seven failures", WAIT, || {
        health(&h, "sick")["FailingStreak"].as_u64().unwrap() >= 7
    });
    let hl = health(&h, "sick");
    let log = hl["Log"].as_array().unwrap();
    assert_eq!(log.len(), 5, "{hl:#}");
    assert!(log
        .iter()
        .all(|r| r["ExitCode"] == 1 && r["Output"] == "one\ntwo\nthree\n"));
    // A restart policy never restarts a container for being unhealthy.
    let c = inspect(&h, "sick");
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["RestartCount"], 0);
    assert_eq!(ps_names(&h, &["--filter", "health=unhealthy"]), ["sick"]);
    let status = h.hull_ok(&["ps", "--format", "{{.Status}}"]);
    assert!(status.trim().ends_with("(unhealthy)"), "{status}");
}

#[test]
fn a_check_over_its_timeout_fails_and_is_killed() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    run_sleeping(
        &h,
        &image,
        "stuck",
        &[
            "--health-cmd",
            "sleep 47",
            "--health-timeout",
            "300ms",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
        ],
    );
    let hl = wait_status(&h, "stuck", "unhealthy");
    let last = hl["Log"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(last["ExitCode"], -1, "{hl:#}");
    assert_eq!(
        last["Output"], "Health check exceeded timeout (300ms)",
        "{hl:#}"
    );
    wait_until("three timed-out checks", WAIT, || {
        health(&h, "stuck")["FailingStreak"].as_u64().unwrap() >= 3
    });
    // Each check is killed at its timeout: at most the current one lives.
    let top = h.hull_ok(&["top", "stuck"]);
    let sleeping = top.lines().filter(|l| l.contains("sleep 47")).count();
    assert!(sleeping <= 1, "timed-out checks still running:\n{top}");
}

#[test]
fn failures_in_the_start_period_do_not_count_until_a_success() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    run_sleeping(
        &h,
        &image,
        "warming",
        &[
            "--health-cmd",
            "test -e /tmp/up",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
            "--health-start-period",
            "10m",
        ],
    );
    wait_until("three failed checks", WAIT, || {
        health(&h, "warming")["Log"]
            .as_array()
            .is_some_and(|l| l.len() >= 3)
    });
    let hl = health(&h, "warming");
    assert_eq!(hl["Status"], "starting", "{hl:#}");
    assert_eq!(hl["FailingStreak"], 0, "{hl:#}");
    assert!(hl["Log"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["ExitCode"] == 1));
    h.hull_ok(&["exec", "warming", "touch", "/tmp/up"]);
    wait_status(&h, "warming", "healthy");
    // A success ended the start period: the next failure counts.
    h.hull_ok(&["exec", "warming", "rm", "/tmp/up"]);
    let hl = wait_status(&h, "warming", "unhealthy");
    assert_eq!(hl["FailingStreak"], 1, "{hl:#}");

    // Once the start period is over, failures count.
    run_sleeping(
        &h,
        &image,
        "late",
        &[
            "--health-cmd",
            "exit 1",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
            "--health-start-period",
            "600ms",
        ],
    );
    wait_status(&h, "late", "unhealthy");
}

/// A copy of OCI layout tag `from` whose config has `healthcheck`, as tag `to`.
fn tag_with_healthcheck(l: &Layout, from: &str, to: &str, healthcheck: Value) {
    let read = |p: std::path::PathBuf| -> Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |d: &Value| {
        let d = d["digest"].as_str().unwrap();
        l.path
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let mut index = read(l.path.join("index.json"));
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == from)
        .cloned()
        .unwrap();
    let mut manifest = read(blob(&desc));
    let mut config = read(blob(&manifest["config"]));
    config["config"]["Healthcheck"] = healthcheck;
    manifest["config"] = put_blob(
        &l.path,
        manifest["config"]["mediaType"].as_str().unwrap(),
        &serde_json::to_vec(&config).unwrap(),
    );
    let mut new_desc = put_blob(
        &l.path,
        desc["mediaType"].as_str().unwrap(),
        &serde_json::to_vec(&manifest).unwrap(),
    );
    new_desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": to});
    index["manifests"].as_array_mut().unwrap().push(new_desc);
    std::fs::write(
        l.path.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

#[test]
fn an_image_healthcheck_runs_and_flags_override_or_disable_it() {
    require_root!();
    let (reg, l, h, _) = setup();
    let _cleanup = Containers::of(&h);
    tag_with_healthcheck(
        &l,
        "bb",
        "hc",
        serde_json::json!({"Test": ["CMD-SHELL", "echo from image"], "Interval": 200_000_000, "Retries": 2}),
    );
    let image = reg.reference("ctr/healthy:v1");
    l.push("hc", &image, &[]);
    h.hull_ok(&["pull", "-q", &image]);
    run_sleeping(&h, &image, "img", &[]);
    run_sleeping(&h, &image, "off", &["--no-healthcheck"]);
    run_sleeping(&h, &image, "mixed", &["--health-retries", "9"]);
    let hl = wait_status(&h, "img", "healthy");
    let last = hl["Log"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(last["Output"], "from image\n", "{hl:#}");
    assert_eq!(
        inspect(&h, "mixed")["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo from image"], "Interval": 200_000_000, "Retries": 9})
    );
    wait_status(&h, "mixed", "healthy");
    // By now `off` had time for several checks of the image's: it ran none.
    let off = inspect(&h, "off");
    assert_eq!(
        off["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
    assert!(off["State"].get("Health").is_none(), "{off:#}");
    assert_eq!(ps_names(&h, &["--filter", "health=none"]), ["off"]);
    let conflict = h.hull(&[
        "run",
        "-d",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        &image,
    ]);
    assert_eq!(code(&conflict), 125, "{}", stderr(&conflict));
    assert!(stderr(&conflict).contains("--no-healthcheck conflicts"));
}

#[test]
fn bad_health_flags_fail_in_one_line_and_make_nothing() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    for (flags, why) in [
        (
            &["--health-interval", "5"][..],
            "invalid argument \"5\" for \"--health-interval\" flag",
        ),
        (
            &["--health-timeout=-1s"][..],
            "--health-timeout cannot be negative",
        ),
        (
            &["--health-retries=-2"][..],
            "--health-retries cannot be negative",
        ),
        // hulld's own check, as Docker's daemon makes it.
        (
            &["--health-cmd", "true", "--health-interval", "500us"][..],
            "Interval in Healthcheck cannot be less than 1ms",
        ),
    ] {
        let mut args = vec!["run", "-d", "--name", "bad"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&image, "sleep", "300"]);
        let o = h.hull(&args);
        assert_eq!(code(&o), 125, "{flags:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{flags:?}: {e}");
        assert!(e.contains(why), "{flags:?}: {e}");
        assert!(ps_names(&h, &[]).is_empty(), "{flags:?} made a container");
    }
}

/// Output of the check: how often it ran in this container.
const COUNTING: &str = "echo x >> /tmp/n; wc -l < /tmp/n";

fn runs(h: &Hulld, c: &str) -> u64 {
    health(h, c)["Log"]
        .as_array()
        .and_then(|l| l.last())
        .and_then(|r| r["Output"].as_str())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn checks_start_again_after_a_policy_restart_and_a_hulld_restart() {
    require_root!();
    let (_reg, _l, mut h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    // Exits once (3), then sleeps in its second run.
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "again",
        "--restart",
        "on-failure",
        "--health-cmd",
        COUNTING,
        "--health-interval",
        "200ms",
        &image,
        "sh",
        "-c",
        "if [ -e /once ]; then exec sleep 300; fi; touch /once; exit 3",
    ]);
    wait_until("a restart", WAIT, || {
        inspect(&h, "again")["RestartCount"] == 1
    });
    wait_status(&h, "again", "healthy");

    h.kill();
    h.spawn();
    // Only the monitor of the restarted hulld records from now on.
    let after_restart = runs(&h, "again");
    wait_until("checks after the hulld restart", WAIT, || {
        runs(&h, "again") > after_restart
    });
    wait_status(&h, "again", "healthy");
    // Stopped: the monitor ends (Docker then reports unhealthy).
    h.hull_ok(&["stop", "-t", "1", "again"]);
    let stopped = runs(&h, "again");
    assert_eq!(health(&h, "again")["Status"], "unhealthy");
    h.hull_ok(&["start", "again"]);
    wait_until("checks after start", WAIT, || runs(&h, "again") > stopped);
    wait_status(&h, "again", "healthy");
}
