//! `hull build` with several stages (issue 15): `COPY --from` a stage by
//! name and by index, `FROM` an earlier stage, `--target`, and stages the
//! target does not need left unbuilt, independent stages built at the same
//! time (RUNs that meet in a shared cache mount), a failing stage stopping
//! those beside it.

mod manager_support;

mod build_support;

use build_support::*;
use manager_support::*;

fn multi_stage(base: &str) -> String {
    format!(
        r#"FROM {base} AS tools
RUN mkdir -p /out && echo "built in tools" > /out/tool && chmod 755 /out/tool \
 && ln -s tool /out/tool-link

FROM {base}
RUN echo "from stage one" > /one

FROM tools AS extended
RUN echo "extended" > /out/ext

FROM {base} AS broken
RUN echo "this stage must not run" && exit 9

FROM {base} AS final
COPY --from=tools /out/ /opt/tools/
COPY --from=1 /one /opt/one
COPY --from=extended /out/ext /opt/ext
CMD ["sh", "-c", "cat /opt/tools/tool /opt/one /opt/ext; readlink /opt/tools/tool-link"]
"#
    )
}

#[test]
fn copy_from_stages_by_name_and_index() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&multi_stage(&env.base));
    let tag = "stages/final:1";
    let built = env.build_ok(ctx.path(), &["-t", tag]);
    // The last stage is the default target; `broken` is not needed by it.
    assert!(
        !built.progress.text.contains("must not run"),
        "an unneeded stage ran: {}",
        built.progress.text
    );
    let out = env.h.hull_ok(&["run", "--rm", tag]);
    assert_eq!(out, "built in tools\nfrom stage one\nextended\ntool\n");
    // Only the final stage's layers are in the image: /out of `tools` is not.
    let scratch = Scratch::new();
    let root = env.rootfs(tag, &scratch.join("img"));
    assert!(!root.join("out").exists());
    assert!(root.join("opt/tools/tool").exists());
    assert_eq!(
        std::fs::read_link(root.join("opt/tools/tool-link")).unwrap(),
        std::path::Path::new("tool")
    );
}

#[test]
fn target_builds_only_the_stages_it_needs() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&multi_stage(&env.base));
    let tag = "stages/extended:1";
    let built = env.build_ok(ctx.path(), &["--target", "extended", "-t", tag]);
    let ran = built.progress.ran_steps().join("\n");
    assert!(ran.contains("/out/ext"), "{ran}");
    assert!(!ran.contains("stage one"), "stage 1 is not needed: {ran}");
    assert!(!ran.contains("must not run"), "{ran}");
    let out = env
        .h
        .hull_ok(&["run", "--rm", tag, "cat", "/out/tool", "/out/ext"]);
    assert_eq!(out, "built in tools\nextended\n");

    // The failing stage fails only when it is the target.
    let out = env.build(ctx.path(), &["--target", "broken"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("must not run"), "{}", stderr(&out));

    let out = env.build(ctx.path(), &["--target", "nosuchstage"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains("nosuchstage"), "{err}");
}

#[test]
fn from_an_image_stage_and_scratch() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        "FROM {base} AS src\nRUN echo payload > /payload\n\nFROM scratch\nCOPY --from=src /payload /payload\nCOPY --from={base} /bin/busybox /busybox\n",
        base = env.base
    ));
    let tag = "stages/scratch:1";
    env.build_ok(ctx.path(), &["-t", tag]);
    let scratch = Scratch::new();
    let root = env.rootfs(tag, &scratch.join("img"));
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["busybox", "payload"]);
    assert_eq!(
        std::fs::read_to_string(root.join("payload")).unwrap(),
        "payload\n"
    );
}

/// A RUN that leaves its marker in the shared cache mount, then waits (at
/// most a minute) for the other stage's: it ends only when both run at
/// the same time.
fn rendezvous(me: &str, other: &str) -> String {
    format!(
        "RUN --mount=type=cache,id=rendezvous,target=/meet \
         touch /meet/{me} && i=0 && while [ ! -e /meet/{other} ]; do \
         i=$((i+1)); if [ $i -gt 600 ]; then echo '{me}: {other} never ran beside me'; exit 3; fi; \
         usleep 100000; done && echo {me} > /{me}\n"
    )
}

#[test]
fn independent_stages_build_in_parallel() {
    require_root!();
    let env = BuildEnv::start();
    let base = &env.base;
    let ctx = Ctx::new(&format!(
        "FROM {base} AS left\n{}\nFROM {base} AS right\n{}\nFROM {base}\nCOPY --from=left /left /left\nCOPY --from=right /right /right\nCMD [\"cat\", \"/left\", \"/right\"]\n",
        rendezvous("left", "right"),
        rendezvous("right", "left"),
    ));
    let tag = "stages/parallel:1";
    env.build_ok(ctx.path(), &["-t", tag]);
    assert_eq!(env.h.hull_ok(&["run", "--rm", tag]), "left\nright\n");
}

#[test]
fn a_failing_stage_stops_the_stages_beside_it() {
    require_root!();
    let env = BuildEnv::start();
    // Pull the base first, so the snapshots before and after compare.
    env.h.hull_ok(&["pull", "-q", &env.base]);
    let before = env.snapshots();
    let base = &env.base;
    // `waits` would wait a minute for a marker nobody writes; `fails`
    // fails once `waits` runs, which stops `waits` and fails the build
    // with its error.
    let ctx = Ctx::new(&format!(
        "FROM {base} AS waits\n{}\nFROM {base} AS fails\n{}\nFROM {base}\nCOPY --from=waits /waits /waits\nCOPY --from=fails /fails /fails\n",
        rendezvous("waits", "nobody"),
        rendezvous("fails", "waits").replace(" && echo fails > /fails", " && echo stage-failed-here && exit 7"),
    ));
    let t0 = std::time::Instant::now();
    let out = env.build(ctx.path(), &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("stage-failed-here"), "{err}");
    assert!(err.contains("returned a non-zero code: 7"), "{err}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(50),
        "the waiting stage was not stopped: {:?}",
        t0.elapsed()
    );
    env.assert_nothing_left(&before);
}
