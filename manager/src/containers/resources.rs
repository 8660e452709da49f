//! Changing a container's resources (OCI `linux.resources`: CPU, cpuset,
//! memory …) after it was made: its live task through the shim's
//! Task.Update (the runtime writes the cgroup, v1 or v2), and its spec
//! (record and bundle), so inspect and a later start see the new values.

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use serde_json::Value;

use super::shim::{call, ctx, Live};
use super::{bundle_dir, update};
use crate::error::{Error, IoContext, Result};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

/// The type URL containerd gives the OCI LinuxResources in Task.Update.
const RESOURCES_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

/// Merge `new` (OCI LinuxResources JSON, only the fields to change) into
/// container `id`'s resources: the running task's cgroup first (a value
/// the kernel refuses changes nothing), then the stored spec and the
/// bundle's config.json (where the next start reads it).
pub fn update_resources(m: &Manager, ns: &str, id: &str, new: &Value) -> Result<()> {
    if !new.is_object() {
        return Err(Error::InvalidArgument(
            "resources must be a JSON object".into(),
        ));
    }
    if let Some(live) = m.tasks.get(&ns_key(ns, id)) {
        update_task(&live, new)?;
    }
    let mut spec_text = None;
    update(m, ns, id, |r| {
        if r.spec.is_empty() {
            return;
        }
        let Ok(mut spec) = serde_json::from_str::<Value>(&r.spec) else {
            return;
        };
        hull_types::json_merge::merge(&mut spec["linux"]["resources"], new);
        if let Ok(text) = serde_json::to_string_pretty(&spec) {
            r.spec = text.clone();
            spec_text = Some(text);
        }
    })?
    .ok_or_else(|| Error::NotFound(format!("container {id} not found")))?;
    if let Some(text) = spec_text {
        // The spec alone: the record may have changed since (an exit).
        m.db.put_raw(Table::ContainerSpecs, &ns_key(ns, id), text.as_bytes())?;
        // A stopped container starts again from its bundle's config.json.
        let p = bundle_dir(m, ns, id).join("config.json");
        if p.exists() {
            crate::private::write(&p, text).ctx(|| format!("write {}", p.display()))?;
        }
    }
    Ok(())
}

/// The shim's Task.Update with `res` (the runtime's `update --resources`).
fn update_task(live: &Live, res: &Value) -> Result<()> {
    let mut req = api::UpdateTaskRequest::new();
    req.id = live.id.clone();
    let mut any = Any::new();
    any.type_url = RESOURCES_TYPE_URL.into();
    any.value = serde_json::to_vec(res)?;
    req.resources = Some(any).into();
    call("update", live.client.update(ctx(), &req)).map(|_| ())
}
