//! hullc against runc's observable command-line contract (issue 17, groups
//! A–G): every test runs the same bundle and commands under hullc and under
//! Debian's runc (each with its own state root, container id and cgroup
//! path) and asserts that both give the same observable result: exit code,
//! output shape, and host state. Skipped (with a note) when runc is missing.

use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::cleanup;
use hull_integration::runtime::{
    collect, describe, read_trim, require_root, stderr_of, stdout_of, wait_until, ConsoleSocket,
    Runtime, COMMAND_TIMEOUT,
};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

const RUNC: &str = "/usr/sbin/runc";

/// The two runtimes, hullc first. None (test skipped) without runc.
fn runtimes() -> Option<[(&'static str, Runtime); 2]> {
    require_root();
    if !Path::new(RUNC).exists() {
        eprintln!("skipped: {RUNC} is not installed");
        return None;
    }
    Some([
        ("hullc", Runtime::new()),
        ("runc", Runtime::with_bin(PathBuf::from(RUNC))),
    ])
}

/// Run `f` under both runtimes and assert it observed the same thing.
fn same<T: PartialEq + Debug>(what: &str, f: impl Fn(&str, &Runtime) -> T) -> Option<T> {
    let rts = runtimes()?;
    let hullc = f(rts[0].0, &rts[0].1);
    let runc = f(rts[1].0, &rts[1].1);
    assert_eq!(
        hullc, runc,
        "{what}: hullc (left) differs from runc (right)"
    );
    Some(hullc)
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn sleeper(tag: &str) -> Bundle {
    Bundle::new(tag, &["/bin/sleep", "1000"])
}

/// `run -d`, asserting success.
fn run_d(rt: &Runtime, b: &Bundle) {
    let o = rt.run_detached(b.id(), b);
    assert!(o.status.success(), "run -d {}: {}", b.id(), describe(&o));
}

fn dir_arg(b: &Bundle) -> String {
    b.dir().to_string_lossy().into_owned()
}

/// Removes a cgroup path the test made itself (all hierarchies) on drop.
struct CgroupGuard(String);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        let f = cleanup::cgroup_dir("freezer", &self.0).join("freezer.state");
        let _ = fs::write(f, "THAWED");
        cleanup::remove_cgroup(&self.0);
    }
}

// ---------------------------------------------------------------------------
// JSON key order (serde_json's Value sorts keys, so read the order ourselves)
// ---------------------------------------------------------------------------

/// A JSON document that remembers the order of object keys.
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, Ordered>()? {
                    v.push((k, val));
                }
                Ok(Ordered::Object(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = s.next_element::<Ordered>()? {
                    v.push(x);
                }
                Ok(Ordered::Array(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// Every object key as a dotted path, in document order (arrays: first
/// element only; paths under a prefix in `skip` left out).
fn key_paths(text: &str, skip: &[&str]) -> Vec<String> {
    fn walk(o: &Ordered, prefix: &str, skip: &[&str], out: &mut Vec<String>) {
        match o {
            Ordered::Object(kv) => {
                for (k, v) in kv {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if skip.iter().any(|s| p == *s) {
                        out.push(p);
                        continue;
                    }
                    out.push(p.clone());
                    walk(v, &p, skip, out);
                }
            }
            Ordered::Array(items) => {
                if let Some(first) = items.first() {
                    walk(first, &format!("{prefix}[]"), skip, out);
                }
            }
            Ordered::Scalar => {}
        }
    }
    let doc: Ordered =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    let mut out = Vec::new();
    walk(&doc, "", skip, &mut out);
    out
}

// ---------------------------------------------------------------------------
// A. spec and console sockets
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// B. flags and commands
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// C. --debug
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// D. JSON output
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// E. ps
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// F. exit codes and messages
// ---------------------------------------------------------------------------

#[test]
fn exec_that_cannot_start_exits_255() {
    same("exec of a missing program", |name, rt| {
        let b = sleeper(&format!("e255{name}"));
        run_d(rt, &b);
        let o = rt.run(&["exec", b.id(), "/no/such/program"]);
        assert!(
            stderr_of(&o).contains("/no/such/program"),
            "{name}: {}",
            describe(&o)
        );
        let ok = rt.run(&["exec", b.id(), "sh", "-c", "exit 7"]);
        (code(&o), code(&ok))
    });
}

#[test]
fn exec_in_a_paused_container_needs_ignore_paused() {
    same("exec on a paused container", |name, rt| {
        let b = sleeper(&format!("epau{name}"));
        run_d(rt, &b);
        let o = rt.run(&["pause", b.id()]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let refused = rt.run(&["exec", b.id(), "true"]);
        assert!(
            stderr_of(&refused).contains("--ignore-paused"),
            "{name}: {}",
            describe(&refused)
        );
        // With --ignore-paused the process joins the frozen cgroup and
        // starts once the container is resumed.
        let mut c = rt.command();
        c.args(["exec", "--ignore-paused", "-d", b.id(), "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        let resumed = rt.run(&["resume", b.id()]);
        assert!(resumed.status.success(), "{name}: {}", describe(&resumed));
        let ignored = collect(child, COMMAND_TIMEOUT, "exec --ignore-paused");
        (code(&refused), code(&ignored))
    });
}

#[test]
fn delete_force_of_a_missing_container_succeeds_quietly() {
    same("delete --force / delete of a missing container", |_, rt| {
        let f = rt.run(&["delete", "--force", "no-such-container-df"]);
        let d = rt.run(&["delete", "no-such-container-df"]);
        (code(&f), f.stderr.is_empty(), f.stdout.is_empty(), code(&d))
    });
}

#[test]
fn unified_resources_on_v1_are_an_invalid_configuration() {
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        eprintln!("skipped: not a cgroup v1 host");
        return;
    }
    same("linux.resources.unified on cgroup v1", |name, rt| {
        let mut b = sleeper(&format!("unif{name}"));
        b.resources_mut()["unified"] = json!({"memory.max": "100000000"});
        b.write().unwrap();
        let o = rt.create(b.id(), &b);
        assert!(
            stderr_of(&o).contains("invalid configuration: cannot use unified on cgroup v1"),
            "{name}: {}",
            describe(&o)
        );
        (
            code(&o),
            rt.state(b.id()).status.success(),
            b.cgroup_dir("memory").exists(),
        )
    });
}

#[test]
fn a_non_empty_cgroup_is_used_with_a_warning() {
    same("create in a cgroup that holds processes", |name, rt| {
        let a = sleeper(&format!("nea{name}"));
        run_d(rt, &a);
        let mut b = sleeper(&format!("neb{name}"));
        b.linux_mut()["cgroupsPath"] = json!(a.cgroups_path());
        b.write().unwrap();
        let o = rt.create(b.id(), &b);
        assert!(
            stderr_of(&o).contains("container's cgroup is not empty: 1 process(es) found"),
            "{name}: {}",
            describe(&o)
        );
        let status = rt.status(b.id());
        let _ = rt.delete_force(b.id());
        (code(&o), status)
    });
}

// ---------------------------------------------------------------------------
// G. cgroup v1 edge cases
// ---------------------------------------------------------------------------

#[test]
fn a_frozen_cgroup_is_refused() {
    if !Path::new("/sys/fs/cgroup/freezer").is_dir() {
        eprintln!("skipped: no v1 freezer");
        return;
    }
    same("run -d in a frozen cgroup", |name, rt| {
        let b = sleeper(&format!("frz{name}"));
        let path = b.cgroups_path().unwrap();
        let _guard = CgroupGuard(path.clone());
        let dir = cleanup::cgroup_dir("freezer", &path);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("freezer.state"), "FROZEN").unwrap();
        let o = rt.run_detached(b.id(), &b);
        assert!(
            stderr_of(&o).contains("container's cgroup unexpectedly frozen"),
            "{name}: {}",
            describe(&o)
        );
        (code(&o), rt.state(b.id()).status.success())
    });
}

#[test]
fn nested_parent_cpusets_are_initialised() {
    if !Path::new("/sys/fs/cgroup/cpuset").is_dir() {
        eprintln!("skipped: no v1 cpuset");
        return;
    }
    same(
        "run -d under a pod parent with an empty cpuset",
        |name, rt| {
            let mut b = sleeper(&format!("pod{name}"));
            let parent = format!("/hull-test-pod-{}", b.id());
            let _guard = CgroupGuard(parent.clone());
            let pdir = cleanup::cgroup_dir("cpuset", &parent);
            fs::create_dir(&pdir).unwrap();
            // A plain mkdir'd cpuset is empty (cgroup.clone_children is 0).
            let _ = fs::write(pdir.join("cpuset.cpus"), "");
            b.linux_mut()["cgroupsPath"] = json!(format!("{parent}/{}", b.id()));
            b.write().unwrap();
            let o = rt.run_detached(b.id(), &b);
            assert!(o.status.success(), "{name}: {}", describe(&o));
            let parent_cpus = read_trim(&pdir.join("cpuset.cpus"));
            let root_cpus = read_trim(Path::new("/sys/fs/cgroup/cpuset/cpuset.cpus"));
            let o = rt.kill(b.id(), "KILL");
            assert!(o.status.success(), "{name}: {}", describe(&o));
            rt.expect_status(b.id(), "stopped");
            let o = rt.delete(b.id());
            assert!(o.status.success(), "{name}: {}", describe(&o));
            parent_cpus == root_cpus
        },
    );
}

#[test]
fn update_memory_unlimited_also_lifts_memsw() {
    let memsw = Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
    if !memsw.exists() {
        eprintln!("skipped: no v1 swap accounting");
        return;
    }
    same("update --memory -1 after limit+swap", |name, rt| {
        let mut b = sleeper(&format!("mem{name}"));
        b.resources_mut()["memory"] = json!({"limit": 32 << 20, "swap": 64 << 20});
        b.write().unwrap();
        run_d(rt, &b);
        let o = rt.run(&["update", "--memory", "-1", b.id()]);
        let dir = b.cgroup_dir("memory");
        let limit: u64 = read_trim(&dir.join("memory.limit_in_bytes"))
            .parse()
            .unwrap();
        let sw: u64 = read_trim(&dir.join("memory.memsw.limit_in_bytes"))
            .parse()
            .unwrap();
        // Then limits back on, lower than before (swap first would fail).
        let o2 = rt.run(&["update", "--memory", "16m", "--memory-swap", "32m", b.id()]);
        let limit2 = read_trim(&dir.join("memory.limit_in_bytes"));
        (code(&o), limit > 1 << 62, sw > 1 << 62, code(&o2), limit2)
    });
}

#[test]
fn device_access_letters_are_normalised() {
    if !Path::new("/sys/fs/cgroup/devices").is_dir() {
        eprintln!("skipped: no v1 devices controller");
        return;
    }
    same("device rules with access rwa / rrw / mw", |name, rt| {
        let mut b = sleeper(&format!("dev{name}"));
        let rules = b.resources_mut()["devices"].as_array_mut().unwrap();
        for (minor, access) in [(1, "rwa"), (2, "rrw"), (3, "mw")] {
            rules.push(
                json!({"allow": true, "type": "c", "major": 42, "minor": minor, "access": access}),
            );
        }
        b.write().unwrap();
        let o = rt.run_detached(b.id(), &b);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let list = fs::read_to_string(b.cgroup_dir("devices").join("devices.list")).unwrap();
        let mut mine: Vec<String> = list
            .lines()
            .filter(|l| l.starts_with("c 42:"))
            .map(str::to_string)
            .collect();
        mine.sort();
        mine
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
