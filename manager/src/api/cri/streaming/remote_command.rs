//! Kubernetes' remote-command protocol (exec and attach): the client's
//! stdin, stdout, stderr, error and resize channels, over SPDY streams
//! (each named by its `streamType` header) or WebSocket channels; the
//! process run through the containers room's exec and attach paths (those
//! of `hull exec` and `hull attach`); its end reported on the error
//! channel: v4 a JSON `metav1.Status` (Success, or Failure with reason
//! NonZeroExitCode and an ExitCode cause), v2/v3 the error's text.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::spdy::{self, Incoming, StreamWriter};
use super::tokens::{AttachRequest, ExecRequest, Request};
use super::StreamServer;
use crate::api::cri::NAMESPACE;
use crate::containers::attach::{self, AttachInput, AttachOutput};
use crate::containers::tasks::ExecSpec;
use crate::error::Error;

/// The SPDY protocol versions we speak, best first.
pub const SPDY_PROTOCOLS: &[&str] = &[
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
];
/// How long the client has to open its streams.
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where one output channel goes.
#[derive(Clone)]
pub enum Sink {
    Spdy(StreamWriter),
    WebSocket(super::websocket::ChannelWriter),
}

impl Sink {
    async fn write(&self, data: &[u8]) -> bool {
        match self {
            Sink::Spdy(w) => w.write(data).await,
            Sink::WebSocket(w) => w.write(data).await,
        }
    }

    async fn close(&self) {
        match self {
            Sink::Spdy(w) => w.close().await,
            Sink::WebSocket(_) => {}
        }
    }
}

/// A session's channels, as the client opened them.
pub struct Channels {
    pub stdin: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
    pub stdout: Option<Sink>,
    pub stderr: Option<Sink>,
    pub error: Option<Sink>,
    pub resize: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
    /// v4 (and WebSocket v4): the error channel carries JSON statuses.
    pub json_status: bool,
}

/// What the client asked for (stdin, stdout, stderr, tty).
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl Wanted {
    pub fn of(r: &Request) -> Wanted {
        match r {
            Request::Exec(e) => Wanted {
                stdin: e.stdin,
                stdout: e.stdout,
                stderr: e.stderr,
                tty: e.tty,
            },
            Request::Attach(a) => Wanted {
                stdin: a.stdin,
                stdout: a.stdout,
                stderr: a.stderr,
                tty: a.tty,
            },
            Request::PortForward(_) => Wanted {
                stdin: false,
                stdout: false,
                stderr: false,
                tty: false,
            },
        }
    }

    /// How many streams the client opens: error, the stdio asked for
    /// (stderr joins stdout with a terminal), resize with a terminal (v3+).
    fn streams(&self, resize: bool) -> usize {
        1 + usize::from(self.stdin)
            + usize::from(self.stdout)
            + usize::from(self.stderr && !self.tty)
            + usize::from(self.tty && resize)
    }
}

/// Serve a SPDY exec or attach session, then end the connection.
pub async fn serve_spdy(s: Arc<StreamServer>, r: Request, protocol: &str, mut incoming: Incoming) {
    let v4 = protocol == "v4.channel.k8s.io";
    let resize = protocol != "v2.channel.k8s.io";
    let want = Wanted::of(&r).streams(resize);
    let mut ch = Channels {
        stdin: None,
        stdout: None,
        stderr: None,
        error: None,
        resize: None,
        json_status: v4,
    };
    let deadline = tokio::time::sleep(STREAM_CREATION_TIMEOUT);
    tokio::pin!(deadline);
    let mut got = 0;
    while got < want {
        let st = tokio::select! {
            st = incoming.streams.recv() => st,
            _ = &mut deadline => None,
        };
        let Some(st) = st else {
            tracing::debug!("remote command: the client opened {got} of {want} streams");
            incoming.close().await;
            return;
        };
        let kind = spdy::headers::get(&st.headers, "streamtype").unwrap_or("");
        let sink = Sink::Spdy(st.writer.clone());
        let slot_taken = match kind {
            "error" => ch.error.replace(sink).is_some(),
            "stdin" => ch.stdin.replace(st.data).is_some(),
            "stdout" => ch.stdout.replace(sink).is_some(),
            "stderr" => ch.stderr.replace(sink).is_some(),
            "resize" => ch.resize.replace(st.data).is_some(),
            other => {
                tracing::debug!("remote command: stream of unknown type {other:?}");
                continue;
            }
        };
        if !slot_taken {
            got += 1;
        }
    }
    run(s, r, ch).await;
    incoming.close().await;
}

/// One resize message: `{"Width":80,"Height":24}`.
#[derive(serde::Deserialize)]
struct Size {
    #[serde(rename = "Width")]
    width: u16,
    #[serde(rename = "Height")]
    height: u16,
}

/// The client's input as the attach path takes it: stdin bytes, its end,
/// terminal sizes (the resize channel carries JSON objects back to back).
fn input(ch: &mut Channels) -> attach::Input {
    let (tx, rx) = mpsc::unbounded_channel();
    if let Some(mut stdin) = ch.stdin.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(data) = stdin.recv().await {
                let msg = AttachInput {
                    data,
                    ..Default::default()
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
            let _ = tx.send(AttachInput {
                close_stdin: true,
                ..Default::default()
            });
        });
    }
    if let Some(mut resize) = ch.resize.take() {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            while let Some(data) = resize.recv().await {
                buf.extend_from_slice(&data);
                let mut it = serde_json::Deserializer::from_slice(&buf).into_iter::<Size>();
                let mut used = 0;
                while let Some(Ok(size)) = it.next() {
                    used = it.byte_offset();
                    let msg = AttachInput {
                        width: u32::from(size.width),
                        height: u32::from(size.height),
                        ..Default::default()
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                buf.drain(..used);
            }
        });
    }
    UnboundedReceiverStream::new(rx).boxed()
}

/// How a session ended.
enum End {
    Exited(i32),
    Failed(String),
}

/// The error channel's message for `end`, None for nothing (v2/v3 success).
pub fn status_message(
    end_code: Option<i32>,
    failure: Option<&str>,
    cmd: &[String],
    json: bool,
) -> Option<Vec<u8>> {
    let v = match (end_code, failure) {
        (_, Some(msg)) => {
            if !json {
                return Some(msg.as_bytes().to_vec());
            }
            serde_json::json!({
                "metadata": {},
                "status": "Failure",
                "message": msg,
                "reason": "InternalError",
                "code": 500,
            })
        }
        (Some(0) | None, None) => {
            if !json {
                return None;
            }
            serde_json::json!({"metadata": {}, "status": "Success"})
        }
        (Some(code), None) => {
            let msg = format!(
                "command terminated with non-zero exit code: error executing command {cmd:?}, exit code {code}"
            );
            if !json {
                return Some(msg.into_bytes());
            }
            serde_json::json!({
                "metadata": {},
                "status": "Failure",
                "message": msg,
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            })
        }
    };
    Some(v.to_string().into_bytes())
}

/// Run the exec or attach over `ch` until the process ends or the client
/// goes; report the end on the error channel.
pub async fn run(s: Arc<StreamServer>, r: Request, mut ch: Channels) {
    let want = Wanted::of(&r);
    let input = input(&mut ch);
    let (started, cmd, report_exit) = match r {
        Request::Exec(e) => (exec(&s, &e, want, input).await, e.cmd.clone(), true),
        Request::Attach(a) => (attach(&s, &a, input).await, Vec::new(), false),
        Request::PortForward(_) => return,
    };
    let end = match started {
        Ok(mut rx) => relay(&mut rx, &ch).await,
        Err(e) => End::Failed(e.to_string()),
    };
    for out in [&ch.stdout, &ch.stderr].into_iter().flatten() {
        out.close().await;
    }
    let msg = match &end {
        End::Exited(code) if report_exit => status_message(Some(*code), None, &cmd, ch.json_status),
        End::Exited(_) => status_message(None, None, &cmd, ch.json_status),
        End::Failed(m) => status_message(None, Some(m), &cmd, ch.json_status),
    };
    if let Some(err) = &ch.error {
        if let Some(msg) = msg {
            err.write(&msg).await;
        }
        err.close().await;
    }
}

async fn exec(
    s: &StreamServer,
    e: &ExecRequest,
    want: Wanted,
    input: attach::Input,
) -> Result<mpsc::Receiver<crate::error::Result<AttachOutput>>, Error> {
    let spec = ExecSpec {
        container_id: e.container_id.clone(),
        args: e.cmd.clone(),
        ..Default::default()
    };
    let first = AttachInput {
        container_id: e.container_id.clone(),
        exec: Some(spec.clone()),
        stdin: want.stdin,
        tty: want.tty,
        ..Default::default()
    };
    attach::exec_attach(s.m.clone(), NAMESPACE.into(), first, spec, input).await
}

async fn attach(
    s: &StreamServer,
    a: &AttachRequest,
    input: attach::Input,
) -> Result<mpsc::Receiver<crate::error::Result<AttachOutput>>, Error> {
    let first = AttachInput {
        container_id: a.container_id.clone(),
        stdin: a.stdin,
        tty: a.tty,
        ..Default::default()
    };
    attach::attach(s.m.clone(), NAMESPACE.into(), first, input).await
}

/// Copy the process's output to the channels the client opened.
async fn relay(rx: &mut mpsc::Receiver<crate::error::Result<AttachOutput>>, ch: &Channels) -> End {
    while let Some(msg) = rx.recv().await {
        let out = match msg {
            Ok(o) => o,
            Err(e) => return End::Failed(e.to_string()),
        };
        if out.exited {
            return End::Exited(out.exit_code);
        }
        if out.data.is_empty() {
            continue;
        }
        // With a terminal, everything is stdout.
        let sink = if out.stream == 2 {
            ch.stderr.as_ref().or(ch.stdout.as_ref())
        } else {
            ch.stdout.as_ref()
        };
        if let Some(sink) = sink {
            if !sink.write(&out.data).await {
                return End::Failed("the client went away".into());
            }
        }
    }
    End::Failed("the output ended before the process".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_as_kubectl_reads_them() {
        let cmd = vec!["sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        let v: serde_json::Value =
            serde_json::from_slice(&status_message(Some(3), None, &cmd, true).unwrap()).unwrap();
        assert_eq!(v["status"], "Failure");
        assert_eq!(v["reason"], "NonZeroExitCode");
        assert_eq!(v["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(v["details"]["causes"][0]["message"], "3");
        let ok = status_message(Some(0), None, &cmd, true).unwrap();
        assert_eq!(ok, br#"{"metadata":{},"status":"Success"}"#);
        assert_eq!(status_message(Some(0), None, &cmd, false), None);
        let text = status_message(Some(3), None, &cmd, false).unwrap();
        assert!(String::from_utf8(text).unwrap().contains("exit code 3"));
        let v: serde_json::Value =
            serde_json::from_slice(&status_message(None, Some("boom"), &cmd, true).unwrap())
                .unwrap();
        assert_eq!(
            (v["status"].as_str(), v["message"].as_str()),
            (Some("Failure"), Some("boom"))
        );
    }

    #[test]
    fn stream_counts() {
        let w = Wanted {
            stdin: true,
            stdout: true,
            stderr: true,
            tty: true,
        };
        assert_eq!(w.streams(true), 4);
        assert_eq!(w.streams(false), 3);
        let w = Wanted { tty: false, ..w };
        assert_eq!(w.streams(true), 4);
    }
}
