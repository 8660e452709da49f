//! Restart policies, as Docker has them: `no`, `on-failure[:N]`, `always`,
//! `unless-stopped`; and the back-off between restarts (100 ms doubling,
//! capped at one minute, reset after a run of ten seconds or more).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::{find, shim, update, ContainerRecord, EXITED};
use crate::manager::Manager;
use crate::metadata::ns_key;

pub use hull_types::restart::{PolicyError, RestartPolicy};

/// What happened to a container that exited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exit {
    pub code: i32,
    /// Stopped by the user (`hull stop`/`kill`/`rm`), not by itself.
    pub by_user: bool,
    /// Restarts done so far.
    pub restarts: u32,
    /// How long the run that just ended lasted.
    pub ran_for: Duration,
}

/// Whether to start the container again after `exit`.
pub fn should_restart(p: RestartPolicy, e: &Exit) -> bool {
    if e.by_user {
        return false;
    }
    match p {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max } => e.code != 0 && max.is_none_or(|m| e.restarts < m),
    }
}

/// Whether a container should be started when the daemon starts: `always`
/// always; `unless-stopped` unless the user stopped it.
pub fn start_on_daemon_start(p: RestartPolicy, stopped_by_user: bool) -> bool {
    match p {
        RestartPolicy::Always => true,
        RestartPolicy::UnlessStopped => !stopped_by_user,
        _ => false,
    }
}

/// Delay before the next start.
pub fn backoff(e: &Exit) -> Duration {
    if e.ran_for >= Duration::from_secs(10) {
        return Duration::from_millis(100);
    }
    let ms = 100u64.saturating_mul(1u64 << e.restarts.min(20));
    Duration::from_millis(ms.min(60_000))
}

/// Whether a user's signal means "stop": SIGKILL, SIGTERM, SIGINT, SIGQUIT
/// or the container's own stop signal. Other signals (SIGHUP to reload, …)
/// leave the restart policy in force.
pub fn is_stop_signal(signal: u32, r: &ContainerRecord) -> bool {
    let fatal = [libc::SIGKILL, libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];
    if fatal.iter().any(|s| *s as u32 == signal) {
        return true;
    }
    let own = serde_json::from_str::<serde_json::Value>(&r.spec)
        .ok()
        .and_then(|v| {
            v["annotations"]["org.opencontainers.image.stopSignal"]
                .as_str()
                .map(str::to_string)
        });
    own.is_some_and(|s| signal_number(&s) == Some(signal))
}

/// "SIGUSR1", "usr1" or "10" → 10.
fn signal_number(s: &str) -> Option<u32> {
    hull_linux::signal::number(s).ok()
}

/// Called once a container's exit is recorded: start it again after the
/// back-off when its policy says so.
pub fn after_exit(m: &Arc<Manager>, ns: &str, r: &ContainerRecord) {
    let e = Exit {
        code: r.state.exit_code,
        by_user: r.stopped_by_user,
        restarts: r.restart_count,
        ran_for: Duration::from_secs((r.state.finished_at - r.state.started_at).max(0) as u64),
    };
    if should_restart(r.policy(), &e) {
        schedule(m, ns, &r.id, backoff(&e), false);
    }
}

/// On daemon start: containers that are down and whose policy wants them up.
pub fn on_daemon_start(m: &Arc<Manager>, ns: &str, r: &ContainerRecord) {
    if r.state.status == EXITED && start_on_daemon_start(r.policy(), r.stopped_by_user) {
        // `always` comes back even after a user stop; the stop is forgotten.
        schedule(m, ns, &r.id, Duration::ZERO, true);
    }
}

fn schedule(m: &Arc<Manager>, ns: &str, id: &str, delay: Duration, daemon_start: bool) {
    let name = format!("restart-{}", &id[..id.len().min(8)]);
    let (m, ns, id) = (m.clone(), ns.to_string(), id.to_string());
    let spawned = std::thread::Builder::new()
        .name(name)
        .stack_size(256 * 1024)
        .spawn(move || {
            std::thread::sleep(delay);
            if let Err(e) = restart_now(&m, &ns, &id, daemon_start) {
                tracing::warn!(%id, "restart policy: start failed: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("restart policy: {e}");
    }
}

/// Containers (by `<ns>/<id>`) a policy restart or a removal is working on.
static BUSY: Mutex<Vec<String>> = Mutex::new(Vec::new());
static FREED: Condvar = Condvar::new();

/// A policy restart or a removal of one container, excluding the other.
pub(crate) struct Exclusive(String);

/// Wait until no restart or removal of container `id` is under way, and
/// hold it until the value is dropped.
pub(crate) fn exclusive(ns: &str, id: &str) -> Exclusive {
    let key = ns_key(ns, id);
    let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    while busy.contains(&key) {
        busy = FREED.wait(busy).unwrap_or_else(|e| e.into_inner());
    }
    busy.push(key.clone());
    Exclusive(key)
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
        busy.retain(|k| *k != self.0);
        FREED.notify_all();
    }
}

fn restart_now(
    m: &Arc<Manager>,
    ns: &str,
    id: &str,
    daemon_start: bool,
) -> crate::error::Result<()> {
    // A removal either finished before (no record below) or waits until
    // this restart is done (and then sees its task).
    let _one = exclusive(ns, id);
    let r = match find(m, ns, id) {
        Ok(r) => r,
        Err(_) => return Ok(()), // removed meanwhile
    };
    // Stopped by the user during the back-off, or started by them.
    let stopped = r.stopped_by_user && !daemon_start;
    if stopped || r.state.status != EXITED || m.tasks.get(&ns_key(ns, id)).is_some() {
        return Ok(());
    }
    tracing::info!(%id, policy = %r.restart_policy, count = r.restart_count + 1, "restarting");
    let Some(r) = update(m, ns, id, |c| {
        c.restart_count += 1;
        // Not otherwise: a user stop marked since the check above must
        // survive for the check below.
        if daemon_start {
            c.stopped_by_user = false;
        }
    })?
    else {
        return Ok(()); // removed meanwhile: never run a stale record
    };
    let live = shim::create_task(m, ns, &r)?;
    // A user stop (or a forced removal, which marks the record first) that
    // came after the check above: the Kill call marks the record before it
    // looks for a task, and the task is registered now, so either that stop
    // reaches this task or this check sees the mark.
    if !find(m, ns, id).is_ok_and(|c| !c.stopped_by_user) {
        let _ = shim::kill(&live, libc::SIGKILL as u32, false);
        // Gone from the tasks before a removal waiting on us looks.
        shim::wait_exited(&live, Duration::from_secs(30))?;
        return Ok(());
    }
    shim::start_task(m, &live)?;
    m.events.publish(
        ns,
        "/containers/restart",
        serde_json::json!({"id": id, "restart_count": r.restart_count}),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32, restarts: u32) -> Exit {
        Exit {
            code,
            by_user: false,
            restarts,
            ran_for: Duration::from_millis(5),
        }
    }

    #[test]
    fn decisions() {
        let of3 = RestartPolicy::OnFailure { max: Some(3) };
        assert!(should_restart(of3, &exit(1, 2)));
        assert!(!should_restart(of3, &exit(1, 3)));
        assert!(!should_restart(of3, &exit(0, 0)));
        assert!(should_restart(RestartPolicy::Always, &exit(0, 100)));
        assert!(!should_restart(RestartPolicy::No, &exit(1, 0)));
        let user = Exit {
            by_user: true,
            ..exit(137, 0)
        };
        assert!(!should_restart(RestartPolicy::Always, &user));
        assert!(start_on_daemon_start(RestartPolicy::Always, true));
        assert!(!start_on_daemon_start(RestartPolicy::UnlessStopped, true));
        assert!(start_on_daemon_start(RestartPolicy::UnlessStopped, false));
    }

    #[test]
    fn stop_signals() {
        let mut r = ContainerRecord::default();
        assert!(is_stop_signal(9, &r));
        assert!(is_stop_signal(15, &r));
        assert!(!is_stop_signal(1, &r));
        r.spec = r#"{"annotations":{"org.opencontainers.image.stopSignal":"SIGUSR1"}}"#.into();
        assert!(is_stop_signal(10, &r));
        assert_eq!(signal_number("usr2"), Some(12));
        assert_eq!(signal_number("nope"), None);
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        assert_eq!(backoff(&exit(1, 0)), Duration::from_millis(100));
        assert_eq!(backoff(&exit(1, 3)), Duration::from_millis(800));
        assert_eq!(backoff(&exit(1, 30)), Duration::from_secs(60));
        let long = Exit {
            ran_for: Duration::from_secs(11),
            ..exit(1, 9)
        };
        assert_eq!(backoff(&long), Duration::from_millis(100));
    }
}
