//! `hull build`'s layer cache (issue 15): an unchanged rebuild runs
//! nothing and gives the same image; a context change rebuilds exactly the
//! steps from the first one it touches; timestamps and ignored files do not
//! count; `--no-cache`, `hull builder prune` and a hulld restart.

mod manager_support;

mod build_support;

use std::time::{Duration, SystemTime};

use build_support::*;

/// Each RUN appends a line to /log, so a step that ran again shows.
fn six_steps(base: &str) -> String {
    format!(
        "FROM {base}\n\
         RUN echo step-a >> /log\n\
         COPY first.txt /first.txt\n\
         RUN echo step-b >> /log\n\
         COPY second.txt /second.txt\n\
         RUN echo step-c >> /log\n\
         CMD [\"cat\", \"/log\", \"/first.txt\", \"/second.txt\"]\n"
    )
}

#[test]
fn an_unchanged_rebuild_runs_nothing_and_gives_the_same_image() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&six_steps(&env.base));
    ctx.write("first.txt", "1\n").write("second.txt", "2\n");
    let cold = env.build_ok(ctx.path(), &["-t", "cache/same:1"]);
    assert_eq!(
        cold.progress.ran_steps().len(),
        6,
        "a cold build runs every step: {}",
        cold.progress.text
    );
    let warm = env.build_ok(ctx.path(), &["-t", "cache/same:2"]);
    assert_eq!(
        warm.progress.ran_steps(),
        Vec::<String>::new(),
        "{}",
        warm.progress.text
    );
    assert_eq!(warm.id, cold.id, "the same inputs give the same image");
    // A RUN that ran again would have appended to /log.
    let out = env.h.hull_ok(&["run", "--rm", "cache/same:2"]);
    assert_eq!(out, "step-a\nstep-b\nstep-c\n1\n2\n");

    // Timestamps of the context do not count, nor files .dockerignore leaves out.
    let old = SystemTime::now() - Duration::from_secs(3600);
    let f = std::fs::File::options()
        .write(true)
        .open(ctx.path().join("first.txt"))
        .unwrap();
    f.set_modified(old).unwrap();
    ctx.write(".dockerignore", "ignored/\n")
        .write("ignored/noise", "changes every time\n");
    let touched = env.build_ok(ctx.path(), &[]);
    assert_eq!(
        touched.progress.ran_steps(),
        Vec::<String>::new(),
        "{}",
        touched.progress.text
    );
    assert_eq!(touched.id, cold.id);
}

#[test]
fn a_context_change_rebuilds_exactly_the_steps_after_it() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&six_steps(&env.base));
    ctx.write("first.txt", "1\n").write("second.txt", "2\n");
    let cold = env.build_ok(ctx.path(), &[]);

    ctx.write("second.txt", "2 changed\n");
    let b = env.build_ok(ctx.path(), &["-t", "cache/second:1"]);
    // (hulld shows exec-form JSON compacted, so CMD is matched by its start.)
    let ran = b.progress.ran_steps();
    assert_eq!(ran.len(), 3, "{}", b.progress.text);
    assert_eq!(ran[0], "COPY second.txt /second.txt");
    assert_eq!(ran[1], "RUN echo step-c >> /log");
    assert!(ran[2].starts_with("CMD "), "{}", b.progress.text);
    assert!(
        b.progress
            .cached()
            .iter()
            .any(|i| i == "RUN echo step-b >> /log"),
        "{}",
        b.progress.text
    );
    assert_ne!(b.id, cold.id);
    let out = env.h.hull_ok(&["run", "--rm", "cache/second:1"]);
    assert_eq!(out, "step-a\nstep-b\nstep-c\n1\n2 changed\n");

    // A change of mode alone is a change too.
    ctx.chmod("first.txt", 0o600);
    let c = env.build_ok(ctx.path(), &[]);
    let ran = c.progress.ran_steps();
    assert_eq!(
        ran.first().map(String::as_str),
        Some("COPY first.txt /first.txt"),
        "{}",
        c.progress.text
    );
    assert_eq!(ran.len(), 5, "{}", c.progress.text);
}

#[test]
fn a_dockerfile_edit_rebuilds_from_the_edited_line() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&six_steps(&env.base));
    ctx.write("first.txt", "1\n").write("second.txt", "2\n");
    env.build_ok(ctx.path(), &[]);
    ctx.write(
        "Dockerfile",
        &six_steps(&env.base).replace("echo step-b", "echo step-B"),
    );
    let b = env.build_ok(ctx.path(), &[]);
    assert_eq!(
        b.progress.ran_steps().first().map(String::as_str),
        Some("RUN echo step-B >> /log"),
        "{}",
        b.progress.text
    );
    assert_eq!(b.progress.ran_steps().len(), 4, "{}", b.progress.text);
    // A build arg changes the key of the steps that use it.
    ctx.write(
        "Dockerfile",
        &six_steps(&env.base).replace("RUN echo step-c", "ARG V=1\nRUN echo step-c-$V"),
    );
    env.build_ok(ctx.path(), &["--build-arg", "V=1"]);
    let v2 = env.build_ok(ctx.path(), &["--build-arg", "V=2"]);
    // (RUN's text is not substituted: the shell expands $V. An ARG step
    // may show as run, its value having changed.)
    let first: Vec<String> = v2
        .progress
        .ran_steps()
        .into_iter()
        .filter(|i| !i.starts_with("ARG "))
        .collect();
    assert!(
        first
            .first()
            .is_some_and(|i| i.starts_with("RUN echo step-c-")),
        "{}",
        v2.progress.text
    );
    assert_eq!(
        first.len(),
        2,
        "the RUN using V and CMD: {}",
        v2.progress.text
    );
}

#[test]
fn no_cache_prune_and_a_hulld_restart() {
    require_root!();
    let mut env = BuildEnv::start();
    let ctx = Ctx::new(&six_steps(&env.base));
    ctx.write("first.txt", "1\n").write("second.txt", "2\n");
    env.build_ok(ctx.path(), &[]);

    let no_cache = env.build_ok(ctx.path(), &["--no-cache"]);
    assert_eq!(
        no_cache.progress.ran_steps().len(),
        6,
        "{}",
        no_cache.progress.text
    );

    // The cache survives a hulld restart.
    env.h.stop();
    env.h.spawn();
    let after_restart = env.build_ok(ctx.path(), &[]);
    assert_eq!(
        after_restart.progress.ran_steps(),
        Vec::<String>::new(),
        "{}",
        after_restart.progress.text
    );

    let pruned = env.h.hull_ok(&["builder", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    let records: u64 = pruned
        .lines()
        .find_map(|l| l.strip_prefix("Deleted build cache records: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(records > 0, "prune removed no records: {pruned}");
    let cold_again = env.build_ok(ctx.path(), &[]);
    assert_eq!(
        cold_again.progress.ran_steps().len(),
        6,
        "{}",
        cold_again.progress.text
    );
}
