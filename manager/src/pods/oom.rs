//! OOM kills of pod containers: the shims publish TaskOOM (topic
//! `/tasks/oom`) when the kernel kills in a container's memory cgroup;
//! the container's record keeps it, so its status after the exit says
//! `OOMKilled`.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::pod_containers::PodContainer;
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

pub const TOPIC: &str = "/tasks/oom";

/// Record an OOM kill in container `id`'s record (none: not a pod's).
pub fn mark(m: &Manager, ns: &str, id: &str) {
    let key = ns_key(ns, id);
    match m.db.get::<PodContainer>(Table::PodContainers, &key) {
        Ok(Some(mut c)) if !c.oom_killed => {
            c.oom_killed = true;
            if let Err(e) = m.db.put(Table::PodContainers, &key, &c) {
                tracing::warn!(id, "record OOM kill: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(id, "record OOM kill: {e}"),
    }
}

/// Watch hulld's events for OOM kills, on the current tokio runtime.
pub fn watch(m: Arc<Manager>) {
    let mut rx = m.events.subscribe();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(e) if e.topic == TOPIC => {
                    let v: serde_json::Value = serde_json::from_str(&e.event).unwrap_or_default();
                    let Some(id) = v["container_id"].as_str().map(str::to_string) else {
                        continue;
                    };
                    let (m, ns) = (m.clone(), e.namespace.clone());
                    let _ = tokio::task::spawn_blocking(move || mark(&m, &ns, &id)).await;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}
