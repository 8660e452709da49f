//! Namespaces: each kind is checked from inside the container (and its
//! namespace inode compared with the host's), plus user-namespace mappings
//! and joining existing namespaces by path.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{describe, require_root, Runtime};
use serde_json::json;

/// Inode of a namespace file as seen from here (`stat` follows the link).
fn ns_inode(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .ino()
}

fn host_ns(kind: &str) -> u64 {
    ns_inode(Path::new(&format!("/proc/self/ns/{kind}")))
}

/// Parse `kind:[123]` as printed by readlink of /proc/self/ns/kind.
fn parse_ns_link(s: &str) -> u64 {
    s.trim()
        .split('[')
        .nth(1)
        .and_then(|r| r.trim_end_matches(']').parse().ok())
        .unwrap_or_else(|| panic!("not a namespace link: {s:?}"))
}

/// Run `script` in a fresh container and return its stdout lines.
fn run_lines(b: &Bundle) -> Vec<String> {
    let rt = Runtime::new();
    let out = rt.run_ok(b.id(), b);
    out.lines().map(str::to_string).collect()
}

#[test]
fn pid_namespace_makes_the_process_pid_1() {
    require_root();
    // The glob is expanded by sh itself: no helper process is running.
    let b = Bundle::sh(
        "pidns",
        "echo $$; readlink /proc/self/ns/pid; echo /proc/[0-9]*",
    );
    let l = run_lines(&b);
    assert_eq!(l[0], "1", "the container process must be pid 1: {l:?}");
    assert_ne!(parse_ns_link(&l[1]), host_ns("pid"));
    assert_eq!(l[2], "/proc/1", "a fresh pid namespace shows only its init");
}

#[test]
fn uts_namespace_sets_hostname() {
    require_root();
    let mut b = Bundle::sh("uts", "hostname; readlink /proc/self/ns/uts");
    b.config_mut()["hostname"] = json!("hull-uts-box");
    b.write().unwrap();
    let before = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let l = run_lines(&b);
    assert_eq!(l[0], "hull-uts-box");
    assert_ne!(parse_ns_link(&l[1]), host_ns("uts"));
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        before,
        "host hostname changed"
    );
}

/// `domainname` is OCI runtime-spec 1.1; runc 1.1.5 ignores it (fails here).
#[test]
fn uts_namespace_sets_domainname() {
    require_root();
    let mut b = Bundle::sh("domain", "cat /proc/sys/kernel/domainname");
    b.config_mut()["domainname"] = json!("uts.example");
    b.write().unwrap();
    let before = fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let l = run_lines(&b);
    assert_eq!(l[0], "uts.example");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before,
        "host domainname changed"
    );
}

#[test]
fn ipc_namespace_is_private() {
    require_root();
    let b = Bundle::sh(
        "ipc",
        "readlink /proc/self/ns/ipc; cat /proc/sysvipc/shm | wc -l",
    );
    let l = run_lines(&b);
    assert_ne!(parse_ns_link(&l[0]), host_ns("ipc"));
    // Only the header line: no host SysV segments are visible.
    assert_eq!(
        l[1].trim(),
        "1",
        "shm segments visible in a new ipc ns: {l:?}"
    );
}

#[test]
fn network_namespace_has_only_loopback() {
    require_root();
    let b = Bundle::sh(
        "net",
        "readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1",
    );
    let l = run_lines(&b);
    assert_ne!(parse_ns_link(&l[0]), host_ns("net"));
    let ifs: Vec<&str> = l[1..].iter().map(|s| s.trim()).collect();
    assert_eq!(ifs, vec!["lo"], "interfaces in a new netns");
}

#[test]
fn mount_namespace_is_private() {
    require_root();
    let b = Bundle::sh(
        "mnt",
        "readlink /proc/self/ns/mnt; grep -c ' /proc ' /proc/self/mountinfo",
    );
    let l = run_lines(&b);
    assert_ne!(parse_ns_link(&l[0]), host_ns("mnt"));
    assert_eq!(l[1], "1", "the container sees its own /proc mount once");
    // The container's mounts did not leak to the host.
    assert!(hull_integration::cleanup::mounts_under(b.dir()).is_empty());
}

#[test]
fn cgroup_namespace_hides_the_host_cgroup_path() {
    require_root();
    let mut b = Bundle::sh(
        "cgns",
        "readlink /proc/self/ns/cgroup; cat /proc/self/cgroup",
    );
    b.set_namespace("cgroup", None);
    b.write().unwrap();
    let l = run_lines(&b);
    assert_ne!(parse_ns_link(&l[0]), host_ns("cgroup"));
    let paths: Vec<&str> = l[1..]
        .iter()
        .filter_map(|s| s.splitn(3, ':').nth(2))
        .collect();
    assert!(!paths.is_empty(), "{l:?}");
    for p in &paths {
        assert!(
            !p.contains("hull-test"),
            "cgroup path leaks the host hierarchy in a cgroup ns: {l:?}"
        );
    }
}

#[test]
fn without_cgroup_namespace_the_cgroup_path_is_visible() {
    require_root();
    let b = Bundle::sh("nocgns", "grep memory /proc/self/cgroup");
    let l = run_lines(&b);
    assert!(
        l[0].ends_with(&b.cgroups_path().unwrap()),
        "memory cgroup is not cgroupsPath: {l:?}"
    );
}

#[test]
fn user_namespace_maps_root_to_an_unprivileged_range() {
    require_root();
    let mut b = Bundle::sh(
        "userns",
        "id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; readlink /proc/self/ns/user; exec sleep 1000",
    );
    b.set_user_namespace(100000, 65536);
    b.write().unwrap();
    let rt = Runtime::new();
    let id = b.id();
    let o = rt.run_detached(id, &b);
    assert!(
        o.status.success(),
        "run -d with a user namespace: {}",
        describe(&o)
    );
    let text = Runtime::wait_stdout_lines(&b, id, 5, std::time::Duration::from_secs(10));
    let l: Vec<&str> = text.lines().collect();
    assert_eq!(l[0], "0", "uid inside");
    assert_eq!(l[1], "0", "gid inside");
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(words(l[2]), ["0", "100000", "65536"], "uid_map");
    assert_eq!(words(l[3]), ["0", "100000", "65536"], "gid_map");
    assert_ne!(parse_ns_link(l[4]), host_ns("user"));
    // From the host the same process runs as 100000.
    let pid = rt.pid(id);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(words(uid_line)[1], "100000", "host view: {uid_line}");
}

/// A network namespace made with `ip netns add`, deleted on drop.
struct NetNs {
    name: String,
}

impl NetNs {
    fn new(name: &str) -> NetNs {
        let o = Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .expect("run ip");
        assert!(o.status.success(), "ip netns add {name}: {}", describe(&o));
        NetNs {
            name: name.to_string(),
        }
    }
    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

#[test]
fn joins_an_existing_network_namespace_by_path() {
    require_root();
    let mut b = Bundle::sh("joinnet", "readlink /proc/self/ns/net");
    let ns = NetNs::new(&format!("hull-{}", b.id()));
    b.set_namespace("network", Some(&ns.path()));
    b.write().unwrap();
    let l = run_lines(&b);
    assert_eq!(
        parse_ns_link(&l[0]),
        ns_inode(&ns.path()),
        "the container is not in the given netns"
    );
}

#[test]
fn joins_another_containers_namespaces_by_proc_path() {
    require_root();
    let a = Bundle::new("nsa", &["/bin/sleep", "1000"]);
    let rt = Runtime::new();
    rt.create_ok(a.id(), &a);
    rt.start_ok(a.id());
    let pid = rt.pid(a.id());
    let mut b = Bundle::sh("nsb", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname");
    for kind in ["network", "ipc", "uts"] {
        let file = if kind == "network" { "net" } else { kind };
        b.set_namespace(kind, Some(Path::new(&format!("/proc/{pid}/ns/{file}"))));
    }
    // Joining a uts namespace: the joiner must not set a hostname.
    b.config_mut().as_object_mut().unwrap().remove("hostname");
    b.write().unwrap();
    let out = rt.run_ok(b.id(), &b);
    let l: Vec<&str> = out.lines().collect();
    for (i, file) in ["net", "ipc", "uts"].iter().enumerate() {
        assert_eq!(
            parse_ns_link(l[i]),
            ns_inode(Path::new(&format!("/proc/{pid}/ns/{file}"))),
            "{file} namespace not shared with container A: {l:?}"
        );
    }
    assert_eq!(l[3], "hull", "hostname comes from A's uts namespace");
}
