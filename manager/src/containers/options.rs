//! What a caller asks for when it makes a container.

use std::collections::BTreeMap;
use std::ops::Deref;

use crate::network::NetworkOptions;

/// A container to make: its metadata and how to run it.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub auto_remove: bool,
    /// A ready spec (JSON); None: generate one from the image and `run`.
    pub spec: Option<String>,
    pub run: RunSpec,
    /// Write the output in CRI's log format at this file (CRI containers).
    pub cri_log: Option<std::path::PathBuf>,
    /// Made on this snapshot with this config instead of `image`'s (a
    /// build's RUN step): no image record is looked up.
    pub rootfs: Option<SnapshotRootfs>,
}

/// A container's rootfs given as a snapshot and an image config.
#[derive(Debug, Clone, Default)]
pub struct SnapshotRootfs {
    /// The committed snapshot to make the container's layer on ("" for none).
    pub parent: String,
    /// The image config document (the `config` object inside is used).
    pub config: serde_json::Value,
    /// What listings show as the container's image.
    pub label: String,
}

/// What `hull run`/`create` asks for (Docker's flags, as given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSpec {
    /// Arguments after the image (replace the image's Cmd).
    pub args: Vec<String>,
    /// `--entrypoint` when `has_entrypoint`.
    pub entrypoint: String,
    pub has_entrypoint: bool,
    pub env: Vec<String>,
    pub workdir: String,
    /// user[:group], names resolved in the image.
    pub user: String,
    pub hostname: String,
    pub tty: bool,
    pub memory: i64,
    pub cpus: f64,
    pub pids_limit: i64,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub read_only: bool,
    pub no_new_privileges: bool,
    /// "" (default profile), "unconfined", or a JSON profile.
    pub seccomp: String,
    /// Signal name or number for `stop` (else the image's StopSignal).
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL (0: 10).
    pub stop_timeout: i32,
    /// `--log-opt max-size` (bytes, 0: no rotation) and `max-file`.
    pub log_max_size: i64,
    pub log_max_file: i32,
    /// `--restart`: no, on-failure[:N], always, unless-stopped.
    pub restart_policy: String,
    /// `--init`: a reaping, signal-forwarding PID 1 runs the process.
    pub init: bool,
    /// `-v`, `--mount` and `--tmpfs` specs as the user wrote them.
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    /// `-i`: keep the container's stdin open (attachable).
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client's stdin
    /// ends (Docker's StdinOnce).
    pub stdin_once: bool,
    /// `--ulimit NAME=SOFT[:HARD]`, `--sysctl KEY=VALUE`, `--shm-size`
    /// (bytes, 0: 64 MiB), `--pid` and `--ipc` ("" or "host").
    pub ulimits: Vec<String>,
    pub sysctls: Vec<String>,
    pub shm_size: i64,
    pub pid_mode: String,
    pub ipc_mode: String,
    /// `--health-*` / `--no-healthcheck`; None: the image's healthcheck.
    pub health: Option<super::health::Healthcheck>,
    /// Networking: `--network`, `-p`, `-P`, aliases, `--dns`, `--add-host`.
    pub net: NetworkOptions,
}

/// The network options read as the run's own fields (`run.publish`), as
/// the network plan reads them.
impl Deref for RunSpec {
    type Target = NetworkOptions;
    fn deref(&self) -> &NetworkOptions {
        &self.net
    }
}
