//! Removing a container: its snapshot, bundle and record, and the
//! anonymous volumes no other container uses.

use std::path::Path;

use super::*;

/// Containers of `ns` whose spec mounts `path`.
pub fn users_of(m: &Manager, ns: &str, path: &Path) -> Result<Vec<String>> {
    let mut users = Vec::new();
    for c in list(m, ns)? {
        // Records from before summaries: their spec tells.
        let c = if c.summary.is_none() {
            with_spec(m, ns, c)?
        } else {
            c
        };
        if c.summary().mounts.iter().any(|s| Path::new(s) == path) {
            users.push(c.id);
        }
    }
    Ok(users)
}

/// Remove a removed container's anonymous volumes no other container uses.
pub fn remove_anonymous_volumes(m: &Manager, ns: &str, r: &ContainerRecord) {
    let vols = crate::volumes::Volumes::new(&m.root);
    for name in &r.anon_volumes {
        let Ok(v) = vols.get(ns, name) else { continue };
        if users_of(m, ns, &v.mountpoint).is_ok_and(|u| u.is_empty()) {
            if let Err(e) = vols.remove(ns, name) {
                tracing::warn!(volume = %name, "remove anonymous volume: {e}");
            }
        }
    }
}

/// Remove a container that has no running task: snapshot, bundle, record.
pub fn remove(m: &Manager, ns: &str, r: &ContainerRecord) -> Result<()> {
    // A policy restart of this container is either done (its task is
    // seen below) or has not begun (it will find no record).
    let _one = restart::exclusive(ns, &r.id);
    if m.tasks.get(&ns_key(ns, &r.id)).is_some() {
        return Err(Error::FailedPrecondition(format!(
            "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
            r.name
        )));
    }
    // No shim of this container may outlive it (a pod's: only when exiting).
    m.tasks
        .wait_shim_gone(&shim::ShimKey::of(ns, r).exiting_key());
    let rootfs = r.bundle.join("rootfs");
    // The shim unmounts the rootfs when it deletes the task; be sure.
    let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
    // (none: a container without an image, a pod's pause)
    if !r.snapshot_key.is_empty() {
        match m.snapshots.remove(&r.snapshot_key) {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    crate::network::forget(m, ns, &r.id);
    if r.bundle.starts_with(m.state.join("containers")) {
        crate::snapshots::remove_tree(&r.bundle)?;
    }
    {
        let _serial = records_lock();
        m.db.delete(Table::Containers, &ns_key(ns, &r.id))?;
        m.db.delete(Table::ContainerSpecs, &ns_key(ns, &r.id))?;
    }
    // `--rm` takes its anonymous volumes along, as Docker's does.
    if r.auto_remove {
        remove_anonymous_volumes(m, ns, r);
    }
    m.events.publish(
        ns,
        "/containers/delete",
        serde_json::json!({"id": r.id, "name": r.name}),
    );
    Ok(())
}
