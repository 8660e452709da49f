//! Containers in pods: create (the image, the spec of `container_spec.rs`,
//! the containers room's snapshot and bundle), start, stop with a timeout,
//! remove, status and listing, reopening the log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{container_spec, find_sandbox, labels_match, now_nanos, NsMode, SandboxState};
use crate::containers::{self, shim, ContainerRecord, CreateOptions};
use crate::error::{Error, Result};
use crate::images::{ops, Platform};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

/// How a host path's mounts propagate (CRI's MountPropagation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    #[default]
    Private,
    HostToContainer,
    Bidirectional,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    pub container_path: String,
    pub host_path: String,
    pub readonly: bool,
    pub propagation: Propagation,
    /// Asked for, ignored (with a log line): no SELinux here.
    pub selinux_relabel: bool,
}

/// The seccomp profile a container runs with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum Seccomp {
    #[default]
    RuntimeDefault,
    Unconfined,
    /// A profile (OCI JSON) in a file on the host.
    Localhost(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityContext {
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub run_as_username: String,
    pub supplemental_groups: Vec<i64>,
    pub readonly_rootfs: bool,
    pub no_new_privs: bool,
    pub seccomp: Seccomp,
    /// None: the defaults.
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// Whose PID namespace (Pod: the pause's).
    pub pid: NsMode,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_shares: i64,
    pub memory_limit: i64,
    pub oom_score_adj: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
}

/// What CreateContainer asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub name: String,
    pub attempt: u32,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub working_dir: String,
    /// KEY=VALUE.
    pub envs: Vec<String>,
    pub mounts: Vec<Mount>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Relative to the pod's log directory.
    pub log_path: String,
    pub security: SecurityContext,
    pub resources: Resources,
    /// Host devices it gets.
    #[serde(default)]
    pub devices: Vec<super::devices::Device>,
}

/// What CRI knows of a container (table `pod_containers`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PodContainer {
    pub id: String,
    pub sandbox_id: String,
    pub config: ContainerConfig,
    /// The image's ID (config digest) it was made from.
    pub image_ref: String,
    pub created_nanos: i64,
    /// The full log path (empty: none asked for).
    pub log_file: Option<PathBuf>,
    /// The kernel killed in its memory cgroup (TaskOOM, `oom.rs`).
    #[serde(default)]
    pub oom_killed: bool,
}

/// A container's state, as CRI names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum State {
    #[default]
    Created,
    Running,
    Exited,
    Unknown,
}

/// A container with its state now.
#[derive(Debug, Clone, Default)]
pub struct ContainerView {
    pub record: PodContainer,
    pub state: State,
    pub pid: u32,
    pub started_nanos: i64,
    pub finished_nanos: i64,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
}

/// What ListContainers filters on (empty fields match everything).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub id: String,
    pub sandbox_id: String,
    pub state: Option<State>,
    pub labels: BTreeMap<String, String>,
}

/// Every CRI container of `ns`.
pub fn list(m: &Manager, ns: &str) -> Result<Vec<PodContainer>> {
    Ok(m.db
        .list::<PodContainer>(Table::PodContainers, &format!("{ns}/"))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// A CRI container by full ID or unique prefix.
pub fn find(m: &Manager, ns: &str, what: &str) -> Result<PodContainer> {
    super::find_by_id(
        m,
        Table::PodContainers,
        ns,
        what,
        "container",
        |c: &PodContainer| &c.id,
    )
}

/// The hull container's name: unique per pod, name and attempt.
fn hull_name(s: &super::SandboxRecord, c: &ContainerConfig) -> String {
    let p = &s.config;
    format!(
        "k8s_{}_{}_{}_{}_{}",
        c.name, p.name, p.namespace, p.uid, c.attempt
    )
}

/// The uid, gid and extra gids the container runs as: its run_as_*
/// (names resolved in the image), else the image's USER, else root.
fn user(
    m: &Manager,
    top: &str,
    img_user: Option<&str>,
    sc: &super::pod_containers::SecurityContext,
) -> Result<Option<(u32, u32, Vec<u32>)>> {
    let scratch = m.state.join("tmp");
    let who = if !sc.run_as_username.is_empty() {
        Some(sc.run_as_username.clone())
    } else if let Some(u) = sc.run_as_user {
        Some(u.to_string())
    } else {
        img_user.filter(|u| !u.is_empty()).map(str::to_string)
    };
    let mut user = match who {
        Some(w) => Some(containers::resolve_user(m, top, &scratch, &w)?),
        None => None,
    };
    if let Some(g) = sc.run_as_group {
        let u = user.get_or_insert((0, 0, vec![]));
        u.1 = u32::try_from(g)
            .map_err(|_| Error::InvalidArgument(format!("bad run_as_group {g}")))?;
    }
    if !sc.supplemental_groups.is_empty() {
        let u = user.get_or_insert((0, 0, vec![]));
        for g in &sc.supplemental_groups {
            let g = u32::try_from(*g)
                .map_err(|_| Error::InvalidArgument(format!("bad supplemental group {g}")))?;
            if !u.2.contains(&g) {
                u.2.push(g);
            }
        }
    }
    Ok(user)
}

/// Create a container in pod `sandbox_id`; its ID.
pub fn create(m: &Arc<Manager>, ns: &str, sandbox_id: &str, c: ContainerConfig) -> Result<String> {
    if c.name.is_empty() {
        return Err(Error::InvalidArgument(
            "container config has no metadata name".into(),
        ));
    }
    if c.image.is_empty() {
        return Err(Error::InvalidArgument(
            "container config has no image".into(),
        ));
    }
    let s = find_sandbox(m, ns, sandbox_id)?;
    if s.state != SandboxState::Ready || s.pause_pid == 0 {
        return Err(Error::FailedPrecondition(format!(
            "pod sandbox {} is not ready",
            s.id
        )));
    }
    let img = ops::get_one(m, ns, &c.image)?;
    let resolved = ops::resolve(m, &img, &Platform::host())?;
    let top = resolved.chain_ids.last().cloned().unwrap_or_default();
    let cfg: serde_json::Value = serde_json::from_slice(&resolved.config_raw)?;
    let img_cfg: containers::spec::ImageConfig = cfg
        .get("config")
        .cloned()
        .map(serde_json::from_value)
        .transpose()?
        .unwrap_or_default();
    let id = containers::new_id();
    let uid = user(m, &top, img_cfg.user.as_deref(), &c.security)?;
    let rootfs = m.state.join("containers").join(ns).join(&id).join("rootfs");
    let spec = container_spec::generate(&id, &s, &img_cfg, &c, uid, &rootfs)?;
    let log_file = (!s.config.log_directory.is_empty() && !c.log_path.is_empty())
        .then(|| PathBuf::from(&s.config.log_directory).join(&c.log_path));
    if let Some(dir) = log_file.as_ref().and_then(|f| f.parent()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("create log directory {}", dir.display()), e))?;
    }
    let mut labels = c.labels.clone();
    labels.insert("io.kubernetes.cri.sandbox-id".into(), s.id.clone());
    containers::create(
        m,
        ns,
        CreateOptions {
            id: id.clone(),
            name: hull_name(&s, &c),
            image: c.image.clone(),
            labels,
            spec: Some(serde_json::to_string_pretty(&spec)?),
            cri_log: log_file.clone(),
            ..Default::default()
        },
    )?;
    let rec = PodContainer {
        id: id.clone(),
        sandbox_id: s.id.clone(),
        image_ref: resolved.manifest.config.digest.clone(),
        created_nanos: now_nanos(),
        log_file,
        config: c,
        oom_killed: false,
    };
    if let Err(e) = m.db.put(Table::PodContainers, &ns_key(ns, &id), &rec) {
        if let Ok(Some(r)) = containers::get(m, ns, &id) {
            let _ = containers::remove(m, ns, &r);
        }
        return Err(e);
    }
    Ok(id)
}

fn hull_record(m: &Manager, ns: &str, id: &str) -> Result<ContainerRecord> {
    containers::get(m, ns, id)?.ok_or_else(|| Error::NotFound(format!("container {id} not found")))
}

/// Start a created container.
pub fn start(m: &Arc<Manager>, ns: &str, id: &str) -> Result<()> {
    let c = find(m, ns, id)?;
    let r = hull_record(m, ns, &c.id)?;
    if r.state.status != containers::CREATED {
        return Err(Error::FailedPrecondition(format!(
            "container {} is {}, not created",
            c.id, r.state.status
        )));
    }
    let live = shim::create_task(m, ns, &r)?;
    shim::start_task(m, &live)?;
    Ok(())
}

/// Stop a container: SIGTERM (its image's stop signal), SIGKILL after
/// `timeout` seconds (0: at once). A stopped one is no error.
pub fn stop(m: &Arc<Manager>, ns: &str, id: &str, timeout: i64) -> Result<()> {
    let c = find(m, ns, id)?;
    let Some(live) = m.tasks.get(&ns_key(ns, &c.id)) else {
        return Ok(());
    };
    if timeout > 0 {
        let r = hull_record(m, ns, &c.id)?;
        let sig = stop_signal(&r);
        if shim::kill(&live, sig, false).is_ok()
            && shim::wait_exited(&live, Duration::from_secs(timeout as u64)).is_ok()
        {
            return Ok(());
        }
    }
    let _ = shim::kill(&live, libc::SIGKILL as u32, true);
    shim::wait_exited(&live, Duration::from_secs(10)).map(|_| ())
}

/// The image's stop signal, else SIGTERM.
fn stop_signal(r: &ContainerRecord) -> u32 {
    let spec: serde_json::Value = serde_json::from_str(&r.spec).unwrap_or_default();
    spec["annotations"]["org.opencontainers.image.stopSignal"]
        .as_str()
        .and_then(|s| hull_linux::signal::number(s).ok())
        .unwrap_or(libc::SIGTERM as u32)
}

/// Remove a container (stopped at once if it runs). Idempotent.
pub fn remove(m: &Arc<Manager>, ns: &str, id: &str) -> Result<()> {
    let c = match find(m, ns, id) {
        Ok(c) => c,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    stop(m, ns, &c.id, 0)?;
    if let Some(r) = containers::get(m, ns, &c.id)? {
        containers::remove(m, ns, &r)?;
    }
    m.db.delete(Table::PodContainers, &ns_key(ns, &c.id))?;
    Ok(())
}

/// A container with its state now.
pub fn view(m: &Manager, ns: &str, c: PodContainer) -> ContainerView {
    const NS: i64 = 1_000_000_000;
    let Ok(Some(r)) = containers::get(m, ns, &c.id) else {
        return ContainerView {
            record: c,
            state: State::Unknown,
            ..Default::default()
        };
    };
    let st = &r.state;
    let state = match st.status.as_str() {
        containers::CREATED => State::Created,
        containers::RUNNING | containers::PAUSED => State::Running,
        containers::EXITED => State::Exited,
        _ => State::Unknown,
    };
    let reason = match (state, st.exit_code) {
        (State::Exited, _) if c.oom_killed => "OOMKilled",
        (State::Exited, 0) => "Completed",
        (State::Exited, _) => "Error",
        _ => "",
    };
    ContainerView {
        state,
        pid: st.pid,
        started_nanos: st.started_at * NS,
        finished_nanos: if state == State::Exited {
            st.finished_at * NS
        } else {
            0
        },
        exit_code: st.exit_code,
        reason: reason.into(),
        message: String::new(),
        record: c,
    }
}

/// The status of one container.
pub fn status(m: &Manager, ns: &str, id: &str) -> Result<ContainerView> {
    let c = find(m, ns, id)?;
    Ok(view(m, ns, c))
}

/// The containers `f` lets through, with their states.
pub fn list_views(m: &Manager, ns: &str, f: &Filter) -> Result<Vec<ContainerView>> {
    Ok(list(m, ns)?
        .into_iter()
        .filter(|c| f.id.is_empty() || c.id.starts_with(&f.id))
        .filter(|c| f.sandbox_id.is_empty() || c.sandbox_id.starts_with(&f.sandbox_id))
        .filter(|c| labels_match(&c.config.labels, &f.labels))
        .map(|c| view(m, ns, c))
        .filter(|v| f.state.is_none_or(|s| s == v.state))
        .collect())
}

/// Make the log file anew (kubelet renamed the old one away): the log
/// driver writes there from its next line.
pub fn reopen_log(m: &Manager, ns: &str, id: &str) -> Result<()> {
    let c = find(m, ns, id)?;
    if m.tasks.get(&ns_key(ns, &c.id)).is_none() {
        return Err(Error::FailedPrecondition(format!(
            "container {} is not running",
            c.id
        )));
    }
    let Some(p) = &c.log_file else {
        return Ok(());
    };
    containers::cri_log::open(p)
        .map(|_| ())
        .map_err(|e| Error::io(format!("reopen log {}", p.display()), e))
}
