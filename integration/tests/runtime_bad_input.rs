//! Bad input: every failure exits non-zero with a one-line error on stderr
//! that names the culprit (file, id or path) and leaves nothing behind (no
//! state dir, cgroup, mount or process).

use std::fs;
use std::process::Output;

use hull_integration::bundle::Bundle;
use hull_integration::cleanup::cgroup_pids;
use hull_integration::runtime::{describe, require_root, Runtime};
use serde_json::json;

/// What is wrong with the error message: it must be exactly one non-empty
/// stderr line mentioning `culprit`.
fn message_problem(o: &Output, culprit: &str, what: &str) -> Option<String> {
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != 1 {
        return Some(format!("{what}: stderr must be a single line: {err:?}"));
    }
    if !lines[0].contains(culprit) {
        return Some(format!("{what}: error must name {culprit:?}: {err:?}"));
    }
    None
}

/// Non-zero exit and a one-line error naming `culprit`.
fn assert_one_line_error(o: &Output, culprit: &str, what: &str) {
    assert!(!o.status.success(), "{what} must fail: {}", describe(o));
    if let Some(p) = message_problem(o, culprit, what) {
        panic!("{p}");
    }
}

/// `create` the bundle as it is now: must fail, leave nothing, and say why
/// in one line naming `culprit` (checked last, so that the other
/// properties are reported first).
fn create_fails(b: &Bundle, culprit: &str, what: &str) {
    let rt = Runtime::new();
    let o = rt.create(b.id(), b);
    assert!(!o.status.success(), "{what} must fail: {}", describe(&o));
    rt.assert_nothing_left(b.id(), b);
    assert_eq!(
        rt.status(b.id()),
        None,
        "{what}: the failed container is still known"
    );
    assert_one_line_error(&o, culprit, what);
}

#[test]
fn missing_config_json() {
    require_root();
    let b = Bundle::new("noconfig", &["true"]);
    fs::remove_file(b.config_path()).unwrap();
    create_fails(&b, "config.json", "create without config.json");
}

/// runc 1.1.5 fails the message part: "runc create failed: unexpected EOF".
#[test]
fn malformed_config_json() {
    require_root();
    let b = Bundle::new("badjson", &["true"]);
    fs::write(
        b.config_path(),
        "{ \"ociVersion\": \"1.0.2\", \"process\": ",
    )
    .unwrap();
    create_fails(&b, "config.json", "create with malformed JSON");
}

/// runc 1.1.5 fails this: it accepts any ociVersion.
#[test]
fn unsupported_oci_version() {
    require_root();
    let mut b = Bundle::new("ociver", &["true"]);
    b.config_mut()["ociVersion"] = json!("2.0.0");
    b.write().unwrap();
    create_fails(&b, "2.0.0", "create with ociVersion 2.0.0");
}

#[test]
fn missing_rootfs() {
    require_root();
    let mut b = Bundle::new("norootfs", &["true"]);
    b.config_mut()["root"]["path"] = json!("no-such-rootfs");
    b.write().unwrap();
    create_fails(&b, "no-such-rootfs", "create with a missing rootfs");
}

/// A mount destination climbing out with `..` must be refused, and nothing
/// may appear at the host path it points to. runc 1.1.5 fails this: it
/// silently confines the path to the rootfs instead of refusing it.
#[test]
fn mount_destination_escaping_with_dotdot() {
    require_root();
    let mut b = Bundle::new("dotdot", &["true"]);
    let target = format!("hull-dotdot-{}", b.id());
    let host = std::path::Path::new("/tmp").join(&target);
    let src = b.host_dir("src");
    b.add_mount(json!({
        "destination": format!("/../../../../../tmp/{target}"),
        "type": "bind", "source": src, "options": ["rbind"]
    }));
    b.write().unwrap();
    let rt = Runtime::new();
    let o = rt.create(b.id(), &b);
    let created_on_host = host.exists();
    if created_on_host {
        let _ = hull_integration::cleanup::remove_tree(&host);
    }
    assert!(
        !created_on_host,
        "{} was created on the host",
        host.display()
    );
    assert!(
        !o.status.success(),
        "create with a ../.. mount destination must fail: {}",
        describe(&o)
    );
    rt.assert_nothing_left(b.id(), &b);
    assert_one_line_error(&o, &target, "create with a ../.. mount destination");
}

/// runc 1.1.5 fails the message part: "container with given ID already
/// exists" does not name the id.
#[test]
fn duplicate_id_is_refused_and_the_first_container_survives() {
    require_root();
    let b = Bundle::new("dup", &["/bin/sleep", "1000"]);
    let b2 = Bundle::new("dup2", &["/bin/sleep", "1000"]);
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, &b);
    let pid = rt.pid(id);
    let o = rt.create(id, &b2);
    assert!(
        !o.status.success(),
        "create with a duplicate id must fail: {}",
        describe(&o)
    );
    let st = rt.state_json(id);
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(
        st["pid"].as_i64(),
        Some(pid as i64),
        "the original container changed: {st}"
    );
    // The second attempt left nothing of its own.
    assert!(
        rt.leftovers(id, &b2)
            .iter()
            .all(|l| l.contains("state dir")),
        "{:?}",
        rt.leftovers(id, &b2)
    );
    assert!(
        cgroup_pids(&b2.cgroups_path().unwrap()).is_empty(),
        "second attempt left processes in its cgroup"
    );
    rt.start_ok(id);
    rt.expect_status(id, "running");
    assert_one_line_error(&o, id, "create with a duplicate id");
}

/// runc 1.1.5 fails the message part: "container does not exist".
#[test]
fn unknown_id_for_state_start_kill_delete() {
    require_root();
    let rt = Runtime::new();
    let id = hull_integration::unique_id("ghost");
    let mut problems = Vec::new();
    for args in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
    ] {
        let o = rt.run(&args);
        assert!(
            !o.status.success(),
            "{} of an unknown id must fail: {}",
            args[0],
            describe(&o)
        );
        assert!(
            !rt.root().join(&id).exists(),
            "{} created a state dir for an unknown id",
            args[0]
        );
        problems.extend(message_problem(
            &o,
            &id,
            &format!("{} of an unknown id", args[0]),
        ));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `delete --force` of an unknown id is not an error in runc; either way it
/// must not invent state.
#[test]
fn force_delete_of_unknown_id_creates_nothing() {
    require_root();
    let rt = Runtime::new();
    let id = hull_integration::unique_id("ghost");
    let _ = rt.delete_force(&id);
    assert!(!rt.root().join(&id).exists());
}
