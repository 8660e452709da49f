//! The health monitor of a running task: a thread that runs the check as
//! an exec in the task every interval, with its timeout, records each
//! result in the container's health, and publishes `health_status` events
//! when the status changes. It ends with its task; the next task (a
//! start, a policy restart, a hulld restart finding it running) gets a
//! monitor of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{in_start_period, HealthResult, HealthState, Probe};
use crate::containers::shim::{self, Live};
use crate::containers::tasks::{exec_process, ExecSpec};
use crate::containers::{exec, find, update, ContainerRecord, EXITED, PAUSED, RUNNING};
use crate::error::Result;
use crate::manager::Manager;
use crate::metadata::ns_key;
use hull_types::duration::format_go_duration;
use hull_types::time::now_nanos;

/// How long a check killed for its timeout may take to go.
const KILLED_GRACE: Duration = Duration::from_secs(5);

/// Start the monitor of `live` when its container has a healthcheck: its
/// health is `starting` from now.
pub fn watch(m: &Arc<Manager>, live: &Arc<Live>) {
    let Ok(r) = find(m, &live.ns, &live.id) else {
        return;
    };
    let Some(p) = r.healthcheck.as_ref().and_then(super::probe) else {
        return;
    };
    let marked = update(m, &live.ns, &live.id, |c| {
        // A task that already ended keeps the health its exit left.
        if c.state.status != EXITED {
            c.health = Some(HealthState::starting(c.health.take()));
        }
    });
    if let Err(e) = marked {
        tracing::warn!(id = %live.id, "healthcheck: {e}");
        return;
    }
    let (m, live) = (m.clone(), live.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("health-{}", &live.id[..live.id.len().min(8)]))
        .stack_size(256 * 1024)
        .spawn(move || monitor(&m, &live, &p));
    if let Err(e) = spawned {
        tracing::warn!("healthcheck: spawn the monitor: {e}");
    }
}

/// Whether `live` is still the container's task.
fn current(m: &Manager, live: &Arc<Live>) -> bool {
    m.tasks
        .get(&ns_key(&live.ns, &live.id))
        .is_some_and(|t| Arc::ptr_eq(&t, live))
}

fn monitor(m: &Arc<Manager>, live: &Arc<Live>, p: &Probe) {
    let started = Instant::now();
    loop {
        // Wakes at once when the task ends.
        if shim::wait_exited(live, p.interval).is_ok() || !current(m, live) {
            return;
        }
        let Ok(rec) = find(m, &live.ns, &live.id) else {
            return;
        };
        if rec.state.status == PAUSED {
            continue;
        }
        let in_start = in_start_period(started.elapsed(), p);
        let result = run_check(m, live, &rec, p);
        let mut changed = None;
        let recorded = update(m, &live.ns, &live.id, |c| {
            // Not once the task ended (its exit marked the health) or
            // another task took its place.
            if c.state.status != RUNNING || !current(m, live) {
                return;
            }
            if let Some(h) = c.health.as_mut() {
                changed = h.record(result, p.retries, in_start);
            }
        });
        if let Err(e) = recorded {
            tracing::warn!(id = %live.id, "healthcheck: record result: {e}");
        }
        if let Some(status) = changed {
            m.events.publish(
                &live.ns,
                "/containers/health_status",
                serde_json::json!({
                    "id": live.id,
                    "name": rec.name,
                    "image": rec.image,
                    "status": status,
                    "action": format!("health_status: {status}"),
                }),
            );
        }
    }
}

/// Run the check once: its exit code and output, or -1 and why when it
/// could not run or ran out of time.
fn run_check(m: &Manager, live: &Live, rec: &ContainerRecord, p: &Probe) -> HealthResult {
    let start = now_nanos();
    match check(m, live, rec, p) {
        Ok((code, out)) => HealthResult::new(start, now_nanos(), code, &out),
        Err(e) => HealthResult::new(start, now_nanos(), -1, e.to_string().as_bytes()),
    }
}

fn check(m: &Manager, live: &Live, rec: &ContainerRecord, p: &Probe) -> Result<(i32, Vec<u8>)> {
    let spec = ExecSpec {
        container_id: rec.id.clone(),
        args: p.args.clone(),
        ..Default::default()
    };
    let process = exec_process(m, rec, &spec)?;
    // stdout and stderr into one file (opened for appending), in the
    // order they were written, as Docker keeps a check's output.
    let mut proc = exec::ExecProc::new(&rec.bundle);
    proc.stderr = proc.stdout.clone();
    exec::start_io(live, &proc, &process, "", false)?;
    let outcome = match exec::wait_for(live, &proc, p.timeout) {
        Ok(Some(code)) => Ok((code, read_output(&proc.stdout))),
        Ok(None) => {
            let _ = exec::kill(live, &proc, libc::SIGKILL as u32);
            let _ = exec::wait_for(live, &proc, KILLED_GRACE);
            let why = format!(
                "Health check exceeded timeout ({})",
                format_go_duration(p.timeout)
            );
            Ok((-1, why.into_bytes()))
        }
        Err(e) => Err(e),
    };
    exec::delete(live, &proc);
    outcome
}

/// The first `MAX_OUTPUT` bytes of a check's output.
fn read_output(p: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.take(super::MAX_OUTPUT as u64).read_to_end(&mut out);
    }
    out
}
