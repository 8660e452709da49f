//! The client side of interactive containers: `run -i/-t`, `attach`,
//! `start -a [-i]`, `exec -i/-t`. One bidirectional Attach (or ExecAttach)
//! stream: stdin bytes, EOF and window sizes up; output and the exit code
//! down. With a terminal and stdin, the local terminal is in raw mode while
//! attached (restored on every way out: exit, error, detach, panic), so
//! Ctrl-C, Ctrl-D and the like reach the container's pty as keys.

use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;

use hull_proto::v1 as pb;
use nix::sys::termios::{self, SetArg, Termios};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::client::Conn;
use super::containers::{msg, Exit};

/// Docker's default detach keys: Ctrl-P Ctrl-Q.
const DETACH: [u8; 2] = [0x10, 0x11];

/// The terminal of stdin in raw mode until dropped.
struct RawMode {
    saved: Termios,
}

/// The modes to restore, for the panic hook (release builds abort on
/// panic, so no Drop runs).
static SAVED: std::sync::Mutex<Option<Termios>> = std::sync::Mutex::new(None);

fn restore(t: &Termios) {
    let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
}

impl RawMode {
    fn enter() -> anyhow::Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd())?;
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(saved.clone());
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if let Ok(g) = SAVED.try_lock() {
                    if let Some(t) = g.as_ref() {
                        restore(t);
                    }
                }
                prev(info);
            }));
        });
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore(&self.saved);
        SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The local terminal's size (columns, rows): stdout's, else stdin's, else stderr's.
pub(crate) fn term_size() -> Option<(u32, u32)> {
    for fd in [libc::STDOUT_FILENO, libc::STDIN_FILENO, libc::STDERR_FILENO] {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes a winsize struct we own; a bad fd just
        // makes the call fail.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        if rc == 0 && ws.ws_col > 0 && ws.ws_row > 0 {
            return Some((ws.ws_col as u32, ws.ws_row as u32));
        }
    }
    None
}

/// Docker's check before attaching a terminal's stdin.
pub fn check_tty(stdin: bool, tty: bool) -> Result<(), Exit> {
    if stdin && tty && !std::io::stdin().is_terminal() {
        eprintln!("the input device is not a TTY");
        return Err(Exit(1));
    }
    Ok(())
}

/// How an attached session ended.
pub enum Outcome {
    Exited(i32),
    Detached,
}

/// An attach stream set up with hulld (the output is being followed).
pub struct Session {
    out: tonic::Streaming<pb::AttachOutput>,
    tx: mpsc::Sender<pb::AttachInput>,
    stdin: bool,
    tty: bool,
}

/// How the pump loop ended, before the terminal is restored.
enum End {
    Outcome(Outcome),
    /// Print this, exit 1.
    Error(String),
    Signal(i32),
}

impl Session {
    /// Open an Attach (or, with `first.exec`, an ExecAttach) stream and wait
    /// until hulld follows the output.
    pub async fn open(conn: &Conn, mut first: pb::AttachInput) -> Result<Session, tonic::Status> {
        if let Some((w, h)) = term_size() {
            first.width = w;
            first.height = h;
        }
        let stdin = first.stdin;
        let exec = first.exec.is_some();
        let (tx, rx) = mpsc::channel(64);
        let _ = tx.send(first).await;
        let req = conn.req(ReceiverStream::new(rx));
        let mut out = if exec {
            conn.tasks().exec_attach(req).await?.into_inner()
        } else {
            conn.tasks().attach(req).await?.into_inner()
        };
        let hello = out
            .message()
            .await?
            .ok_or_else(|| tonic::Status::unavailable("hulld ended the attach"))?;
        if !hello.attached {
            return Err(tonic::Status::internal("hulld did not confirm the attach"));
        }
        Ok(Session {
            out,
            tx,
            stdin,
            tty: hello.tty,
        })
    }

    /// Pump stdin up and output down until the process exits or we detach.
    /// `proxy_to`: forward signals hull receives to this container (no tty).
    pub async fn run(mut self, conn: &Conn, proxy_to: Option<&str>) -> anyhow::Result<Outcome> {
        let raw = if self.tty && self.stdin && std::io::stdin().is_terminal() {
            Some(RawMode::enter()?)
        } else {
            None
        };
        let end = self.pump(conn, proxy_to, raw.is_some()).await;
        drop(raw);
        match end {
            Ok(End::Outcome(o)) => Ok(o),
            Ok(End::Error(m)) => {
                eprintln!("{m}");
                Err(Exit(1).into())
            }
            Ok(End::Signal(s)) => Err(Exit(128 + s).into()),
            Err(e) => Err(e),
        }
    }

    async fn pump(
        &mut self,
        conn: &Conn,
        proxy_to: Option<&str>,
        raw: bool,
    ) -> anyhow::Result<End> {
        let (detach_tx, mut detach_rx) = mpsc::channel::<()>(1);
        if self.stdin {
            spawn_stdin(self.tx.clone(), raw.then_some(detach_tx))?;
        }
        let mut signals = signals(self.tty)?;
        loop {
            tokio::select! {
                m = self.out.next() => {
                    let Some(m) = m else {
                        return Ok(End::Error("Error: the daemon ended the attach without an exit code".into()));
                    };
                    let m = match m {
                        Ok(m) => m,
                        Err(e) => return Ok(End::Error(format!("Error response from daemon: {}", msg(&e)))),
                    };
                    if m.exited {
                        return Ok(End::Outcome(Outcome::Exited(m.exit_code)));
                    }
                    if m.stream == 2 {
                        let mut e = std::io::stderr().lock();
                        e.write_all(&m.data)?;
                        e.flush()?;
                    } else {
                        let mut o = std::io::stdout().lock();
                        o.write_all(&m.data)?;
                        o.flush()?;
                    }
                }
                Some(()) = detach_rx.recv() => return Ok(End::Outcome(Outcome::Detached)),
                sig = signals.recv() => {
                    match (sig, proxy_to) {
                        (Some(libc::SIGWINCH), _) => {
                            if let Some((w, h)) = term_size() {
                                let _ = self.tx.send(pb::AttachInput { width: w, height: h, ..Default::default() }).await;
                            }
                        }
                        (Some(s), Some(id)) if !self.tty => {
                            let _ = conn.tasks().kill(conn.req(pb::KillTaskRequest {
                                container_id: id.to_string(),
                                exec_id: String::new(),
                                signal: s as u32,
                                all: false,
                            })).await;
                        }
                        // With a terminal, keys are how the container gets
                        // signals; a signal to hull ends the attach.
                        (Some(s), _) => return Ok(End::Signal(s)),
                        (None, _) => {}
                    }
                }
            }
        }
    }
}

/// The signals hull watches while attached: SIGWINCH (resize), and
/// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 (proxied without a tty).
fn signals(tty: bool) -> anyhow::Result<mpsc::Receiver<i32>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut kinds = vec![libc::SIGWINCH];
    if !tty {
        kinds.extend([libc::SIGINT, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2]);
    }
    kinds.extend([libc::SIGTERM, libc::SIGHUP]);
    let (tx, rx) = mpsc::channel(16);
    for k in kinds {
        let mut s = signal(SignalKind::from_raw(k))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(k).await.is_err() {
                    return;
                }
            }
        });
    }
    Ok(rx)
}

/// Bytes of `input` to forward, holding back a started detach sequence
/// (`held` bytes of it so far, across reads); true when it is complete.
fn filter_detach(held: &mut usize, input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len() + DETACH.len());
    for &b in input {
        if b == DETACH[*held] {
            *held += 1;
            if *held == DETACH.len() {
                return (out, true);
            }
            continue;
        }
        // Not the sequence after all: what was held goes through.
        out.extend_from_slice(&DETACH[..*held]);
        *held = 0;
        if b == DETACH[0] {
            *held = 1;
        } else {
            out.push(b);
        }
    }
    (out, false)
}

/// Read stdin on a thread (reads block; the thread dies with hull) and send
/// it up; EOF sends `close_stdin`. With `detach_keys`, Ctrl-P Ctrl-Q ends
/// the attach instead of reaching the container.
fn spawn_stdin(
    tx: mpsc::Sender<pb::AttachInput>,
    detach: Option<mpsc::Sender<()>>,
) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 32 * 1024];
            let mut held = 0usize; // bytes of DETACH seen so far
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.blocking_send(pb::AttachInput {
                            close_stdin: true,
                            ..Default::default()
                        });
                        return;
                    }
                    Ok(n) => n,
                };
                let data = if let Some(detach) = &detach {
                    let (out, hit) = filter_detach(&mut held, &buf[..n]);
                    if hit {
                        let _ = detach.blocking_send(());
                        return;
                    }
                    out
                } else {
                    buf[..n].to_vec()
                };
                if !data.is_empty()
                    && tx
                        .blocking_send(pb::AttachInput {
                            data,
                            ..Default::default()
                        })
                        .is_err()
                {
                    return;
                }
            }
        })?;
    Ok(())
}

/// The terminal flag and the `-i` annotation of a container's spec.
fn tty_and_stdin(c: &pb::Container) -> (bool, bool) {
    let v: serde_json::Value = serde_json::from_slice(&c.spec).unwrap_or_default();
    (
        v["process"]["terminal"].as_bool().unwrap_or(false),
        v["annotations"][hull_types::annotations::OPEN_STDIN].as_str() == Some("true"),
    )
}

fn exit_of(o: Outcome) -> anyhow::Result<()> {
    match o {
        Outcome::Exited(0) | Outcome::Detached => Ok(()),
        Outcome::Exited(c) => Err(Exit(c).into()),
    }
}

/// `run -i/-t` in the foreground, once the task is created: attach, start,
/// pump. Detaching (Ctrl-P Ctrl-Q) leaves the container running; `--rm`
/// is then left to hulld (auto-remove), as Docker does.
pub async fn run_foreground(
    conn: &Conn,
    id: &str,
    stdin: bool,
    rm: bool,
) -> anyhow::Result<Outcome> {
    let s = Session::open(
        conn,
        pb::AttachInput {
            container_id: id.to_string(),
            stdin,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| super::containers::daemon_error(&e))?;
    conn.tasks()
        .start(conn.req(pb::StartTaskRequest {
            container_id: id.to_string(),
            exec_id: String::new(),
        }))
        .await
        .map_err(|e| super::containers::start_error(&e))?;
    let out = s.run(conn, Some(id)).await?;
    if rm {
        if let Outcome::Detached = out {
            let _ = conn
                .containers()
                .update(conn.req(pb::UpdateContainerRequest {
                    container: Some(pb::Container {
                        id: id.to_string(),
                        auto_remove: true,
                        ..Default::default()
                    }),
                    fields: vec!["auto_remove".into()],
                    resources: None,
                }))
                .await;
        }
    }
    Ok(out)
}

fn daemon_msg(e: &tonic::Status) -> Exit {
    eprintln!("Error response from daemon: {}", msg(e));
    Exit(1)
}

/// `attach CONTAINER`: its new output, our stdin if it has `-i` (unless
/// `no_stdin`); its exit code.
pub async fn attach(conn: &Conn, container: &str, no_stdin: bool) -> anyhow::Result<()> {
    let c = conn
        .containers()
        .get(conn.req(pb::GetContainerRequest {
            id: container.to_string(),
        }))
        .await
        .map_err(|e| daemon_msg(&e))?
        .into_inner();
    let running = c
        .status
        .as_ref()
        .is_some_and(|s| s.state == "running" || s.state == "paused");
    if !running {
        eprintln!("You cannot attach to a stopped container, start it first");
        return Err(Exit(1).into());
    }
    let (tty, open_stdin) = tty_and_stdin(&c);
    let stdin = open_stdin && !no_stdin;
    check_tty(stdin, tty)?;
    let s = Session::open(
        conn,
        pb::AttachInput {
            container_id: c.id.clone(),
            stdin,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| daemon_msg(&e))?;
    exit_of(s.run(conn, Some(&c.id)).await?)
}

/// `start -a [-i] CONTAINER`: start it attached; its exit code.
pub async fn start_attached(conn: &Conn, container: &str, interactive: bool) -> anyhow::Result<()> {
    let c = conn
        .containers()
        .get(conn.req(pb::GetContainerRequest {
            id: container.to_string(),
        }))
        .await
        .map_err(|e| daemon_msg(&e))?
        .into_inner();
    let (tty, open_stdin) = tty_and_stdin(&c);
    let stdin = interactive && open_stdin;
    check_tty(stdin, tty)?;
    let running = c
        .status
        .as_ref()
        .is_some_and(|s| s.state == "running" || s.state == "paused");
    if !running {
        conn.tasks()
            .create(conn.req(pb::CreateTaskRequest {
                container_id: c.id.clone(),
                ..Default::default()
            }))
            .await
            .map_err(|e| daemon_msg(&e))?;
    }
    let s = Session::open(
        conn,
        pb::AttachInput {
            container_id: c.id.clone(),
            stdin,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| daemon_msg(&e))?;
    if !running {
        conn.tasks()
            .start(conn.req(pb::StartTaskRequest {
                container_id: c.id.clone(),
                exec_id: String::new(),
            }))
            .await
            .map_err(|e| daemon_msg(&e))?;
    }
    exit_of(s.run(conn, Some(&c.id)).await?)
}

/// `exec -i/-t`: the process with our stdin and/or a terminal; its exit
/// code (126/127 when it cannot be run, 1 for daemon errors).
pub async fn exec(conn: &Conn, req: pb::ExecRequest, stdin: bool, tty: bool) -> anyhow::Result<()> {
    check_tty(stdin, tty)?;
    let s = match Session::open(
        conn,
        pb::AttachInput {
            exec: Some(req),
            stdin,
            tty,
            ..Default::default()
        },
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            let code = match super::containers::start_error_code(&e) {
                125 => 1,
                c => c,
            };
            eprintln!("Error response from daemon: {}", msg(&e));
            return Err(Exit(code).into());
        }
    };
    exit_of(s.run(conn, None).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        let mut held = 0;
        assert_eq!(filter_detach(&mut held, b"ab"), (b"ab".to_vec(), false));
        // Ctrl-P alone is held, then given back when no Ctrl-Q follows.
        assert_eq!(filter_detach(&mut held, b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(held, 1);
        assert_eq!(filter_detach(&mut held, b"y"), (b"\x10y".to_vec(), false));
        // Ctrl-P Ctrl-P Ctrl-Q: the first goes through, then detach.
        assert_eq!(
            filter_detach(&mut held, b"\x10\x10\x11"),
            (b"\x10".to_vec(), true)
        );
        // Across reads.
        let mut held = 0;
        assert_eq!(filter_detach(&mut held, b"\x10"), (vec![], false));
        assert_eq!(filter_detach(&mut held, b"\x11rest"), (vec![], true));
        // Ctrl-Q alone is just a key.
        let mut held = 0;
        assert_eq!(filter_detach(&mut held, b"\x11"), (b"\x11".to_vec(), false));
    }
}
