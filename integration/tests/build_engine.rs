//! hulld's image builder (issue 15), driven through the Build gRPC service
//! with hull_proto's client against a hulld of the test's own, FROM a
//! busybox image in a loopback registry: the image config and layers a
//! Dockerfile makes, a result `hull run` runs, layer digests equal across
//! builds, a rebuild that is all CACHED and runs nothing (also after a
//! hulld restart), multi-stage builds with --target, ADD, heredocs,
//! ONBUILD and RUN mounts, SHELL/USER and the config instructions, a
//! failing RUN, bad input with line numbers, a dropped call, and nothing
//! of a build left behind. Helpers: build_support/.

mod build_support;
mod manager_support;

use std::time::Duration;

use build_support::*;
use hull_integration::cleanup;
use hull_proto::v1 as pb;
use manager_support::{containers, wait_until};
use pb::build_event::Event as Ev;

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
    while_running(&h, context(&df, &[("a.txt", "a")]), || {});
    wait_until("the build to clean up", Duration::from_secs(30), || {
        h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty()
            && cleanup::mounts_under(h.dir.path()).is_empty()
            && std::fs::read_dir(h.state.join("build")).is_ok_and(|mut d| d.next().is_none())
    });
    assert_build_left_nothing(&h);
}

#[test]
fn a_build_cut_off_by_a_hulld_crash_is_cleaned_up_by_the_next_hulld() {
    require_root!();
    let (_reg, _l, mut h, base) = containers::setup();
    let df = format!("FROM {base}\nCOPY a.txt /\nRUN echo started && sleep 60\n");
    let pid = h.pid() as i32;
    while_running(&h, context(&df, &[("a.txt", "a")]), || {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    });
    h.kill();
    h.spawn();
    wait_until(
        "the old build's container to go",
        Duration::from_secs(30),
        || h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty(),
    );
    assert_build_left_nothing(&h);
}

/// Start a build of `ctx` whose RUN prints "started" and sleeps; when it
/// printed, call `then`, and drop the call.
fn while_running(h: &manager_support::Hulld, ctx: Vec<u8>, then: impl FnOnce()) {
    rt().block_on(async {
        let mut c = client(&h.sock).await;
        let msgs = vec![
            pb::BuildRequest {
                part: Some(pb::build_request::Part::Options(options("run:1"))),
            },
            pb::BuildRequest {
                part: Some(pb::build_request::Part::Context(ctx)),
            },
        ];
        let mut s = c
            .build(tokio_stream::iter(msgs))
            .await
            .unwrap()
            .into_inner();
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
        then();
        drop(s);
        drop(c);
    });
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

#[test]
fn shell_user_and_the_config_instructions() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let df = format!(
        "FROM {base}\n\
         MAINTAINER someone\n\
         ENV WHO=env-value\n\
         SHELL [\"/bin/sh\", \"-ec\"]\n\
         RUN echo shell=$0 who=$WHO id=$(id -u)\n\
         USER 65534\n\
         RUN echo id=$(id -u)\n\
         CMD [\"old\"]\n\
         ENTRYPOINT [\"/bin/echo\"]\n\
         HEALTHCHECK --interval=5s --retries=2 CMD true\n\
         VOLUME /data\n"
    );
    let mut opts = options("cfg:1");
    opts.labels.insert("from".into(), "options".into());
    let out = build(&h, opts, context(&df, &[]));
    let r = out.ok().clone();
    let text = out.out_text();
    assert!(text.contains("shell=/bin/sh who=env-value id=0"), "{text}");
    assert!(text.contains("id=65534"), "{text}");
    let cfg = json_blob(&h, &r.image_id);
    let c = &cfg["config"];
    assert_eq!(cfg["author"], "someone");
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/echo"]));
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["old"]),
        "CMD of this stage stays"
    );
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "true"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert!(c["Volumes"]["/data"].is_object());
    assert_eq!(c["Labels"]["from"], "options");
    // The RUNs as the nobody user changed nothing: no layers of their own.
    let manifest = json_blob(&h, &r.manifest_digest);
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    let o = h.hull_ok(&["run", "--rm", "cfg:1", "hi"]);
    assert_eq!(o, "hi\n");
    assert_build_left_nothing(&h);
}

#[test]
fn add_fetches_a_url_and_checks_its_checksum() {
    require_root!();
    let (_reg, _l, h, base) = containers::setup();
    let served = tempfile::tempdir().unwrap();
    std::fs::write(served.path().join("file.txt"), "served\n").unwrap();
    let port = hull_integration::registry::free_port().unwrap();
    let mut server = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .current_dir(served.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/file.txt");
    wait_until("the HTTP server", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let sum = "sha256:".to_string() + &manager_support::sha256_hex(b"served\n");
    let good = format!("FROM {base}\nADD --checksum={sum} {url} /got/\n");
    let out = build(&h, options("url:1"), context(&good, &[]));
    let bad = format!(
        "FROM {base}\nADD --checksum=sha256:{} {url} /got/\n",
        "0".repeat(64)
    );
    let failed = build(&h, options("url:2"), context(&bad, &[]));
    let _ = server.kill();
    let _ = server.wait();
    let r = out.ok().clone();
    let manifest = json_blob(&h, &r.manifest_digest);
    let top = manifest["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let files = layer_entries(&h, &top);
    let (mode, _, _, data) = files.get("got/file.txt").expect("downloaded file").clone();
    assert_eq!((mode, data), (0o600, b"served\n".to_vec()));
    let e = failed.error.expect("a wrong checksum fails");
    assert!(e.message().contains("Dockerfile:2"), "{e:?}");
    assert!(e.message().contains("digest mismatch"), "{e:?}");
    assert_build_left_nothing(&h);
}
