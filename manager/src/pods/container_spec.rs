//! The OCI spec of a container in a pod: the containers room's spec from
//! the image and the options Docker users know, then what CRI adds — the
//! command/args rules, the pod's namespaces and /etc files, mounts with
//! propagation, the security context, the resources and host devices.

use std::path::Path;

use serde_json::{json, Value};

use super::pod_containers::{ContainerConfig, Propagation, Seccomp};
use super::{etc, spec, SandboxRecord};
use crate::containers::spec::{self as cspec, ImageConfig, RunOptions};
use crate::error::{Error, Result};

/// CRI's command/args over the image's Entrypoint/Cmd: `command` replaces
/// the Entrypoint (and drops the Cmd), `args` replace the Cmd.
pub fn with_command(img: &ImageConfig, c: &ContainerConfig) -> ImageConfig {
    let mut img = img.clone();
    if !c.command.is_empty() {
        img.entrypoint = Some(c.command.clone());
        img.cmd = Some(c.args.clone());
    } else if !c.args.is_empty() {
        img.cmd = Some(c.args.clone());
    }
    img
}

fn bind_options(m: &super::pod_containers::Mount) -> Vec<&'static str> {
    let mut o = vec![
        "rbind",
        match m.propagation {
            Propagation::Private => "rprivate",
            Propagation::HostToContainer => "rslave",
            Propagation::Bidirectional => "rshared",
        },
    ];
    if m.readonly {
        o.push("ro");
    }
    o
}

/// The whole config.json of container `id` of pod `s`.
pub fn generate(
    id: &str,
    s: &SandboxRecord,
    img: &ImageConfig,
    c: &ContainerConfig,
    user: Option<(u32, u32, Vec<u32>)>,
    rootfs: &Path,
) -> Result<Value> {
    let sc = &c.security;
    let seccomp = match &sc.seccomp {
        Seccomp::Unconfined => cspec::Seccomp::Unconfined,
        Seccomp::RuntimeDefault => cspec::Seccomp::Default,
        Seccomp::Localhost(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::InvalidArgument(format!("seccomp profile {}: {e}", p.display()))
            })?;
            cspec::Seccomp::Profile(serde_json::from_str(&text).map_err(|e| {
                Error::InvalidArgument(format!("seccomp profile {}: {e}", p.display()))
            })?)
        }
    };
    let ro = RunOptions {
        id: id.to_string(),
        env: c.envs.clone(),
        workdir: (!c.working_dir.is_empty()).then(|| c.working_dir.clone()),
        user,
        cap_add: sc.cap_add.clone(),
        cap_drop: sc.cap_drop.clone(),
        privileged: sc.privileged,
        read_only: sc.readonly_rootfs,
        no_new_privileges: sc.no_new_privs,
        seccomp,
        etc_files: vec![
            (s.dir.join(etc::HOSTNAME), "/etc/hostname"),
            (s.dir.join(etc::HOSTS), "/etc/hosts"),
            (s.dir.join(etc::RESOLV), "/etc/resolv.conf"),
        ],
        cgroup_parent: Some(spec::cgroup_parent(&s.config)),
        ..Default::default()
    };
    let mut v = cspec::generate(&with_command(img, c), &ro, rootfs)
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    crate::containers::cap_rlimits(&mut v);
    // The pod's UTS namespace holds the pod's hostname.
    if let Some(o) = v.as_object_mut() {
        o.remove("hostname");
    }
    let hostname = std::fs::read_to_string(s.dir.join(etc::HOSTNAME)).unwrap_or_default();
    if let Some(env) = v["process"]["env"].as_array_mut() {
        for e in env.iter_mut() {
            if e.as_str().is_some_and(|x| x.starts_with("HOSTNAME=")) {
                *e = json!(format!("HOSTNAME={}", hostname.trim()));
            }
        }
    }
    v["linux"]["namespaces"] = spec::container_namespaces(s, sc.pid);
    // A terminal, and a stdin kept for attach (the containers room's
    // annotations, which its task start and attach read).
    v["process"]["terminal"] = json!(c.tty);
    if c.stdin {
        v["annotations"][crate::containers::attach::OPEN_STDIN_ANNOTATION] = json!("true");
    }
    if c.stdin && c.stdin_once {
        v["annotations"][crate::containers::attach::STDIN_ONCE_ANNOTATION] = json!("true");
    }
    if let Some(mounts) = v["mounts"].as_array_mut() {
        for m in &c.mounts {
            // A mount over one of the defaults replaces it.
            mounts.retain(|x| x["destination"] != m.container_path.as_str());
            mounts.push(json!({
                "destination": m.container_path,
                "type": "bind",
                "source": m.host_path,
                "options": bind_options(m),
            }));
            if m.selinux_relabel {
                tracing::info!(path = %m.host_path, "SELinux relabel of a mount ignored: no SELinux here");
            }
        }
    }
    if !sc.privileged {
        if let Some(p) = &sc.masked_paths {
            v["linux"]["maskedPaths"] = json!(p);
        }
        if let Some(p) = &sc.readonly_paths {
            v["linux"]["readonlyPaths"] = json!(p);
        }
    }
    let r = &c.resources;
    for (k, val) in super::resources::oci(r) {
        v["linux"]["resources"][k] = val;
    }
    super::devices::apply(&mut v, &c.devices)?;
    if r.oom_score_adj != 0 {
        v["process"]["oomScoreAdj"] = json!(r.oom_score_adj);
    }
    v["annotations"]["io.kubernetes.cri.container-type"] = json!("container");
    // The pod's containers share the pause's shim (one shim per pod).
    v["annotations"]["io.kubernetes.cri.sandbox-id"] = json!(s.id);
    v["annotations"]["io.kubernetes.cri.container-name"] = json!(c.name);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::pod_containers::{Mount, Resources, SecurityContext};
    use crate::pods::NsMode;

    fn img() -> ImageConfig {
        serde_json::from_value(json!({"Entrypoint": ["/ep"], "Cmd": ["c1"], "Env": ["A=1"]}))
            .unwrap()
    }

    #[test]
    fn command_and_args_over_entrypoint_and_cmd() {
        let c = |command: &[&str], args: &[&str]| ContainerConfig {
            command: command.iter().map(|s| s.to_string()).collect(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let argv = |cc: &ContainerConfig| {
            cspec::process_args(&with_command(&img(), cc), &RunOptions::default()).unwrap()
        };
        assert_eq!(argv(&c(&[], &[])), ["/ep", "c1"]);
        assert_eq!(argv(&c(&[], &["a"])), ["/ep", "a"]);
        assert_eq!(argv(&c(&["sh"], &[])), ["sh"]);
        assert_eq!(argv(&c(&["sh"], &["-c", "x"])), ["sh", "-c", "x"]);
    }

    #[test]
    fn pod_namespaces_mounts_security_and_resources() {
        let s = SandboxRecord {
            id: "pod1".into(),
            pause_pid: 7,
            netns: Some("/run/ns".into()),
            dir: "/state/pods/pod1".into(),
            ..Default::default()
        };
        let c = ContainerConfig {
            name: "app".into(),
            envs: vec!["B=2".into()],
            mounts: vec![Mount {
                container_path: "/data".into(),
                host_path: "/srv".into(),
                readonly: true,
                propagation: Propagation::HostToContainer,
                selinux_relabel: false,
            }],
            security: SecurityContext {
                readonly_rootfs: true,
                cap_drop: vec!["ALL".into()],
                cap_add: vec!["NET_ADMIN".into()],
                pid: NsMode::Pod,
                ..Default::default()
            },
            resources: Resources {
                cpu_shares: 512,
                cpu_quota: 50_000,
                cpu_period: 100_000,
                memory_limit: 64 << 20,
                cpuset_cpus: "0".into(),
                oom_score_adj: 100,
                ..Default::default()
            },
            ..Default::default()
        };
        let v = generate(
            "c1",
            &s,
            &img(),
            &c,
            Some((1000, 1000, vec![5])),
            Path::new("/r"),
        )
        .unwrap();
        assert!(v.get("hostname").is_none());
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            json!(["CAP_NET_ADMIN"])
        );
        assert_eq!(
            v["process"]["user"],
            json!({"uid": 1000, "gid": 1000, "additionalGids": [5]})
        );
        assert!(v["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&json!("B=2")));
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.contains(&json!({"type": "pid", "path": "/proc/7/ns/pid"})));
        let data = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/data")
            .unwrap();
        assert_eq!(data["options"], json!(["rbind", "rslave", "ro"]));
        let hosts = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/etc/hosts")
            .unwrap();
        assert_eq!(hosts["source"], "/state/pods/pod1/hosts");
        assert_eq!(
            v["linux"]["resources"]["cpu"],
            json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"})
        );
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(v["process"]["oomScoreAdj"], 100);
        assert_eq!(v["linux"]["cgroupsPath"], "/hull/c1");
        assert!(
            v["linux"]["seccomp"].is_object(),
            "RuntimeDefault: the default profile"
        );
    }
}
