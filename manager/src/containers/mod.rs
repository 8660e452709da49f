//! Containers: their metadata and the OCI runtime spec hulld generates for
//! them from an image's config and the user's options (Docker's defaults),
//! and their tasks, run by one `containerd-shim-hull-v2` per container
//! (per pod for a CRI pod's pause and containers).
//!
//! A container lives in the `containers` table (key `<ns>/<id>`) with its
//! Docker-style state; its bundle (config.json, /etc files, output logs) is
//! `<state>/containers/<ns>/<id>`; its writable layer is the active snapshot
//! `container/<ns>/<id>` on the image's top layer.

pub mod attach;
pub mod copy;
mod create;
pub mod cri_log;
pub mod exec;
mod exec_gate;
pub mod files;
pub mod health;
mod kernel_opts;
pub mod logfile;
pub mod options;
pub mod recover;
mod remove;
pub mod resources;
pub mod restart;
pub mod shim;
pub mod spec;
pub mod stats;
pub mod tasks;
pub mod top;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::content::now_secs;
use crate::error::{Error, IoContext, Result};
use crate::images::{ops, Platform};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

pub use crate::ids::{new_id, valid_name};
pub use create::{cap_rlimits, create, resolve_user};
pub use options::{CreateOptions, RunSpec, SnapshotRootfs};
pub use remove::{remove, remove_anonymous_volumes, users_of};

use crate::ids::names;

pub const CREATED: &str = "created";
pub const RUNNING: &str = "running";
pub const EXITED: &str = "exited";
pub const PAUSED: &str = "paused";
/// Annotation holding `--stop-timeout` (seconds).
pub use hull_types::annotations::STOP_TIMEOUT as STOP_TIMEOUT_ANNOTATION;

/// The runtime name recorded for containers (the shim's containerd name).
pub const RUNTIME: &str = "io.containerd.hull.v2";

/// `--init`: the init binary hulld finds next to itself or on PATH, and
/// where it lands in the container (Docker's is /sbin/docker-init).
pub const INIT_BINARY: &str = "hull-init";
pub const INIT_PATH: &str = "/sbin/hull-init";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContainerState {
    pub status: String,
    pub pid: u32,
    pub exit_code: i32,
    pub started_at: i64,
    pub finished_at: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The image's ID (its config digest) when the container was made: what
    /// `rmi` checks for users of an image, whatever its tags became since.
    #[serde(default)]
    pub image_id: String,
    /// The image's target digest (manifest or index) when the container was
    /// made: garbage collection keeps it, also after `rmi -f` untagged it.
    #[serde(default)]
    pub image_target: String,
    /// OCI runtime spec (JSON text). Stored apart, in `container_specs`
    /// (records written before that carry it inline): `list` leaves it
    /// empty, `find`, `get` and `update` fill it.
    #[serde(default, skip_serializing)]
    pub spec: String,
    pub snapshot_key: String,
    pub snapshotter: String,
    pub runtime: String,
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub auto_remove: bool,
    pub bundle: PathBuf,
    pub state: ContainerState,
    /// Log rotation (`--log-opt max-size`, `max-file`); 0: none.
    #[serde(default)]
    pub log_max_size: u64,
    #[serde(default)]
    pub log_max_file: u32,
    /// `--restart` policy ("" = no).
    #[serde(default)]
    pub restart_policy: String,
    /// Restarts hulld did under the policy since the user last started it.
    #[serde(default)]
    pub restart_count: u32,
    /// The user stopped or killed it: no restart (and `unless-stopped`
    /// stays down across daemon restarts).
    #[serde(default)]
    pub stopped_by_user: bool,
    /// Anonymous volumes made for it (`rm -v` and `--rm` remove them).
    #[serde(default)]
    pub anon_volumes: Vec<String>,
    /// Creation time in Unix nanoseconds (orders containers made within
    /// one second: `ps`, `--filter before/since`).
    #[serde(default)]
    pub created_nanos: i64,
    /// What a listing shows, taken from the spec when the container is made
    /// (records from before it have none: see `summary`).
    #[serde(default)]
    pub summary: Option<Summary>,
    /// Its healthcheck (the image's under the user's), if any.
    #[serde(default)]
    pub healthcheck: Option<health::Healthcheck>,
    /// Its health, once started with a healthcheck.
    #[serde(default)]
    pub health: Option<health::HealthState>,
    /// Output in CRI's log format at this file (a container of a CRI pod)
    /// instead of Docker's json-file in the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri_log: Option<PathBuf>,
}

/// What `hull ps` shows of a container's spec, kept apart so that a
/// listing carries no spec (~19 KB each with the default seccomp profile).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// The process's argv.
    pub command: Vec<String>,
    /// Host sources of the user's bind mounts and volumes (not hulld's own
    /// /etc files in the bundle).
    pub mounts: Vec<String>,
    /// The spec gives the container a network namespace of its own.
    #[serde(default)]
    pub own_netns: bool,
}

impl Summary {
    pub fn of_spec(spec: &str, bundle: &Path) -> Summary {
        let v: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let strings = |x: &serde_json::Value| -> Vec<String> {
            x.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mounts = v["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|mt| {
                mt["type"].as_str() == Some("bind")
                    || strings(&mt["options"])
                        .iter()
                        .any(|o| o == "bind" || o == "rbind")
            })
            .filter(|mt| mt["destination"] != INIT_PATH)
            .filter_map(|mt| mt["source"].as_str())
            .filter(|src| src.starts_with('/') && !Path::new(src).starts_with(bundle))
            .map(String::from)
            .collect();
        let own_netns = v["linux"]["namespaces"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x["type"] == "network"));
        let mut command = strings(&v["process"]["args"]);
        // `--init` shows as Docker shows it: the program alone.
        if command.first().is_some_and(|a| a == INIT_PATH)
            && command.get(1).is_some_and(|a| a == "--")
        {
            command.drain(..2);
        }
        Summary {
            command,
            mounts,
            own_netns,
        }
    }
}

impl ContainerRecord {
    /// The stored summary, or one made from the spec for older records.
    pub fn summary(&self) -> Summary {
        self.summary
            .clone()
            .unwrap_or_else(|| Summary::of_spec(&self.spec, &self.bundle))
    }

    pub fn policy(&self) -> restart::RestartPolicy {
        self.restart_policy.parse().unwrap_or_default()
    }
}

/// Tasks hulld is running now (container key → its live shim).
#[derive(Default)]
pub struct Tasks {
    live: Mutex<HashMap<String, Arc<shim::Live>>>,
    /// Shims (pid by container key) of tasks that ended, still publishing
    /// their last events: a new task or a removal waits for them.
    exiting: Mutex<HashMap<String, i32>>,
    /// The shims of CRI pods, each serving all the pod's tasks.
    pub(crate) pods: shim::group::PodShims,
}

impl Tasks {
    pub fn get(&self, key: &str) -> Option<Arc<shim::Live>> {
        self.lock().get(key).cloned()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<shim::Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn insert(&self, key: String, l: Arc<shim::Live>) {
        self.lock().insert(key, l);
    }
    pub(crate) fn remove(&self, key: &str) {
        self.lock().remove(key);
    }
    fn exiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.exiting.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn shim_exiting(&self, key: &str, pid: i32) {
        self.exiting().insert(key.to_string(), pid);
    }
    /// Wait until the exiting shim of `key` (`ShimKey::exiting_key`), if
    /// any, is gone, killing it when it takes too long.
    pub(crate) fn wait_shim_gone(&self, key: &str) {
        let pid = self.exiting().get(key).copied();
        if let Some(pid) = pid {
            shim::finish_shim(pid);
            self.exiting().remove(key);
        }
    }
}

/// The containers of `ns` without their specs (`spec` is empty): what a
/// listing or a name lookup needs, without reading ~19 KB per container.
pub fn list(m: &Manager, ns: &str) -> Result<Vec<ContainerRecord>> {
    Ok(m.db
        .list::<ContainerRecord>(Table::Containers, &format!("{ns}/"))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// Fill in the spec of a record read from the `containers` table.
pub(crate) fn with_spec(m: &Manager, ns: &str, mut r: ContainerRecord) -> Result<ContainerRecord> {
    if r.spec.is_empty() {
        if let Some(b) = m.db.get_raw(Table::ContainerSpecs, &ns_key(ns, &r.id))? {
            r.spec = String::from_utf8_lossy(&b).into_owned();
        }
    }
    Ok(r)
}

/// A container by full ID, with its spec.
pub fn get(m: &Manager, ns: &str, id: &str) -> Result<Option<ContainerRecord>> {
    match m
        .db
        .get::<ContainerRecord>(Table::Containers, &ns_key(ns, id))?
    {
        Some(r) => Ok(Some(with_spec(m, ns, r)?)),
        None => Ok(None),
    }
}

/// A container by full ID, name, or unique ID prefix (Docker's lookup).
pub fn find(m: &Manager, ns: &str, what: &str) -> Result<ContainerRecord> {
    let what = what.trim_start_matches('/');
    if what.is_empty() {
        return Err(Error::InvalidArgument("empty container name or ID".into()));
    }
    if let Some(r) = get(m, ns, what)? {
        return Ok(r);
    }
    let mut all = list(m, ns)?;
    if let Some(i) = all.iter().position(|c| c.name == what) {
        return with_spec(m, ns, all.swap_remove(i));
    }
    let hits: Vec<usize> = (0..all.len())
        .filter(|i| all[*i].id.starts_with(what))
        .collect();
    match hits.len() {
        1 => with_spec(m, ns, all.swap_remove(hits[0])),
        0 => Err(Error::NotFound(format!("No such container: {what}"))),
        _ => Err(Error::InvalidArgument(format!(
            "multiple IDs found with provided prefix: {what}"
        ))),
    }
}

/// The containers of `ns` as image removal sees them.
pub fn image_users(m: &Manager, ns: &str) -> Result<Vec<ops::ImageUser>> {
    Ok(list(m, ns)?
        .into_iter()
        .map(|c| ops::ImageUser {
            running: [RUNNING, PAUSED].contains(&c.state.status.as_str()),
            container_id: c.id,
            image: c.image,
            image_id: c.image_id,
        })
        .collect())
}

/// Store a record and its spec (the spec first: a record is never without).
pub fn save(m: &Manager, ns: &str, r: &ContainerRecord) -> Result<()> {
    let key = ns_key(ns, &r.id);
    if !r.spec.is_empty() {
        m.db.put_raw(Table::ContainerSpecs, &key, r.spec.as_bytes())?;
    }
    m.db.put(Table::Containers, &key, r)
}

/// Held while a record is read, changed and written back, and while it is
/// deleted: a change never writes back a record removed since its read.
fn records_lock() -> std::sync::MutexGuard<'static, ()> {
    static RECORDS: Mutex<()> = Mutex::new(());
    RECORDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Update a container's record in place (no-op when it is gone).
pub fn update(
    m: &Manager,
    ns: &str,
    id: &str,
    f: impl FnOnce(&mut ContainerRecord),
) -> Result<Option<ContainerRecord>> {
    // Read, change, write as one step: the exit waiter and a Start that
    // returns after the task already exited both update the state, and
    // neither may write back a copy read before the other's write.
    let _serial = records_lock();
    let key = ns_key(ns, id);
    let Some(r) = m.db.get::<ContainerRecord>(Table::Containers, &key)? else {
        return Ok(None);
    };
    // A record from before `container_specs` moves its spec there now.
    let legacy = !r.spec.is_empty();
    let mut r = with_spec(m, ns, r)?;
    f(&mut r);
    r.updated_at = now_secs();
    if legacy {
        save(m, ns, &r)?;
    } else {
        m.db.put(Table::Containers, &key, &r)?;
    }
    Ok(Some(r))
}

fn bundle_dir(m: &Manager, ns: &str, id: &str) -> PathBuf {
    m.state.join("containers").join(ns).join(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_argv_and_user_binds_only() {
        let bundle = Path::new("/state/containers/default/c1");
        let spec = serde_json::json!({
            "process": {"args": ["sh", "-c", "echo hi"]},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/etc/hosts", "type": "bind",
                 "source": "/state/containers/default/c1/hosts", "options": ["rbind"]},
                {"destination": "/data", "type": "none",
                 "source": "/srv/data", "options": ["rbind", "ro"]},
                {"destination": "/v", "type": "bind", "source": "/var/lib/hull/volumes/v1/_data"},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}
            ]
        })
        .to_string();
        let s = Summary::of_spec(&spec, bundle);
        assert_eq!(s.command, ["sh", "-c", "echo hi"]);
        assert_eq!(s.mounts, ["/srv/data", "/var/lib/hull/volumes/v1/_data"]);
    }

    #[test]
    fn record_without_summary_derives_it_from_the_spec() {
        let r = ContainerRecord {
            spec: r#"{"process":{"args":["true"]}}"#.into(),
            ..Default::default()
        };
        assert_eq!(r.summary().command, ["true"]);
        let bad = ContainerRecord {
            spec: "not json".into(),
            ..Default::default()
        };
        assert!(bad.summary().command.is_empty());
    }
}
