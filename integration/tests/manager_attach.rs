//! Attaching through hulld: `hull attach` to a detached container (on a
//! real pty) and `hull start -a` returning the container's exit code.

mod manager_support;

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use manager_support::pty::{setup, PtyHull, WAIT};
use manager_support::*;

#[test]
fn attach_follows_a_detached_container() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);

    let id = h
        .hull_ok(&[
            "run",
            "-d",
            &image,
            "sh",
            "-c",
            "i=0; while [ ! -e /stop ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done; echo bye; exit 5",
        ])
        .trim()
        .to_string();
    let mut a = h.hull_cmd(&["attach", &id]);
    a.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = a.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let s2 = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            s2.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // New output arrives through the attach.
    wait_until("ticks through attach", WAIT, || {
        seen.lock().unwrap().matches("tick-").count() >= 3
    });
    // Only new output: not from the start of the log.
    let first = seen.lock().unwrap().clone();
    let logs = h.hull_ok(&["logs", &id]);
    assert!(logs.starts_with("tick-0\n"), "{logs}");
    assert!(
        !first.starts_with("tick-0\n"),
        "attach replayed the log: {first}"
    );
    h.hull_ok(&["exec", &id, "touch", "/stop"]);
    let deadline = Instant::now() + WAIT;
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("attach did not end: {}", seen.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    reader.join().unwrap();
    assert_eq!(
        st.code(),
        Some(5),
        "attach output: {}",
        seen.lock().unwrap()
    );
    assert!(
        seen.lock().unwrap().ends_with("bye\n"),
        "{}",
        seen.lock().unwrap()
    );

    // A stopped container cannot be attached.
    let o = h.hull(&["attach", &id]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o).trim(),
        "You cannot attach to a stopped container, start it first"
    );
    let o = h.hull(&["attach", "no-such-container"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("No such container: no-such-container"),
        "{}",
        stderr(&o)
    );

    // `run -dit` then attach with a pty: stdin goes in, the detach keys
    // leave it running, a second attach still has its stdin.
    let id = h.hull_ok(&["run", "-dit", &image, "sh"]).trim().to_string();
    let mut p = PtyHull::spawn(&h, &["attach", &id], 30, 100);
    p.type_("echo one-$((0+1))\n");
    let at = p.expect(0, "one-1", WAIT);
    p.type_("stty size\n");
    p.expect(at, "30 100", WAIT);
    p.type_("\x10\x11");
    assert_eq!(p.wait(WAIT), 0, "output: {:?}", p.output());
    p.assert_cooked();
    let st = h.hull_ok(&["inspect", "--format", "{{.State.Status}}", &id]);
    assert_eq!(st.trim(), "running");
    let mut p = PtyHull::spawn(&h, &["attach", &id], 30, 100);
    p.type_("echo two-$((1+1))\n");
    p.expect(0, "two-2", WAIT);
    p.type_("exit 6\n");
    assert_eq!(p.wait(WAIT), 6, "output: {:?}", p.output());
    h.hull_ok(&["rm", &id]);
}

#[test]
fn start_a_returns_the_exit_code() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);

    let id = h
        .hull_ok(&[
            "create",
            &image,
            "sh",
            "-c",
            "echo started; echo oops >&2; exit 4",
        ])
        .trim()
        .to_string();
    let o = h.hull(&["start", "-a", &id]);
    assert_eq!(code(&o), 4, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "started\n");
    assert_eq!(stderr(&o), "oops\n");
    // Again: only this run's output.
    let o = h.hull(&["start", "-a", &id]);
    assert_eq!(code(&o), 4, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "started\n");

    // -a -i with a container created with -i: our stdin.
    let id = h
        .hull_ok(&["create", "-i", &image, "sh", "-c", "read x; echo got-$x"])
        .trim()
        .to_string();
    let o = h.hull_stdin(&["start", "-a", "-i", &id], "abc\n");
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "got-abc\n");
    // `-i` alone attaches too; a new run gets a new stdin.
    let o = h.hull_stdin(&["start", "-i", &id], "xyz\n");
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "got-xyz\n");

    let o = h.hull(&["start", "-a", "no-such-container"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("No such container"), "{}", stderr(&o));
}
