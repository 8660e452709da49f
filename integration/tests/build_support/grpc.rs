//! The build_engine suite's helpers (gRPC level): a Build client on hulld's socket,
//! context tars, a build's streamed outcome, and reading what it stored.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use hull_integration::cleanup;
use hull_proto::v1 as pb;
use pb::build_event::Event as Ev;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::manager_support::Hulld;

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub async fn client(sock: &Path) -> pb::build_client::BuildClient<Channel> {
    let p = sock.to_path_buf();
    let ch = Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let p = p.clone();
            async move {
                let s = tokio::net::UnixStream::connect(p).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
            }
        }))
        .await
        .unwrap();
    pb::build_client::BuildClient::new(ch)
}

/// A context tar with `files` (path → content; a path ending in `/` is a
/// directory) and the Dockerfile.
pub fn context(dockerfile: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_mtime(1_600_000_000);
        if let Some(dir) = name.strip_suffix('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, dir, std::io::empty()).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, data).unwrap();
        }
    };
    add("Dockerfile", dockerfile.as_bytes(), 0o644);
    for (n, c) in files {
        add(n, c.as_bytes(), 0o640);
    }
    b.into_inner().unwrap()
}

/// What a build streamed: step events, output, and how it ended.
#[derive(Debug, Default)]
pub struct Outcome {
    pub steps: Vec<pb::BuildStep>,
    pub output: Vec<(u32, String)>,
    pub result: Option<pb::BuildResult>,
    pub error: Option<tonic::Status>,
}

impl Outcome {
    pub fn ok(&self) -> &pb::BuildResult {
        self.result
            .as_ref()
            .unwrap_or_else(|| panic!("build failed: {:?}", self.error))
    }
    pub fn states(&self) -> Vec<(String, i32)> {
        self.steps
            .iter()
            .map(|s| (s.instruction.clone(), s.state))
            .collect()
    }
    pub fn out_text(&self) -> String {
        self.output.iter().map(|(_, t)| t.as_str()).collect()
    }
}

pub fn options(tag: &str) -> pb::BuildOptions {
    pb::BuildOptions {
        tags: vec![tag.to_string()],
        network: "none".into(),
        ..Default::default()
    }
}

pub async fn build_async(sock: &Path, opts: pb::BuildOptions, ctx: Vec<u8>) -> Outcome {
    let mut c = client(sock).await;
    let mut msgs = vec![pb::BuildRequest {
        part: Some(pb::build_request::Part::Options(opts)),
    }];
    for chunk in ctx.chunks(16 * 1024) {
        msgs.push(pb::BuildRequest {
            part: Some(pb::build_request::Part::Context(chunk.to_vec())),
        });
    }
    let mut out = Outcome::default();
    let mut stream = match c.build(tokio_stream::iter(msgs)).await {
        Ok(r) => r.into_inner(),
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    loop {
        match stream.message().await {
            Ok(Some(ev)) => match ev.event {
                Some(Ev::Step(s)) => out.steps.push(s),
                Some(Ev::Output(o)) => out
                    .output
                    .push((o.stream, String::from_utf8_lossy(&o.data).into_owned())),
                Some(Ev::Result(r)) => out.result = Some(r),
                None => {}
            },
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out
}

pub fn build(h: &Hulld, opts: pb::BuildOptions, ctx: Vec<u8>) -> Outcome {
    rt().block_on(build_async(&h.sock, opts, ctx))
}

pub fn blob(h: &Hulld, digest: &str) -> Vec<u8> {
    std::fs::read(h.blob_path(digest)).unwrap()
}

pub fn json_blob(h: &Hulld, digest: &str) -> serde_json::Value {
    serde_json::from_slice(&blob(h, digest)).unwrap()
}

/// Names and contents of the entries of a gzip layer blob.
pub fn layer_files(h: &Hulld, digest: &str) -> BTreeMap<String, Vec<u8>> {
    layer_entries(h, digest)
        .into_iter()
        .map(|(n, (_, _, _, data))| (n, data))
        .collect()
}

pub fn flate2_read(gz: &[u8]) -> impl Read + '_ {
    flate2::read::GzDecoder::new(gz)
}

/// Nothing of a build is left: no container, no mount under hulld's dirs,
/// no build directory, no step snapshot.
pub fn assert_build_left_nothing(h: &Hulld) {
    let ps = h.hull_ok(&["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "containers left: {ps}");
    let mounts = cleanup::mounts_under(h.dir.path());
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    let builds = h.state.join("build");
    let left: Vec<_> = std::fs::read_dir(&builds)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "build dirs left: {left:?}");
    let snaps = h.hull_ok(&["snapshot", "ls"]);
    assert!(
        !snaps.contains("build-") && !snaps.contains("container/"),
        "step snapshots left:\n{snaps}"
    );
}

pub const CACHED: i32 = pb::build_step::State::Cached as i32;
pub const STARTED: i32 = pb::build_step::State::Started as i32;

pub fn dockerfile(base: &str) -> String {
    format!(
        "FROM {base}\n\
         ARG GREETING=hello\n\
         ENV APP=/app\n\
         WORKDIR $APP\n\
         COPY a.txt ./\n\
         COPY dir/ /data/\n\
         RUN echo \"$GREETING\" > greeting && rm /bin/vi && echo out && echo err >&2\n\
         USER 1000\n\
         EXPOSE 8080 53/udp\n\
         LABEL k=v\n\
         STOPSIGNAL SIGINT\n\
         CMD [\"cat\", \"/app/greeting\"]\n"
    )
}

pub fn files() -> Vec<(&'static str, &'static str)> {
    vec![("a.txt", "A\n"), ("dir/", ""), ("dir/b.txt", "B\n")]
}

/// Entries of a gzip layer: name → (mode, uid, gid, content).
pub fn layer_entries(h: &Hulld, digest: &str) -> BTreeMap<String, (u32, u64, u64, Vec<u8>)> {
    let gz = blob(h, digest);
    let mut a = tar::Archive::new(flate2_read(&gz));
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let hd = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(
            name,
            (
                hd.mode().unwrap(),
                hd.uid().unwrap(),
                hd.gid().unwrap(),
                data,
            ),
        );
    }
    out
}

pub fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (n, c) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_size(c.len() as u64);
        b.append_data(&mut h, n, c.as_bytes()).unwrap();
    }
    let raw = b.into_inner().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, &raw).unwrap();
    e.finish().unwrap()
}

/// The context tar with a binary file added.
pub fn context_with(
    dockerfile: &str,
    files: &[(&str, &str)],
    binary: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("Dockerfile", dockerfile.as_bytes());
    for (n, c) in files {
        add(n, c.as_bytes());
    }
    for (n, c) in binary {
        add(n, c);
    }
    b.into_inner().unwrap()
}
