//! RUN: the command in a real container (hulld's containers path: shim and
//! hullc) on a new snapshot of the step's parent, with the build's network,
//! its output relayed as it comes. The container is removed afterwards; its
//! snapshot is what the step's layer is taken from. The files the runtime
//! made only to mount over (/etc/hosts, /proc, …) are taken out again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::containers::{self, logfile, shim, CreateOptions, RunSpec, SnapshotRootfs};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::ns_key;
use crate::network::NetworkOptions;

use super::Cancel;

/// A RUN to do.
pub struct RunStep {
    /// The snapshot to run on ("" for an empty filesystem).
    pub parent: String,
    /// The stage's image config document.
    pub config: serde_json::Value,
    pub argv: Vec<String>,
    /// ARG values, as the command's environment (not the image's).
    pub env: Vec<String>,
    /// bridge, host or none.
    pub network: String,
    /// `--mount` specs of the container (RUN --mount).
    pub mounts: Vec<String>,
    /// More paths the runtime may make to mount over (the mounts'
    /// targets and their parents, deepest first).
    pub stubs: Vec<String>,
}

/// Paths the runtime may create in the rootfs to mount over.
const MOUNT_STUBS: &[&str] = &[
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "proc",
    "sys",
    "dev",
    "etc",
];

/// The label marking a build's containers.
pub const BUILD_LABEL: &str = "hull.build";

/// After a hulld restart: remove the containers of builds that were
/// running when the old hulld went (their tasks killed first). `rt` is the
/// runtime the shim clients live on.
pub fn remove_leftover_containers(m: &Arc<Manager>, rt: &tokio::runtime::Handle) {
    let all: Vec<(String, containers::ContainerRecord)> =
        match m.db.list(crate::metadata::Table::Containers, "") {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("listing build containers: {e}");
                return;
            }
        };
    for (key, r) in all {
        if r.labels.get(BUILD_LABEL).map(String::as_str) != Some("1") {
            continue;
        }
        let Some((ns, _)) = key.split_once('/') else {
            continue;
        };
        if let Some(live) = m.tasks.get(&ns_key(ns, &r.id)) {
            let _ = shim::kill(&live, 9, true);
            let _ = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), live.wait()).await
            });
        }
        match containers::remove(m, ns, &r) {
            Ok(()) => tracing::info!(id = %r.id, "removed a container of an unfinished build"),
            Err(e) => tracing::warn!(id = %r.id, "removing a build container: {e}"),
        }
    }
}

/// A build container, removed with its task when dropped.
pub struct BuildContainer {
    m: Arc<Manager>,
    ns: String,
    rec: containers::ContainerRecord,
}

impl BuildContainer {
    /// The active snapshot the container wrote to.
    pub fn snapshot_key(&self) -> &str {
        &self.rec.snapshot_key
    }
}

impl Drop for BuildContainer {
    fn drop(&mut self) {
        if let Some(live) = self.m.tasks.get(&ns_key(&self.ns, &self.rec.id)) {
            let _ = shim::kill(&live, 9, true);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let _ = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), live.wait()).await
                });
            }
        }
        if let Err(e) = containers::remove(&self.m, &self.ns, &self.rec) {
            tracing::warn!(id = %self.rec.id, "removing build container: {e}");
        }
    }
}

/// Run `step`; `output(stream, bytes)` gets what it prints. Returns the
/// container (holding the snapshot with the changes) and the exit code.
pub fn run(
    m: &Arc<Manager>,
    ns: &str,
    step: RunStep,
    output: &dyn Fn(u32, Vec<u8>),
    cancel: &Cancel,
) -> Result<(BuildContainer, i32)> {
    let lowers = if step.parent.is_empty() {
        Vec::new()
    } else {
        m.snapshots.lower_dirs(Some(&step.parent))?
    };
    let stubs: Vec<String> = step
        .stubs
        .iter()
        .map(String::as_str)
        .chain(MOUNT_STUBS.iter().copied())
        .filter(|s| !lowers.iter().any(|l| l.join(s).symlink_metadata().is_ok()))
        .map(String::from)
        .collect();
    let mut config = step.config.clone();
    for k in ["Cmd", "Entrypoint", "Volumes", "Healthcheck"] {
        config["config"][k] = serde_json::Value::Null;
    }
    let id = containers::new_id();
    let o = CreateOptions {
        id: id.clone(),
        name: format!("hull-build-{}", &id[..12]),
        image: String::new(),
        labels: BTreeMap::from([(BUILD_LABEL.to_string(), "1".to_string())]),
        auto_remove: false,
        spec: None,
        run: RunSpec {
            args: step.argv,
            has_entrypoint: true,
            env: step.env,
            mounts: step.mounts,
            net: NetworkOptions {
                network: step.network,
                ..Default::default()
            },
            ..Default::default()
        },
        cri_log: None,
        rootfs: Some(SnapshotRootfs {
            parent: step.parent,
            config,
            label: "(build)".into(),
        }),
    };
    let rec = containers::create(m, ns, o)?;
    let c = BuildContainer {
        m: m.clone(),
        ns: ns.to_string(),
        rec,
    };
    let live = shim::create_task(m, ns, &c.rec)?;
    shim::start_task(m, &live)?;
    let rt = tokio::runtime::Handle::current();
    let log = c.rec.bundle.join(logfile::LOG_FILE);
    let mut offset = 0;
    let relay = |offset: &mut u64| loop {
        let (entries, next) = logfile::read_entries(&log, *offset, logfile::READ_CHUNK);
        *offset = next;
        if entries.is_empty() {
            break;
        }
        for e in entries {
            output(e.stream, e.data);
        }
    };
    let exit = loop {
        relay(&mut offset);
        if cancel.is_set() {
            let _ = shim::kill(&live, 9, true);
            let _ = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), live.wait()).await
            });
            return Err(Error::FailedPrecondition("build cancelled".into()));
        }
        if let Ok(e) = rt.block_on(tokio::time::timeout(
            Duration::from_millis(100),
            live.wait(),
        )) {
            break e;
        }
    };
    relay(&mut offset);
    let upper = m.snapshots.fs_dir(c.snapshot_key())?;
    remove_stubs(&upper, &stubs);
    remove_copied_up_etc(&upper, &lowers);
    Ok((c, exit.code))
}

/// Take out of `upper` the mount points the runtime made (empty files and
/// directories that no lower layer has).
fn remove_stubs(upper: &Path, stubs: &[String]) {
    for s in stubs {
        let p: PathBuf = upper.join(s);
        let Ok(md) = p.symlink_metadata() else {
            continue;
        };
        let empty = if md.is_dir() {
            std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_none())
        } else {
            md.is_file() && md.len() == 0
        };
        if !empty {
            continue;
        }
        let _ = if md.is_dir() {
            std::fs::remove_dir(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
}

/// /etc copied up only to hold a mount point: empty now, and as the lower
/// layer has it (mode and owner), so it is no change.
fn remove_copied_up_etc(upper: &Path, lowers: &[PathBuf]) {
    use std::os::unix::fs::MetadataExt;
    let p = upper.join("etc");
    let Ok(md) = p.symlink_metadata() else {
        return;
    };
    let Some(lower) = lowers
        .iter()
        .find_map(|l| l.join("etc").symlink_metadata().ok())
    else {
        return;
    };
    let empty = md.is_dir() && std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_none());
    let same = md.mode() == lower.mode() && md.uid() == lower.uid() && md.gid() == lower.gid();
    if empty && same && !super::layer::is_opaque(&p) {
        let _ = std::fs::remove_dir(&p);
    }
}
