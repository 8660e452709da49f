//! Exec, Attach and PortForward through hulld's CRI streaming server, with
//! the small SPDY client of `hull_integration::spdy` speaking what kubelet
//! and crictl speak: the remote-command protocol (v4: stdout and stderr
//! apart, stdin, a terminal and its size, the exit code as a JSON status
//! on the error stream), the port-forward protocol into a pod's network
//! namespace, single-use tokens, and the RPCs' errors. Each test has a
//! CNI network of its own (cri_pod_support).

mod cri_pod_support;
mod manager_support;

use std::time::Duration;

use cri_pod_support::Cri;
use hull_cri_api::v1;
use hull_integration::spdy::{self, ClientStream, SpdyConn, SpdyError};

const V4: &str = "v4.channel.k8s.io";
const LIMIT: Duration = Duration::from_secs(20);

/// A pod with one long-running busybox container: (client, pod, container).
fn pod_with_sleeper(idx: u8, name: &str) -> (Cri, String, String) {
    let (mut c, pc, pod) = Cri::with_pod(idx, name);
    let cfg = c.container_config("main", &["sleep", "3600"]);
    let id = c.run(&pod, cfg, &pc);
    (c, pod, id)
}

fn exec_url(c: &mut Cri, req: v1::ExecRequest) -> Result<String, tonic::Status> {
    let rs = &mut c.rs;
    c.rt.block_on(rs.exec(req)).map(|r| r.into_inner().url)
}

fn exec_req(id: &str, cmd: &[&str]) -> v1::ExecRequest {
    v1::ExecRequest {
        container_id: id.into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        stdout: true,
        stderr: true,
        ..Default::default()
    }
}

fn stream(conn: &SpdyConn, kind: &str) -> ClientStream {
    conn.open(&[("streamtype", kind)])
        .unwrap_or_else(|e| panic!("open {kind} stream: {e}"))
}

/// The v4 status the error stream ends with.
fn status(err: &mut ClientStream) -> serde_json::Value {
    let raw = err.read_to_end(LIMIT);
    serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("status {:?}: {e}", String::from_utf8_lossy(&raw)))
}

#[test]
fn exec_separates_streams_feeds_stdin_and_reports_exit_codes() {
    require_root!();
    let (mut c, pod, id) = pod_with_sleeper(40, "exec");

    // stdout and stderr apart; the exit code in a v4 status.
    let url = exec_url(
        &mut c,
        exec_req(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"]),
    )
    .unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/exec/"),
        "{url}"
    );
    let conn = spdy::connect(&url, &[V4, "v3.channel.k8s.io"]).unwrap();
    assert_eq!(conn.protocol, V4);
    let mut err = stream(&conn, "error");
    let mut out = stream(&conn, "stdout");
    let mut errout = stream(&conn, "stderr");
    assert_eq!(out.read_to_end(LIMIT), b"out\n");
    assert_eq!(errout.read_to_end(LIMIT), b"err\n");
    let st = status(&mut err);
    assert_eq!(st["status"], "Failure", "{st}");
    assert_eq!(st["reason"], "NonZeroExitCode", "{st}");
    assert_eq!(st["details"]["causes"][0]["reason"], "ExitCode", "{st}");
    assert_eq!(st["details"]["causes"][0]["message"], "3", "{st}");

    // The token was for one connection only.
    match spdy::connect(&url, &[V4]) {
        Err(SpdyError::Http { status, .. }) => assert_eq!(status, 404),
        other => panic!("a used token: {:?}", other.map(|c| c.protocol)),
    }

    // stdin reaches the process; its end closes the process's stdin.
    let mut req = exec_req(&id, &["cat"]);
    req.stdin = true;
    req.stderr = false;
    // (v5, which client-go offers first, is v4 over SPDY.)
    let conn = spdy::connect(&exec_url(&mut c, req).unwrap(), &["v5.channel.k8s.io", V4]).unwrap();
    assert_eq!(conn.protocol, "v5.channel.k8s.io");
    let mut err = stream(&conn, "error");
    let input = stream(&conn, "stdin");
    let mut out = stream(&conn, "stdout");
    conn.send(input.id, b"hello ", false).unwrap();
    conn.send(input.id, b"stdin\n", true).unwrap();
    assert_eq!(out.read_to_end(LIMIT), b"hello stdin\n");
    assert_eq!(status(&mut err)["status"], "Success");

    // v2 reports a non-zero exit as text.
    let conn = spdy::connect(
        &exec_url(&mut c, exec_req(&id, &["sh", "-c", "exit 4"])).unwrap(),
        &["v2.channel.k8s.io"],
    )
    .unwrap();
    assert_eq!(conn.protocol, "v2.channel.k8s.io");
    let mut err = stream(&conn, "error");
    let _out = stream(&conn, "stdout");
    let _errout = stream(&conn, "stderr");
    let text = String::from_utf8(err.read_to_end(LIMIT)).unwrap();
    assert!(text.contains("exit code 4"), "{text}");

    // A protocol the server does not speak is refused.
    let url = exec_url(&mut c, exec_req(&id, &["true"])).unwrap();
    match spdy::connect(&url, &["v1.bogus.k8s.io"]) {
        Err(SpdyError::Http { status, .. }) => assert_eq!(status, 403),
        other => panic!("an unknown protocol: {:?}", other.map(|c| c.protocol)),
    }
    c.finish(&pod);
}

#[test]
fn exec_with_a_terminal_follows_its_size() {
    require_root!();
    let (mut c, pod, id) = pod_with_sleeper(41, "tty");
    let req = v1::ExecRequest {
        container_id: id.clone(),
        cmd: [
            "sh",
            "-c",
            "[ -t 1 ] && echo is-a-tty; while read x; do stty size; done",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        tty: true,
        stdin: true,
        stdout: true,
        ..Default::default()
    };
    let conn = spdy::connect(&exec_url(&mut c, req).unwrap(), &[V4]).unwrap();
    let mut err = stream(&conn, "error");
    let input = stream(&conn, "stdin");
    let mut out = stream(&conn, "stdout");
    let resize = stream(&conn, "resize");
    out.read_until("is-a-tty\r\n", LIMIT);
    conn.send(resize.id, br#"{"Width":123,"Height":45}"#, false)
        .unwrap();
    // Ask for the size until the resize has landed (it travels apart).
    let deadline = std::time::Instant::now() + LIMIT;
    let mut seen = String::new();
    while !seen.contains("45 123") {
        assert!(
            std::time::Instant::now() < deadline,
            "size never 45 123: {seen:?}"
        );
        conn.send(input.id, b"\n", false).unwrap();
        if let Some(d) = out.next(Duration::from_millis(500)) {
            seen.push_str(&String::from_utf8_lossy(&d));
        }
    }
    // With a terminal the end of input is ^D, as a user types it.
    conn.send(input.id, b"\x04", false).unwrap();
    assert_eq!(status(&mut err)["status"], "Success");
    c.finish(&pod);
}

#[test]
fn attach_follows_the_main_process_until_it_exits() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(42, "attach");
    let mut cfg = c.container_config("ticker", &["sh", "-c"]);
    cfg.args = vec!["trap 'exit 0' TERM; i=0; while :; do echo tick $i; echo tock $i >&2; i=$((i+1)); sleep 0.1; done".into()];
    let id = c.run(&pod, cfg, &pc);
    let req = v1::AttachRequest {
        container_id: id.clone(),
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let url = {
        let rs = &mut c.rs;
        c.rt.block_on(rs.attach(req)).unwrap().into_inner().url
    };
    assert!(url.contains("/attach/"), "{url}");
    let conn = spdy::connect(&url, &[V4]).unwrap();
    let mut err = stream(&conn, "error");
    let mut out = stream(&conn, "stdout");
    let mut errout = stream(&conn, "stderr");
    out.read_until("tick", LIMIT);
    errout.read_until("tock", LIMIT);
    c.stop_container(&id, 5).unwrap();
    assert_eq!(status(&mut err)["status"], "Success");
    out.read_to_end(LIMIT);
    c.finish(&pod);
}

#[test]
fn port_forward_reaches_a_server_in_the_pod() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(43, "pf");
    let mut cfg = c.container_config("web", &["sh", "-c"]);
    cfg.args =
        vec!["echo hello-from-the-pod > /tmp/index.html; exec httpd -f -p 8080 -h /tmp".into()];
    c.run(&pod, cfg, &pc);
    let url = {
        let rs = &mut c.rs;
        c.rt.block_on(rs.port_forward(v1::PortForwardRequest {
            pod_sandbox_id: pod.clone(),
            port: vec![8080],
        }))
        .unwrap()
        .into_inner()
        .url
    };
    assert!(url.contains("/portforward/"), "{url}");
    let conn = spdy::connect(&url, &["portforward.k8s.io"]).unwrap();
    assert_eq!(conn.protocol, "portforward.k8s.io");
    let pair = |port: &str, rid: &str| {
        let err = conn
            .open(&[("streamtype", "error"), ("port", port), ("requestid", rid)])
            .unwrap();
        let data = conn
            .open(&[("streamtype", "data"), ("port", port), ("requestid", rid)])
            .unwrap();
        (err, data)
    };
    // Nothing listens on 8081: the error stream says so.
    let (mut err, mut data) = pair("8081", "0");
    let text = String::from_utf8(err.read_to_end(LIMIT)).unwrap();
    assert!(text.contains("error forwarding port 8081"), "{text}");
    data.read_to_end(LIMIT);
    // httpd answers once it listens (a refused try says so and we retry).
    let deadline = std::time::Instant::now() + LIMIT;
    for rid in 1.. {
        let (mut err, mut data) = pair("8080", &rid.to_string());
        conn.send(data.id, b"GET /index.html HTTP/1.0\r\n\r\n", true)
            .unwrap();
        let body = String::from_utf8_lossy(&data.read_to_end(LIMIT)).into_owned();
        let e = String::from_utf8(err.read_to_end(LIMIT)).unwrap();
        if body.contains("hello-from-the-pod") {
            assert!(e.is_empty(), "{e}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer: {body:?} {e:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    c.finish(&pod);
}

#[test]
fn bad_requests_get_cri_errors_and_unknown_tokens_404() {
    require_root!();
    let (mut c, pod, id) = pod_with_sleeper(44, "errs");
    let code = |r: Result<String, tonic::Status>| r.unwrap_err().code();
    assert_eq!(
        code(exec_url(&mut c, exec_req("nosuchcontainer", &["true"]))),
        tonic::Code::NotFound
    );
    let mut none = exec_req(&id, &["true"]);
    none.stdout = false;
    none.stderr = false;
    assert_eq!(code(exec_url(&mut c, none)), tonic::Code::InvalidArgument);
    let mut tty_and_stderr = exec_req(&id, &["true"]);
    tty_and_stderr.tty = true;
    assert_eq!(
        code(exec_url(&mut c, tty_and_stderr)),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(exec_url(&mut c, exec_req(&id, &[]))),
        tonic::Code::InvalidArgument
    );
    let attach = {
        let rs = &mut c.rs;
        c.rt.block_on(rs.attach(v1::AttachRequest {
            container_id: id.clone(),
            ..Default::default()
        }))
    };
    assert_eq!(attach.unwrap_err().code(), tonic::Code::InvalidArgument);
    let pf = {
        let rs = &mut c.rs;
        c.rt.block_on(rs.port_forward(v1::PortForwardRequest {
            pod_sandbox_id: "nosuchpod".into(),
            port: vec![80],
        }))
    };
    assert_eq!(pf.unwrap_err().code(), tonic::Code::NotFound);

    // Unknown tokens, and a token of another kind, are not found.
    let url = exec_url(&mut c, exec_req(&id, &["true"])).unwrap();
    let base = url.split("/exec/").next().unwrap().to_string();
    let token = url.rsplit('/').next().unwrap().to_string();
    for bad in [
        format!("{base}/exec/0123456789"),
        format!("{base}/attach/{token}"),
    ] {
        match spdy::connect(&bad, &[V4]) {
            Err(SpdyError::Http { status, body }) => assert_eq!(status, 404, "{bad}: {body}"),
            other => panic!("{bad}: {:?}", other.map(|c| c.protocol)),
        }
    }

    // A stopped container cannot be exec'd into.
    c.stop_container(&id, 1).unwrap();
    assert_eq!(
        code(exec_url(&mut c, exec_req(&id, &["true"]))),
        tonic::Code::FailedPrecondition
    );
    c.finish(&pod);
}

/// A WebSocket session to the streaming server's `url` (http://…) with
/// subprotocol `protocol`, which the server must have chosen.
fn ws_connect(url: &str, protocol: &str) -> tungstenite::WebSocket<std::net::TcpStream> {
    use tungstenite::client::IntoClientRequest;
    let url = url.replacen("http://", "ws://", 1);
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let host = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let sock = std::net::TcpStream::connect(host).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let (ws, resp) = tungstenite::client(req, sock).unwrap();
    assert_eq!(
        resp.headers()["Sec-WebSocket-Protocol"].to_str().unwrap(),
        protocol
    );
    ws
}

/// Everything an exec over WebSocket sent, by channel, until the server
/// closed; `base64`: the text flavour of the protocol.
fn ws_exec(url: &str, protocol: &str, stdin: Option<&[u8]>) -> [Vec<u8>; 5] {
    use base64::Engine;
    use tungstenite::Message;
    let mut ws = ws_connect(url, protocol);
    let base64 = protocol.contains("base64");
    let encode = |ch: u8, d: &[u8]| {
        if base64 {
            let t = base64::engine::general_purpose::STANDARD.encode(d);
            Message::text(format!("{ch}{t}"))
        } else {
            Message::binary([&[ch], d].concat())
        }
    };
    if let Some(d) = stdin {
        ws.send(encode(0, d)).unwrap();
        // v5: the client closes stdin with a message on channel 255.
        if protocol.starts_with("v5.") {
            ws.send(Message::binary(vec![255, 0])).unwrap();
        }
    }
    let mut got: [Vec<u8>; 5] = Default::default();
    loop {
        let (ch, data) = match ws.read() {
            Ok(Message::Binary(b)) if !b.is_empty() => (b[0], b[1..].to_vec()),
            Ok(Message::Text(t)) if !t.is_empty() => (
                t.as_bytes()[0] - b'0',
                base64::engine::general_purpose::STANDARD
                    .decode(&t.as_str()[1..])
                    .unwrap(),
            ),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        got[usize::from(ch)].extend(data);
    }
    got
}

#[test]
fn exec_over_websocket_channels() {
    require_root!();
    let (mut c, pod, id) = pod_with_sleeper(45, "ws");
    let script = "read x; echo out $x; echo err >&2; exit 5";
    let mut req = exec_req(&id, &["sh", "-c", script]);
    req.stdin = true;
    let got = ws_exec(&exec_url(&mut c, req.clone()).unwrap(), V4, Some(b"hi\n"));
    assert_eq!(got[1], b"out hi\n");
    assert_eq!(got[2], b"err\n");
    let st: serde_json::Value = serde_json::from_slice(&got[3]).unwrap();
    assert_eq!(st["reason"], "NonZeroExitCode", "{st}");
    assert_eq!(st["details"]["causes"][0]["message"], "5", "{st}");
    // The base64 flavour carries the same.
    let got = ws_exec(
        &exec_url(&mut c, req).unwrap(),
        "v4.base64.channel.k8s.io",
        Some(b"b64\n"),
    );
    assert_eq!(got[1], b"out b64\n");
    assert_eq!(got[2], b"err\n");
    // v5 closes stdin: cat ends.
    let mut req = exec_req(&id, &["cat"]);
    req.stdin = true;
    let got = ws_exec(
        &exec_url(&mut c, req).unwrap(),
        "v5.channel.k8s.io",
        Some(b"v5 in\n"),
    );
    assert_eq!(got[1], b"v5 in\n");
    let st: serde_json::Value = serde_json::from_slice(&got[3]).unwrap();
    assert_eq!(st["status"], "Success", "{st}");
    c.finish(&pod);
}

fn attach_url(c: &mut Cri, req: v1::AttachRequest) -> String {
    let rs = &mut c.rs;
    c.rt.block_on(rs.attach(req)).unwrap().into_inner().url
}

#[test]
fn attach_writes_to_stdin_with_and_without_a_terminal() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(46, "attach-in");

    // A shell on a terminal: typed lines run, `exit` ends the container.
    let mut cfg = c.container_config("shell", &["sh"]);
    cfg.stdin = true;
    cfg.tty = true;
    let shell = c.run(&pod, cfg, &pc);
    let url = attach_url(
        &mut c,
        v1::AttachRequest {
            container_id: shell.clone(),
            stdin: true,
            stdout: true,
            tty: true,
            ..Default::default()
        },
    );
    let conn = spdy::connect(&url, &[V4]).unwrap();
    let mut err = stream(&conn, "error");
    let input = stream(&conn, "stdin");
    let mut out = stream(&conn, "stdout");
    let _resize = stream(&conn, "resize");
    conn.send(
        input.id,
        b"echo hi-$((1+2)); [ -t 0 ] && echo tty-in\n",
        false,
    )
    .unwrap();
    out.read_until("hi-3\r\ntty-in", LIMIT);
    conn.send(input.id, b"exit 7\n", false).unwrap();
    assert_eq!(status(&mut err)["status"], "Success");
    assert_eq!(c.wait_exited(&shell).exit_code, 7);

    // cat with stdin_once: the client's EOF is cat's.
    let mut cfg = c.container_config("cat", &["cat"]);
    cfg.stdin = true;
    cfg.stdin_once = true;
    let cat = c.run(&pod, cfg, &pc);
    let url = attach_url(
        &mut c,
        v1::AttachRequest {
            container_id: cat.clone(),
            stdin: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        },
    );
    let conn = spdy::connect(&url, &[V4]).unwrap();
    let mut err = stream(&conn, "error");
    let input = stream(&conn, "stdin");
    let mut out = stream(&conn, "stdout");
    let _errout = stream(&conn, "stderr");
    conn.send(input.id, b"through cat\n", true).unwrap();
    out.read_until("through cat\n", LIMIT);
    assert_eq!(status(&mut err)["status"], "Success");
    assert_eq!(c.wait_exited(&cat).exit_code, 0);
    c.finish(&pod);
}

/// One forwarded connection over WebSocket (kubelet's port-forward
/// protocol: port i on channels 2i data and 2i+1 error, each opened by the
/// port, little-endian): what came back on (data, error), the request
/// sent on the data channel first.
fn ws_port_forward(url: &str, query: &str, request: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use tungstenite::Message;
    let mut ws = ws_connect(&format!("{url}{query}"), V4);
    ws.send(Message::binary([&[0u8], request].concat()))
        .unwrap();
    let mut got: [Vec<u8>; 2] = Default::default();
    let mut first = [true, true];
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) if !b.is_empty() && b[0] < 2 => {
                let ch = usize::from(b[0]);
                let mut data = &b[1..];
                if first[ch] {
                    first[ch] = false;
                    assert!(data.len() >= 2, "no port on channel {ch}");
                    assert_eq!(u16::from_le_bytes([data[0], data[1]]), 8080, "channel {ch}");
                    data = &data[2..];
                }
                got[ch].extend_from_slice(data);
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        }
    }
    let [data, err] = got;
    (data, err)
}

#[test]
fn port_forward_over_websocket() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(47, "pfws");
    let mut cfg = c.container_config("web", &["sh", "-c"]);
    cfg.args =
        vec!["echo ws-hello-from-the-pod > /tmp/index.html; exec httpd -f -p 8080 -h /tmp".into()];
    c.run(&pod, cfg, &pc);
    let mut url = |port: i32| {
        let rs = &mut c.rs;
        c.rt.block_on(rs.port_forward(v1::PortForwardRequest {
            pod_sandbox_id: pod.clone(),
            port: vec![port],
        }))
        .unwrap()
        .into_inner()
        .url
    };
    // httpd answers once it listens (a refused try says so on the error
    // channel, and we retry with a new token); the port from the query.
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let (data, err) = ws_port_forward(
            &url(8080),
            "?port=8080",
            b"GET /index.html HTTP/1.0\r\n\r\n",
        );
        let body = String::from_utf8_lossy(&data).into_owned();
        if body.contains("ws-hello-from-the-pod") {
            assert!(err.is_empty(), "{}", String::from_utf8_lossy(&err));
            break;
        }
        let e = String::from_utf8_lossy(&err).into_owned();
        assert!(e.contains("error forwarding port 8080"), "{e}");
        assert!(
            std::time::Instant::now() < deadline,
            "no answer: {body:?} {e:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Without a query, the CRI request's port.
    let (data, _) = ws_port_forward(&url(8080), "", b"GET /index.html HTTP/1.0\r\n\r\n");
    assert!(String::from_utf8_lossy(&data).contains("ws-hello-from-the-pod"));
    // A bad port in the query: 400, naming it.
    let bad = format!("{}?port=0", url(8080)).replacen("http://", "ws://", 1);
    let e = tungstenite::connect(bad.as_str()).unwrap_err();
    match e {
        tungstenite::Error::Http(r) => assert_eq!(r.status(), 400),
        other => panic!("expected 400, got {other}"),
    }
    c.finish(&pod);
}
