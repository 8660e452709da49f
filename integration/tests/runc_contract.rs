//! hullc against runc's observable command-line contract (issue 17, groups
//! A–G): every test runs the same bundle and commands under hullc and under
//! Debian's runc (each with its own state root, container id and cgroup
//! path) and asserts that both give the same observable result: exit code,
//! output shape, and host state. Skipped (with a note) when runc is missing.
//!
//! This file: A. spec and console sockets; B. flags and commands.

mod runc_contract_support;

use std::fs;
use std::process::Command;
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::cleanup;
use hull_integration::runtime::{
    describe, read_trim, stderr_of, stdout_of, wait_until, ConsoleSocket,
};
use runc_contract_support::*;
use serde_json::Value;

#[test]
fn spec_writes_runcs_default_config_byte_for_byte() {
    let Some(texts) = same("spec / spec --rootless", |_, rt| {
        let mut out = Vec::new();
        for rootless in [false, true] {
            let d = tempfile::tempdir().unwrap();
            let dir = d.path().to_string_lossy().into_owned();
            let mut args = vec!["spec", "--bundle", &dir];
            if rootless {
                args.push("--rootless");
            }
            let o = rt.run(&args);
            assert!(o.status.success(), "spec: {}", describe(&o));
            out.push(fs::read_to_string(d.path().join("config.json")).unwrap());
            // A second spec refuses to overwrite.
            let again = rt.run(&args);
            out.push(format!("again: {:?}", code(&again)));
        }
        out
    }) else {
        return;
    };
    let v: Value = serde_json::from_str(&texts[0]).unwrap();
    assert_eq!(v["process"]["terminal"], true, "{v}");
    assert!(
        !v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "cgroup"),
        "{v}"
    );
}

#[test]
fn console_socket_without_terminal_is_refused() {
    same(
        "create/run -d --console-socket, terminal false",
        |name, rt| {
            let b = sleeper(&format!("cs{name}"));
            let sock = ConsoleSocket::bind(&b.dir().join("console.sock"));
            let sock_path = sock.path().to_string_lossy().into_owned();
            let mut seen = Vec::new();
            for cmd in ["create", "run"] {
                let dir = dir_arg(&b);
                let mut args = vec![cmd];
                if cmd == "run" {
                    args.push("-d");
                }
                args.extend(["--bundle", &dir, "--console-socket", &sock_path, b.id()]);
                let o = rt.spawn_detached(b.id(), &b, &args);
                let err = stderr_of(&o);
                assert!(
                    err.contains(
                        "cannot use console socket if runc will not detach or allocate tty"
                    ),
                    "{name} {cmd}: {err:?}"
                );
                // Nothing was made.
                seen.push((cmd, code(&o), rt.state(b.id()).status.success()));
            }
            seen
        },
    );
}

#[test]
fn version_has_runcs_line_shape() {
    same("--version / -v", |name, rt| {
        let mut shapes = Vec::new();
        for flag in ["--version", "-v"] {
            let o = rt.run(&[flag]);
            assert!(o.status.success(), "{name} {flag}: {}", describe(&o));
            let text = stdout_of(&o);
            let lines: Vec<&str> = text.lines().collect();
            assert!(
                lines[0].starts_with(&format!("{name} version ")),
                "{name} {flag}: {text:?}"
            );
            let commit = lines.iter().any(|l| l.starts_with("commit: "));
            let spec = lines
                .iter()
                .find_map(|l| l.strip_prefix("spec: "))
                .map(str::to_string);
            shapes.push((commit, spec));
        }
        shapes
    });
}

#[test]
fn help_answers_for_every_command() {
    let commands = [
        "checkpoint",
        "create",
        "delete",
        "events",
        "exec",
        "kill",
        "list",
        "pause",
        "ps",
        "restore",
        "resume",
        "run",
        "spec",
        "start",
        "state",
        "update",
        "features",
    ];
    same("CMD --help, CMD -h, help CMD", |name, rt| {
        let mut codes = Vec::new();
        for c in commands {
            for args in [vec![c, "--help"], vec![c, "-h"], vec!["help", c]] {
                let o = rt.run(&args);
                assert!(
                    !o.stdout.is_empty(),
                    "{name} {args:?} printed no help: {}",
                    describe(&o)
                );
                codes.push((args.join(" "), code(&o)));
            }
        }
        codes
    });
}

#[test]
fn kill_with_signal_zero_checks_existence() {
    same("kill ID 0", |name, rt| {
        let b = sleeper(&format!("k0{name}"));
        run_d(rt, &b);
        let alive = code(&rt.kill(b.id(), "0"));
        let o = rt.kill(b.id(), "KILL");
        assert!(o.status.success(), "{name}: {}", describe(&o));
        rt.expect_status(b.id(), "stopped");
        let stopped = code(&rt.kill(b.id(), "0"));
        let missing = code(&rt.kill("no-such-container-k0", "0"));
        (alive, stopped == Some(0), missing == Some(0))
    });
}

#[test]
fn run_keep_leaves_the_stopped_container() {
    same("run --keep", |name, rt| {
        let b = Bundle::sh(&format!("keep{name}"), "exit 3");
        let o = rt.run_container(b.id(), &b, &["--keep"]);
        let status = rt.status(b.id());
        let cg = b.cgroup_dir("memory").exists();
        let del = rt.delete(b.id());
        assert!(del.status.success(), "{name} delete: {}", describe(&del));
        (code(&o), status, cg, rt.status(b.id()))
    });
}

#[test]
fn exec_cgroup_runs_in_a_sub_cgroup() {
    same("exec --cgroup", |name, rt| {
        let b = sleeper(&format!("excg{name}"));
        run_d(rt, &b);
        let path = b.cgroups_path().unwrap();
        let sub = format!("{path}/sub");
        let _guard = CgroupGuard(sub.clone());
        for d in cleanup::cgroup_dirs(&path) {
            fs::create_dir(d.join("sub")).unwrap();
            // A new v1 cpuset is unusable until it has cpus and mems.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = fs::read_to_string(d.join(f)) {
                    fs::write(d.join("sub").join(f), v.trim()).unwrap();
                }
            }
        }
        let o = rt.run(&[
            "exec",
            "--cgroup",
            "sub",
            b.id(),
            "cat",
            "/proc/self/cgroup",
        ]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let text = stdout_of(&o);
        let memory = text
            .lines()
            .find(|l| l.split(':').nth(1) == Some("memory"))
            .unwrap_or_default()
            .to_string();
        assert!(memory.ends_with(&sub), "{name}: {text}");
        // One controller only: the others stay in the container's cgroup.
        let o = rt.run(&[
            "exec",
            "--cgroup",
            "memory:sub",
            b.id(),
            "cat",
            "/proc/self/cgroup",
        ]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let text = stdout_of(&o);
        let pids_line = text
            .lines()
            .find(|l| l.split(':').nth(1) == Some("pids"))
            .unwrap_or_default();
        assert!(pids_line.ends_with(&path), "{name}: {text}");
        let missing = rt.run(&["exec", "--cgroup", "nope", b.id(), "true"]);
        // A process left in the sub-cgroup counts as the container's (ps,
        // kill --all) and delete --force removes the sub-cgroup too.
        let o = rt.run(&["exec", "-d", "--cgroup", "sub", b.id(), "sleep", "1000"]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let o = rt.run(&["ps", "--format", "json", b.id()]);
        let pids: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        let n = pids.as_array().map_or(0, Vec::len);
        let del = rt.delete_force(b.id());
        assert!(del.status.success(), "{name}: {}", describe(&del));
        let sub_left = cleanup::cgroup_dirs(&sub);
        (code(&missing) == Some(0), n, sub_left)
    });
}

#[test]
fn update_cpu_share_sets_shares() {
    same("update --cpu-share", |name, rt| {
        let b = sleeper(&format!("shr{name}"));
        run_d(rt, &b);
        let o = rt.run(&["update", "--cpu-share", "512", b.id()]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        read_trim(&b.cgroup_dir("cpu").join("cpu.shares"))
    });
}

#[test]
fn checkpoint_and_restore_fail_without_criu() {
    same("checkpoint/restore", |name, rt| {
        let b = sleeper(&format!("criu{name}"));
        run_d(rt, &b);
        let ck = rt.run(&["checkpoint", b.id()]);
        assert!(stderr_of(&ck).contains("CRIU"), "{name}: {}", describe(&ck));
        let missing = rt.run(&["checkpoint", "no-such-container-ck"]);
        assert!(
            stderr_of(&missing).contains("does not exist"),
            "{name}: {}",
            describe(&missing)
        );
        let rs = rt.run(&["restore", "--bundle", &dir_arg(&b), "no-such-restore"]);
        (
            code(&ck),
            code(&missing),
            code(&rs),
            rt.status(b.id()),
            rt.status("no-such-restore"),
        )
    });
}

/// Sanity: the helpers really compare two different binaries.
#[test]
fn both_runtimes_are_distinct_binaries() {
    let Some(rts) = runtimes() else { return };
    assert_ne!(rts[0].1.bin(), rts[1].1.bin());
    let o = Command::new(rts[1].1.bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("runc version"));
    assert!(wait_until(Duration::from_millis(1), || true));
}
