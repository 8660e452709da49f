//! Containers' shim events: published over ttrpc by the shim and relayed to
//! hulld's event stream.

mod manager_support;

use std::path::PathBuf;
use std::time::Duration;

use manager_support::containers::{setup, setup_image};
use manager_support::*;

#[test]
fn shim_events_reach_the_event_stream() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let mut ev = h
        .hull_cmd(&["events", "--filter", "topic~=/tasks/"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = ev.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The subscription is live once a first event arrives: run until then,
    // then look for the exit event of a run that started after it.
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut found = false;
    while !found {
        assert!(
            std::time::Instant::now() < deadline,
            "no /tasks/exit with status 4; events: {seen:#?}"
        );
        let o = h.hull(&["run", "--rm", &image, "sh", "-c", "exit 4"]);
        assert_eq!(code(&o), 4, "{}", stderr(&o));
        let until = std::time::Instant::now() + Duration::from_secs(3);
        while let Ok(line) =
            rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
        {
            if line.contains(" /tasks/exit ") && line.contains("\"exit_status\":4") {
                found = true;
                break;
            }
            seen.push(line);
        }
    }
    let _ = ev.kill();
    let _ = ev.wait();
}

/// Shims that hulld starts forward their events over ttrpc to hulld's
/// Events service on `<socket>.ttrpc`: `hull events` sees a run's exit and
/// delete, and the publish binary never runs. hulld runs from a directory
/// of its own whose `hull` records and fails every `publish` (and passes
/// anything else to the real one), so an event that went through the
/// binary would be missing and recorded.
#[test]
fn shim_events_go_over_ttrpc() {
    require_root!();
    let (_reg, _l, image) = setup_image();
    let bins = bin_dir_with(&[
        "hulld",
        "containerd-shim-hull-v2",
        "hullc",
        "hull-log-driver",
    ]);
    let calls = bins.path().join("publish-calls");
    let wrapper = bins.path().join("hull");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = publish ]; then echo \"$*\" >> '{}'; exit 1; fi\ndone\nexec '{}' \"$@\"\n",
            calls.display(),
            hull_integration::bin_path("hull").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut h = Hulld::start_in("", Some(bins.path().to_path_buf()));
    let ttrpc_sock = PathBuf::from(format!("{}.ttrpc", h.sock.display()));
    let meta = std::fs::metadata(&ttrpc_sock).expect("hulld serves <socket>.ttrpc");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);

    let mut ev = h
        .hull_cmd(&["events", "--filter", "topic~=/tasks/"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = ev.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    // Wait until `hull events` is subscribed: a probe published through
    // the real hull (an `Any` of type "p") comes back.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    'probe: loop {
        assert!(
            std::time::Instant::now() < deadline,
            "events never subscribed"
        );
        let o = h.hull_stdin(
            &[
                "publish",
                "--topic",
                "/tasks/probe",
                "--namespace",
                "default",
            ],
            "\u{a}\u{1}p",
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("/tasks/probe") {
                break 'probe;
            }
        }
    }
    let o = h.hull(&[
        "run", "--rm", "--name", "ttrpc1", &image, "sh", "-c", "exit 4",
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let mut want = vec![
        "/tasks/create",
        "/tasks/start",
        "/tasks/exit",
        "/tasks/delete",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !want.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "no {want:?}; events: {seen:#?}\n--- hulld log ---\n{}",
                tail(&h.log(), 40)
            )
        });
        if let Some(i) = want.iter().position(|t| line.contains(&format!(" {t} "))) {
            if want[i] == "/tasks/exit" {
                assert!(line.contains("\"exit_status\":4"), "{line}");
            }
            want.remove(i);
        }
        seen.push(line);
    }
    assert!(
        !calls.exists(),
        "the publish binary ran: {}",
        std::fs::read_to_string(&calls).unwrap_or_default()
    );
    let _ = ev.kill();
    let _ = ev.wait();
    drop(cleanup);
    // The socket goes with hulld.
    h.stop();
    assert!(!ttrpc_sock.exists(), "{} left behind", ttrpc_sock.display());
}
