//! hullc against runc's contract (issue 17), group G: cgroup v1 edge cases.

mod runc_contract_support;

use std::fs;
use std::path::Path;

use hull_integration::cleanup;
use hull_integration::runtime::{describe, read_trim, stderr_of, stdout_of};
use runc_contract_support::*;
use serde_json::json;

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

/// A process's cgroup lines with `path` written as "C" (each runtime has
/// its own path), sorted.
fn cgroup_lines(text: &str, path: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .map(|l| l.replace(path, "C"))
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

#[test]
fn execs_and_inits_joining_a_pid_namespace_are_in_every_hierarchy() {
    same("exec and pid-joining init cgroups", |name, rt| {
        let b = sleeper(&format!("cgex{name}"));
        run_d(rt, &b);
        let path = b.cgroups_path().unwrap();
        let o = rt.run(&["exec", b.id(), "cat", "/proc/self/cgroup"]);
        assert!(o.status.success(), "{name}: {}", describe(&o));
        let exec = cgroup_lines(&stdout_of(&o), &path);
        // Every hierarchy, the unified one ("0::") included.
        assert!(
            exec.iter().all(|l| l.ends_with(":C") || l.ends_with(":/")),
            "{name}: {exec:?}"
        );
        assert!(
            exec.iter().any(|l| l.starts_with("0::")),
            "{name}: {exec:?}"
        );

        // A second container in the first one's pid namespace.
        let mut j = sleeper(&format!("cgjn{name}"));
        let ns = format!("/proc/{}/ns/pid", rt.pid(b.id()));
        let list = j.config_mut()["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        for n in list.iter_mut() {
            if n["type"] == "pid" {
                n["path"] = json!(ns);
            }
        }
        j.write().unwrap();
        run_d(rt, &j);
        let jpath = j.cgroups_path().unwrap();
        let text = fs::read_to_string(format!("/proc/{}/cgroup", rt.pid(j.id()))).unwrap();
        let init = cgroup_lines(&text, &jpath);
        assert!(
            init.iter().any(|l| l.starts_with("0::")),
            "{name}: {init:?}"
        );
        (exec, init)
    });
}
