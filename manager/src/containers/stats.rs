//! A running task's resource usage, from its shim's cgroup metrics.

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::Message;

use super::shim::{call, ctx, Live};
use crate::error::{Error, Result};

/// A running task's resource usage (its cgroup).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskStats {
    pub cpu_total_nanos: u64,
    /// Memory in use, without the inactive page cache (as Docker counts it).
    pub memory_usage: u64,
    pub memory_limit: u64,
    /// The cgroup's whole memory use (page cache included).
    pub memory_total: u64,
    /// Anonymous memory (v1 total_rss, v2 anon).
    pub memory_rss: u64,
    pub page_faults: u64,
    pub major_page_faults: u64,
    pub pids: u64,
}

/// Resource usage from the shim's Stats (cgroup v1 or v2 metrics).
pub fn stats(live: &Live) -> Result<TaskStats> {
    let mut req = api::StatsRequest::new();
    req.id = live.id.clone();
    let resp = call("stats", live.client.stats(ctx(), &req))?;
    let mut out = TaskStats::default();
    let Some(any) = resp.stats.as_ref() else {
        return Ok(out);
    };
    let bad = |e: containerd_shim_protos::protobuf::Error| {
        Error::InvalidArgument(format!("bad metrics from the shim: {e}"))
    };
    if any.type_url.ends_with("cgroups.v1.Metrics") {
        use containerd_shim_protos::cgroups::metrics::Metrics;
        let m = Metrics::parse_from_bytes(&any.value).map_err(bad)?;
        if let Some(c) = m.cpu.as_ref().and_then(|c| c.usage.as_ref()) {
            out.cpu_total_nanos = c.total;
        }
        if let Some(mem) = m.memory.as_ref() {
            if let Some(u) = mem.usage.as_ref() {
                out.memory_usage = u.usage.saturating_sub(mem.total_inactive_file);
                out.memory_limit = u.limit;
                out.memory_total = u.usage;
            }
            out.memory_rss = mem.total_rss;
            out.page_faults = mem.total_pg_fault;
            out.major_page_faults = mem.total_pg_maj_fault;
        }
        if let Some(p) = m.pids.as_ref() {
            out.pids = p.current;
        }
    } else if any.type_url.ends_with("cgroups.v2.Metrics") {
        use containerd_shim_protos::cgroups_v2::metrics::Metrics;
        let m = Metrics::parse_from_bytes(&any.value).map_err(bad)?;
        if let Some(c) = m.cpu.as_ref() {
            out.cpu_total_nanos = c.usage_usec * 1000;
        }
        if let Some(mem) = m.memory.as_ref() {
            out.memory_usage = mem.usage.saturating_sub(mem.inactive_file);
            out.memory_limit = mem.usage_limit;
            out.memory_total = mem.usage;
            out.memory_rss = mem.anon;
            out.page_faults = mem.pgfault;
            out.major_page_faults = mem.pgmajfault;
        }
        if let Some(p) = m.pids.as_ref() {
            out.pids = p.current;
        }
    }
    Ok(out)
}
