//! Streaming `hull stats` and `hull events --filter`.

mod manager_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use manager_support::cli::{assert_one_line_error, setup};
use manager_support::*;

#[test]
fn stats_streams_until_interrupted() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let id = h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        &image,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let mut ch = h
        .hull_cmd(&["stats", "busy"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // Three screens: the header and the container's line each time, and
    // the busy loop's CPU seen after the first interval.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut screens = 0;
    let mut cpu_seen = 0.0f64;
    while screens < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let l = rx.recv_timeout(left).expect("stats output");
        if l.starts_with("CONTAINER ID") {
            screens += 1;
            continue;
        }
        assert!(l.starts_with(&id.trim()[..12]), "{l}");
        assert!(l.contains("busy"), "{l}");
        let cpu: f64 = l
            .split_whitespace()
            .nth(2)
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap();
        cpu_seen = cpu_seen.max(cpu);
    }
    assert!(cpu_seen > 5.0, "a busy loop shows CPU: {cpu_seen}");
    // Still running: Ctrl-C ends it cleanly.
    assert!(ch.try_wait().unwrap().is_none());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ch.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let st = loop {
        if let Some(st) = ch.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "stats did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(st.success(), "{st}");
    let o = h.hull(&["stats", "nope"]);
    assert_one_line_error(&o, "No such container: nope");
    h.hull_ok(&["rm", "-f", "busy"]);
}

#[test]
fn events_filter_by_type_event_and_container() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let want = h
        .hull_ok(&["create", "--name", "watched", &image, "true"])
        .trim()
        .to_string();
    h.hull_ok(&["create", "--name", "other", &image, "true"]);
    let mut ev = h
        .hull_cmd(&[
            "events",
            "--filter",
            "type=container",
            "--filter",
            "event=die",
            "--filter",
            "container=watched",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ev.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // The subscription is live once a first event arrives: run both until
    // then; every line must be the die of `watched`.
    let mut got = Vec::new();
    for _ in 0..40 {
        for c in ["other", "watched"] {
            h.hull_ok(&["start", c]);
            h.hull_ok(&["wait", c]);
        }
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
            got.push(l);
            break;
        }
    }
    // One more round: exactly one more line (other's die filtered out).
    for c in ["other", "watched"] {
        h.hull_ok(&["start", c]);
        h.hull_ok(&["wait", c]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 2 && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            got.push(l);
        }
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(got.len() >= 2, "{got:?}");
    for l in &got {
        assert!(l.contains(" /containers/die "), "{l}");
        assert!(l.contains(&want), "{l}");
    }
    let o = h.hull(&["events", "--filter", "colour=red"]);
    assert_one_line_error(&o, "invalid filter 'colour'");
}
