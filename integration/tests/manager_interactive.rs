//! Interactive containers through hulld: `hull run -it` driven through a
//! real pty (raw mode, resize, Ctrl-C, Ctrl-D, exit codes), `run -i` with
//! piped stdin, `exec -it`/`-i`, and the Docker error for `-it` without a
//! terminal.

mod manager_support;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use manager_support::pty::{setup, PtyHull, WAIT};
use manager_support::*;

#[test]
fn run_it_gives_an_interactive_shell() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);

    let mut p = PtyHull::spawn(
        &h,
        &["run", "-it", "--rm", "--name", "ish", &image, "sh"],
        24,
        80,
    );
    // The prompt shows without a newline after it.
    let at = p.expect(0, "# ", WAIT);
    let t0 = Instant::now();
    p.type_("echo hi-$((40+2))\n");
    let at = p.expect(at, "hi-42", WAIT);
    eprintln!("keystrokes to output through hulld: {:?}", t0.elapsed());
    // The size at start, then a resize.
    p.type_("stty size\n");
    let at = p.expect(at, "24 80", WAIT);
    p.resize(50, 132);
    // SIGWINCH → hull → hulld → shim: asynchronous; ask until it shows.
    let deadline = Instant::now() + WAIT;
    let _ = at;
    let at = loop {
        let from = p.len();
        p.type_("stty size\n");
        std::thread::sleep(Duration::from_millis(200));
        if p.output()[from..].contains("50 132") {
            break p.len();
        }
        assert!(
            Instant::now() < deadline,
            "resize not seen: {:?}",
            p.output()
        );
    };
    // Ctrl-C reaches the container's pty (kills the foreground sleep), not
    // hull; the shell goes on.
    p.type_("sleep 100\n");
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    p.type_("\x03");
    p.type_("echo after-$((1+1))\n");
    // Without Ctrl-C reaching `sleep 100`, this would time out.
    p.expect(at, "after-2", WAIT);
    assert!(t0.elapsed() < WAIT, "Ctrl-C did not stop sleep");
    assert!(p.child.try_wait().unwrap().is_none(), "hull died of Ctrl-C");
    p.type_("exit 3\n");
    assert_eq!(p.wait(WAIT), 3, "output: {:?}", p.output());
    p.assert_cooked();
    // --rm removed it.
    let ps = h.hull_ok(&["ps", "-a"]);
    assert!(!ps.contains("ish"), "left: {ps}");

    // Ctrl-D ends the shell: exit 0.
    let mut p = PtyHull::spawn(&h, &["run", "-it", "--rm", &image, "sh"], 24, 80);
    let at = p.expect(0, "# ", WAIT);
    p.type_("echo ready-$((2*3))\n");
    p.expect(at, "ready-6", WAIT);
    p.type_("\x04");
    assert_eq!(p.wait(WAIT), 0, "output: {:?}", p.output());
    p.assert_cooked();

    // Detached (Ctrl-P Ctrl-Q) with --rm: it runs on, and hulld removes it
    // when it exits.
    let mut p = PtyHull::spawn(
        &h,
        &["run", "-it", "--rm", "--name", "det", &image, "sh"],
        24,
        80,
    );
    let at = p.expect(0, "# ", WAIT);
    p.type_("echo up-$((3+4))\n");
    p.expect(at, "up-7", WAIT);
    p.type_("\x10\x11");
    assert_eq!(p.wait(WAIT), 0, "output: {:?}", p.output());
    p.assert_cooked();
    let st = h.hull_ok(&["inspect", "--format", "{{.State.Status}}", "det"]);
    assert_eq!(st.trim(), "running");
    h.hull_ok(&["kill", "det"]);
    wait_until("det removed", WAIT, || {
        !h.hull_ok(&["ps", "-a"]).contains("det")
    });

    // A command that is not there: Docker's 127, terminal restored.
    let mut p = PtyHull::spawn(&h, &["run", "-it", "--rm", &image, "no-such-cmd"], 24, 80);
    assert_eq!(p.wait(WAIT), 127, "output: {:?}", p.output());
    p.assert_cooked();
    let ps = h.hull_ok(&["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "left: {ps}");
}

#[test]
fn run_i_forwards_stdin_and_its_eof() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);

    let o = h.hull_stdin(&["run", "-i", "--rm", &image, "cat"], "hello");
    assert_eq!(
        code(&o),
        0,
        "stderr: {}\n{}",
        stderr(&o),
        tail(&h.log(), 30)
    );
    assert_eq!(stdout(&o), "hello");

    // A lot of it, in order, and EOF only after the last byte.
    let big: String = (0..20_000).map(|i| format!("{i:09}\n")).collect();
    let o = h.hull_stdin(
        &[
            "run",
            "-i",
            "--rm",
            &image,
            "sh",
            "-c",
            "wc -c; echo done >&2; exit 4",
        ],
        &big,
    );
    assert_eq!(code(&o), 4, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "200000");
    assert_eq!(stderr(&o), "done\n");

    // Bytes that are not text come back exactly.
    let bin: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut c = h.hull_cmd(&["run", "-i", "--rm", &image, "cat"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let b2 = bin.clone();
    let writer = std::thread::spawn(move || input.write_all(&b2));
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(o.stdout.len(), bin.len());
    assert!(o.stdout == bin, "binary data changed on the way");

    // Without -i the container's stdin is empty (not ours).
    let o = h.hull_stdin(
        &["run", "--rm", &image, "sh", "-c", "cat; echo end"],
        "ignored",
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "end\n");

    // A command that is not there: 127; one that cannot be run: 126.
    let o = h.hull_stdin(&["run", "-i", "--rm", &image, "no-such-cmd"], "x");
    assert_eq!(code(&o), 127, "stderr: {}", stderr(&o));
    let o = h.hull_stdin(&["run", "-i", "--rm", &image, "/etc/group"], "x");
    assert_eq!(code(&o), 126, "stderr: {}", stderr(&o));

    // Signals to hull go to the container (sig-proxy, no tty).
    let mut c = h.hull_cmd(&[
        "run",
        "-i",
        "--rm",
        &image,
        "sh",
        "-c",
        "trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.1; done",
    ]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let _keep_stdin_open = child.stdin.take();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "hull ended before the container was ready");
        seen.extend_from_slice(&buf[..n]);
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    out.read_to_end(&mut seen).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(
        st.code(),
        Some(9),
        "output: {}",
        String::from_utf8_lossy(&seen)
    );
    assert_eq!(String::from_utf8_lossy(&seen), "ready\ngot-int\n");
    let ps = h.hull_ok(&["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "left: {ps}");
}

#[test]
fn exec_it_and_exec_i() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);

    let id = h
        .hull_ok(&["run", "-d", &image, "sleep", "1000"])
        .trim()
        .to_string();
    let mut p = PtyHull::spawn(&h, &["exec", "-it", &id, "sh"], 40, 90);
    let at = p.expect(0, "# ", WAIT);
    p.type_("echo in-exec-$((1+2))\n");
    let at = p.expect(at, "in-exec-3", WAIT);
    p.type_("stty size\n");
    p.expect(at, "40 90", WAIT);
    p.type_("exit 5\n");
    assert_eq!(p.wait(WAIT), 5, "output: {:?}", p.output());
    p.assert_cooked();

    let o = h.hull_stdin(
        &["exec", "-i", &id, "sh", "-c", "cat; echo err >&2"],
        "piped",
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "piped");
    assert_eq!(stderr(&o), "err\n");

    let o = h.hull_stdin(&["exec", "-i", &id, "no-such-cmd"], "");
    assert_eq!(code(&o), 127, "stderr: {}", stderr(&o));
    // The exec's files and fifo are gone.
    let bundle = h.state.join("containers/default").join(&id);
    let left: Vec<String> = std::fs::read_dir(&bundle)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("exec-"))
        .collect();
    assert!(left.is_empty(), "exec leftovers: {left:?}");
    h.hull_ok(&["rm", "-f", &id]);
}

#[test]
fn tty_without_a_terminal_is_refused() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);

    for args in [
        vec!["run", "-it", image.as_str(), "sh"],
        vec!["run", "-it", "--rm", image.as_str(), "sh"],
    ] {
        let o = h.hull(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim(), "the input device is not a TTY");
    }
    // Nothing was created.
    let ps = h.hull_ok(&["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "created: {ps}");

    // -t alone works without a terminal (as Docker): one stream, CRLF.
    let o = h.hull(&[
        "run",
        "-t",
        "--rm",
        &image,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 2",
    ]);
    assert_eq!(code(&o), 2, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "out\r\nerr\r\n");
    assert_eq!(stderr(&o), "");

    let id = h
        .hull_ok(&["run", "-d", &image, "sleep", "1000"])
        .trim()
        .to_string();
    let o = h.hull(&["exec", "-it", &id, "sh"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stderr(&o).trim(), "the input device is not a TTY");
    h.hull_ok(&["rm", "-f", &id]);
}
