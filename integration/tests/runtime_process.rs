//! The container process: args, env, cwd, user, umask, rlimits,
//! capabilities, noNewPrivileges, oomScoreAdj and terminal mode, each read
//! back from inside the container (mostly /proc/self/status).

use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{describe, read_until, require_root, ConsoleSocket, Runtime};
use serde_json::json;

fn run_ok(b: &Bundle) -> String {
    Runtime::new().run_ok(b.id(), b)
}

/// The value (tab separated fields) of `key:` in a /proc status text.
fn status_field<'a>(status: &'a str, key: &str) -> Vec<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .split_whitespace()
        .collect()
}

fn cap_mask(status: &str, key: &str) -> u64 {
    u64::from_str_radix(status_field(status, key)[0], 16).unwrap()
}

#[test]
fn args_are_passed_verbatim() {
    require_root();
    let b = Bundle::new(
        "args",
        &[
            "/bin/sh",
            "-c",
            "for a in \"$@\"; do echo \"[$a]\"; done",
            "sh",
            "a b",
            "",
            "c'd",
            "$HOME",
        ],
    );
    let out = run_ok(&b);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["[a b]", "[]", "[c'd]", "[$HOME]"]
    );
}

#[test]
fn env_is_the_configured_env() {
    require_root();
    // env itself as the process: a shell would add SHLVL, PWD...
    let mut b = Bundle::new("env", &["/bin/env"]);
    b.process_mut()["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY="]);
    b.write().unwrap();
    let out = run_ok(&b);
    let vars: Vec<&str> = out.lines().collect();
    for want in ["PATH=/bin", "FOO=bar baz", "EMPTY="] {
        assert!(vars.contains(&want), "{want} missing: {vars:?}");
    }
    // Runtimes may add HOME (runc does, from /etc/passwd); nothing else.
    for v in &vars {
        assert!(
            ["PATH=", "FOO=", "EMPTY=", "HOME="]
                .iter()
                .any(|p| v.starts_with(p)),
            "unexpected variable {v:?} leaked into the container: {vars:?}"
        );
    }
}

#[test]
fn cwd_is_the_configured_dir() {
    require_root();
    let mut b = Bundle::sh("cwd", "pwd; ls");
    std::fs::create_dir_all(b.rootfs().join("srv/work")).unwrap();
    std::fs::write(b.rootfs().join("srv/work/here"), "").unwrap();
    b.process_mut()["cwd"] = json!("/srv/work");
    b.write().unwrap();
    assert_eq!(run_ok(&b), "/srv/work\nhere\n");
}

#[test]
fn user_uid_gid_and_additional_gids() {
    require_root();
    let mut b = Bundle::sh("user", "cat /proc/self/status; echo id=$(id -u):$(id -g)");
    b.process_mut()["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20]});
    b.write().unwrap();
    let out = run_ok(&b);
    assert_eq!(status_field(&out, "Uid"), ["1000"; 4], "{out}");
    assert_eq!(status_field(&out, "Gid"), ["1001"; 4], "{out}");
    let mut groups: Vec<&str> = status_field(&out, "Groups");
    groups.sort();
    groups.retain(|g| *g != "1001");
    assert_eq!(
        groups,
        ["10", "20"],
        "supplementary groups (root's must be dropped): {out}"
    );
    assert!(out.contains("id=1000:1001"), "{out}");
}

#[test]
fn umask_is_applied() {
    require_root();
    let mut b = Bundle::sh("umask", "umask; touch /tmp/f; stat -c %a /tmp/f");
    b.process_mut()["user"]["umask"] = json!(0o027);
    b.write().unwrap();
    assert_eq!(run_ok(&b), "0027\n640\n");
}

#[test]
fn rlimits_are_lowered() {
    require_root();
    // Lowered only: root here lacks CAP_SYS_RESOURCE, raising a hard limit fails.
    let mut b = Bundle::sh(
        "rlimit",
        "grep -E 'Max open files|Max processes' /proc/self/limits",
    );
    b.process_mut()["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
    ]);
    b.write().unwrap();
    let out = run_ok(&b);
    let row = |name: &str| -> Vec<String> {
        let l = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        l[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("Max open files"), ["256", "512"], "{out}");
    assert_eq!(row("Max processes"), ["300", "400"], "{out}");
}

// Capability bits used below.
const CHOWN: u64 = 1 << 0;
const KILL: u64 = 1 << 5;
const SETUID: u64 = 1 << 7;
const NET_BIND_SERVICE: u64 = 1 << 10;

#[test]
fn capabilities_of_root_process() {
    require_root();
    let mut b = Bundle::sh("capsroot", "cat /proc/self/status");
    let bnd = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
    ];
    b.process_mut()["capabilities"] = json!({
        "bounding": bnd, "effective": bnd, "permitted": bnd,
        "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]
    });
    b.write().unwrap();
    let out = run_ok(&b);
    let all = CHOWN | KILL | NET_BIND_SERVICE | SETUID;
    // For uid 0 execve gives permitted = effective = bounding | inheritable.
    assert_eq!(cap_mask(&out, "CapBnd"), all, "{out}");
    assert_eq!(cap_mask(&out, "CapPrm"), all, "{out}");
    assert_eq!(cap_mask(&out, "CapEff"), all, "{out}");
    assert_eq!(cap_mask(&out, "CapInh"), KILL, "{out}");
    assert_eq!(cap_mask(&out, "CapAmb"), KILL, "{out}");
}

#[test]
fn capabilities_of_non_root_process_with_ambient() {
    require_root();
    let mut b = Bundle::sh("capsuser", "cat /proc/self/status");
    let set = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
    b.process_mut()["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set,
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    b.write().unwrap();
    let out = run_ok(&b);
    // For a non-root user without file caps, execve keeps only the ambient set.
    assert_eq!(
        cap_mask(&out, "CapBnd"),
        CHOWN | KILL | NET_BIND_SERVICE,
        "{out}"
    );
    assert_eq!(cap_mask(&out, "CapInh"), KILL | NET_BIND_SERVICE, "{out}");
    assert_eq!(cap_mask(&out, "CapAmb"), NET_BIND_SERVICE, "{out}");
    assert_eq!(cap_mask(&out, "CapPrm"), NET_BIND_SERVICE, "{out}");
    assert_eq!(cap_mask(&out, "CapEff"), NET_BIND_SERVICE, "{out}");
}

#[test]
fn no_new_privileges_flag() {
    require_root();
    for (flag, want) in [(true, "1"), (false, "0")] {
        let mut b = Bundle::sh("nnp", "cat /proc/self/status");
        b.process_mut()["noNewPrivileges"] = json!(flag);
        b.write().unwrap();
        let out = run_ok(&b);
        assert_eq!(
            status_field(&out, "NoNewPrivs"),
            [want],
            "noNewPrivileges={flag}: {out}"
        );
    }
}

#[test]
fn oom_score_adj_is_set() {
    require_root();
    // Positive only: lowering below the parent's needs CAP_SYS_RESOURCE.
    let mut b = Bundle::sh("oom", "cat /proc/self/oom_score_adj");
    b.process_mut()["oomScoreAdj"] = json!(500);
    b.write().unwrap();
    assert_eq!(run_ok(&b), "500\n");
}

#[test]
fn terminal_via_console_socket() {
    require_root();
    let mut b = Bundle::sh(
        "tty",
        "tty; [ -t 0 ] && [ -t 1 ] && echo term-ok; stty size",
    );
    b.process_mut()["terminal"] = json!(true);
    b.process_mut()["consoleSize"] = json!({"height": 33, "width": 111});
    b.write().unwrap();
    let rt = Runtime::new();
    let sock = ConsoleSocket::bind(&b.dir().join("console.sock"));
    let id = b.id();
    let o = rt.create_with(
        id,
        &b,
        &["--console-socket", &sock.path().to_string_lossy()],
    );
    assert!(
        o.status.success(),
        "create with a console socket: {}",
        describe(&o)
    );
    let master = sock
        .receive_fd(Duration::from_secs(10))
        .expect("pty master over the console socket");
    rt.start_ok(id);
    let text = read_until(&master, Duration::from_secs(10), |t| {
        t.contains("term-ok") && t.contains("111")
    });
    assert!(text.contains("/dev/pts/"), "tty is not a pty: {text:?}");
    assert!(
        text.contains("term-ok"),
        "stdin/stdout are not the terminal: {text:?}"
    );
    assert!(text.contains("33 111"), "consoleSize not applied: {text:?}");
    rt.expect_status(id, "stopped");
}
