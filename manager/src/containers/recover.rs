//! After a hulld restart: the containers that had a task get their shims
//! back (reconnected and watched again; a pod's shim once for all its
//! tasks), or are marked exited when their shim or task is gone.

use std::sync::Arc;
use std::time::Duration;

use containerd_shim_protos::api;
use containerd_shim_protos::shim_async::TaskClient;
use tokio::sync::watch;

use super::shim::{
    alive, call, connect, ctx, group, shim_delete, wait_gone, waiter, watch_task, Live, ShimKey,
};
use super::{update, ContainerRecord, EXITED};
use crate::content::now_secs;
use crate::error::{Error, Result};
use crate::manager::Manager;

/// After a hulld restart: find the shim of every container that had a
/// task, reconnect, and watch it again. A task that exited meanwhile is
/// reported (and cleaned up) by its waiter at once; a dead shim is cleaned
/// up with the shim's `delete` and the container marked exited (137).
pub fn recover(m: &Arc<Manager>) {
    let all: Vec<(String, ContainerRecord)> =
        match m.db.list(crate::metadata::Table::Containers, "") {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("recover containers: {e}");
                return;
            }
        };
    for (key, r) in all {
        let Some((ns, _)) = key.split_once('/') else {
            continue;
        };
        let ns = ns.to_string();
        let r = match super::with_spec(m, &ns, r) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(key, "recover container: {e}");
                continue;
            }
        };
        if r.state.status == EXITED {
            super::restart::on_daemon_start(m, &ns, &r);
            continue;
        }
        let address = std::fs::read_to_string(r.bundle.join("address")).ok();
        let shim_pid = std::fs::read_to_string(r.bundle.join("shim.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let (Some(address), Some(shim_pid)) = (address, shim_pid) else {
            continue; // never had a task
        };
        let shim = ShimKey::of(&ns, &r);
        let reconnect = || -> Result<(TaskClient, u32, bool)> {
            let client = match &shim {
                ShimKey::Own(_) => connect(address.trim())?,
                ShimKey::Pod(pod) => group::reconnect(m, pod, address.trim(), shim_pid)?,
            };
            let mut req = api::StateRequest::new();
            req.id = r.id.clone();
            let st = call("task state", client.state(ctx(), &req))?;
            let stopped = st.status.enum_value() == Ok(api::Status::STOPPED);
            Ok((client, st.pid, stopped))
        };
        match reconnect() {
            Ok((client, pid, stopped)) => {
                if let ShimKey::Pod(pod) = &shim {
                    group::adopt(m, pod, &r.id, shim_pid);
                }
                let (tx, rx) = watch::channel(None);
                let live = Arc::new(Live {
                    ns: ns.clone(),
                    id: r.id.clone(),
                    client,
                    shim: shim.clone(),
                    shim_pid,
                    pid,
                    done: rx,
                });
                tracing::info!(id = %r.id, pid, stopped, "reconnected to the shim");
                if stopped {
                    // Exited while hulld was away: record it before serving.
                    m.tasks.insert(key.clone(), live.clone());
                    waiter(m.clone(), live, tx);
                } else if let Err(e) = watch_task(m, key.clone(), live.clone(), tx) {
                    tracing::error!(id = %r.id, "recover: {e}");
                } else {
                    // Running on: its healthcheck starts over.
                    super::health::watch(m, &live);
                }
            }
            // The pod's shim answers but has no such task: the others of
            // the pod may still run there; leave it be.
            Err(Error::NotFound(e)) if matches!(shim, ShimKey::Pod(_)) => {
                tracing::warn!(id = %r.id, "task gone from the pod's shim ({e})");
                mark_killed(m, &ns, &key, &r);
            }
            Err(e) => {
                tracing::warn!(id = %r.id, "shim gone ({e}); cleaning up");
                if alive(shim_pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(shim_pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    wait_gone(shim_pid, Duration::from_secs(5));
                }
                shim_delete(m, &ns, &r.id, &r.bundle);
                mark_killed(m, &ns, &key, &r);
            }
        }
    }
    // Pods' shims whose tasks are all gone.
    group::release_idle(m);
}

/// Record container `r` (key `key`) as killed while hulld was away, then
/// restart or remove it as its policy says.
fn mark_killed(m: &Arc<Manager>, ns: &str, key: &str, r: &ContainerRecord) {
    let rec = update(m, ns, &r.id, |c| {
        c.state.status = EXITED.into();
        c.state.pid = 0;
        c.state.exit_code = 128 + libc::SIGKILL;
        c.state.finished_at = now_secs();
    });
    if let (Ok(Some(rec)), false) = (&rec, r.auto_remove) {
        super::restart::on_daemon_start(m, ns, rec);
    }
    if r.auto_remove {
        if let Ok(Some(r)) =
            m.db.get::<ContainerRecord>(crate::metadata::Table::Containers, key)
        {
            let _ = super::remove(m, ns, &r);
        }
    }
}
