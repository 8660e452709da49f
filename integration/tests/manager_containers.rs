//! Containers through hulld: `hull run/ps/logs/stop/kill/rm/wait` with a
//! real hulld, containerd-shim-hull-v2 and hullc, on a busybox image pulled
//! from a loopback registry.

mod manager_support;

use std::path::PathBuf;
use std::time::Duration;

use hull_integration::cleanup;
use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// A registry with a busybox image (Cmd /bin/sh) and a hulld; the image's
/// reference.
fn setup() -> (Registry, Layout, Hulld, String) {
    let (reg, l, image) = setup_image();
    let h = Hulld::start();
    (reg, l, h, image)
}

/// A registry with a busybox image (Cmd /bin/sh); the image's reference.
fn setup_image() -> (Registry, Layout, String) {
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("ctr/busybox:v1");
    l.push("bb", &image, &[]);
    (reg, l, image)
}

/// Nothing of container `id` is left: shim process, mounts under the
/// daemon's dirs, cgroup dirs, bundle.
fn assert_no_leftovers(h: &Hulld, id: &str, shim_pid: Option<i32>) {
    if let Some(pid) = shim_pid {
        wait_until("the shim to exit", Duration::from_secs(10), || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| s.contains(") Z"))
                    .unwrap_or(true)
        });
    }
    let mounts = cleanup::mounts_under(h.dir.path());
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    let cg = cleanup::cgroup_dirs(&format!("/hull/{id}"));
    assert!(cg.is_empty(), "cgroup dirs left: {cg:?}");
    let bundle = h.state.join("containers/default").join(id);
    assert!(!bundle.exists(), "bundle left: {}", bundle.display());
}

#[test]
fn run_prints_output_and_exits_with_the_containers_code() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);

    // The image is not there yet: run pulls it.
    let o = h.hull(&["run", "--rm", &image, "echo", "hi"]);
    assert_eq!(
        code(&o),
        0,
        "stderr: {}\n{}",
        stderr(&o),
        tail(&h.log(), 30)
    );
    assert_eq!(stdout(&o), "hi\n");
    assert!(
        stderr(&o).contains("Unable to find image"),
        "stderr: {}",
        stderr(&o)
    );

    // stdout and stderr stay apart; the exit code is the container's.
    let o = h.hull(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(code(&o), 3, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");

    // Environment and working directory from the flags.
    let o = h.hull(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hello",
        "-w",
        "/etc",
        &image,
        "sh",
        "-c",
        "echo $GREETING; pwd",
    ]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "hello\n/etc\n");

    // A command that does not exist: 127, like Docker.
    let o = h.hull(&["run", "--rm", &image, "/no/such/binary"]);
    assert_eq!(code(&o), 127, "stderr: {}", stderr(&o));

    // --rm left nothing.
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
    assert!(cleanup::mounts_under(h.dir.path()).is_empty());
    let left: Vec<_> = std::fs::read_dir(h.state.join("containers/default"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "bundles left: {left:?}");
}

#[test]
fn detached_container_lifecycle() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);

    let id = h
        .hull_ok(&[
            "run",
            "-d",
            "--name",
            "sleeper",
            &image,
            "sh",
            "-c",
            "echo started; exec sleep 300",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "run -d prints the full ID: {id:?}");
    let bundle: PathBuf = h.state.join("containers/default").join(&id);
    let shim_pid: i32 = std::fs::read_to_string(bundle.join("shim.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let ps = h.hull_ok(&["ps"]);
    let line = ps
        .lines()
        .find(|l| l.contains("sleeper"))
        .unwrap_or_else(|| panic!("sleeper not in ps:\n{ps}"));
    assert!(line.starts_with(&id[..12]), "{line}");
    assert!(line.contains("Up "), "{line}");
    assert_eq!(h.hull_ok(&["ps", "-q"]).trim(), &id[..12]);

    wait_until("the container's output", Duration::from_secs(10), || {
        h.hull_ok(&["logs", "sleeper"]) == "started\n"
    });

    // rm of a running container without -f fails and changes nothing.
    let o = h.hull(&["rm", "sleeper"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("container is running"),
        "{}",
        stderr(&o)
    );
    assert!(h.hull_ok(&["ps", "-q"]).contains(&id[..12]));

    // A name conflict is refused.
    let o = h.hull(&["run", "-d", "--name", "sleeper", &image, "true"]);
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));

    // stop: sh as PID 1 ignores SIGTERM, so SIGKILL after 1 s (137).
    assert_eq!(h.hull_ok(&["stop", "-t", "1", "sleeper"]).trim(), "sleeper");
    assert_eq!(h.hull_ok(&["ps", "-q"]), "");
    let all = h.hull_ok(&["ps", "-a"]);
    let line = all
        .lines()
        .find(|l| l.contains("sleeper"))
        .unwrap_or_else(|| panic!("sleeper not in ps -a:\n{all}"));
    assert!(line.contains("Exited (137)"), "{line}");
    assert_eq!(h.hull_ok(&["wait", "sleeper"]).trim(), "137");
    // Its shim is gone once the task exited; logs remain.
    wait_until("the shim to exit", Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{shim_pid}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(true)
    });
    assert_eq!(h.hull_ok(&["logs", &id[..8]]), "started\n");

    // start again, kill with a signal, wait for the code.
    h.hull_ok(&["start", "sleeper"]);
    assert!(
        h.hull_ok(&["ps", "-q"]).contains(&id[..12]),
        "not running after start:\n{}\n{}",
        h.hull_ok(&["ps", "-a"]),
        tail(&h.log(), 30)
    );
    // (sleep is PID 1 of its namespace: only SIGKILL reaches it from outside.)
    h.hull_ok(&["kill", "-s", "SIGKILL", "sleeper"]);
    assert_eq!(h.hull_ok(&["wait", "sleeper"]).trim(), "137");

    assert_eq!(h.hull_ok(&["rm", "sleeper"]).trim(), "sleeper");
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
    assert_no_leftovers(&h, &id, Some(shim_pid));

    // rm -f kills a running one; a detached --rm container removes itself.
    let id2 = h
        .hull_ok(&["run", "-d", &image, "sleep", "300"])
        .trim()
        .to_string();
    h.hull_ok(&["rm", "-f", &id2]);
    assert_no_leftovers(&h, &id2, None);
    let id3 = h
        .hull_ok(&["run", "-d", "--rm", &image, "sh", "-c", "exit 0"])
        .trim()
        .to_string();
    wait_until("the --rm container to go", Duration::from_secs(20), || {
        h.hull_ok(&["ps", "-a", "-q"]).is_empty()
    });
    assert_no_leftovers(&h, &id3, None);

    // Commands on unknown containers: one error line, exit 1.
    let o = h.hull(&["stop", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("No such container"), "{}", stderr(&o));
}

#[test]
fn containers_survive_a_hulld_restart() {
    require_root!();
    let (_reg, _l, mut h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let runner = h
        .hull_ok(&["run", "-d", "--name", "runner", &image, "sleep", "300"])
        .trim()
        .to_string();
    // Exits with 7 once /tmp/go exists: made while hulld is down.
    let quitter = h
        .hull_ok(&[
            "run",
            "-d",
            "--name",
            "quitter",
            &image,
            "sh",
            "-c",
            "while [ ! -e /tmp/go ]; do sleep 1; done; exit 7",
        ])
        .trim()
        .to_string();
    let qbundle = h.state.join("containers/default").join(&quitter);
    let qpid: i32 = std::fs::read_to_string(qbundle.join("init.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    h.kill();
    std::fs::write(qbundle.join("rootfs/tmp/go"), "").unwrap();
    wait_until("the quitter to exit", Duration::from_secs(20), || {
        std::fs::read_to_string(format!("/proc/{qpid}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(true)
    });
    h.spawn();

    let ps = h.hull_ok(&["ps"]);
    assert!(
        ps.contains("runner"),
        "runner not running after restart:\n{ps}"
    );
    assert!(!ps.contains("quitter"), "quitter still running:\n{ps}");
    assert_eq!(h.hull_ok(&["wait", "quitter"]).trim(), "7");
    let all = h.hull_ok(&["ps", "-a"]);
    assert!(
        all.lines()
            .any(|l| l.contains("quitter") && l.contains("Exited (7)")),
        "{all}"
    );
    h.hull_ok(&["stop", "-t", "1", "runner"]);
    assert_eq!(h.hull_ok(&["wait", "runner"]).trim(), "137");
    h.hull_ok(&["rm", "runner", "quitter"]);
    assert_no_leftovers(&h, &runner, None);
    assert_no_leftovers(&h, &quitter, None);
}

#[test]
fn exec_top_pause_and_unpause() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let id = h
        .hull_ok(&["run", "-d", "--name", "box", &image, "sleep", "300"])
        .trim()
        .to_string();

    assert_eq!(h.hull_ok(&["exec", "box", "echo", "hi"]), "hi\n");
    let o = h.hull(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(code(&o), 5, "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");
    assert_eq!(
        h.hull_ok(&[
            "exec",
            "-e",
            "A=b",
            "-w",
            "/etc",
            "-u",
            "65534",
            "box",
            "sh",
            "-c",
            "echo $A; pwd; id -u"
        ]),
        "b\n/etc\n65534\n"
    );
    let o = h.hull(&["exec", "box", "/no/such/binary"]);
    assert_eq!(code(&o), 127, "stderr: {}", stderr(&o));

    // top lists the container's processes: sleep (PID 1 inside).
    let top = h.hull_ok(&["top", "box"]);
    let head: Vec<&str> = top
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        head,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{top}"
    );
    assert_eq!(top.lines().count(), 2, "{top}");
    let row: Vec<&str> = top.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[0], "root", "{top}");
    assert!(
        row[1].parse::<u32>().is_ok_and(|p| p > 1),
        "host pid: {top}"
    );
    assert!(top.lines().nth(1).unwrap().ends_with("sleep 300"), "{top}");

    // pause freezes it: ps says so, exec is refused; unpause thaws it.
    h.hull_ok(&["pause", "box"]);
    let ps = h.hull_ok(&["ps"]);
    assert!(ps.contains("(Paused)"), "{ps}");
    let o = h.hull(&["exec", "box", "true"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("paused"), "{}", stderr(&o));
    h.hull_ok(&["unpause", "box"]);
    assert_eq!(h.hull_ok(&["exec", "box", "echo", "back"]), "back\n");
    // A paused container can be removed with -f.
    h.hull_ok(&["pause", "box"]);
    h.hull_ok(&["rm", "-f", "box"]);
    assert_no_leftovers(&h, &id, None);

    // exec into a stopped container: one error line, exit 1.
    h.hull_ok(&["run", "-d", "--name", "done", &image, "true"]);
    assert_eq!(h.hull_ok(&["wait", "done"]).trim(), "0");
    let o = h.hull(&["exec", "done", "echo", "x"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
    h.hull_ok(&["rm", "done"]);
}

#[test]
fn resource_flags_inspect_rename_restart_prune() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let id = h
        .hull_ok(&[
            "run",
            "-d",
            "--name",
            "lim",
            "-m",
            "64m",
            "--pids-limit",
            "50",
            "--cpus",
            "0.5",
            "--stop-timeout",
            "1",
            "-l",
            "a=b",
            &image,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let cg = |ctrl: &str, file: &str| {
        std::fs::read_to_string(cleanup::cgroup_dir(ctrl, &format!("/hull/{id}")).join(file))
            .unwrap_or_else(|e| panic!("{ctrl}/{file}: {e}"))
            .trim()
            .to_string()
    };
    assert_eq!(cg("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(cg("pids", "pids.max"), "50");
    assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000");

    // stats: the cgroup's numbers through the shim.
    let st = h.hull_ok(&["stats", "--no-stream", "lim"]);
    let line = st
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no stats row:\n{st}"));
    assert!(
        line.starts_with(&id[..12]) && line.contains(" lim "),
        "{line}"
    );
    assert!(line.contains("/ 64.00MiB"), "{line}");
    assert!(line.trim_end().ends_with(" 1"), "one process: {line}");

    let f = h.hull_ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.Name}} {{.HostConfig.Memory}} {{.Config.Labels.a}}",
        "lim",
    ]);
    assert_eq!(f.trim(), "running /lim 67108864 b");
    let doc: serde_json::Value = serde_json::from_str(&h.hull_ok(&["inspect", "lim"])).unwrap();
    assert_eq!(doc[0]["Id"], id.as_str());
    assert_eq!(doc[0]["Path"], "sleep");
    let pid1 = doc[0]["State"]["Pid"].as_u64().unwrap();
    assert!(pid1 > 0);

    h.hull_ok(&["rename", "lim", "lim2"]);
    assert!(h.hull_ok(&["ps"]).contains("lim2"));
    let o = h.hull(&["inspect", "lim"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("No such object"), "{}", stderr(&o));

    h.hull_ok(&["restart", "lim2"]);
    let pid2: u64 = h
        .hull_ok(&["inspect", "--format", "{{.State.Pid}}", "lim2"])
        .trim()
        .parse()
        .unwrap();
    assert!(pid2 > 0 && pid2 != pid1, "{pid1} {pid2}");

    // --stop-timeout 1: SIGTERM is ignored by PID 1, SIGKILL a second later.
    let t = std::time::Instant::now();
    h.hull_ok(&["stop", "lim2"]);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(
        h.hull_ok(&["inspect", "--format", "{{.State.ExitCode}}", "lim2"])
            .trim(),
        "137"
    );
    let pruned = h.hull_ok(&["container", "prune", "-f"]);
    assert!(pruned.contains(&id), "{pruned}");
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
    assert_no_leftovers(&h, &id, None);

    // Bad input: a one-line error, exit 125, nothing created.
    let o = h.hull(&["run", "--rm", "-m", "lots", &image, "true"]);
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).contains("invalid size"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    let o = h.hull(&["run", "--rm", "127.0.0.1:1/no/such:image", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
}

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

#[test]
fn twenty_containers_survive_a_hulld_sigkill() {
    require_root!();
    let (_reg, _l, mut h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let names: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    for n in &names {
        h.hull_ok(&["run", "-d", "--name", n, &image, "sleep", "300"]);
    }
    assert_eq!(h.hull_ok(&["ps", "-q"]).lines().count(), 20);
    h.kill();
    h.spawn();
    let ps = h.hull_ok(&["ps"]);
    assert_eq!(ps.lines().count(), 21, "{ps}");
    for n in &names {
        let st = h.hull_ok(&["inspect", "--format", "{{.State.Status}}", n]);
        assert_eq!(st.trim(), "running", "{n}");
        assert_eq!(h.hull_ok(&["exec", n, "echo", n]).trim(), n.as_str());
    }
    let mut args = vec!["stop", "-t", "0"];
    args.extend(names.iter().map(String::as_str));
    h.hull_ok(&args);
    assert_eq!(h.hull_ok(&["ps", "-q"]), "");
    let mut args = vec!["rm"];
    args.extend(names.iter().map(String::as_str));
    h.hull_ok(&args);
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
    assert!(cleanup::mounts_under(h.dir.path()).is_empty());
}

#[test]
fn json_file_logs_tail_since_timestamps_and_rotation() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let id = h
        .hull_ok(&[
            "run",
            "-d",
            "--name",
            "logger",
            "--log-opt",
            "max-size=2k",
            "--log-opt",
            "max-file=3",
            &image,
            "sh",
            "-c",
            "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done",
        ])
        .trim()
        .to_string();
    assert_eq!(h.hull_ok(&["wait", "logger"]).trim(), "0");

    // Docker's json-file lines, rotated into at most three files of 2 KiB.
    let bundle = h.state.join("containers/default").join(&id);
    for f in ["container.log", "container.log.1", "container.log.2"] {
        let text = std::fs::read_to_string(bundle.join(f)).unwrap();
        assert!(text.len() <= 2048, "{f}: {} bytes", text.len());
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["log"].is_string() && v["time"].is_string(), "{line}");
            assert!(v["stream"] == "stdout" || v["stream"] == "stderr", "{line}");
        }
    }
    assert!(!bundle.join("container.log.3").exists());

    // What is kept is the newest part, in order.
    let o = h.hull(&["logs", "logger"]);
    assert_eq!(code(&o), 0);
    let nums: Vec<u32> = stdout(&o)
        .lines()
        .map(|l| l.strip_prefix("line-").unwrap().parse().unwrap())
        .collect();
    assert_eq!(*nums.last().unwrap(), 199);
    assert!(nums.len() < 200, "nothing rotated away");
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
    assert_eq!(
        h.hull_ok(&["logs", "--tail", "2", "logger"]),
        "line-198\nline-199\n"
    );

    // stderr stays stderr; -t, --since.
    h.hull_ok(&[
        "run",
        "--name",
        "errs",
        &image,
        "sh",
        "-c",
        "echo a >&2; echo b >&2",
    ]);
    let o = h.hull(&["logs", "errs"]);
    assert_eq!(
        (stdout(&o), stderr(&o)),
        (String::new(), "a\nb\n".to_string())
    );
    let o = h.hull(&["logs", "-t", "--tail", "1", "errs"]);
    let line = stderr(&o);
    assert!(
        line.starts_with("20") && line.ends_with("Z b\n"),
        "{line:?}"
    );
    let o = h.hull(&["logs", "--since", "1h", "errs"]);
    assert_eq!(stderr(&o), "a\nb\n");
    let o = h.hull(&["logs", "--since", "4000000000", "errs"]);
    assert_eq!(stdout(&o) + &stderr(&o), "");
    h.hull_ok(&["rm", "errs"]);
    h.hull_ok(&["rm", "logger"]);
    assert_no_leftovers(&h, &id, None);
}

/// `{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}` of a container.
fn status_count_code(h: &Hulld, c: &str) -> (String, u32, i32) {
    let v: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["inspect", c])).expect("inspect JSON");
    let d = &v[0];
    (
        d["State"]["Status"].as_str().unwrap_or("").to_string(),
        d["RestartCount"].as_u64().unwrap_or(0) as u32,
        d["State"]["ExitCode"].as_i64().unwrap_or(-1) as i32,
    )
}

#[test]
fn restart_policies_restart_until_the_limit_or_a_user_stop() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", &image]);

    // on-failure:2: two restarts (100 ms, 200 ms back-off), then it stays down.
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "rp-fail",
        "--restart",
        "on-failure:2",
        &image,
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_until("two restarts, then exited", Duration::from_secs(20), || {
        let (s, n, c) = status_count_code(&h, "rp-fail");
        s == "exited" && n == 2 && c == 3
    });
    let v: serde_json::Value = serde_json::from_str(&h.hull_ok(&["inspect", "rp-fail"])).unwrap();
    assert_eq!(v[0]["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(v[0]["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
    // A third restart would come 400 ms after the second exit.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        status_count_code(&h, "rp-fail").1,
        2,
        "restarted past its limit"
    );

    // on-failure does not restart a clean exit.
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "rp-ok",
        "--restart",
        "on-failure",
        &image,
        "true",
    ]);
    wait_until("rp-ok exited", Duration::from_secs(20), || {
        status_count_code(&h, "rp-ok").0 == "exited"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status_count_code(&h, "rp-ok").1, 0);

    // always: restarts after each exit until the user stops it.
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "rp-always",
        "--restart",
        "always",
        &image,
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    wait_until("rp-always restarted twice", Duration::from_secs(20), || {
        status_count_code(&h, "rp-always").1 >= 2
    });
    h.hull_ok(&["stop", "-t", "1", "rp-always"]);
    wait_until("rp-always stopped", Duration::from_secs(20), || {
        status_count_code(&h, "rp-always").0 == "exited"
    });
    let n = status_count_code(&h, "rp-always").1;
    std::thread::sleep(Duration::from_millis(1500));
    let (s, n2, _) = status_count_code(&h, "rp-always");
    assert_eq!(
        (s.as_str(), n2),
        ("exited", n),
        "restarted after a user stop"
    );
    // A user start begins afresh.
    h.hull_ok(&["start", "rp-always"]);
    wait_until("rp-always running again", Duration::from_secs(20), || {
        status_count_code(&h, "rp-always").1 == 0
    });
    h.hull_ok(&["rm", "-f", "rp-always", "rp-fail", "rp-ok"]);

    // Bad policies: Docker's daemon-error exit code, nothing created.
    let o = h.hull(&["run", "--restart", "sometimes", &image, "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid restart policy"),
        "{}",
        stderr(&o)
    );
    let o = h.hull(&["run", "--rm", "--restart", "always", &image, "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).contains("Conflicting options"), "{}", stderr(&o));
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn restart_policies_apply_after_a_hulld_restart() {
    require_root!();
    let (_reg, _l, mut h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", &image]);
    for (name, policy) in [
        ("rd-always", "always"),
        ("rd-unless", "unless-stopped"),
        ("rd-dies", "always"),
    ] {
        h.hull_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            &image,
            "sleep",
            "600",
        ]);
    }
    for c in ["rd-always", "rd-unless"] {
        h.hull_ok(&["stop", "-t", "1", c]);
    }
    let pid = |h: &Hulld, c: &str| -> i32 {
        h.hull_ok(&["inspect", "--format", "{{.State.Pid}}", c])
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let dies = pid(&h, "rd-dies");
    assert!(dies > 1);
    h.kill();
    // While hulld is away, the container's process dies.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dies),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    h.spawn();
    // always: up again even though the user stopped it; unless-stopped:
    // stays down; the one that died meanwhile: restarted.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(status_count_code(&h, "rd-always").0 == "running"
        && status_count_code(&h, "rd-dies").0 == "running")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "always and died-meanwhile not running: {:?} {:?}\n{}",
            status_count_code(&h, "rd-always"),
            status_count_code(&h, "rd-dies"),
            tail(&h.log(), 40)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(pid(&h, "rd-dies"), dies);
    assert_eq!(status_count_code(&h, "rd-unless").0, "exited");
    h.hull_ok(&["rm", "-f", "rd-always", "rd-unless", "rd-dies"]);
}

#[test]
fn bad_input_unknown_image_and_flags_leave_nothing() {
    require_root!();
    let (reg, _l, h, _image) = setup();
    let _cleanup = Containers::of(&h);
    // An image the registry does not have: Docker's 125, one error line
    // naming it, and no container, image or snapshot left.
    let missing = reg.reference("ctr/missing:v9");
    let o = h.hull(&["run", "--rm", &missing, "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("ctr/missing:v9"), "{err}");
    assert!(
        err.lines().filter(|l| l.starts_with("hull:")).count() == 1,
        "{err}"
    );
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
    assert!(!h.hull_ok(&["images"]).contains("missing"));
    // Unknown flag and bad values: usage errors, 125, one line + a hint.
    for args in [
        &["run", "--bogus", "x"][..],
        &["run"][..],
        &["run", "-m", "lots", "x"][..],
        &["run", "--cpus", "-1", "x"][..],
        &["stop", "-t", "soon", "x"][..],
    ] {
        let o = h.hull(args);
        assert_eq!(code(&o), 125, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).lines().count() <= 2 && !stderr(&o).is_empty(),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn volumes_named_anonymous_bind_and_tmpfs() {
    require_root!();
    let (reg, l, mut h, image) = setup();
    let _cleanup = Containers::of(&h);
    // An image with VOLUME /data holding a file.
    l.layer("bb", "vol", |r| {
        std::fs::create_dir_all(r.join("data")).unwrap();
        std::fs::write(r.join("data/seed.txt"), "from-image").unwrap();
    });
    l.config(
        "vol",
        &["--config.volume", "/data", "--config.cmd", "/bin/sh"],
    );
    let vimage = reg.reference("ctr/vol:v1");
    l.push("vol", &vimage, &[]);
    h.hull_ok(&["pull", "-q", &image]);
    h.hull_ok(&["pull", "-q", &vimage]);
    let vols = |h: &Hulld| -> Vec<String> {
        h.hull_ok(&["volume", "ls", "-q"])
            .lines()
            .map(str::to_string)
            .collect()
    };

    // A named volume is seeded from the image's /etc and keeps what a
    // container writes for the next one.
    assert_eq!(
        h.hull_ok(&["volume", "create", "--label", "k=v", "etcvol"]),
        "etcvol\n"
    );
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        &image,
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.contains("root:"), "{out}");
    h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        &image,
        "sh",
        "-c",
        "echo kept > /etc/marker",
    ]);
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        &image,
        "cat",
        "/etc/marker",
    ]);
    assert_eq!(out, "kept\n");
    let v: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["volume", "inspect", "etcvol"])).unwrap();
    assert_eq!(v[0]["Labels"]["k"], "v");
    let mp = std::path::PathBuf::from(v[0]["Mountpoint"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(mp.join("marker")).unwrap(),
        "kept\n"
    );
    // :ro is enforced.
    let o = h.hull(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc:ro",
        &image,
        "sh",
        "-c",
        "echo x > /etc/y",
    ]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );

    // Bind mounts, rw and ro.
    let host = h.dir.path().join("bind");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in.txt"), "host").unwrap();
    let spec = format!("{}:/b", host.display());
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        &spec,
        &image,
        "sh",
        "-c",
        "cat /b/in.txt; echo back > /b/out.txt",
    ]);
    assert_eq!(out, "host");
    assert_eq!(
        std::fs::read_to_string(host.join("out.txt")).unwrap(),
        "back\n"
    );
    let ro = format!("{}:/b:ro", host.display());
    let o = h.hull(&[
        "run",
        "--rm",
        "-v",
        &ro,
        &image,
        "sh",
        "-c",
        "echo x > /b/z",
    ]);
    assert_ne!(code(&o), 0);
    assert!(!host.join("z").exists());
    let bind = format!("type=bind,source={},target=/m,readonly", host.display());
    assert_eq!(
        h.hull_ok(&["run", "--rm", "--mount", &bind, &image, "cat", "/m/in.txt"]),
        "host"
    );

    // tmpfs.
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m",
        &image,
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /scratch tmpfs") && out.contains("size=1024k"),
        "{out}"
    );

    // The image's VOLUME becomes an anonymous volume seeded from the image.
    h.hull_ok(&["run", "-d", "--name", "av", &vimage, "sleep", "600"]);
    let anon: Vec<String> = vols(&h).into_iter().filter(|v| v != "etcvol").collect();
    assert_eq!(anon.len(), 1, "{anon:?}");
    assert_eq!(anon[0].len(), 64);
    assert_eq!(
        h.hull_ok(&["exec", "av", "cat", "/data/seed.txt"]),
        "from-image"
    );
    let o = h.hull(&["volume", "rm", &anon[0]]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));

    // Volumes and their contents survive a daemon restart.
    h.kill();
    h.spawn();
    assert_eq!(h.hull_ok(&["volume", "ls", "-q"]).lines().count(), 2);
    assert!(!h
        .hull_ok(&["exec", "av", "cat", "/etc/hostname"])
        .is_empty());

    // rm -v removes the anonymous volume; --rm does too; plain rm keeps it
    // and prune removes it.
    h.hull_ok(&["rm", "-f", "-v", "av"]);
    assert_eq!(vols(&h), ["etcvol"]);
    h.hull_ok(&["run", "--rm", &vimage, "true"]);
    assert_eq!(vols(&h), ["etcvol"]);
    h.hull_ok(&["run", "--name", "av2", &vimage, "true"]);
    h.hull_ok(&["rm", "av2"]);
    assert_eq!(vols(&h).len(), 2);
    let out = h.hull_ok(&["volume", "prune", "-f"]);
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert_eq!(vols(&h), ["etcvol"]);

    // A named volume in use cannot be removed; once unused it can.
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "-v",
        "etcvol:/etc",
        &image,
        "sleep",
        "600",
    ]);
    let o = h.hull(&["volume", "rm", "etcvol"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    h.hull_ok(&["rm", "-f", "user"]);
    h.hull_ok(&["volume", "rm", "etcvol"]);
    assert!(vols(&h).is_empty());
    assert!(!mp.exists());

    // Bad input: one line, 125, nothing made.
    let missing = format!("type=bind,source={}/nope,target=/x", h.dir.path().display());
    for args in [
        vec![
            "run",
            "--rm",
            "--mount",
            missing.as_str(),
            image.as_str(),
            "true",
        ],
        vec!["run", "--rm", "-v", "bad name:/x", image.as_str(), "true"],
        vec!["run", "--rm", "-v", "vol:relative", image.as_str(), "true"],
        vec![
            "run",
            "--rm",
            "--mount",
            "type=nfs,target=/x",
            image.as_str(),
            "true",
        ],
    ] {
        let o = h.hull(&args);
        assert_eq!(code(&o), 125, "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{args:?}: {}", stderr(&o));
    }
    let o = h.hull(&["run", "--rm", "--mount", &missing, &image, "true"]);
    assert!(
        stderr(&o).contains("bind source path does not exist"),
        "{}",
        stderr(&o)
    );
    assert!(vols(&h).is_empty());
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
    let o = h.hull(&["volume", "rm", "ghost"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no such volume"), "{}", stderr(&o));
}
