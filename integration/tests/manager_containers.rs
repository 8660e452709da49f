//! Containers through hulld: `hull run/ps/logs/stop/kill/rm/wait` with a
//! real hulld, containerd-shim-hull-v2 and hullc, on a busybox image pulled
//! from a loopback registry.

mod manager_support;

use std::path::PathBuf;
use std::time::Duration;

use hull_integration::cleanup;
use manager_support::containers::{assert_no_leftovers, setup};
use manager_support::*;

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

/// An exec running when the container's main process exits ends with the
/// kill of the container's processes (137), not with a lost task ("exec
/// wait: container … not found"); repeated, as the race was narrow.
#[test]
fn exec_ends_when_the_container_exits_under_it() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    for round in 0..4 {
        let name = format!("execdie{round}");
        h.hull_ok(&[
            "run",
            "-d",
            "--name",
            &name,
            &image,
            "sh",
            "-c",
            "while [ ! -e /stop ]; do sleep 0.02; done",
        ]);
        // The exec makes the main process exit, then outlives it.
        let o = h.hull(&["exec", &name, "sh", "-c", "touch /stop; exec sleep 30"]);
        assert_eq!(code(&o), 137, "round {round}: stderr: {}", stderr(&o));
        assert!(!stderr(&o).contains("not found"), "{}", stderr(&o));
        assert_eq!(h.hull_ok(&["wait", &name]).trim(), "0");
        h.hull_ok(&["rm", &name]);
    }
}

/// `hull update`: resources changed in the running container's cgroup and
/// in inspect, kept for the next start; the restart policy changed; bad
/// input refused with one line.
#[test]
fn update_changes_resources_and_restart_policy() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let id = h
        .hull_ok(&[
            "run", "-d", "--name", "upd", "-m", "128m", &image, "sleep", "300",
        ])
        .trim()
        .to_string();
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let cg = |v1: (&str, &str), v2_file: &str| {
        let p = if v2 {
            cleanup::cgroup_dir("", &format!("/hull/{id}")).join(v2_file)
        } else {
            cleanup::cgroup_dir(v1.0, &format!("/hull/{id}")).join(v1.1)
        };
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .trim()
            .to_string()
    };
    let mem = || cg(("memory", "memory.limit_in_bytes"), "memory.max");
    assert_eq!(mem(), "134217728");

    let out = h.hull_ok(&[
        "update",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "20",
        "--restart",
        "on-failure:3",
        "upd",
    ]);
    assert_eq!(out, "upd\n");
    assert_eq!(mem(), "67108864");
    assert_eq!(cg(("pids", "pids.max"), "pids.max"), "20");
    let quota = cg(("cpu", "cpu.cfs_quota_us"), "cpu.max");
    assert!(quota.starts_with("50000"), "{quota}");
    let info: serde_json::Value = serde_json::from_str(&h.hull_ok(&["inspect", "upd"])).unwrap();
    let info = &info[0];
    assert_eq!(info["HostConfig"]["Memory"], 67108864);
    assert_eq!(info["HostConfig"]["PidsLimit"], 20);
    assert_eq!(info["HostConfig"]["CpuQuota"], 50000);
    assert_eq!(info["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(info["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);

    // Stopped: the new limit applies at the next start.
    h.hull_ok(&["stop", "-t", "1", "upd"]);
    h.hull_ok(&["update", "-m", "32m", "upd"]);
    h.hull_ok(&["start", "upd"]);
    assert_eq!(mem(), "33554432");

    // Bad input: one line, exit 1, nothing changed.
    let o = h.hull(&["update", "-m", "16m", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("No such container"), "{}", stderr(&o));
    let o = h.hull(&["update", "upd"]);
    assert_ne!(code(&o), 0);
    let o = h.hull(&["update", "--restart", "sometimes", "upd"]);
    assert_ne!(code(&o), 0);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert_eq!(mem(), "33554432");
    let rm = h
        .hull_ok(&["run", "-d", "--rm", &image, "sleep", "300"])
        .trim()
        .to_string();
    let o = h.hull(&["update", "--restart", "always", &rm]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("AutoRemove"), "{}", stderr(&o));
    h.hull_ok(&["rm", "-f", &rm, "upd"]);
}
