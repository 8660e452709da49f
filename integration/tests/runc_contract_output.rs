//! hullc against runc's contract (issue 17), groups C–E: `--debug` lines,
//! JSON output keys in runc's order, `ps`.

mod runc_contract_support;

use std::fs;

use hull_integration::runtime::{describe, stdout_of, COMMAND_TIMEOUT};
use runc_contract_support::*;
use serde_json::{json, Value};

#[test]
fn debug_writes_level_debug_lines_to_the_log() {
    same("--debug --log (text and json)", |name, rt| {
        let b = sleeper(&format!("dbg{name}"));
        let text_log = b.dir().join("debug.log");
        let json_log = b.dir().join("debug.json");
        let mut c = rt.command();
        c.arg("--debug").arg("--log").arg(&text_log).args([
            "run",
            "-d",
            "--bundle",
            &dir_arg(&b),
            b.id(),
        ]);
        rt.track(b.id(), &b);
        let o = hull_integration::runtime::output_of(c, COMMAND_TIMEOUT);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let mut c = rt.command();
        c.arg("--debug").arg("--log").arg(&json_log).args([
            "--log-format",
            "json",
            "exec",
            b.id(),
            "true",
        ]);
        let o = hull_integration::runtime::output_of(c, COMMAND_TIMEOUT);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let text = fs::read_to_string(&text_log).unwrap_or_default();
        let text_ok = text.lines().any(|l| l.contains("level=debug"))
            && text
                .lines()
                .all(|l| l.starts_with("time=\"") && l.contains(" level=") && l.contains(" msg="));
        let json = fs::read_to_string(&json_log).unwrap_or_default();
        let lines: Vec<Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l:?}")))
            .collect();
        let json_ok = lines.iter().any(|v| v["level"] == "debug")
            && lines
                .iter()
                .all(|v| v["msg"].is_string() && v["time"].is_string());
        assert!(text_ok, "{name} text log: {text}");
        assert!(json_ok, "{name} json log: {json}");
        (text_ok, json_ok)
    });
}

#[test]
fn list_and_state_json_have_runcs_keys_in_runcs_order() {
    same("list --format json / state key order", |name, rt| {
        let empty = rt.run(&["list", "--format", "json"]);
        let mut b = sleeper(&format!("ls{name}"));
        b.config_mut()["annotations"] = json!({"b": "1", "a": "2"});
        b.write().unwrap();
        run_d(rt, &b);
        let o = rt.run(&["list", "--format", "json"]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v[0]["owner"], "root", "{name}: {v}");
        let s = rt.state(b.id());
        (
            stdout_of(&empty).trim().to_string(),
            key_paths(&stdout_of(&o), &[]),
            key_paths(&stdout_of(&s), &[]),
        )
    });
}

#[test]
fn events_stats_have_runcs_keys_in_runcs_order() {
    same("events --stats key order", |name, rt| {
        let mut b = sleeper(&format!("ev{name}"));
        b.resources_mut()["memory"] = json!({"limit": 64 << 20});
        b.resources_mut()["pids"] = json!({"limit": 50});
        b.write().unwrap();
        run_d(rt, &b);
        let o = rt.run(&["events", "--stats", b.id()]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let line = stdout_of(&o);
        // Leaves whose presence depends on measured values (omitted when
        // zero) are not compared; the structure is.
        let keep = |p: &String| {
            let measured = p.starts_with("data.memory.")
                && p.matches('.').count() == 3
                && (p.ends_with(".usage") || p.ends_with(".max"));
            !measured
                && !p.starts_with("data.memory.raw.")
                && !p.starts_with("data.cpu.throttling.")
                && !p.starts_with("data.blkio.")
                && !p.starts_with("data.hugetlb.")
                && p != "data.memory.cache"
        };
        key_paths(line.lines().next().unwrap_or_default(), &[])
            .into_iter()
            .filter(keep)
            .collect::<Vec<_>>()
    });
}

#[test]
fn ps_runs_ps_with_the_given_options_and_filters_to_the_container() {
    same(
        "ps ID -o pid,comm / ps ID / ps --format json",
        |name, rt| {
            let b = sleeper(&format!("ps{name}"));
            run_d(rt, &b);
            let pid = rt.pid(b.id());
            let o = rt.run(&["ps", b.id(), "-o", "pid,comm"]);
            assert!(o.status.success(), "{name}: {}", describe(&o));
            let table: Vec<Vec<String>> = stdout_of(&o)
                .lines()
                .map(|l| {
                    l.split_whitespace()
                        .map(|s| s.replace(&pid.to_string(), "PID"))
                        .collect()
                })
                .collect();
            let o = rt.run(&["ps", b.id()]);
            assert!(o.status.success(), "{name}: {}", describe(&o));
            let default = stdout_of(&o);
            let header: Vec<String> = default
                .lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            let rows = default.lines().count() - 1;
            let o = rt.run(&["ps", "--format", "json", b.id()]);
            let pids: Value = serde_json::from_slice(&o.stdout).unwrap();
            (table, header, rows, pids == json!([pid]))
        },
    );
}

#[test]
fn state_list_and_ps_end_quietly_when_their_reader_is_gone() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    same("state/list/ps into a closed pipe", |name, rt| {
        let b = sleeper(&format!("pipe{name}"));
        run_d(rt, &b);
        let mut seen = Vec::new();
        for args in [vec!["state", b.id()], vec!["list"], vec!["ps", b.id()]] {
            let (reader, writer) = nix::unistd::pipe().expect("pipe");
            drop(reader);
            let mut c = rt.command();
            c.args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::from(writer))
                .stderr(Stdio::piped());
            let child = c.spawn().expect("spawn");
            let o = hull_integration::runtime::collect(child, COMMAND_TIMEOUT, name);
            // Killed by SIGPIPE, as a Go program writing to a closed stdout:
            // no panic and no message.
            assert_eq!(
                o.status.signal(),
                Some(libc::SIGPIPE),
                "{name} {args:?}: {}",
                describe(&o)
            );
            assert!(o.stderr.is_empty(), "{name} {args:?}: {}", describe(&o));
            seen.push(o.status.signal());
        }
        seen
    });
}
