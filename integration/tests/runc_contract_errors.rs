//! hullc against runc's contract (issue 17), group F: exit codes and
//! messages.

mod runc_contract_support;

use std::path::Path;

use hull_integration::runtime::{collect, describe, stderr_of, COMMAND_TIMEOUT};
use runc_contract_support::*;
use serde_json::json;

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
