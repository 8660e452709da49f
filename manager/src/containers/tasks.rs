//! A container's task as callers ask about it: the record with its live
//! task, the process of an exec, and the output files a task leaves.

use std::sync::Arc;

use super::shim::Live;
use super::{logfile, ContainerRecord, EXITED};
use crate::error::Error;
use crate::manager::Manager;
use crate::metadata::ns_key;

/// A process to run in a container's task (`exec`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    pub container_id: String,
    pub args: Vec<String>,
    /// KEY=VALUE added to the container's environment.
    pub env: Vec<String>,
    pub workdir: String,
    /// user[:group], names resolved in the image.
    pub user: String,
}

/// The record and live task (if any) of a container named by ID, prefix or name.
pub fn lookup(
    m: &Manager,
    ns: &str,
    what: &str,
) -> Result<(ContainerRecord, Option<Arc<Live>>), Error> {
    let r = super::find(m, ns, what)?;
    let live = m.tasks.get(&ns_key(ns, &r.id));
    // The waiter records the exit, then drops the task: a record read
    // before the one and a task looked up after the other is stale.
    if live.is_none() && r.state.status != EXITED {
        return Ok((super::find(m, ns, &r.id)?, None));
    }
    Ok((r, live))
}

pub fn not_running(r: &ContainerRecord) -> Error {
    Error::FailedPrecondition(format!("Container {} is not running", r.id))
}

/// The OCI process of an exec in container `rec`: the container's process
/// with the request's args, env, workdir and user (no terminal).
pub fn exec_process(
    m: &Manager,
    rec: &ContainerRecord,
    r: &ExecSpec,
) -> Result<serde_json::Value, Error> {
    let spec: serde_json::Value = serde_json::from_str(&rec.spec)?;
    let mut process = spec["process"].clone();
    process["args"] = serde_json::json!(r.args);
    process["terminal"] = false.into();
    let mut env: Vec<String> = process["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for e in &r.env {
        let k = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(k));
        env.push(e.clone());
    }
    process["env"] = serde_json::json!(env);
    if !r.workdir.is_empty() {
        process["cwd"] = r.workdir.clone().into();
    }
    if !r.user.is_empty() {
        let top = m
            .snapshots
            .stat(&rec.snapshot_key)?
            .parent
            .unwrap_or_default();
        let (uid, gid, extra) = super::resolve_user(m, &top, &m.state.join("tmp"), &r.user)?;
        process["user"] = serde_json::json!({"uid": uid, "gid": gid, "additionalGids": extra});
    }
    Ok(process)
}

/// Entries of a json-lines log file from byte `offset` (a few MiB at
/// most: callers come back for the rest), and the offset after them.
pub fn read_entries(p: &std::path::Path, offset: u64) -> (Vec<logfile::Entry>, u64) {
    logfile::read_entries(p, offset, 4 * logfile::READ_CHUNK)
}

/// Up to 64 KiB of `p` from `offset` (empty at the end or when absent).
pub async fn read_from(p: &std::path::Path, offset: u64) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let Ok(mut f) = tokio::fs::File::open(p).await else {
        return Vec::new();
    };
    if f.seek(std::io::SeekFrom::Start(offset)).await.is_err() {
        return Vec::new();
    }
    let mut buf = vec![0u8; 64 * 1024];
    match f.read(&mut buf).await {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => Vec::new(),
    }
}
