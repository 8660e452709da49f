//! `features`: what this hullc supports, as the OCI runtime features
//! document (runtime-spec features.md). Only what really works is listed.

use serde_json::json;

pub fn document() -> serde_json::Value {
    let caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let mut caps = caps;
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "loud", "mand",
            "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime",
            "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared",
            "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
            "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": crate::security::seccomp::supported_actions(),
                "operators": hull_seccomp::supported_operators(),
                "archs": hull_seccomp::supported_archs(),
                "knownFlags": hull_seccomp::supported_flags(),
                "supportedFlags": crate::security::seccomp::supported_flags(),
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}},
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.hullc.version": env!("CARGO_PKG_VERSION"),
            "org.opencontainers.runtime-spec.features.hullc.seccompNotify": "false",
        }
    })
}

pub fn run() {
    println!(
        "{}",
        serde_json::to_string_pretty(&document()).unwrap_or_default()
    );
}
