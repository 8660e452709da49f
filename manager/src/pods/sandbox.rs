//! A sandbox's life: run (its files, network namespace, CNI ADD, pause),
//! stop (its containers, the pause, CNI DEL), remove, status.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::pause::{self, Pause};
use super::{
    etc, find_sandbox, list_sandboxes, lock, network, now_nanos, pod_containers, save_sandbox,
    spec, NsMode, PodConfig, SandboxRecord, SandboxState, Starting,
};
use crate::containers::{self, shim, CreateOptions};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};
use crate::network::netns;

/// How long the pause may take to go after SIGKILL.
const PAUSE_GONE: Duration = Duration::from_secs(10);

fn check_config(c: &PodConfig) -> Result<()> {
    for (what, v) in [
        ("name", &c.name),
        ("namespace", &c.namespace),
        ("uid", &c.uid),
    ] {
        if v.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "pod sandbox metadata has no {what}"
            )));
        }
    }
    let name = SandboxRecord::pause_name(c);
    if !containers::valid_name(&name) {
        return Err(Error::InvalidArgument(format!(
            "pod sandbox metadata gives an invalid name {name:?}"
        )));
    }
    Ok(())
}

/// Run a pod sandbox; its ID. All or nothing.
pub fn run_sandbox(
    m: &Arc<Manager>,
    ns: &str,
    cni_conf_dir: &Path,
    c: PodConfig,
) -> Result<String> {
    check_config(&c)?;
    let name = SandboxRecord::pause_name(&c);
    let exists = || Error::AlreadyExists(format!("pod sandbox {name} already exists"));
    let _starting = Starting::take(&name).ok_or_else(exists)?;
    if let Some(s) = list_sandboxes(m, ns)?
        .into_iter()
        .find(|s| SandboxRecord::pause_name(&s.config) == name)
    {
        return Err(Error::AlreadyExists(format!(
            "pod sandbox {name} already exists as {}",
            s.id
        )));
    }
    let pause = pause::configured(m, ns)?;
    let id = containers::new_id();
    let dir = m.state.join("pods").join(&id);
    let own_net = c.namespaces.network != NsMode::Node;
    let mut s = SandboxRecord {
        id: id.clone(),
        state: SandboxState::Ready,
        created_nanos: now_nanos(),
        // In the pod's directory: hulld's network reconciliation removes
        // what it does not know in <state>/netns.
        netns: own_net.then(|| dir.join("netns")),
        dir,
        config: c,
        ..Default::default()
    };
    match start(m, ns, cni_conf_dir, &pause, &mut s) {
        Ok(()) => {
            save_sandbox(m, ns, &s)?;
            Ok(id)
        }
        Err(e) => {
            undo(m, ns, &s);
            Err(e)
        }
    }
}

fn start(
    m: &Arc<Manager>,
    ns: &str,
    cni_conf_dir: &Path,
    pause: &Pause,
    s: &mut SandboxRecord,
) -> Result<()> {
    crate::private::dir(&s.dir).map_err(|e| Error::io(format!("create {}", s.dir.display()), e))?;
    let c = &s.config;
    let hostname = match c.namespaces.network {
        NsMode::Node => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ if !c.hostname.is_empty() => c.hostname.clone(),
        _ => c.name.clone(),
    };
    etc::write(&s.dir, &hostname, c.dns.as_ref())?;
    if let Some(p) = &s.netns {
        netns::create(p)?;
        s.network = Some(network::add(cni_conf_dir, &s.id, p, &c.port_mappings)?);
    }
    let bundle_rootfs = m
        .state
        .join("containers")
        .join(ns)
        .join(&s.id)
        .join("rootfs");
    let pause_spec = spec::pause_spec(&s.id, c, pause, s.netns.as_deref(), &bundle_rootfs);
    let mut labels = c.labels.clone();
    labels.insert("io.kubernetes.cri.container-type".into(), "sandbox".into());
    let rec = containers::create(
        m,
        ns,
        CreateOptions {
            id: s.id.clone(),
            name: SandboxRecord::pause_name(c),
            labels,
            image: match pause {
                Pause::Image { name, .. } => name.clone(),
                Pause::Binary(_) => String::new(),
            },
            spec: Some(serde_json::to_string_pretty(&pause_spec)?),
            ..Default::default()
        },
    )?;
    let live = shim::create_task(m, ns, &rec)?;
    s.pause_pid = shim::start_task(m, &live)?;
    Ok(())
}

/// Take away what a failed run made.
fn undo(m: &Arc<Manager>, ns: &str, s: &SandboxRecord) {
    stop_pause(m, ns, &s.id);
    if let Ok(Some(r)) = containers::get(m, ns, &s.id) {
        if let Err(e) = containers::remove(m, ns, &r) {
            tracing::warn!(id = %s.id, "remove pause container: {e}");
        }
    }
    teardown_network(s);
    let _ = std::fs::remove_dir_all(&s.dir);
}

/// Kill the pause and wait for it (no-op when it does not run).
fn stop_pause(m: &Arc<Manager>, ns: &str, id: &str) {
    if let Some(live) = m.tasks.get(&ns_key(ns, id)) {
        let _ = shim::kill(&live, libc::SIGKILL as u32, true);
        if let Err(e) = shim::wait_exited(&live, PAUSE_GONE) {
            tracing::warn!(id, "pause: {e}");
        }
    }
}

/// CNI DEL and the namespace's removal (both idempotent).
fn teardown_network(s: &SandboxRecord) {
    let Some(p) = &s.netns else { return };
    if let Some(n) = &s.network {
        if let Err(e) = network::del(n, &s.id, p) {
            tracing::warn!(id = %s.id, "CNI DEL: {e}");
        }
    }
    netns::remove(p);
}

/// Stop a sandbox: its containers, its pause, its network. Idempotent; a
/// sandbox that is gone is no error.
pub fn stop_sandbox(m: &Arc<Manager>, ns: &str, id: &str) -> Result<()> {
    let s = match find_sandbox(m, ns, id) {
        Ok(s) => s,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    for c in pod_containers::list(m, ns)?
        .into_iter()
        .filter(|c| c.sandbox_id == s.id)
    {
        pod_containers::stop(m, ns, &c.id, 0)?;
    }
    let _g = lock();
    stop_pause(m, ns, &s.id);
    teardown_network(&s);
    let mut s = find_sandbox(m, ns, &s.id)?;
    s.state = SandboxState::NotReady;
    s.network = None;
    s.pause_pid = 0;
    save_sandbox(m, ns, &s)
}

/// Remove a sandbox, stopping it first, with its containers. Idempotent.
pub fn remove_sandbox(m: &Arc<Manager>, ns: &str, id: &str) -> Result<()> {
    let s = match find_sandbox(m, ns, id) {
        Ok(s) => s,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    stop_sandbox(m, ns, &s.id)?;
    for c in pod_containers::list(m, ns)?
        .into_iter()
        .filter(|c| c.sandbox_id == s.id)
    {
        pod_containers::remove(m, ns, &c.id)?;
    }
    let _g = lock();
    if let Some(r) = containers::get(m, ns, &s.id)? {
        containers::remove(m, ns, &r)?;
    }
    if s.dir.starts_with(m.state.join("pods")) {
        let _ = std::fs::remove_dir_all(&s.dir);
    }
    m.db.delete(Table::Sandboxes, &ns_key(ns, &s.id))?;
    Ok(())
}

/// A sandbox as PodSandboxStatus shows it.
#[derive(Debug, Clone)]
pub struct SandboxStatus {
    pub record: SandboxRecord,
    /// Whether its pause runs.
    pub running: bool,
    /// CNI CHECK's verdict (verbose status only): None when not asked.
    pub network_check: Option<std::result::Result<(), String>>,
}

/// The state of a sandbox; `check` runs CNI CHECK on its network.
pub fn sandbox_status(m: &Manager, ns: &str, id: &str, check: bool) -> Result<SandboxStatus> {
    let mut s = find_sandbox(m, ns, id)?;
    let running = m.tasks.get(&ns_key(ns, &s.id)).is_some();
    // The pause went (killed, or gone while hulld was away): not ready.
    if !running {
        s.state = SandboxState::NotReady;
    }
    let network_check = match (check, &s.network, &s.netns) {
        (true, Some(n), Some(p)) => Some(network::check(n, &s.id, p).map_err(|e| e.to_string())),
        _ => None,
    };
    Ok(SandboxStatus {
        record: s,
        running,
        network_check,
    })
}
