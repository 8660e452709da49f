//! Containers across hulld restarts and their restart policies: records and
//! tasks that survive a restart or a SIGKILL of hulld, `--restart` rules.

mod manager_support;

use std::time::Duration;

use hull_integration::cleanup;
use manager_support::containers::{assert_no_leftovers, setup};
use manager_support::*;

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
