//! One shim per CRI pod, as containerd runs them: the pause and the pod's
//! containers carry `io.kubernetes.cri.sandbox-id` (the pod's ID) and the
//! shim serves every container of one such group (shim/src/start.rs).
//! hulld keeps one connection per pod shim and the set of tasks it runs
//! there: the shim is asked to exit, and waited for, only once the pod's
//! last task there is gone; it is never killed nor `shim delete`d while
//! another task of the pod lives in it. Every other container keeps a shim
//! of its own.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::*;

/// The annotation naming a container's pod (the shim groups by it).
pub const SANDBOX_ANNOTATION: &str = "io.kubernetes.cri.sandbox-id";
/// `sandbox` (a pod's pause) or `container` (a container of a pod).
const TYPE_ANNOTATION: &str = "io.kubernetes.cri.container-type";

/// Which shim serves a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimKey {
    /// One of its own; the container's `ns/id`.
    Own(String),
    /// Its pod's; the pod's `ns/sandbox-id`.
    Pod(String),
}

impl ShimKey {
    /// The shim of container `r` of `ns`, from its spec's annotations.
    pub fn of(ns: &str, r: &ContainerRecord) -> ShimKey {
        match pod_of_spec(&r.spec) {
            Some(pod) => ShimKey::Pod(ns_key(ns, &pod)),
            None => ShimKey::Own(ns_key(ns, &r.id)),
        }
    }

    /// The key its shim is waited for under while it exits.
    pub fn exiting_key(&self) -> String {
        match self {
            ShimKey::Own(k) => k.clone(),
            ShimKey::Pod(k) => pod_exiting_key(k),
        }
    }
}

fn pod_exiting_key(pod: &str) -> String {
    format!("pod:{pod}")
}

/// A spec's annotations (none when it does not parse).
fn annotations(spec: &str) -> HashMap<String, String> {
    #[derive(serde::Deserialize)]
    struct Annotated {
        #[serde(default)]
        annotations: HashMap<String, String>,
    }
    serde_json::from_str::<Annotated>(spec)
        .map(|a| a.annotations)
        .unwrap_or_default()
}

/// The pod of a pause or pod container's spec (None for any other).
fn pod_of_spec(spec: &str) -> Option<String> {
    let mut a = annotations(spec);
    let typed = matches!(
        a.get(TYPE_ANNOTATION).map(String::as_str),
        Some("sandbox" | "container")
    );
    a.remove(SANDBOX_ANNOTATION)
        .filter(|id| typed && !id.is_empty())
}

/// Whether a spec is a pod's pause's.
pub(in crate::containers) fn is_pause(spec: &str) -> bool {
    annotations(spec)
        .get(TYPE_ANNOTATION)
        .is_some_and(|t| t == "sandbox")
}

/// A pod's shim as hulld uses it.
struct PodShim {
    pid: i32,
    address: String,
    client: TaskClient,
    /// The containers whose task hulld runs (or is creating) there.
    tasks: HashSet<String>,
}

type Slot = Arc<Mutex<Option<PodShim>>>;

/// The pods' shims by pod key; a slot's lock orders the starts and ends of
/// one pod's tasks.
#[derive(Default)]
pub struct PodShims {
    slots: Mutex<HashMap<String, Slot>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PodShims {
    fn slot(&self, pod: &str) -> Slot {
        lock(&self.slots)
            .entry(pod.to_string())
            .or_default()
            .clone()
    }

    /// Drop the slot of a pod whose shim is gone, unless someone uses it.
    fn forget(&self, pod: &str, slot: Slot) {
        let mut slots = lock(&self.slots);
        // Clones are handed out under `slots`: ours and the map's are all.
        if Arc::strong_count(&slot) == 2 && lock(&slot).is_none() {
            slots.remove(pod);
        }
    }

    /// The pods' shims no recovered task runs in.
    fn idle(&self) -> Vec<(String, Slot)> {
        lock(&self.slots)
            .iter()
            .filter(|(_, s)| lock(s).as_ref().is_some_and(|p| p.tasks.is_empty()))
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect()
    }
}

/// The shim of pod `pod` for a new task of container `id` (bundle
/// `bundle`): the one the pod's tasks run in, else a new one. The shim's
/// `address` and `shim.pid` are in the bundle either way (recovery reads
/// them).
pub(in crate::containers) fn acquire(
    m: &Manager,
    pod: &str,
    ns: &str,
    id: &str,
    bundle: &Path,
) -> Result<(TaskClient, i32)> {
    let slot = m.tasks.pods.slot(pod);
    let mut g = lock(&slot);
    if let Some(s) = g.as_mut() {
        if alive(s.pid) {
            for (name, text) in [
                ("address", s.address.clone()),
                ("shim.pid", s.pid.to_string()),
            ] {
                let p = bundle.join(name);
                crate::private::write(&p, text)
                    .map_err(|e| Error::io(format!("write {}", p.display()), e))?;
            }
            s.tasks.insert(id.to_string());
            return Ok((s.client.clone(), s.pid));
        }
        // It died: the waiters of its tasks clean up after them.
        *g = None;
    }
    // The pod's last shim, on its way out, holds the socket a new one takes.
    m.tasks.wait_shim_gone(&pod_exiting_key(pod));
    let (address, pid) = start_shim(m, ns, id, bundle)?;
    let client = match connect(&address) {
        Ok(c) => c,
        Err(e) => {
            // No task of the pod runs there: hulld knows of none.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            shim_delete(m, ns, id, bundle);
            return Err(e);
        }
    };
    *g = Some(PodShim {
        pid,
        address,
        client: client.clone(),
        tasks: HashSet::from([id.to_string()]),
    });
    Ok((client, pid))
}

/// The task of container `id` is gone from pod `pod`'s shim `pid`: when it
/// was the last there, ask the shim to exit (waited for under the pod's
/// exiting key by whoever needs it gone).
pub(in crate::containers) fn release(m: &Manager, pod: &str, id: &str, pid: i32) {
    let slot = m.tasks.pods.slot(pod);
    {
        let mut g = lock(&slot);
        let Some(s) = g.as_mut().filter(|s| s.pid == pid) else {
            return; // a shim that died and was replaced
        };
        s.tasks.remove(id);
        if s.tasks.is_empty() {
            if let Some(s) = g.take() {
                m.tasks.shim_exiting(&pod_exiting_key(pod), pid);
                request_shutdown(&s.client, id);
            }
        }
    }
    m.tasks.pods.forget(pod, slot);
}

/// A task created in the pod's shim that will not run: take it out of the
/// shim (best effort), clean up after it if the shim died, and release it.
pub(in crate::containers) fn abandon(
    m: &Manager,
    pod: &str,
    client: &TaskClient,
    (ns, id, bundle): (&str, &str, &Path),
    pid: i32,
) {
    let mut req = api::DeleteRequest::new();
    req.id = id.to_string();
    let _ = call("delete task", client.delete(ctx(), &req));
    if !alive(pid) {
        shim_delete(m, ns, id, bundle);
    }
    release(m, pod, id, pid);
}

/// After a hulld restart: the client of pod `pod`'s shim (`address`,
/// `pid`), connected once for all the pod's tasks.
pub(in crate::containers) fn reconnect(
    m: &Manager,
    pod: &str,
    address: &str,
    pid: i32,
) -> Result<TaskClient> {
    let slot = m.tasks.pods.slot(pod);
    let mut g = lock(&slot);
    if let Some(s) = g.as_ref().filter(|s| s.pid == pid) {
        return Ok(s.client.clone());
    }
    let client = connect(address)?;
    *g = Some(PodShim {
        pid,
        address: address.to_string(),
        client: client.clone(),
        tasks: HashSet::new(),
    });
    Ok(client)
}

/// After a hulld restart: the task of container `id` runs on in pod
/// `pod`'s shim `pid`.
pub(in crate::containers) fn adopt(m: &Manager, pod: &str, id: &str, pid: i32) {
    let slot = m.tasks.pods.slot(pod);
    let mut g = lock(&slot);
    if let Some(s) = g.as_mut().filter(|s| s.pid == pid) {
        s.tasks.insert(id.to_string());
    }
}

/// After recovery: pods' shims that run no task hulld knows of are asked
/// to exit once they are empty (the shim's own rule).
pub(in crate::containers) fn release_idle(m: &Manager) {
    for (pod, slot) in m.tasks.pods.idle() {
        {
            let mut g = lock(&slot);
            if let Some(s) = g.take_if(|s| s.tasks.is_empty()) {
                tracing::info!(
                    pod,
                    pid = s.pid,
                    "pod shim without tasks; asking it to exit"
                );
                let mut r = api::ShutdownRequest::new();
                r.id = pod.clone();
                let _ = call("shutdown", s.client.shutdown(ctx(), &r));
            }
        }
        m.tasks.pods.forget(&pod, slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_containers_and_pauses_name_their_pod() {
        let spec = |a: serde_json::Value| serde_json::json!({"annotations": a}).to_string();
        let pause = spec(serde_json::json!({
            TYPE_ANNOTATION: "sandbox", SANDBOX_ANNOTATION: "p1"}));
        assert_eq!(pod_of_spec(&pause).as_deref(), Some("p1"));
        let c = spec(serde_json::json!({
            TYPE_ANNOTATION: "container", SANDBOX_ANNOTATION: "p1"}));
        assert_eq!(pod_of_spec(&c).as_deref(), Some("p1"));
        // Not made by the pods room: a shim of its own.
        assert_eq!(
            pod_of_spec(&spec(serde_json::json!({SANDBOX_ANNOTATION: "p1"}))),
            None
        );
        let empty = spec(serde_json::json!({TYPE_ANNOTATION: "container", SANDBOX_ANNOTATION: ""}));
        assert_eq!(pod_of_spec(&empty), None);
        assert_eq!(pod_of_spec(""), None);
        assert_eq!(pod_of_spec("{}"), None);
        assert!(is_pause(&pause));
        assert!(!is_pause(&c));
    }

    #[test]
    fn exiting_keys_of_pods_differ_from_containers() {
        let own = ShimKey::Own("default/abc".into());
        let pod = ShimKey::Pod("default/abc".into());
        assert_ne!(own.exiting_key(), pod.exiting_key());
    }
}
