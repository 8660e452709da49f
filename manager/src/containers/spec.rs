//! The OCI runtime spec (config.json) for a container, built from the
//! image config (Entrypoint, Cmd, Env, WorkingDir, User, …) and the user's
//! run options, with the defaults a Docker user expects: Docker's default
//! capabilities, masked and read-only paths, a default seccomp profile
//! (shipped as data, `seccomp_default.json`), the device allow list,
//! /etc/hosts, /etc/hostname and /etc/resolv.conf bind mounts, and a cgroup
//! under hull's parent.
//!
//! Plain JSON (serde_json::Value) in and out: the shim and hullc read
//! config.json, and tests can look at any field.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub use crate::images::ImageConfig;

/// Seccomp choice (`--security-opt seccomp=…`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Seccomp {
    #[default]
    Default,
    Unconfined,
    Profile(Value),
}

/// What `hull run`/`create` asks for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub id: String,
    /// Arguments after the image (replace the image's Cmd).
    pub args: Vec<String>,
    /// `--entrypoint` (replaces the image's Entrypoint and drops its Cmd).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// Numeric `uid[:gid]` (names are resolved by `resolve_user` first).
    pub user: Option<(u32, u32, Vec<u32>)>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub read_only: bool,
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
    /// `--network host`: share the host's network namespace.
    pub host_network: bool,
    /// Files bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf.
    pub etc_files: Vec<(PathBuf, &'static str)>,
    /// Parent cgroup (default "/hull").
    pub cgroup_parent: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    #[error("no command specified: the image has no Entrypoint or Cmd and none was given")]
    NoCommand,
    #[error("unknown capability {0:?}")]
    UnknownCapability(String),
    #[error("user {0:?} not found in the image's /etc/passwd")]
    UnknownUser(String),
    #[error("group {0:?} not found in the image's /etc/group")]
    UnknownGroup(String),
    #[error("invalid --cpus {0}: must be positive")]
    BadCpus(f64),
}

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability (for --privileged and `--cap-add ALL`).
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The default seccomp profile, shipped with hulld.
pub fn default_seccomp() -> Value {
    serde_json::from_str(include_str!("seccomp_default.json")).unwrap_or(Value::Null)
}

fn normalize_cap(c: &str) -> String {
    let up = c.trim().to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// Docker's cap-add/cap-drop arithmetic ("ALL" allowed on both sides).
pub fn capabilities(o: &RunOptions) -> Result<Vec<String>, SpecError> {
    if o.privileged {
        return Ok(ALL_CAPS.iter().map(|c| c.to_string()).collect());
    }
    let known = |c: &str| c == "CAP_ALL" || ALL_CAPS.contains(&c);
    let mut caps: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    for d in &o.cap_drop {
        let d = normalize_cap(d);
        if !known(&d) {
            return Err(SpecError::UnknownCapability(d));
        }
        if d == "CAP_ALL" {
            caps.clear();
        } else {
            caps.retain(|c| *c != d);
        }
    }
    for a in &o.cap_add {
        let a = normalize_cap(a);
        if !known(&a) {
            return Err(SpecError::UnknownCapability(a));
        }
        if a == "CAP_ALL" {
            caps = ALL_CAPS.iter().map(|c| c.to_string()).collect();
        } else if !caps.contains(&a) {
            caps.push(a);
        }
    }
    Ok(caps)
}

/// The process's argv: Docker's Entrypoint/Cmd rules.
pub fn process_args(img: &ImageConfig, o: &RunOptions) -> Result<Vec<String>, SpecError> {
    let (entry, cmd): (Vec<String>, Vec<String>) = match &o.entrypoint {
        Some(e) if e.is_empty() => (vec![], o.args.clone()),
        Some(e) => (vec![e.clone()], o.args.clone()),
        None => (
            img.entrypoint.clone().unwrap_or_default(),
            if o.args.is_empty() {
                img.cmd.clone().unwrap_or_default()
            } else {
                o.args.clone()
            },
        ),
    };
    let args: Vec<String> = entry.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

/// Image env, then PATH if missing, HOSTNAME, TERM for a tty, then -e
/// (a later KEY replaces an earlier one).
pub fn environment(img: &ImageConfig, o: &RunOptions, hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: String| {
        let key = kv.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    };
    set(DEFAULT_PATH.to_string());
    set(format!("HOSTNAME={hostname}"));
    for kv in img.env.iter().flatten() {
        set(kv.clone());
    }
    if o.tty {
        set("TERM=xterm".to_string());
    }
    for kv in &o.env {
        set(kv.clone());
    }
    env
}

/// `user[:group]` (names or numbers) → uid, gid, supplementary gids, using
/// the image's /etc/passwd and /etc/group under `rootfs`.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<(u32, u32, Vec<u32>), SpecError> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user || f[2] == user));
    let (uid, mut gid, name) = match (entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| SpecError::UnknownUser(user.into()))?,
            f[3].parse()
                .map_err(|_| SpecError::UnknownUser(user.into()))?,
            f[0].to_string(),
        ),
        (None, Ok(n)) => (n, n, String::new()),
        (None, Err(_)) => return Err(SpecError::UnknownUser(user.into())),
    };
    if let Some(g) = grp {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| SpecError::UnknownGroup(g.into()))?,
        };
    }
    let extra: Vec<u32> = if name.is_empty() {
        vec![]
    } else {
        group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect()
    };
    Ok((uid, gid, extra))
}

fn device_rules(privileged: bool) -> Value {
    if privileged {
        return json!([{"allow": true, "access": "rwm"}]);
    }
    let allow = |t: &str, maj: i64, min: Option<i64>| {
        let mut v = json!({"allow": true, "type": t, "major": maj, "access": "rwm"});
        if let Some(m) = min {
            v["minor"] = json!(m);
        }
        v
    };
    json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "access": "m"},
        {"allow": true, "type": "b", "access": "m"},
        allow("c", 1, Some(3)),
        allow("c", 1, Some(5)),
        allow("c", 1, Some(7)),
        allow("c", 1, Some(8)),
        allow("c", 1, Some(9)),
        allow("c", 5, Some(0)),
        allow("c", 5, Some(1)),
        allow("c", 5, Some(2)),
        allow("c", 136, None),
        allow("c", 10, Some(200)),
    ])
}

/// The whole config.json for `rootfs` (absolute path).
pub fn generate(img: &ImageConfig, o: &RunOptions, rootfs: &Path) -> Result<Value, SpecError> {
    let hostname = o
        .hostname
        .clone()
        .unwrap_or_else(|| o.id.chars().take(12).collect());
    let args = process_args(img, o)?;
    let caps = capabilities(o)?;
    let (uid, gid, extra_gids) = o.user.clone().unwrap_or((0, 0, vec![]));
    let cwd = o
        .workdir
        .clone()
        .or_else(|| img.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if o.privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", if o.privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    ];
    for (src, dest) in &o.etc_files {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if !o.host_network {
        namespaces.push(json!({"type": "network"}));
    }
    let mut resources = json!({"devices": device_rules(o.privileged)});
    if let Some(m) = o.memory {
        resources["memory"] = json!({"limit": m});
    }
    if let Some(c) = o.cpus {
        if c <= 0.0 || !c.is_finite() {
            return Err(SpecError::BadCpus(c));
        }
        resources["cpu"] = cpu_limit(c);
    }
    if let Some(p) = o.pids_limit {
        resources["pids"] = json!({"limit": p});
    }
    let parent = o.cgroup_parent.clone().unwrap_or_else(|| "/hull".into());
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": format!("{}/{}", parent.trim_end_matches('/'), o.id),
    });
    if !o.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
        let profile = match &o.seccomp {
            Seccomp::Default => Some(default_seccomp()),
            Seccomp::Unconfined => None,
            Seccomp::Profile(p) => Some(p.clone()),
        };
        if let Some(p) = profile.filter(|p| !p.is_null()) {
            linux["seccomp"] = p;
        }
    }
    let mut annotations = serde_json::Map::new();
    for (k, v) in img.labels.iter().flatten() {
        annotations.insert(k.clone(), json!(v));
    }
    if let Some(s) = &img.stop_signal {
        annotations.insert("org.opencontainers.image.stopSignal".into(), json!(s));
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs, "readonly": o.read_only},
        "hostname": hostname,
        "mounts": mounts,
        "process": {
            "terminal": o.tty,
            "user": {"uid": uid, "gid": gid, "additionalGids": extra_gids},
            "args": args,
            "env": environment(img, o, &hostname),
            "cwd": cwd,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1_048_576u64, "soft": 1_048_576u64}],
            "noNewPrivileges": o.no_new_privileges,
        },
        "linux": linux,
        "annotations": annotations,
    }))
}

/// Docker's `--cpus N` as OCI CPU resources: N periods of 100 ms each.
pub fn cpu_limit(cpus: f64) -> Value {
    json!({"quota": (cpus * 100_000.0).round() as i64, "period": 100_000})
}

#[cfg(test)]
mod tests;
