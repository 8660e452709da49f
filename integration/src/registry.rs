//! A private Distribution registry (Debian's `docker-registry`) for one test,
//! on a free 127.0.0.1 port, with plain, htpasswd (basic) or token auth. The
//! token server for token auth is a small HTTP server in this file that
//! checks basic credentials and signs RS256 JWTs with a key made by
//! `openssl` (x5c header, the certificate in the registry's rootcertbundle).
//! The registry process (and token server thread) stop on drop.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How clients authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// htpasswd basic auth with one user.
    Basic {
        user: String,
        password: String,
    },
    /// Bearer tokens from a token server started with the registry.
    Token {
        user: String,
        password: String,
    },
}

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub dir: tempfile::TempDir,
    /// Where blobs live on disk (for tests that tamper with them).
    pub storage: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    token: Option<TokenServer>,
}

/// A free port on 127.0.0.1 (bound and released).
pub fn free_port() -> io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

impl Registry {
    pub fn start(auth: Auth) -> io::Result<Registry> {
        let mut last = None;
        for _ in 0..3 {
            match Self::try_start(&auth) {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("registry did not start")))
    }

    fn try_start(auth: &Auth) -> io::Result<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("hull-registry-")
            .tempdir()?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let storage = dir.path().join("data");
        std::fs::create_dir_all(&storage)?;
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            storage.display()
        );
        let mut token = None;
        match auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                let hash = bcrypt::hash(password, 4).map_err(io::Error::other)?;
                let ht = dir.path().join("htpasswd");
                std::fs::write(&ht, format!("{user}:{hash}\n"))?;
                cfg.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: hull-test\n    path: {}\n",
                    ht.display()
                ));
            }
            Auth::Token { user, password } => {
                let ts = TokenServer::start(dir.path(), user, password)?;
                cfg.push_str(&format!(
                    "auth:\n  token:\n    realm: http://{}/token\n    service: hull-test-registry\n    issuer: hull-test-issuer\n    rootcertbundle: {}\n",
                    ts.addr,
                    ts.cert.display()
                ));
                token = Some(ts);
            }
        }
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg)?;
        let log = dir.path().join("registry.log");
        let mut child = Command::new("docker-registry");
        child
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("registry.err"))?);
        // The registry dies with the thread that started it, even if the test
        // process is killed before Drop runs.
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            child.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = child.spawn()?;
        let mut reg = Registry {
            addr,
            dir,
            storage,
            log,
            child: Some(child),
            token,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(c) = reg.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    let err = std::fs::read_to_string(reg.dir.path().join("registry.err"))
                        .unwrap_or_default();
                    return Err(io::Error::other(format!("registry exited ({st}): {err}")));
                }
            }
            if let Ok(code) = http_status(&reg.addr, "/v2/") {
                if code == 200 || code == 401 {
                    return Ok(reg);
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("registry did not answer within 15 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT/REPO:TAG`
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{}", self.addr, repo_tag)
    }

    /// Path of a blob's data file in the registry storage.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// A bearer token for `scope` (e.g. `repository:a/b:pull`) from the
    /// token server of an `Auth::Token` registry, asked with `user` and
    /// `password`, as a client would get one to hand to another.
    pub fn fetch_token(&self, user: &str, password: &str, scope: &str) -> io::Result<String> {
        let t = self
            .token
            .as_ref()
            .ok_or_else(|| io::Error::other("registry has no token server"))?;
        let mut s = TcpStream::connect(&t.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let basic = b64(format!("{user}:{password}").as_bytes(), false);
        write!(
            s,
            "GET /token?service=hull-test-registry&scope={scope} HTTP/1.0\r\nHost: {}\r\nAuthorization: Basic {basic}\r\n\r\n",
            t.addr
        )?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)?;
        let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| io::Error::other(format!("token answer {body:?}: {e}")))?;
        v["token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| io::Error::other(format!("no token in {body:?}")))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.token.take();
    }
}

/// Status code of `GET path` on `addr` (plain HTTP/1.0).
pub fn http_status(addr: &str, path: &str) -> io::Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))
}

/// The token server: GET /token?service=..&scope=.. with basic auth.
struct TokenServer {
    addr: String,
    cert: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    fn start(dir: &Path, user: &str, password: &str) -> io::Result<TokenServer> {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=hull-test-token",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert))?;
        let der = dir.join("token.der");
        run(Command::new("openssl")
            .args(["x509", "-outform", "DER"])
            .arg("-in")
            .arg(&cert)
            .arg("-out")
            .arg(&der))?;
        let x5c = b64(&std::fs::read(&der)?, false);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let expected = format!(
            "Basic {}",
            b64(format!("{user}:{password}").as_bytes(), false)
        );
        let user = user.to_string();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = handle_token(s, &expected, &user, &key, &x5c);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(TokenServer {
            addr,
            cert,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn b64(data: &[u8], url: bool) -> String {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let t = if url { URL } else { STD };
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        let chars = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, ch) in chars.iter().enumerate() {
            if i <= c.len() {
                out.push(t[*ch as usize] as char);
            } else if !url {
                out.push('=');
            }
        }
    }
    out
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn handle_token(
    mut s: TcpStream,
    expected: &str,
    user: &str,
    key: &Path,
    x5c: &str,
) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut first = String::new();
    r.read_line(&mut first)?;
    let mut authz = String::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 || l == "\r\n" || l == "\n" {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authz = v.trim().to_string();
            }
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("");
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut scopes = Vec::new();
    let mut service = String::new();
    for kv in query.split('&') {
        if let Some((k, v)) = kv.split_once('=') {
            match k {
                "scope" => scopes.push(url_decode(v)),
                "service" => service = url_decode(v),
                _ => {}
            }
        }
    }
    if authz != expected {
        let body = r#"{"details":"incorrect username or password"}"#;
        write!(s, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
        return Ok(());
    }
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|sc| {
            let mut p = sc.splitn(3, ':');
            let (t, name, actions) = (p.next()?, p.next()?, p.next()?);
            Some(serde_json::json!({"type": t, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": "hull-test-issuer", "sub": user, "aud": service,
        "exp": now + 600, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", std::process::id()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes(), true),
        b64(claims.to_string().as_bytes(), true)
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("no stdin"))?
        .write_all(signing_input.as_bytes())?;
    let mut sig = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?
        .read_to_end(&mut sig)?;
    child.wait()?;
    let token = format!("{signing_input}.{}", b64(&sig, true));
    let body =
        serde_json::json!({"token": token, "access_token": token, "expires_in": 600}).to_string();
    write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(super::b64(b"ab", false), "YWI=");
        assert_eq!(super::b64(b"ab", true), "YWI");
        assert_eq!(super::b64(b"abc", false), "YWJj");
        assert_eq!(
            super::url_decode("repository%3Aa%2Fb%3Apull"),
            "repository:a/b:pull"
        );
    }
}
