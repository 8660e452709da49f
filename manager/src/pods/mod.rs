//! Pod sandboxes and the containers in them, as Kubernetes' CRI asks for
//! them, in hull's own types (the API floor's `api/cri` translates).
//!
//! A sandbox is a record (table `sandboxes`, key `<ns>/<id>`) and a pause
//! container of the same ID (`hull-pause`, an image-less container in the
//! `containers` table, so hulld's task recovery covers it): PID 1 of the
//! pod's own network, IPC and UTS namespaces (or the host's, per the pod's
//! namespace options). The pod's network namespace is pinned at
//! `<state>/pods/<id>/netns` and wired by CNI (`network.rs`) before the
//! pause starts; the ADD result is kept in the record, so DEL runs after a
//! hulld restart too. The pod's /etc/hostname, hosts and resolv.conf live
//! in `<state>/pods/<id>` and are bind-mounted into each of its containers.
//!
//! A container in a pod is an ordinary hull container (spec, snapshot,
//! shim) whose spec joins the pod's namespaces, plus a record of what CRI
//! knows of it (table `pod_containers`): its pod, metadata, labels,
//! annotations and log path.

mod container_spec;
pub mod devices;
mod etc;
pub mod exec_sync;
pub mod network;
pub mod oom;
pub mod pod_containers;
pub mod resources;
mod sandbox;
mod spec;
pub mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

pub use pod_containers::{ContainerConfig, PodContainer};
pub use sandbox::{remove_sandbox, run_sandbox, sandbox_status, stop_sandbox, SandboxStatus};

/// The binary a pod's PID 1 runs (pause/), found next to hulld or on PATH.
pub const PAUSE_BINARY: &str = "hull-pause";
/// Where it is bind-mounted in the pause container's root.
pub const PAUSE_PATH: &str = "/pause";

/// Whose namespace a pod or container uses (CRI's NamespaceMode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NsMode {
    /// The pod's (shared by its containers).
    #[default]
    Pod,
    /// The container's own.
    Container,
    /// The host's.
    Node,
}

/// The namespaces a pod asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    pub network: NsMode,
    pub pid: NsMode,
    pub ipc: NsMode,
}

/// A port of the pod reachable on the host (through CNI's portmap).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// "tcp", "udp" or "sctp".
    pub protocol: String,
    pub container_port: i32,
    pub host_port: i32,
    pub host_ip: String,
}

/// The pod's resolv.conf (CRI's DNSConfig).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

/// What RunPodSandbox asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodConfig {
    pub name: String,
    pub uid: String,
    pub namespace: String,
    pub attempt: u32,
    pub hostname: String,
    /// Where the pod's containers' logs go (their `log_path` is under it).
    pub log_directory: String,
    pub dns: Option<Dns>,
    pub port_mappings: Vec<PortMapping>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub cgroup_parent: String,
    pub sysctls: BTreeMap<String, String>,
    pub namespaces: Namespaces,
    pub privileged: bool,
}

/// A sandbox's state, as CRI names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxState {
    #[default]
    Ready,
    NotReady,
}

/// What the CNI ADD made, kept for DEL and CHECK (also after a restart).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PodNetwork {
    pub conflist: serde_json::Value,
    pub runtime_config: serde_json::Value,
    pub result: serde_json::Value,
    pub ifname: String,
    /// The pod's address (the first of the result's).
    pub ip: String,
    /// Its other addresses.
    #[serde(default)]
    pub additional_ips: Vec<String>,
}

/// A pod sandbox (table `sandboxes`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub id: String,
    pub config: PodConfig,
    pub state: SandboxState,
    pub created_nanos: i64,
    /// The pinned network namespace (None: the host's).
    pub netns: Option<PathBuf>,
    /// Set while the pod's network is up.
    pub network: Option<PodNetwork>,
    /// The pause's pid on the host while it runs (its namespaces are the
    /// pod's IPC, UTS and PID ones).
    pub pause_pid: u32,
    /// The pod's files: hostname, hosts, resolv.conf.
    pub dir: PathBuf,
}

impl SandboxRecord {
    /// The pause container's name, also what makes name+attempt unique.
    pub fn pause_name(c: &PodConfig) -> String {
        format!("k8s_POD_{}_{}_{}_{}", c.name, c.namespace, c.uid, c.attempt)
    }
}

/// Held while a sandbox's name is checked and taken, and while one is
/// stopped or removed (not while one starts: pods start in parallel).
fn lock() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<String>> {
    static LOCK: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A sandbox name taken while its pod starts (in `lock()`'s set): a second
/// RunPodSandbox of the same name and attempt meanwhile is refused.
struct Starting(String);

impl Starting {
    /// Take `name`, unless it is being started already.
    fn take(name: &str) -> Option<Starting> {
        lock()
            .insert(name.to_string())
            .then(|| Starting(name.to_string()))
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        lock().remove(&self.0);
    }
}

/// Every sandbox of `ns`.
pub fn list_sandboxes(m: &Manager, ns: &str) -> Result<Vec<SandboxRecord>> {
    Ok(m.db
        .list::<SandboxRecord>(Table::Sandboxes, &format!("{ns}/"))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// A record of `table` by full ID or unique ID prefix; `kind` names it in
/// errors.
fn find_by_id<T: serde::de::DeserializeOwned>(
    m: &Manager,
    table: Table,
    ns: &str,
    what: &str,
    kind: &str,
    id_of: impl Fn(&T) -> &str,
) -> Result<T> {
    if what.is_empty() {
        return Err(Error::InvalidArgument(format!("no {kind} ID given")));
    }
    if let Some(r) = m.db.get(table, &ns_key(ns, what))? {
        return Ok(r);
    }
    let mut hits: Vec<T> =
        m.db.list::<T>(table, &format!("{ns}/"))?
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| id_of(v).starts_with(what))
            .collect();
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => Err(Error::NotFound(format!("{kind} {what} not found"))),
        _ => Err(Error::InvalidArgument(format!(
            "{kind} ID prefix {what} is ambiguous"
        ))),
    }
}

/// A sandbox by full ID or unique ID prefix.
pub fn find_sandbox(m: &Manager, ns: &str, what: &str) -> Result<SandboxRecord> {
    find_by_id(
        m,
        Table::Sandboxes,
        ns,
        what,
        "pod sandbox",
        |s: &SandboxRecord| &s.id,
    )
}

fn save_sandbox(m: &Manager, ns: &str, r: &SandboxRecord) -> Result<()> {
    m.db.put(Table::Sandboxes, &ns_key(ns, &r.id), r)
}

fn now_nanos() -> i64 {
    hull_types::time::now_nanos()
}

/// Whether a record's labels match every `selector` pair.
pub fn labels_match(
    labels: &BTreeMap<String, String>,
    selector: &BTreeMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
