//! `hullc events` without --stats streams stats and reports OOM kills;
//! `checkpoint`/`restore` say clearly that they are not supported.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{describe, require_root, Runtime};
use serde_json::json;

/// Kills the `events` reader even when the test fails.
struct Reader(std::process::Child);

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn events_stream_reports_stats_and_an_oom_kill() {
    require_root();
    // The hog starts only after a marker file appears, so the reader is
    // attached before the OOM happens.
    let mut b = Bundle::sh(
        "oomevents",
        "while [ ! -e /go ]; do sleep 0.05; done; head -c 268435456 /dev/zero | sort > /dev/null; sleep 1000",
    );
    b.resources_mut()["memory"] = json!({"limit": 16 * 1024 * 1024});
    // No swap to escape to, where swap accounting exists.
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        b.resources_mut()["memory"]["swap"] = json!(16 * 1024 * 1024);
    }
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    rt.start_ok(id);

    let mut cmd = rt.command();
    cmd.args(["events", "--interval", "200ms", id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut reader = Reader(cmd.spawn().expect("spawn hullc events"));
    let stdout = reader.0.stdout.take().expect("events stdout");
    let (tx, rx) = mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });

    // A stats event first (the stream is live) …
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no event from hullc events");
    assert_eq!(first["type"], "stats", "{first}");
    assert_eq!(first["id"], id, "{first}");
    // … then release the hog and wait for the OOM event.
    std::fs::write(b.rootfs().join("go"), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let oom = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if v["type"] == "oom" => break v,
            Ok(v) => seen.push(v["type"].to_string()),
            Err(_) => panic!("no oom event within 60s; saw {seen:?}"),
        }
    };
    assert_eq!(oom["id"], id, "{oom}");
    let o = rt.kill(id, "KILL");
    assert!(o.status.success(), "kill: {}", describe(&o));
}

#[test]
fn checkpoint_and_restore_are_clearly_unsupported() {
    require_root();
    let rt = Runtime::new();
    // As runc without CRIU: a missing container is named first (checkpoint),
    // restore fails on the CRIU check; one line each.
    for (cmd, want) in [
        ("checkpoint", "does not exist"),
        ("restore", "not supported"),
    ] {
        let o = rt.run(&[cmd, "some-container"]);
        assert!(!o.status.success(), "{cmd} must fail: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{cmd}: {err:?}");
        assert!(err.contains(want), "{cmd}: {err:?}");
    }
}
