//! A small blocking SPDY/3.1 client for the CRI streaming tests, as
//! kubelet's and crictl's client library speaks it: an HTTP/1.1 upgrade
//! with `X-Stream-Protocol-Version`, then streams this side opens with
//! headers (`streamtype`, `port`, `requestid`), data both ways, FIN to
//! half-close. A reader thread routes the server's frames to per-stream
//! channels. Header blocks are zlib-compressed without a preset dictionary
//! (the zlib header says so; servers must accept that).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    #[error("HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(String),
}

/// What the server sent on one stream: data, then None at its FIN.
type Chunks = Sender<Option<Vec<u8>>>;

/// An upgraded connection.
pub struct SpdyConn {
    sock: Mutex<(TcpStream, Compress)>,
    next_id: Mutex<u32>,
    routes: Arc<Mutex<HashMap<u32, Chunks>>>,
    /// The streams the server has answered (SYN_REPLY).
    replied: Arc<Mutex<Vec<u32>>>,
    /// The protocol the server chose.
    pub protocol: String,
}

/// One stream this side opened.
pub struct ClientStream {
    pub id: u32,
    rx: Receiver<Option<Vec<u8>>>,
    ended: bool,
}

fn control(kind: u16, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut f = (0x8003_0000u32 | u32::from(kind)).to_be_bytes().to_vec();
    f.extend_from_slice(&((u32::from(flags) << 24) | body.len() as u32).to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn block(z: &mut Compress, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut raw = (headers.len() as u32).to_be_bytes().to_vec();
    for (k, v) in headers {
        for s in [k, v] {
            raw.extend_from_slice(&(s.len() as u32).to_be_bytes());
            raw.extend_from_slice(s.as_bytes());
        }
    }
    let mut out = Vec::with_capacity(raw.len() + 1024);
    z.compress_vec(&raw, &mut out, FlushCompress::Sync)
        .expect("compress headers");
    out
}

/// Open `url` (http://host:port/path) upgraded to SPDY/3.1, offering
/// `protocols`.
pub fn connect(url: &str, protocols: &[&str]) -> Result<SpdyConn, SpdyError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| SpdyError::Protocol(format!("not an http URL: {url}")))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut sock = TcpStream::connect(host)?;
    let mut req = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    );
    for p in protocols {
        req.push_str(&format!("X-Stream-Protocol-Version: {p}\r\n"));
    }
    req.push_str("\r\n");
    sock.write_all(req.as_bytes())?;
    let (status, head, body) = read_response(&mut sock)?;
    if status != 101 {
        return Err(SpdyError::Http { status, body });
    }
    let protocol = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("x-stream-protocol-version")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let routes: Arc<Mutex<HashMap<u32, Chunks>>> = Arc::default();
    let replied: Arc<Mutex<Vec<u32>>> = Arc::default();
    let rd = sock.try_clone()?;
    let (r2, p2) = (routes.clone(), replied.clone());
    std::thread::spawn(move || read_loop(rd, r2, p2));
    Ok(SpdyConn {
        sock: Mutex::new((sock, Compress::new(Compression::default(), true))),
        next_id: Mutex::new(1),
        routes,
        replied,
        protocol,
    })
}

/// Status, head and body (by Content-Length) of an HTTP response; stops
/// at the head for a 101.
fn read_response(sock: &mut TcpStream) -> Result<(u16, String, String), SpdyError> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if sock.read(&mut b)? == 0 {
            return Err(SpdyError::Protocol(
                "connection closed in the response head".into(),
            ));
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SpdyError::Protocol(format!("bad response: {head}")))?;
    if status == 101 {
        return Ok((status, head, String::new()));
    }
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body)?;
    Ok((status, head, String::from_utf8_lossy(&body).into_owned()))
}

fn read_loop(
    mut rd: TcpStream,
    routes: Arc<Mutex<HashMap<u32, Chunks>>>,
    replied: Arc<Mutex<Vec<u32>>>,
) {
    let mut z = Decompress::new(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 32 << 10];
    loop {
        while buf.len() >= 8 {
            let len = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
            if buf.len() < 8 + len {
                break;
            }
            let frame: Vec<u8> = buf.drain(..8 + len).collect();
            let fin = frame[4] & 1 != 0;
            let id = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let body = &frame[8..];
            if id & 0x8000_0000 == 0 {
                let mut r = routes.lock().unwrap();
                if let Some(tx) = r.get(&id) {
                    if !body.is_empty() {
                        let _ = tx.send(Some(body.to_vec()));
                    }
                    if fin {
                        let _ = tx.send(None);
                        r.remove(&id);
                    }
                }
                continue;
            }
            let stream = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff;
            match id & 0xffff {
                // SYN_REPLY: inflate its block to keep the zlib stream in step.
                2 => {
                    let mut out = Vec::with_capacity(4096);
                    let _ = z.decompress_vec(&body[4..], &mut out, FlushDecompress::Sync);
                    replied.lock().unwrap().push(stream(body));
                }
                // RST_STREAM ends the stream.
                3 => {
                    if let Some(tx) = routes.lock().unwrap().remove(&stream(body)) {
                        let _ = tx.send(None);
                    }
                }
                _ => {}
            }
        }
        match rd.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    // The connection is gone: every stream ends.
    for (_, tx) in routes.lock().unwrap().drain() {
        let _ = tx.send(None);
    }
}

impl SpdyConn {
    /// Open a stream with `headers`; waits for the server's SYN_REPLY.
    pub fn open(&self, headers: &[(&str, &str)]) -> Result<ClientStream, SpdyError> {
        let id = {
            let mut n = self.next_id.lock().unwrap();
            let id = *n;
            *n += 2;
            id
        };
        let (tx, rx) = channel();
        self.routes.lock().unwrap().insert(id, tx);
        {
            let mut g = self.sock.lock().unwrap();
            let (sock, z) = &mut *g;
            let mut body = id.to_be_bytes().to_vec();
            body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            body.extend(block(z, headers));
            sock.write_all(&control(1, 0, &body))?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.replied.lock().unwrap().contains(&id) {
            if Instant::now() > deadline {
                return Err(SpdyError::Protocol(format!("no SYN_REPLY for stream {id}")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(ClientStream {
            id,
            rx,
            ended: false,
        })
    }

    /// Send `data` on stream `id`; `fin` half-closes it.
    pub fn send(&self, id: u32, data: &[u8], fin: bool) -> Result<(), SpdyError> {
        let mut f = id.to_be_bytes().to_vec();
        f.extend_from_slice(&((u32::from(u8::from(fin)) << 24) | data.len() as u32).to_be_bytes());
        f.extend_from_slice(data);
        self.sock.lock().unwrap().0.write_all(&f)?;
        Ok(())
    }
}

impl ClientStream {
    /// The next chunk within `limit`: Some(data), or None at the end (or
    /// when nothing came).
    pub fn next(&mut self, limit: Duration) -> Option<Vec<u8>> {
        if self.ended {
            return None;
        }
        match self.rx.recv_timeout(limit) {
            Ok(Some(d)) => Some(d),
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => None,
        }
    }

    /// Everything until the server's FIN; panics after `limit`.
    pub fn read_to_end(&mut self, limit: Duration) -> Vec<u8> {
        let deadline = Instant::now() + limit;
        let mut all = Vec::new();
        while !self.ended {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "stream {} did not end; got {:?}",
                self.id,
                String::from_utf8_lossy(&all)
            );
            if let Some(d) = self.next(left) {
                all.extend(d);
            }
        }
        all
    }

    /// Read until the output so far contains `want`; panics after `limit`.
    pub fn read_until(&mut self, want: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        let mut all = Vec::new();
        loop {
            let text = String::from_utf8_lossy(&all).into_owned();
            if text.contains(want) {
                return text;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !self.ended,
                "no {want:?} on stream {}: {text:?}",
                self.id
            );
            if let Some(d) = self.next(left) {
                all.extend(d);
            }
        }
    }

    /// Whether the server has ended the stream.
    pub fn ended(&self) -> bool {
        self.ended
    }
}
