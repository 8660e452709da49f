//! Shim events (containerd's `publish` protocol: a protobuf `Any` of a
//! `containerd.events.Task*` message) turned into the JSON attributes of
//! hulld's own event stream.

use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::Message;
use serde_json::{json, Value};

use crate::error::{Error, Result};

fn parse<M: Message>(b: &[u8]) -> Result<M> {
    M::parse_from_bytes(b).map_err(|e| Error::InvalidArgument(format!("bad event: {e}")))
}

/// Decode an encoded `Any` into JSON attributes.
pub fn decode(any: &[u8]) -> Result<Value> {
    let a = Any::parse_from_bytes(any)
        .map_err(|e| Error::InvalidArgument(format!("bad event envelope: {e}")))?;
    decode_any(&a)
}

/// Decode an `Any` (as a ttrpc `Forward` carries it) into JSON attributes.
pub fn decode_any(a: &Any) -> Result<Value> {
    let name = a.type_url.rsplit('/').next().unwrap_or_default();
    let v = &a.value;
    Ok(match name {
        "containerd.events.TaskCreate" => {
            let e: TaskCreate = parse(v)?;
            json!({"container_id": e.container_id, "pid": e.pid, "bundle": e.bundle})
        }
        "containerd.events.TaskStart" => {
            let e: TaskStart = parse(v)?;
            json!({"container_id": e.container_id, "pid": e.pid})
        }
        "containerd.events.TaskExit" => {
            let e: TaskExit = parse(v)?;
            json!({
                "container_id": e.container_id, "id": e.id, "pid": e.pid,
                "exit_status": e.exit_status,
                "exited_at": e.exited_at.as_ref().map(|t| t.seconds).unwrap_or(0),
            })
        }
        "containerd.events.TaskDelete" => {
            let e: TaskDelete = parse(v)?;
            json!({"container_id": e.container_id, "id": e.id, "pid": e.pid, "exit_status": e.exit_status})
        }
        "containerd.events.TaskOOM" => {
            let e: TaskOOM = parse(v)?;
            json!({"container_id": e.container_id})
        }
        "containerd.events.TaskExecAdded" => {
            let e: TaskExecAdded = parse(v)?;
            json!({"container_id": e.container_id, "exec_id": e.exec_id})
        }
        "containerd.events.TaskExecStarted" => {
            let e: TaskExecStarted = parse(v)?;
            json!({"container_id": e.container_id, "exec_id": e.exec_id, "pid": e.pid})
        }
        "containerd.events.TaskPaused" => {
            let e: TaskPaused = parse(v)?;
            json!({"container_id": e.container_id})
        }
        "containerd.events.TaskResumed" => {
            let e: TaskResumed = parse(v)?;
            json!({"container_id": e.container_id})
        }
        other => json!({"type": other}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_exit_decodes() {
        let mut e = TaskExit::new();
        e.container_id = "c1".into();
        e.pid = 42;
        e.exit_status = 3;
        let mut a = Any::new();
        a.type_url = "containerd.events.TaskExit".into();
        a.value = e.write_to_bytes().unwrap();
        let v = decode(&a.write_to_bytes().unwrap()).unwrap();
        assert_eq!(v["container_id"], "c1");
        assert_eq!(v["exit_status"], 3);
        assert_eq!(v["pid"], 42);
        assert!(decode(b"\xff\xff").is_err());
    }
}
