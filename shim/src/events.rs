//! Event publishing through the caller's publish binary, as containerd's
//! shims do: `BIN --address ADDR publish --topic TOPIC --namespace NS` with
//! the protobuf `Any` of the event on stdin. One thread drains a queue, so a
//! slow or absent manager never blocks the container or the Task service;
//! each event is tried a few times with growing pauses, then dropped (logged).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use protobuf::well_known_types::any::Any;
use protobuf::Message;

use crate::reaper::Reaper;

const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// One publish command may take this long before it counts as failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

struct Event {
    topic: &'static str,
    payload: Vec<u8>,
}

#[derive(Clone)]
pub struct Publisher {
    tx: Option<Sender<Event>>,
    /// Events queued or being published, for `drain` before the shim exits.
    pending: Arc<(Mutex<usize>, Condvar)>,
}

/// The protobuf full name containerd uses as an `Any` type URL. Spelled out
/// so the shim never touches protobuf reflection (descriptors) at run time,
/// which would cost resident memory; a unit test checks each name against
/// the descriptor.
pub trait Named: Message {
    const TYPE_URL: &'static str;
}

macro_rules! named {
    ($($t:ty => $n:literal),* $(,)?) => {
        $(impl Named for $t { const TYPE_URL: &'static str = $n; })*
    };
}

named! {
    TaskCreate => "containerd.events.TaskCreate",
    TaskStart => "containerd.events.TaskStart",
    TaskDelete => "containerd.events.TaskDelete",
    TaskExit => "containerd.events.TaskExit",
    TaskOOM => "containerd.events.TaskOOM",
    TaskExecAdded => "containerd.events.TaskExecAdded",
    TaskExecStarted => "containerd.events.TaskExecStarted",
    TaskPaused => "containerd.events.TaskPaused",
    TaskResumed => "containerd.events.TaskResumed",
    containerd_shim_protos::cgroups::metrics::Metrics => "io.containerd.cgroups.v1.Metrics",
    containerd_shim_protos::cgroups_v2::metrics::Metrics => "io.containerd.cgroups.v2.Metrics",
    containerd_shim_protos::shim::oci::ProcessDetails => "containerd.runc.v1.ProcessDetails",
}

/// Wrap a message in an `Any` the way containerd names types.
pub fn to_any<M: Named>(m: &M) -> Option<Any> {
    let mut a = Any::new();
    a.type_url = <M as Named>::TYPE_URL.to_string();
    a.value = m.write_to_bytes().ok()?;
    Some(a)
}

impl Publisher {
    /// A publisher that drops everything (no publish binary given).
    pub fn none() -> Self {
        Publisher {
            tx: None,
            pending: Arc::default(),
        }
    }

    pub fn start(
        reaper: Arc<Reaper>,
        binary: String,
        address: String,
        namespace: String,
    ) -> std::io::Result<Self> {
        if binary.is_empty() {
            return Ok(Self::none());
        }
        let (tx, rx) = channel::<Event>();
        let pending: Arc<(Mutex<usize>, Condvar)> = Arc::default();
        let done = pending.clone();
        std::thread::Builder::new()
            .name("events".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                for ev in rx {
                    let mut pause = FIRST_PAUSE;
                    let mut attempt = 1;
                    loop {
                        match publish_once(&reaper, &binary, &address, &namespace, &ev) {
                            Ok(()) => break,
                            Err(e) if attempt < ATTEMPTS => {
                                tracing::debug!(topic = ev.topic, attempt, "publish failed: {e}");
                                std::thread::sleep(pause);
                                pause *= 2;
                                attempt += 1;
                            }
                            Err(e) => {
                                tracing::warn!(topic = ev.topic, "event dropped: {e}");
                                break;
                            }
                        }
                    }
                    let (count, cond) = &*done;
                    let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
                    *n = n.saturating_sub(1);
                    cond.notify_all();
                }
            })?;
        Ok(Publisher {
            tx: Some(tx),
            pending,
        })
    }

    /// Wait (at most `timeout`) until every queued event went out: the
    /// shim calls this before it exits, or the last events (exit, delete)
    /// would die with it.
    pub fn drain(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        let (count, cond) = &*self.pending;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            let now = std::time::Instant::now();
            if now >= deadline {
                tracing::warn!(pending = *n, "exiting with unpublished events");
                return;
            }
            n = cond
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub fn publish<M: Named>(&self, topic: &'static str, m: &M) {
        let Some(tx) = &self.tx else { return };
        let Some(any) = to_any(m) else { return };
        let Ok(payload) = any.write_to_bytes() else {
            return;
        };
        let (count, _) = &*self.pending;
        *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        if tx.send(Event { topic, payload }).is_err() {
            *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        }
    }
}

fn publish_once(
    reaper: &Reaper,
    binary: &str,
    address: &str,
    namespace: &str,
    ev: &Event,
) -> Result<(), String> {
    let mut cmd = Command::new(binary);
    cmd.arg("--address")
        .arg(address)
        .arg("publish")
        .arg("--topic")
        .arg(ev.topic)
        .arg("--namespace")
        .arg(namespace)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = reaper.spawn(&mut cmd).map_err(|e| e.to_string())?;
    let pid = child.id() as i32;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&ev.payload);
    }
    let stderr = child.stderr.take();
    match reaper.wait_timeout(pid, PUBLISH_TIMEOUT) {
        Some(exit) if exit.code == 0 => Ok(()),
        Some(exit) => {
            let mut msg = String::new();
            if let Some(mut e) = stderr {
                use std::io::Read;
                let _ = e.read_to_string(&mut msg);
            }
            Err(format!("exit status {}: {}", exit.code, msg.trim()))
        }
        None => {
            // SAFETY: kill(2) on a child we started and have not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = reaper.wait(pid);
            Err("publish binary timed out".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_uses_containerd_type_names() {
        let mut e = TaskExit::new();
        e.container_id = "c".into();
        e.exit_status = 3;
        let a = to_any(&e).unwrap();
        assert_eq!(a.type_url, "containerd.events.TaskExit");
        let back = TaskExit::parse_from_bytes(&a.value).unwrap();
        assert_eq!(back.exit_status, 3);
    }

    fn check<M: Named + protobuf::MessageFull>() {
        assert_eq!(<M as Named>::TYPE_URL, M::descriptor().full_name());
    }

    #[test]
    fn names_match_descriptors() {
        check::<TaskCreate>();
        check::<TaskStart>();
        check::<TaskDelete>();
        check::<TaskExit>();
        check::<TaskOOM>();
        check::<TaskExecAdded>();
        check::<TaskExecStarted>();
        check::<TaskPaused>();
        check::<TaskResumed>();
        check::<containerd_shim_protos::cgroups::metrics::Metrics>();
        check::<containerd_shim_protos::cgroups_v2::metrics::Metrics>();
        check::<containerd_shim_protos::shim::oci::ProcessDetails>();
    }
}
