//! `spec`: write the default config.json, the same document `runc spec`
//! writes (same fields, values and key order; tab-indented, no final
//! newline), so tools that run `spec` and patch it get the same container.

use crate::error::{Error, Result};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SpecArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A config for running without root (user namespace mapping the caller).
    #[arg(long)]
    pub rootless: bool,
}

/// The OCI version runc 1.1 writes into its default spec.
pub const SPEC_VERSION: &str = "1.0.2-dev";

const CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DefaultSpec {
    oci_version: &'static str,
    process: Process,
    root: Root,
    hostname: &'static str,
    mounts: Vec<Mount>,
    linux: Linux,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Process {
    terminal: bool,
    user: User,
    args: Vec<&'static str>,
    env: Vec<&'static str>,
    cwd: &'static str,
    capabilities: Capabilities,
    rlimits: Vec<Rlimit>,
    no_new_privileges: bool,
}

#[derive(Serialize)]
struct User {
    uid: u32,
    gid: u32,
}

#[derive(Serialize)]
struct Capabilities {
    bounding: [&'static str; 3],
    effective: [&'static str; 3],
    permitted: [&'static str; 3],
    ambient: [&'static str; 3],
}

#[derive(Serialize)]
struct Rlimit {
    #[serde(rename = "type")]
    kind: &'static str,
    hard: u64,
    soft: u64,
}

#[derive(Serialize)]
struct Root {
    path: &'static str,
    readonly: bool,
}

#[derive(Serialize)]
struct Mount {
    destination: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    source: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    options: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Linux {
    #[serde(skip_serializing_if = "Option::is_none")]
    uid_mappings: Option<[IdMap; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid_mappings: Option<[IdMap; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources>,
    namespaces: Vec<Namespace>,
    masked_paths: Vec<&'static str>,
    readonly_paths: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdMap {
    #[serde(rename = "containerID")]
    container_id: u32,
    #[serde(rename = "hostID")]
    host_id: u32,
    size: u32,
}

#[derive(Serialize)]
struct Resources {
    devices: [DeviceRule; 1],
}

#[derive(Serialize)]
struct DeviceRule {
    allow: bool,
    access: &'static str,
}

#[derive(Serialize)]
struct Namespace {
    #[serde(rename = "type")]
    kind: &'static str,
}

fn mount(
    destination: &'static str,
    kind: &'static str,
    source: &'static str,
    options: &[&'static str],
) -> Mount {
    Mount {
        destination,
        kind,
        source,
        options: options.to_vec(),
    }
}

fn default_spec() -> DefaultSpec {
    DefaultSpec {
        oci_version: SPEC_VERSION,
        process: Process {
            terminal: true,
            user: User { uid: 0, gid: 0 },
            args: vec!["sh"],
            env: vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            cwd: "/",
            capabilities: Capabilities {
                bounding: CAPS,
                effective: CAPS,
                permitted: CAPS,
                ambient: CAPS,
            },
            rlimits: vec![Rlimit {
                kind: "RLIMIT_NOFILE",
                hard: 1024,
                soft: 1024,
            }],
            no_new_privileges: true,
        },
        root: Root {
            path: "rootfs",
            readonly: true,
        },
        hostname: "runc",
        mounts: vec![
            mount("/proc", "proc", "proc", &[]),
            mount(
                "/dev",
                "tmpfs",
                "tmpfs",
                &["nosuid", "strictatime", "mode=755", "size=65536k"],
            ),
            mount(
                "/dev/pts",
                "devpts",
                "devpts",
                &[
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            ),
            mount(
                "/dev/shm",
                "tmpfs",
                "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            ),
            mount(
                "/dev/mqueue",
                "mqueue",
                "mqueue",
                &["nosuid", "noexec", "nodev"],
            ),
            mount(
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", "ro"],
            ),
            mount(
                "/sys/fs/cgroup",
                "cgroup",
                "cgroup",
                &["nosuid", "noexec", "nodev", "relatime", "ro"],
            ),
        ],
        linux: Linux {
            uid_mappings: None,
            gid_mappings: None,
            resources: Some(Resources {
                devices: [DeviceRule {
                    allow: false,
                    access: "rwm",
                }],
            }),
            namespaces: ["pid", "network", "ipc", "uts", "mount"]
                .into_iter()
                .map(|kind| Namespace { kind })
                .collect(),
            masked_paths: vec![
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ],
            readonly_paths: vec![
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }
}

/// runc's rootless changes: map the caller's ids to root, no network
/// namespace and no cgroup resources, /sys bound from the host, and no
/// devpts gid (the tty group is not mapped).
fn make_rootless(s: &mut DefaultSpec, uid: u32, gid: u32) {
    let map = |host_id| {
        Some([IdMap {
            container_id: 0,
            host_id,
            size: 1,
        }])
    };
    s.linux.uid_mappings = map(uid);
    s.linux.gid_mappings = map(gid);
    s.linux.resources = None;
    s.linux.namespaces.retain(|n| n.kind != "network");
    s.linux.namespaces.push(Namespace { kind: "user" });
    for m in &mut s.mounts {
        match m.destination {
            "/dev/pts" => m.options.retain(|o| !o.starts_with("gid=")),
            "/sys" => {
                *m = mount(
                    "/sys",
                    "none",
                    "/sys",
                    &["rbind", "nosuid", "noexec", "nodev", "ro"],
                )
            }
            _ => {}
        }
    }
}

/// The default config.json text.
pub fn render(rootless: Option<(u32, u32)>) -> Result<Vec<u8>> {
    let mut spec = default_spec();
    if let Some((uid, gid)) = rootless {
        make_rootless(&mut spec, uid, gid);
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    spec.serialize(&mut ser).map_err(|source| Error::Encode {
        what: "config.json",
        source,
    })?;
    Ok(out)
}

pub fn run(a: &SpecArgs) -> Result<()> {
    if !a.bundle.is_dir() {
        return Err(Error::io(
            &a.bundle,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let path = a.bundle.join("config.json");
    if path.exists() {
        return Err(Error::SpecExists(path));
    }
    let ids = a.rootless.then(|| {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    });
    let text = render(ids)?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_as_oci_and_has_runc_defaults() {
        let text = render(None).unwrap();
        let spec: oci_spec::runtime::Spec = serde_json::from_slice(&text).unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.terminal(), Some(true));
        let ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
        assert_eq!(ns.len(), 5);
        assert!(!String::from_utf8(text).unwrap().ends_with('\n'));
    }

    #[test]
    fn rootless_maps_the_caller() {
        let text = render(Some((1000, 1001))).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(v["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(v["linux"]["gidMappings"][0]["hostID"], 1001);
        assert!(v["linux"].get("resources").is_none());
    }
}
