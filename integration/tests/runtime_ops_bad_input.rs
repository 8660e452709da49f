//! Bad input to the operations beyond the lifecycle (issue: runtime
//! completeness): invalid seccomp profiles, exec into stopped or unknown
//! containers, update with impossible values, pause/resume in the wrong
//! state. Each gives a one-line error, a non-zero exit, and leaves the
//! container as it was.

use std::process::Output;

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{describe, read_trim, require_root, Runtime};
use serde_json::json;

fn assert_one_line_error(o: &Output, culprit: &str, what: &str) {
    assert!(!o.status.success(), "{what} must fail: {}", describe(o));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line expected: {err:?}");
    assert!(
        lines[0].contains(culprit),
        "{what}: error must name {culprit:?}: {err:?}"
    );
}

fn running(tag: &str) -> (Bundle, Runtime) {
    let b = Bundle::new(tag, &["/bin/sleep", "1000"]);
    let rt = Runtime::new();
    rt.create_ok(b.id(), &b);
    rt.start_ok(b.id());
    rt.expect_status(b.id(), "running");
    (b, rt)
}

fn seccomp_fails(tag: &str, seccomp: serde_json::Value, culprit: &str) {
    let mut b = Bundle::new(tag, &["/bin/true"]);
    b.linux_mut()["seccomp"] = seccomp;
    b.write().unwrap();
    let rt = Runtime::new();
    let o = rt.create(b.id(), &b);
    assert!(
        !o.status.success(),
        "{tag}: create must fail: {}",
        describe(&o)
    );
    rt.assert_nothing_left(b.id(), &b);
    assert_eq!(rt.status(b.id()), None, "{tag}: container still known");
    assert_one_line_error(&o, culprit, tag);
}

#[test]
fn invalid_seccomp_profiles_are_refused() {
    require_root();
    seccomp_fails(
        "scbadact",
        json!({"defaultAction": "SCMP_ACT_EXPLODE", "architectures": ["SCMP_ARCH_X86_64"]}),
        "SCMP_ACT_EXPLODE",
    );
    seccomp_fails(
        "scbadop",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}),
        "SCMP_CMP_SOMETIMES",
    );
    seccomp_fails(
        "scbadarch",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]}),
        "SCMP_ARCH_PDP11",
    );
    seccomp_fails(
        "scbadidx",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
        "seccomp",
    );
}

#[test]
fn exec_into_stopped_or_unknown_container_fails() {
    require_root();
    let b = Bundle::new("execstopped", &["/bin/true"]);
    let rt = Runtime::new();
    rt.create_ok(b.id(), &b);
    rt.start_ok(b.id());
    rt.expect_status(b.id(), "stopped");
    let o = rt.run(&["exec", b.id(), "/bin/true"]);
    assert_one_line_error(&o, b.id(), "exec into a stopped container");
    assert_eq!(rt.status(b.id()).as_deref(), Some("stopped"));
    let o = rt.run(&["exec", "no-such-container-here", "/bin/true"]);
    assert_one_line_error(
        &o,
        "no-such-container-here",
        "exec into an unknown container",
    );
}

#[test]
fn update_with_impossible_values_changes_nothing() {
    require_root();
    let (b, rt) = running("updbad");
    let id = b.id();
    let limit = || read_trim(&b.cgroup_dir("memory").join("memory.limit_in_bytes"));
    let before = limit();
    for (args, culprit) in [
        (vec!["--memory", "lots"], "lots"),
        (vec!["--cpu-period", "5"], "period"),
        (vec!["--cpu-quota", "0"], "quota"),
        (vec!["--memory", "-7"], "-7"),
    ] {
        let mut full = vec!["update"];
        full.extend(args.iter());
        full.push(id);
        let o = rt.run(&full);
        assert_one_line_error(&o, culprit, &format!("update {args:?}"));
        assert_eq!(limit(), before, "update {args:?} changed the memory limit");
        assert_eq!(rt.status(id).as_deref(), Some("running"));
    }
    let o = rt.run(&["update", "--pids-limit", "10", "no-such-container-here"]);
    assert_one_line_error(
        &o,
        "no-such-container-here",
        "update of an unknown container",
    );
}

#[test]
fn pause_and_resume_in_the_wrong_state_fail() {
    require_root();
    // created: cannot pause
    let b = Bundle::new("pausecreated", &["/bin/sleep", "1000"]);
    let rt = Runtime::new();
    rt.create_ok(b.id(), &b);
    let o = rt.run(&["pause", b.id()]);
    assert_one_line_error(&o, b.id(), "pause of a created container");
    assert_eq!(rt.status(b.id()).as_deref(), Some("created"));
    // running: cannot resume
    rt.start_ok(b.id());
    let o = rt.run(&["resume", b.id()]);
    assert_one_line_error(&o, b.id(), "resume of a running container");
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));
    // stopped: cannot pause
    assert!(rt.kill(b.id(), "KILL").status.success());
    rt.expect_status(b.id(), "stopped");
    let o = rt.run(&["pause", b.id()]);
    assert_one_line_error(&o, b.id(), "pause of a stopped container");
    assert_eq!(rt.status(b.id()).as_deref(), Some("stopped"));
}
