//! OCI bundles for tests: a unique temp dir under /tmp holding a busybox
//! rootfs and a config.json built in code (close to `runc spec` output, but
//! non-interactive and with a unique cgroups path).
//!
//! The JSON is a plain `serde_json::Value`: tests mutate it freely
//! (`config_mut()` or the small helpers below) and call `write()`.
//! Dropping a Bundle kills whatever still runs rooted in it, removes its
//! cgroup dirs, unmounts anything under it and deletes it without crossing
//! file systems.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cleanup;
use crate::rootfs::build_busybox_rootfs;

/// The default capability set of `runc spec`.
pub const DEFAULT_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// Parent of every test container's cgroup (left in place: shared by tests
/// running concurrently).
pub const CGROUP_PARENT: &str = "/hull-test";

/// A config.json resembling `runc spec` (same mounts, namespaces, masked and
/// read-only paths, capabilities, rlimit, noNewPrivileges, device deny-all)
/// but with terminal=false, a writable root, the given args and hostname, and
/// `linux.cgroupsPath` set.
pub fn default_config(args: &[&str], hostname: &str, cgroups_path: &str) -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS,
                "ambient": DEFAULT_CAPS
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": hostname,
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// A bundle directory with rootfs/ and (after `write()`) config.json.
pub struct Bundle {
    dir: PathBuf,
    id: String,
    config: Value,
}

impl Bundle {
    /// A new bundle under /tmp with a busybox rootfs; `args` is the
    /// container's process. The suggested container id (`id()`) is unique,
    /// and the cgroups path is `/hull-test/<id>`. config.json is written.
    pub fn new(tag: &str, args: &[&str]) -> Bundle {
        let id = crate::unique_id(tag);
        let dir = tempfile::Builder::new()
            .prefix(&format!("hull-{id}-"))
            .tempdir_in("/tmp")
            .expect("create bundle temp dir")
            .keep();
        // 0755 so that a user-namespaced init (mapped to an unprivileged
        // host uid) can still reach rootfs/ through it.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod bundle");
        let b = Bundle {
            config: default_config(args, "hull", &format!("{CGROUP_PARENT}/{id}")),
            dir,
            id,
        };
        build_busybox_rootfs(&b.rootfs()).expect("build busybox rootfs");
        b.write().expect("write config.json");
        b
    }

    /// A bundle whose process is `/bin/sh -c script`.
    pub fn sh(tag: &str, script: &str) -> Bundle {
        Bundle::new(tag, &["/bin/sh", "-c", script])
    }

    /// The bundle directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The rootfs directory named by `root.path` (absolute).
    pub fn rootfs(&self) -> PathBuf {
        let p = self.config["root"]["path"].as_str().unwrap_or("rootfs");
        self.dir.join(p)
    }

    /// The busybox rootfs dir (always `<bundle>/rootfs`, even when the
    /// config points elsewhere).
    pub fn default_rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// A container id unique to this bundle (tests may use others).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `linux.cgroupsPath`, if set.
    pub fn cgroups_path(&self) -> Option<String> {
        self.config["linux"]["cgroupsPath"]
            .as_str()
            .map(str::to_string)
    }

    /// The host directory of this bundle's cgroup under a v1 controller
    /// (e.g. "memory") or "unified".
    pub fn cgroup_dir(&self, controller: &str) -> PathBuf {
        cleanup::cgroup_dir(controller, &self.cgroups_path().unwrap_or_default())
    }

    pub fn config(&self) -> &Value {
        &self.config
    }

    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }

    /// Write config.json (pretty) into the bundle.
    pub fn write(&self) -> io::Result<()> {
        let text = serde_json::to_string_pretty(&self.config).map_err(io::Error::other)?;
        fs::write(self.dir.join("config.json"), text)
    }

    /// Path of config.json.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// A fresh host directory `<bundle>/<name>` (outside the rootfs), e.g. a
    /// bind-mount source or a place for marker files. Mode 0777 so that
    /// non-root container users can write there.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        fs::create_dir_all(&p).expect("create host dir");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).expect("chmod host dir");
        p
    }

    /// Replace `process.args`.
    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// `process` as a mutable JSON value.
    pub fn process_mut(&mut self) -> &mut Value {
        &mut self.config["process"]
    }

    /// `linux` as a mutable JSON value.
    pub fn linux_mut(&mut self) -> &mut Value {
        &mut self.config["linux"]
    }

    /// `linux.resources` (created if missing).
    pub fn resources_mut(&mut self) -> &mut Value {
        let l = &mut self.config["linux"];
        if l.get("resources").is_none() {
            l["resources"] = json!({});
        }
        &mut l["resources"]
    }

    /// Append an entry to `mounts`.
    pub fn add_mount(&mut self, mount: Value) -> &mut Self {
        self.mounts_mut().push(mount);
        self
    }

    /// Append a bind mount of a host path; `ro` adds the "ro" option.
    pub fn add_bind(&mut self, source: &Path, destination: &str, ro: bool) -> &mut Self {
        let mut opts = vec!["rbind"];
        if ro {
            opts.push("ro");
        }
        self.add_mount(json!({
            "destination": destination, "type": "bind",
            "source": source.to_string_lossy(), "options": opts
        }))
    }

    fn mounts_mut(&mut self) -> &mut Vec<Value> {
        if !self.config["mounts"].is_array() {
            self.config["mounts"] = json!([]);
        }
        self.config["mounts"]
            .as_array_mut()
            .expect("mounts is an array")
    }

    fn namespaces_mut(&mut self) -> &mut Vec<Value> {
        if !self.config["linux"]["namespaces"].is_array() {
            self.config["linux"]["namespaces"] = json!([]);
        }
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces is an array")
    }

    /// Add (or replace) a namespace of `kind` ("pid", "network", "user",
    /// "cgroup", ...), optionally joining an existing one at `path`.
    pub fn set_namespace(&mut self, kind: &str, path: Option<&Path>) -> &mut Self {
        self.remove_namespace(kind);
        let mut ns = json!({ "type": kind });
        if let Some(p) = path {
            ns["path"] = json!(p.to_string_lossy());
        }
        self.namespaces_mut().push(ns);
        self
    }

    /// Drop the namespace of `kind` (the container shares the host's).
    pub fn remove_namespace(&mut self, kind: &str) -> &mut Self {
        self.namespaces_mut().retain(|n| n["type"] != kind);
        self
    }

    /// Add a hook to `hooks.<kind>` (prestart, createRuntime, ...).
    pub fn add_hook(&mut self, kind: &str, hook: Value) -> &mut Self {
        if !self.config["hooks"].is_object() {
            self.config["hooks"] = json!({});
        }
        let h = &mut self.config["hooks"];
        if !h[kind].is_array() {
            h[kind] = json!([]);
        }
        h[kind].as_array_mut().expect("hooks list").push(hook);
        self
    }

    /// Map container root to an unprivileged host range (user namespace).
    pub fn set_user_namespace(&mut self, host_id: u32, size: u32) -> &mut Self {
        self.set_namespace("user", None);
        let map = json!([{ "containerID": 0, "hostID": host_id, "size": size }]);
        self.config["linux"]["uidMappings"] = map.clone();
        self.config["linux"]["gidMappings"] = map;
        self
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Runtime's guard normally did this already; repeat in case the
        // Bundle outlives no Runtime (or was dropped first).
        cleanup::kill_procs_rooted_in(&self.dir, &self.default_rootfs());
        if let Some(cg) = self.cgroups_path() {
            cleanup::remove_cgroup(&cg);
        }
        if let Err(e) = cleanup::remove_tree(&self.dir) {
            eprintln!("bundle cleanup of {}: {e}", self.dir.display());
        }
    }
}
