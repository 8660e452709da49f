//! hulld's image builder (issue 15), driven through the Build gRPC service
//! with hull_proto's client against a hulld of the test's own, FROM a
//! busybox image in a loopback registry: the image config and layers a
//! Dockerfile makes, a result `hull run` runs, layer digests equal across
//! builds, a rebuild that is all CACHED and runs nothing (also after a
//! hulld restart), a failing RUN, bad input with line numbers, a dropped
//! call, and nothing of a build left behind.

mod manager_support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use hull_integration::cleanup;
use hull_proto::v1 as pb;
use manager_support::{containers, wait_until, Hulld};
use pb::build_event::Event as Ev;
use tonic::transport::{Channel, Endpoint, Uri};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn client(sock: &Path) -> pb::build_client::BuildClient<Channel> {
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
fn context(dockerfile: &str, files: &[(&str, &str)]) -> Vec<u8> {
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
struct Outcome {
    steps: Vec<pb::BuildStep>,
    output: Vec<(u32, String)>,
    result: Option<pb::BuildResult>,
    error: Option<tonic::Status>,
}

impl Outcome {
    fn ok(&self) -> &pb::BuildResult {
        self.result
            .as_ref()
            .unwrap_or_else(|| panic!("build failed: {:?}", self.error))
    }
    fn states(&self) -> Vec<(String, i32)> {
        self.steps
            .iter()
            .map(|s| (s.instruction.clone(), s.state))
            .collect()
    }
    fn out_text(&self) -> String {
        self.output.iter().map(|(_, t)| t.as_str()).collect()
    }
}

fn options(tag: &str) -> pb::BuildOptions {
    pb::BuildOptions {
        tags: vec![tag.to_string()],
        network: "none".into(),
        ..Default::default()
    }
}

async fn build_async(sock: &Path, opts: pb::BuildOptions, ctx: Vec<u8>) -> Outcome {
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

fn build(h: &Hulld, opts: pb::BuildOptions, ctx: Vec<u8>) -> Outcome {
    rt().block_on(build_async(&h.sock, opts, ctx))
}

fn blob(h: &Hulld, digest: &str) -> Vec<u8> {
    std::fs::read(h.blob_path(digest)).unwrap()
}

fn json_blob(h: &Hulld, digest: &str) -> serde_json::Value {
    serde_json::from_slice(&blob(h, digest)).unwrap()
}

/// Names and contents of the entries of a gzip layer blob.
fn layer_files(h: &Hulld, digest: &str) -> BTreeMap<String, Vec<u8>> {
    layer_entries(h, digest)
        .into_iter()
        .map(|(n, (_, _, _, data))| (n, data))
        .collect()
}

fn flate2_read(gz: &[u8]) -> impl Read + '_ {
    flate2::read::GzDecoder::new(gz)
}

/// Nothing of a build is left: no container, no mount under hulld's dirs,
/// no build directory, no step snapshot.
fn assert_build_left_nothing(h: &Hulld) {
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

const CACHED: i32 = pb::build_step::State::Cached as i32;
const STARTED: i32 = pb::build_step::State::Started as i32;

fn dockerfile(base: &str) -> String {
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

fn files() -> Vec<(&'static str, &'static str)> {
    vec![("a.txt", "A\n"), ("dir/", ""), ("dir/b.txt", "B\n")]
}

#[test]
fn a_dockerfile_becomes_a_runnable_image_with_its_config_and_layers() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let tag = "built/app:1";
    let out = build(&h, options(tag), context(&dockerfile(&base), &files()));
    let r = out.ok().clone();
    assert_eq!(r.tags, ["docker.io/built/app:1"]);
    assert!(
        out.output.contains(&(1, "out\n".into())),
        "{:?}",
        out.output
    );
    assert!(
        out.output.contains(&(2, "err\n".into())),
        "{:?}",
        out.output
    );
    assert_eq!(out.steps.last().unwrap().index, 12);
    assert_eq!(out.steps.last().unwrap().total, 12);

    let manifest = json_blob(&h, &r.manifest_digest);
    let cfg = json_blob(&h, &r.image_id);
    let c = &cfg["config"];
    assert!(c["Env"].as_array().unwrap().contains(&"APP=/app".into()));
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "1000");
    assert_eq!(c["Labels"]["k"], "v");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert!(c["ExposedPorts"]["8080/tcp"].is_object());
    assert!(c["ExposedPorts"]["53/udp"].is_object());
    assert_eq!(c["Cmd"], serde_json::json!(["cat", "/app/greeting"]));
    // One base layer + WORKDIR, two COPYs and the RUN.
    let layers = manifest["layers"].as_array().unwrap();
    let diff_ids = cfg["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    assert_eq!(diff_ids.len(), 5);
    let history = cfg["history"].as_array().unwrap();
    let built: Vec<_> = history
        .iter()
        .filter(|e| e["comment"] == "hull build")
        .collect();
    assert_eq!(built.len(), 10, "{history:?}");
    assert_eq!(built.iter().filter(|e| e["empty_layer"] != true).count(), 4);
    // The COPY layers: files owned by root with their modes; the RUN layer:
    // the new file and the whiteout of the removed one.
    let copy = layer_files(&h, layers[2]["digest"].as_str().unwrap());
    assert_eq!(copy.get("app/a.txt").map(Vec::as_slice), Some(&b"A\n"[..]));
    let copy2 = layer_files(&h, layers[3]["digest"].as_str().unwrap());
    assert!(copy2.contains_key("data/b.txt"), "{:?}", copy2.keys());
    let run = layer_files(&h, layers[4]["digest"].as_str().unwrap());
    assert_eq!(
        run.get("app/greeting").map(Vec::as_slice),
        Some(&b"hello\n"[..])
    );
    assert!(run.contains_key("bin/.wh.vi"), "{:?}", run.keys());
    assert!(
        !run.keys()
            .any(|k| k.starts_with("etc/host") || k.starts_with("proc")),
        "mount points leaked into the layer: {:?}",
        run.keys()
    );
    // Runnable at once.
    let o = h.hull_ok(&["run", "--rm", tag]);
    assert_eq!(o, "hello\n");
    let o = h.hull_ok(&["run", "--rm", "--user", "0", tag, "ls", "/data"]);
    assert_eq!(o.trim(), "b.txt");
    assert_build_left_nothing(&h);
}

#[test]
fn a_rebuild_is_all_cached_runs_nothing_and_survives_a_restart() {
    require_root!();
    let (_reg, _l, mut h, base) = containers::setup();
    let ctx = context(&dockerfile(&base), &files());
    let first = build(&h, options("c:1"), ctx.clone());
    let r1 = first.ok().clone();
    assert!(first.steps.iter().any(|s| s.state == STARTED));
    let second = build(&h, options("c:2"), ctx.clone());
    let r2 = second.ok().clone();
    assert!(
        second.steps.iter().all(|s| s.state == CACHED),
        "{:?}",
        second.states()
    );
    assert!(
        second.output.is_empty(),
        "a cached RUN ran: {:?}",
        second.output
    );
    assert_eq!(r1.image_id, r2.image_id, "same config");
    assert_eq!(r1.manifest_digest, r2.manifest_digest);
    // The cache is in hulld's database: a new hulld still has it.
    h.stop();
    h.spawn();
    let third = build(&h, options("c:3"), ctx.clone());
    assert!(
        third.steps.iter().all(|s| s.state == CACHED),
        "{:?}",
        third.states()
    );
    assert_eq!(third.ok().image_id, r1.image_id);
    // A changed COPY source rebuilds from that step on.
    let mut changed = files();
    changed[2] = ("dir/b.txt", "changed\n");
    let fourth = build(&h, options("c:4"), context(&dockerfile(&base), &changed));
    let states = fourth.states();
    let first_run = states.iter().position(|(_, s)| *s != CACHED).unwrap();
    assert!(states[first_run].0.starts_with("COPY dir/"), "{states:?}");
    assert!(fourth.out_text().contains("out"));
    // PruneCache drops the records: the next build runs again.
    let pruned = rt().block_on(async {
        client(&h.sock)
            .await
            .prune_cache(pb::PruneBuildCacheRequest {})
            .await
            .unwrap()
            .into_inner()
    });
    assert!(pruned.records_removed >= 10, "{pruned:?}");
    let fifth = build(&h, options("c:5"), ctx);
    assert!(fifth.steps.iter().any(|s| s.state == STARTED));
    assert_build_left_nothing(&h);
}

#[test]
fn no_cache_builds_with_source_date_epoch_give_the_same_layers() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let ctx = context(&dockerfile(&base), &files());
    let opts = |tag: &str| pb::BuildOptions {
        no_cache: true,
        source_date_epoch: Some(1_700_000_000),
        ..options(tag)
    };
    let a = build(&h, opts("r:1"), ctx.clone());
    let b = build(&h, opts("r:2"), ctx);
    let (a, b) = (a.ok(), b.ok());
    assert!(
        b.manifest_digest == a.manifest_digest,
        "layers differ: {} vs {}",
        a.manifest_digest,
        b.manifest_digest
    );
    let cfg = json_blob(&h, &a.image_id);
    assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
}

#[test]
fn a_failing_run_gives_its_line_and_exit_code_and_leaves_nothing() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let df = format!("FROM {base}\nRUN echo before\nRUN echo failing && exit 3\nRUN echo never\n");
    let out = build(&h, options("f:1"), context(&df, &[]));
    let e = out.error.clone().expect("the build failed");
    assert!(e.message().contains("Dockerfile:3"), "{e:?}");
    assert!(e.message().contains("returned a non-zero code: 3"), "{e:?}");
    assert!(out.out_text().contains("failing"), "{:?}", out.output);
    assert!(!out.out_text().contains("never"));
    assert!(h.hull(&["image", "inspect", "f:1"]).status.code() != Some(0));
    assert_build_left_nothing(&h);
}

#[test]
fn bad_input_names_the_line_and_the_culprit() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let cases = [
        (
            format!("FROM {base}\nBOGUS x\n"),
            "Dockerfile:2",
            "unknown instruction",
        ),
        (
            format!("FROM {base}\n\nCOPY nope.txt /x\n"),
            "Dockerfile:3",
            "nope.txt",
        ),
        (
            format!("FROM {base}\nCOPY ../etc/passwd /x\n"),
            "Dockerfile:2",
            "outside the build context",
        ),
        (
            format!("FROM {base}\nCOPY --from=7 /a /b\n"),
            "Dockerfile:2",
            "stage \"7\" not found",
        ),
        (format!("FROM {base} AS a\n"), "", "target stage \"zzz\""),
    ];
    for (i, (df, line, what)) in cases.iter().enumerate() {
        let mut opts = options("bad:1");
        if i == 4 {
            opts.target = "zzz".into();
        }
        let out = build(&h, opts, context(df, &[]));
        let e = out.error.unwrap_or_else(|| panic!("case {i} built"));
        assert!(e.message().contains(line), "case {i}: {e:?}");
        assert!(e.message().contains(what), "case {i}: {e:?}");
        assert!(!e.message().contains('\n'), "one line: {e:?}");
    }
    assert_build_left_nothing(&h);
}

#[test]
fn a_dropped_call_stops_the_build_and_cleans_up() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let df = format!("FROM {base}\nCOPY a.txt /\nRUN echo started && sleep 60\n");
    let ctx = context(&df, &[("a.txt", "a")]);
    rt().block_on(async {
        let mut c = client(&h.sock).await;
        let mut msgs = vec![pb::BuildRequest {
            part: Some(pb::build_request::Part::Options(options("drop:1"))),
        }];
        msgs.push(pb::BuildRequest {
            part: Some(pb::build_request::Part::Context(ctx)),
        });
        let mut s = c
            .build(tokio_stream::iter(msgs))
            .await
            .unwrap()
            .into_inner();
        // Wait until the RUN printed, then drop the call.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let ev = tokio::time::timeout_at(deadline, s.message())
                .await
                .expect("the RUN started")
                .unwrap()
                .unwrap();
            if let Some(Ev::Output(o)) = ev.event {
                if o.data.starts_with(b"started") {
                    break;
                }
            }
        }
        drop(s);
        drop(c);
    });
    wait_until("the build to clean up", Duration::from_secs(30), || {
        h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty()
            && cleanup::mounts_under(h.dir.path()).is_empty()
            && std::fs::read_dir(h.state.join("build")).is_ok_and(|mut d| d.next().is_none())
    });
    assert_build_left_nothing(&h);
}

/// Entries of a gzip layer: name → (mode, uid, gid, content).
fn layer_entries(h: &Hulld, digest: &str) -> BTreeMap<String, (u32, u64, u64, Vec<u8>)> {
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

fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
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
fn context_with(dockerfile: &str, files: &[(&str, &str)], binary: &[(&str, Vec<u8>)]) -> Vec<u8> {
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

#[test]
fn multi_stage_with_target_add_heredocs_onbuild_and_run_mounts() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let df = format!(
        "FROM {base} AS builder\n\
         WORKDIR /src\n\
         COPY --chown=1000:1000 --chmod=750 a.txt ./\n\
         RUN --mount=type=cache,target=/cache echo x >> /cache/n && wc -l < /cache/n | tr -d ' ' > /src/count && echo count=$(cat /src/count)\n\
         RUN --mount=type=bind,source=dir,target=/ctx cat /ctx/b.txt > /src/b-copy\n\
         COPY <<EOF /src/hd.txt\n\
         from a heredoc\n\
         EOF\n\
         RUN <<EOF\n\
         echo script > /src/script.out\n\
         EOF\n\
         ADD arch.tar.gz /unpacked/\n\
         ONBUILD RUN echo triggered > /trig\n\
         \n\
         FROM {base} AS unused\n\
         RUN exit 1\n\
         \n\
         FROM scratch AS final\n\
         COPY --from=builder /src/ /out/\n\
         COPY --from=builder /unpacked /unpacked\n"
    );
    let arch = tar_gz(&[("inner.txt", "inside\n")]);
    let ctx = context_with(
        &df,
        &[("a.txt", "A\n"), ("dir/b.txt", "B\n")],
        &[("arch.tar.gz", arch)],
    );
    let out = build(&h, options("ms:1"), ctx.clone());
    let r = out.ok().clone();
    assert!(out.out_text().contains("count=1"), "{:?}", out.output);
    assert!(
        !out.steps.iter().any(|s| s.stage == "unused"),
        "a stage the target does not need was built: {:?}",
        out.states()
    );
    let manifest = json_blob(&h, &r.manifest_digest);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "scratch + two COPY layers");
    let mut all = layer_entries(&h, layers[0]["digest"].as_str().unwrap());
    all.extend(layer_entries(&h, layers[1]["digest"].as_str().unwrap()));
    let file = |n: &str| {
        all.get(n)
            .unwrap_or_else(|| panic!("{n} missing: {:?}", all.keys()))
            .clone()
    };
    let (mode, uid, gid, data) = file("out/a.txt");
    assert_eq!((mode, uid, gid, data), (0o750, 1000, 1000, b"A\n".to_vec()));
    assert_eq!(file("out/count").3, b"1\n");
    assert_eq!(file("out/b-copy").3, b"B\n");
    assert_eq!(file("out/hd.txt").3, b"from a heredoc\n");
    assert_eq!(file("out/script.out").3, b"script\n");
    assert_eq!(file("unpacked/inner.txt").3, b"inside\n");
    assert!(
        !all.keys()
            .any(|k| k.starts_with("cache") || k.starts_with("ctx")),
        "mount targets leaked: {:?}",
        all.keys()
    );
    // The cache mount outlives the build: a --no-cache rebuild counts on.
    let again = build(
        &h,
        pb::BuildOptions {
            no_cache: true,
            target: "builder".into(),
            ..options("ob:1")
        },
        ctx,
    );
    again.ok();
    assert!(again.out_text().contains("count=2"), "{:?}", again.output);
    // ONBUILD is stored, and runs in a build FROM that image.
    let cfg = json_blob(&h, &again.ok().image_id);
    assert_eq!(
        cfg["config"]["OnBuild"],
        serde_json::json!(["RUN echo triggered > /trig"])
    );
    let child = build(
        &h,
        options("child:1"),
        context("FROM ob:1\nRUN cat /trig\n", &[]),
    );
    child.ok();
    assert!(child.out_text().contains("triggered"), "{:?}", child.output);
    let cfg = json_blob(&h, &child.ok().image_id);
    assert!(
        cfg["config"]["OnBuild"].is_null(),
        "triggers are not inherited"
    );
    assert_build_left_nothing(&h);
}
