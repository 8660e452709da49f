//! The OCI specs of a pod: the pause container's (its root holds nothing
//! but the bind-mounted `hull-pause`) and the namespaces each container of
//! the pod joins.

use std::path::Path;

use serde_json::{json, Value};

use super::pause::Pause;
use super::{NsMode, PodConfig, SandboxRecord, PAUSE_PATH};

/// The cgroup parent of a pod's cgroups (its own, or hull's).
pub fn cgroup_parent(c: &PodConfig) -> String {
    if c.cgroup_parent.is_empty() {
        "/hull".into()
    } else {
        c.cgroup_parent.clone()
    }
}

/// The pause container's spec: PID 1 of the pod's namespaces.
pub fn pause_spec(
    id: &str,
    c: &PodConfig,
    pause: &Pause,
    netns: Option<&Path>,
    rootfs: &Path,
) -> Value {
    let host_net = c.namespaces.network == NsMode::Node;
    let mut namespaces = vec![json!({"type": "mount"})];
    if c.namespaces.pid != NsMode::Node {
        namespaces.push(json!({"type": "pid"}));
    }
    if c.namespaces.ipc != NsMode::Node {
        namespaces.push(json!({"type": "ipc"}));
    }
    if !host_net {
        namespaces.push(json!({"type": "uts"}));
    }
    if let Some(p) = netns {
        namespaces.push(json!({"type": "network", "path": p}));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": format!("{}/{id}", cgroup_parent(c).trim_end_matches('/')),
        "resources": {"devices": [{"allow": false, "access": "rwm"}]},
        "maskedPaths": crate::containers::spec::MASKED_PATHS,
        "readonlyPaths": crate::containers::spec::READONLY_PATHS,
    });
    if !c.sysctls.is_empty() {
        linux["sysctl"] = json!(c.sysctls);
    }
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs, "readonly": true},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=64k"]},
        ],
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [],
            "env": [crate::containers::spec::DEFAULT_PATH],
            "cwd": "/",
            "capabilities": {"bounding": [], "effective": [], "permitted": []},
            "noNewPrivileges": true,
        },
        "linux": linux,
        // The sandbox ID groups the pause and the pod's containers into one
        // shim (containerd's way; `containers::shim::group`).
        "annotations": {
            "io.kubernetes.cri.container-type": "sandbox",
            "io.kubernetes.cri.sandbox-id": id,
        },
    });
    match pause {
        Pause::Binary(bin) => {
            spec["process"]["args"] = json!([PAUSE_PATH]);
            if let Some(m) = spec["mounts"].as_array_mut() {
                m.push(
                    json!({"destination": PAUSE_PATH, "type": "bind", "source": bin,
                              "options": ["bind", "ro", "nosuid", "nodev"]}),
                );
            }
        }
        Pause::Image { args, .. } => spec["process"]["args"] = json!(args),
    }
    if !host_net {
        let hostname = if c.hostname.is_empty() {
            &c.name
        } else {
            &c.hostname
        };
        spec["hostname"] = json!(hostname);
    }
    spec
}

/// The namespaces a container of pod `s` runs in: the pod's network, IPC
/// and UTS ones (or the host's), and PID per `pid` (the pod's: the pause's,
/// its own, or the host's).
pub fn container_namespaces(s: &SandboxRecord, pid: NsMode) -> Value {
    let c = &s.config;
    let pause_ns = |kind: &str| format!("/proc/{}/ns/{kind}", s.pause_pid);
    let mut v = vec![json!({"type": "mount"})];
    if let Some(p) = &s.netns {
        v.push(json!({"type": "network", "path": p}));
    }
    if c.namespaces.ipc != NsMode::Node {
        v.push(json!({"type": "ipc", "path": pause_ns("ipc")}));
    }
    if c.namespaces.network != NsMode::Node {
        v.push(json!({"type": "uts", "path": pause_ns("uts")}));
    }
    match pid {
        NsMode::Pod if c.namespaces.pid != NsMode::Node => {
            v.push(json!({"type": "pid", "path": pause_ns("pid")}))
        }
        NsMode::Node => {}
        _ => v.push(json!({"type": "pid"})),
    }
    json!(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::Namespaces;

    fn types(v: &Value) -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let t = n["type"].as_str().unwrap();
                match n["path"].as_str() {
                    Some(p) => format!("{t}={p}"),
                    None => t.to_string(),
                }
            })
            .collect()
    }

    #[test]
    fn pause_has_the_pods_namespaces_or_the_hosts() {
        let c = PodConfig {
            name: "web".into(),
            ..Default::default()
        };
        let s = pause_spec(
            "p1",
            &c,
            &Pause::Binary("/bin/hull-pause".into()),
            Some(Path::new("/run/ns")),
            Path::new("/b/rootfs"),
        );
        assert_eq!(
            types(&s["linux"]["namespaces"]),
            ["mount", "pid", "ipc", "uts", "network=/run/ns"]
        );
        assert_eq!(s["hostname"], "web");
        assert_eq!(s["linux"]["cgroupsPath"], "/hull/p1");
        assert_eq!(s["process"]["args"], json!([PAUSE_PATH]));
        assert_eq!(s["mounts"][2]["source"], "/bin/hull-pause");
        let img = Pause::Image {
            name: "pause:1".into(),
            args: vec!["/pause".into(), "-v".into()],
        };
        let i = pause_spec("p1", &c, &img, None, Path::new("/b/rootfs"));
        assert_eq!(i["process"]["args"], json!(["/pause", "-v"]));
        assert_eq!(i["mounts"].as_array().unwrap().len(), 2);
        let host = PodConfig {
            namespaces: Namespaces {
                network: NsMode::Node,
                pid: NsMode::Node,
                ipc: NsMode::Node,
            },
            cgroup_parent: "/kubepods/pod1/".into(),
            ..c
        };
        let s = pause_spec(
            "p1",
            &host,
            &Pause::Binary("/p".into()),
            None,
            Path::new("/r"),
        );
        assert_eq!(types(&s["linux"]["namespaces"]), ["mount"]);
        assert!(s.get("hostname").is_none());
        assert_eq!(s["linux"]["cgroupsPath"], "/kubepods/pod1/p1");
    }

    #[test]
    fn containers_join_the_pause() {
        let s = SandboxRecord {
            pause_pid: 42,
            netns: Some("/run/ns".into()),
            ..Default::default()
        };
        assert_eq!(
            types(&container_namespaces(&s, NsMode::Container)),
            [
                "mount",
                "network=/run/ns",
                "ipc=/proc/42/ns/ipc",
                "uts=/proc/42/ns/uts",
                "pid"
            ]
        );
        assert_eq!(
            types(&container_namespaces(&s, NsMode::Pod))
                .last()
                .unwrap(),
            "pid=/proc/42/ns/pid"
        );
        assert_eq!(types(&container_namespaces(&s, NsMode::Node)).len(), 4);
    }
}
