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
    let conn = spdy::connect(&exec_url(&mut c, req).unwrap(), &[V4]).unwrap();
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
