//! Event publishing, as containerd's shims do. When the caller named a ttrpc
//! address (`TTRPC_ADDRESS`, set by containerd ≥ 1.5 and by hulld), each
//! event is forwarded over one persistent connection to its
//! `containerd.services.events.ttrpc.v1.Events` service; otherwise, or when
//! that fails twice (once more after a reconnect), through the publish
//! binary: `BIN --address ADDR publish --topic TOPIC --namespace NS` with the
//! protobuf `Any` of the event on stdin. One thread drains a queue, so a slow
//! or absent manager never blocks the container or the Task service, and
//! events leave in order; the binary is tried a few times with growing
//! pauses, then the event is dropped (logged).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::shim::event::Envelope;
use containerd_shim_protos::shim::events::ForwardRequest;
use containerd_shim_protos::shim_sync::EventsClient;
use protobuf::well_known_types::any::Any;
use protobuf::well_known_types::timestamp::Timestamp;
use protobuf::Message;

use crate::reaper::Reaper;

const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// One publish command may take this long before it counts as failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// One ttrpc Forward may take this long before it counts as failed.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// The ttrpc connection is closed after this long without an event: an
/// open ttrpc-rust client wakes every 10 ms to look for replies, which
/// for a long-running container would be its shim's only activity.
const IDLE_DISCONNECT: Duration = Duration::from_secs(10);
/// The environment variable naming the caller's ttrpc address.
pub const TTRPC_ADDRESS_ENV: &str = "TTRPC_ADDRESS";

struct Event {
    topic: &'static str,
    any: Any,
    at: SystemTime,
}

/// Where the events thread sends events.
struct Sink {
    reaper: Arc<Reaper>,
    binary: String,
    address: String,
    namespace: String,
    ttrpc: Option<Forwarder>,
}

/// One lazily made ttrpc connection to the caller's Events service.
struct Forwarder {
    address: String,
    client: Option<EventsClient>,
}

impl Forwarder {
    /// `address` as containerd passes it (a plain path) or as a ttrpc URL.
    fn new(address: &str) -> Self {
        let address = if address.contains("://") {
            address.to_string()
        } else {
            format!("unix://{address}")
        };
        Forwarder {
            address,
            client: None,
        }
    }

    fn forward_once(&mut self, req: &ForwardRequest) -> Result<(), String> {
        let client = match &self.client {
            Some(c) => c,
            None => {
                let c = ttrpc::Client::connect(&self.address)
                    .map_err(|e| format!("connect to {}: {e}", self.address))?;
                self.client.insert(EventsClient::new(c))
            }
        };
        let ctx = ttrpc::context::with_timeout(FORWARD_TIMEOUT.as_nanos() as i64);
        match client.forward(ctx, req) {
            Ok(_) => Ok(()),
            Err(e) => {
                // A broken or stuck connection: the next try makes a new one.
                self.client = None;
                Err(format!("forward to {}: {e}", self.address))
            }
        }
    }

    /// Forward, and once more on a fresh connection should that fail.
    fn forward(&mut self, namespace: &str, ev: &Event) -> Result<(), String> {
        let mut env = Envelope::new();
        let since = ev.at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let mut ts = Timestamp::new();
        ts.seconds = since.as_secs() as i64;
        ts.nanos = since.subsec_nanos() as i32;
        env.timestamp = Some(ts).into();
        env.namespace = namespace.to_string();
        env.topic = ev.topic.to_string();
        env.event = Some(ev.any.clone()).into();
        let mut req = ForwardRequest::new();
        req.envelope = Some(env).into();
        match self.forward_once(&req) {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::debug!(topic = ev.topic, "{e}; reconnecting");
                self.forward_once(&req)
            }
        }
    }
}

impl Sink {
    fn send(&mut self, ev: &Event) {
        if let Some(f) = &mut self.ttrpc {
            match f.forward(&self.namespace, ev) {
                Ok(()) => return,
                Err(e) if self.binary.is_empty() => {
                    tracing::warn!(topic = ev.topic, "event dropped: {e}");
                    return;
                }
                Err(e) => tracing::warn!(topic = ev.topic, "{e}; using the publish binary"),
            }
        }
        let Ok(payload) = ev.any.write_to_bytes() else {
            return;
        };
        let mut pause = FIRST_PAUSE;
        let mut attempt = 1;
        loop {
            match publish_once(
                &self.reaper,
                &self.binary,
                &self.address,
                &self.namespace,
                ev.topic,
                &payload,
            ) {
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
    }
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

    /// `ttrpc`: the caller's ttrpc address (`TTRPC_ADDRESS`), if any; the
    /// publish binary is then only the fallback.
    pub fn start(
        reaper: Arc<Reaper>,
        binary: String,
        address: String,
        namespace: String,
        ttrpc: Option<String>,
    ) -> std::io::Result<Self> {
        let ttrpc = ttrpc.filter(|a| !a.is_empty());
        if binary.is_empty() && ttrpc.is_none() {
            return Ok(Self::none());
        }
        let mut sink = Sink {
            reaper,
            binary,
            address,
            namespace,
            ttrpc: ttrpc.as_deref().map(Forwarder::new),
        };
        let (tx, rx) = channel::<Event>();
        let pending: Arc<(Mutex<usize>, Condvar)> = Arc::default();
        let done = pending.clone();
        std::thread::Builder::new()
            .name("events".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                loop {
                    let ev = match rx.recv_timeout(IDLE_DISCONNECT) {
                        Ok(ev) => ev,
                        Err(RecvTimeoutError::Timeout) => {
                            // Nothing in flight: no reply can race the close.
                            if let Some(f) = &mut sink.ttrpc {
                                f.client = None;
                            }
                            match rx.recv() {
                                Ok(ev) => ev,
                                Err(_) => break,
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    sink.send(&ev);
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
        let (count, _) = &*self.pending;
        *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let ev = Event {
            topic,
            any,
            at: SystemTime::now(),
        };
        if tx.send(ev).is_err() {
            *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        }
    }
}

fn publish_once(
    reaper: &Reaper,
    binary: &str,
    address: &str,
    namespace: &str,
    topic: &str,
    payload: &[u8],
) -> Result<(), String> {
    let mut cmd = Command::new(binary);
    cmd.arg("--address")
        .arg(address)
        .arg("publish")
        .arg("--topic")
        .arg(topic)
        .arg("--namespace")
        .arg(namespace)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = reaper.spawn(&mut cmd).map_err(|e| e.to_string())?;
    let pid = child.id() as i32;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(payload);
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
            // A child we started and have not reaped.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
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

    /// The caller's Events service: records each envelope it is given.
    struct Recorder(Arc<Mutex<Vec<Envelope>>>);

    impl containerd_shim_protos::shim_sync::Events for Recorder {
        fn forward(
            &self,
            _ctx: &ttrpc::TtrpcContext,
            req: ForwardRequest,
        ) -> ttrpc::Result<containerd_shim_protos::api::Empty> {
            if let Some(e) = req.envelope.into_option() {
                self.0.lock().unwrap().push(e);
            }
            Ok(Default::default())
        }
    }

    fn serve(sock: &std::path::Path, seen: &Arc<Mutex<Vec<Envelope>>>) -> ttrpc::Server {
        let _ = std::fs::remove_file(sock);
        let svc =
            containerd_shim_protos::shim_sync::create_events(Arc::new(Recorder(seen.clone())));
        let mut s = ttrpc::Server::new()
            .bind(&format!("unix://{}", sock.display()))
            .unwrap()
            .register_service(svc)
            .set_thread_count_min(1)
            .set_thread_count_default(2)
            .set_thread_count_max(3);
        s.start().unwrap();
        s
    }

    fn exit_of(id: &str) -> TaskExit {
        let mut e = TaskExit::new();
        e.container_id = id.into();
        e.id = id.into();
        e.exit_status = 7;
        e
    }

    /// Run this test alone in a child process: its reaper reaps any child
    /// of the process, which would steal the exits of other tests' children.
    fn in_own_process(name: &str) -> bool {
        if std::env::var_os("HULL_SHIM_TEST_ALONE").is_some() {
            return true;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env("HULL_SHIM_TEST_ALONE", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{name} in its own process: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        false
    }

    /// Events go over ttrpc while the caller serves it, in order and without
    /// the publish binary; with the socket dead they go through the binary;
    /// once it serves again the shim reconnects.
    #[test]
    fn ttrpc_forward_with_binary_fallback() {
        if !in_own_process("events::tests::ttrpc_forward_with_binary_fallback") {
            return;
        }
        crate::reaper::block_sigchld().unwrap();
        let reaper = Reaper::new();
        reaper.start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("published");
        let bin = dir.path().join("publish");
        std::fs::write(
            &bin,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\ncat > /dev/null\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let published = || std::fs::read_to_string(&log).unwrap_or_default();
        let sock = dir.path().join("events.ttrpc");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let server = serve(&sock, &seen);
        let p = Publisher::start(
            reaper,
            bin.display().to_string(),
            "/addr".into(),
            "ns1".into(),
            // containerd passes a plain path
            Some(sock.display().to_string()),
        )
        .unwrap();

        let mut create = TaskCreate::new();
        create.container_id = "c1".into();
        create.pid = 42;
        p.publish("/tasks/create", &create);
        p.publish("/tasks/exit", &exit_of("c1"));
        p.drain(Duration::from_secs(20));
        {
            let seen = seen.lock().unwrap();
            let topics: Vec<&str> = seen.iter().map(|e| e.topic.as_str()).collect();
            assert_eq!(topics, ["/tasks/create", "/tasks/exit"]);
            assert!(seen.iter().all(|e| e.namespace == "ns1"));
            assert!(seen.iter().all(|e| e.timestamp.seconds > 0));
            let any = seen[0].event.as_ref().unwrap();
            assert_eq!(any.type_url, "containerd.events.TaskCreate");
            assert_eq!(TaskCreate::parse_from_bytes(&any.value).unwrap().pid, 42);
        }
        assert_eq!(published(), "", "the publish binary ran");

        // The caller's socket dies: the binary gets the events.
        server.shutdown();
        std::fs::remove_file(&sock).unwrap();
        p.publish("/tasks/exit", &exit_of("c2"));
        p.drain(Duration::from_secs(40));
        assert_eq!(
            published().trim(),
            "--address /addr publish --topic /tasks/exit --namespace ns1"
        );
        assert_eq!(seen.lock().unwrap().len(), 2);

        // It serves again: the next event goes there.
        let _server = serve(&sock, &seen);
        p.publish("/tasks/delete", &TaskDelete::new());
        p.drain(Duration::from_secs(20));
        let topics: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.topic.clone())
            .collect();
        assert_eq!(topics, ["/tasks/create", "/tasks/exit", "/tasks/delete"]);
        assert_eq!(published().lines().count(), 1);
    }

    /// Without a publish binary, ttrpc alone still carries events; with
    /// neither, the publisher drops everything.
    #[test]
    fn ttrpc_without_binary() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("events.ttrpc");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let _server = serve(&sock, &seen);
        let p = Publisher::start(
            Reaper::new(),
            String::new(),
            String::new(),
            "ns".into(),
            Some(format!("unix://{}", sock.display())),
        )
        .unwrap();
        p.publish("/tasks/exit", &exit_of("c"));
        p.drain(Duration::from_secs(20));
        assert_eq!(seen.lock().unwrap().len(), 1);
        let none = Publisher::start(
            Reaper::new(),
            String::new(),
            String::new(),
            "ns".into(),
            None,
        )
        .unwrap();
        assert!(none.tx.is_none());
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
