//! cgroups: resources in config.json are read back from the host's cgroup
//! files under /sys/fs/cgroup/<controller>/<cgroupsPath> (v1 hierarchies on
//! this machine), enforcement is checked where cheap, and the cgroup dirs
//! must be gone after delete.

use std::fs;

use hull_integration::bundle::Bundle;
use hull_integration::cleanup::cgroup_dirs;
use hull_integration::runtime::{describe, read_trim, require_root, Runtime};
use serde_json::json;

const MIB: u64 = 1024 * 1024;

/// Create the container, run `check` while it is `created`, then delete it
/// and check that nothing (cgroup dirs included) is left.
fn with_created(b: &Bundle, check: impl FnOnce(&Runtime, i32)) {
    let rt = Runtime::new();
    let id = b.id();
    rt.create_ok(id, b);
    let pid = rt.pid(id);
    check(&rt, pid);
    let o = rt.delete_force(id);
    assert!(o.status.success(), "delete: {}", describe(&o));
    rt.assert_nothing_left(id, b);
}

fn knob(b: &Bundle, controller: &str, file: &str) -> String {
    read_trim(&b.cgroup_dir(controller).join(file))
}

#[test]
fn cgroup_dirs_hold_the_init_and_are_removed_on_delete() {
    require_root();
    let b = Bundle::new("cgdirs", &["/bin/sleep", "1000"]);
    let cg = b.cgroups_path().unwrap();
    with_created(&b, |_, pid| {
        for c in [
            "memory", "cpu", "cpuacct", "cpuset", "pids", "devices", "freezer", "blkio",
        ] {
            let d = b.cgroup_dir(c);
            if !std::path::Path::new("/sys/fs/cgroup")
                .join(c)
                .join("cgroup.procs")
                .exists()
            {
                continue; // controller not mounted as v1 on this host
            }
            let procs = fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_else(|e| panic!("{c} cgroup {} missing: {e}", d.display()));
            assert!(
                procs.lines().any(|l| l.trim() == pid.to_string()),
                "init {pid} not in {c} cgroup: {procs:?}"
            );
        }
        assert!(!cgroup_dirs(&cg).is_empty());
    });
    assert!(
        cgroup_dirs(&cg).is_empty(),
        "cgroup dirs left: {:?}",
        cgroup_dirs(&cg)
    );
}

#[test]
fn memory_limit_reservation_and_swap() {
    require_root();
    let mut b = Bundle::sh("mem", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes");
    b.resources_mut()["memory"] =
        json!({"limit": 64 * MIB, "reservation": 32 * MIB, "swap": 128 * MIB});
    b.write().unwrap();
    with_created(&b, |_, _| {
        assert_eq!(
            knob(&b, "memory", "memory.limit_in_bytes"),
            (64 * MIB).to_string()
        );
        assert_eq!(
            knob(&b, "memory", "memory.soft_limit_in_bytes"),
            (32 * MIB).to_string()
        );
        let memsw = b.cgroup_dir("memory").join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            // OCI swap is memory+swap.
            assert_eq!(read_trim(&memsw), (128 * MIB).to_string());
        }
    });
    // Inside, the cgroup mount shows the container's own cgroup.
    let out = Runtime::new().run_ok(b.id(), &b);
    assert_eq!(
        out.trim(),
        (64 * MIB).to_string(),
        "container's view of its memory cgroup"
    );
}

#[test]
fn cpu_shares_quota_period_cpus_mems() {
    require_root();
    let mut b = Bundle::new("cpu", &["/bin/sleep", "1000"]);
    b.resources_mut()["cpu"] =
        json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"});
    b.write().unwrap();
    with_created(&b, |_, pid| {
        assert_eq!(knob(&b, "cpu", "cpu.shares"), "512");
        assert_eq!(knob(&b, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(knob(&b, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(knob(&b, "cpuset", "cpuset.cpus"), "0");
        assert_eq!(knob(&b, "cpuset", "cpuset.mems"), "0");
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let allowed = status
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap();
        assert_eq!(
            allowed.split_whitespace().nth(1),
            Some("0"),
            "init not confined to cpu 0: {allowed}"
        );
    });
}

#[test]
fn pids_limit() {
    require_root();
    let mut b = Bundle::new("pids", &["/bin/sleep", "1000"]);
    b.resources_mut()["pids"] = json!({"limit": 20});
    b.write().unwrap();
    with_created(&b, |_, _| assert_eq!(knob(&b, "pids", "pids.max"), "20"));
}

#[test]
fn pids_limit_is_enforced() {
    require_root();
    // sh (1) + 2 sleeps fit in 3; the third background sleep cannot fork.
    let mut b = Bundle::sh(
        "pidsenf",
        "sleep 30 & sleep 30 & if sleep 30 & then echo third-forked; fi; echo end",
    );
    b.resources_mut()["pids"] = json!({"limit": 3});
    b.write().unwrap();
    let o = Runtime::new().run_container(b.id(), &b, &[]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !all.contains("third-forked"),
        "pids limit not enforced: {all}"
    );
    assert!(all.contains("fork"), "expected a fork failure: {all}");
}

/// A user deny rule must win over the runtime's default allow list.
/// runc 1.1.5 fails this: it appends its default device rules (which allow
/// c 1:3 rwm) after the user's, so /dev/null stays writable.
#[test]
fn device_rule_denies_write_to_dev_null() {
    require_root();
    let mut b = Bundle::sh(
        "devdeny",
        "head -c 1 /dev/null && echo read-ok; if echo x > /dev/null; then echo WROTE; else echo write-denied; fi",
    );
    b.resources_mut()["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}));
    b.write().unwrap();
    with_created(&b, |_, _| {
        let list = knob(&b, "devices", "devices.list");
        let null = list
            .lines()
            .filter(|l| l.starts_with("c 1:3 ") || l.starts_with("c *:* ") || l.starts_with("a "));
        for l in null {
            assert!(
                !l.rsplit(' ').next().unwrap_or("").contains('w'),
                "devices.list still allows writing /dev/null: {list}"
            );
        }
    });
    let o = Runtime::new().run_container(b.id(), &b, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("read-ok"),
        "reading /dev/null must stay allowed: {}",
        describe(&o)
    );
    assert!(
        out.contains("write-denied") && !out.contains("WROTE"),
        "write to /dev/null was allowed: {}",
        describe(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Operation not permitted"),
        "{}",
        describe(&o)
    );
}

#[test]
fn blkio_weight() {
    require_root();
    let mut b = Bundle::new("blkio", &["/bin/sleep", "1000"]);
    b.resources_mut()["blockIO"] = json!({"weight": 500});
    b.write().unwrap();
    with_created(&b, |_, _| {
        // Only kernels with CFQ/BFQ expose a weight file; this one may not.
        // Creation must still succeed either way.
        for f in ["blkio.weight", "blkio.bfq.weight"] {
            let p = b.cgroup_dir("blkio").join(f);
            if p.exists() {
                let v = read_trim(&p);
                assert!(
                    v == "500" || v.ends_with(" 500") || v.contains("default 500"),
                    "{f} = {v:?}"
                );
            }
        }
    });
}

/// A device outside the default list gets exactly the access its rule
/// grants: read-only here, so opening it for writing fails.
#[test]
fn device_rule_grants_only_the_listed_access() {
    require_root();
    let mut b = Bundle::sh(
        "devro",
        "if echo x > /dev/hullkmsg; then echo WROTE; else echo write-denied; fi",
    );
    b.linux_mut()["devices"] =
        json!([{"path": "/dev/hullkmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]);
    b.resources_mut()["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"}));
    b.write().unwrap();
    let o = Runtime::new().run_container(b.id(), &b, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("write-denied") && !out.contains("WROTE"),
        "write to a read-only device allowed: {}",
        describe(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Operation not permitted"),
        "{}",
        describe(&o)
    );
}
