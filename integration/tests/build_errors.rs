//! `hull build` on bad input (issue 15): a failing RUN (its output, its
//! exit code, hull's non-zero exit, nothing left behind), Dockerfile errors
//! with their line number, missing COPY sources named, and the ways a
//! Dockerfile and a context can be given (`-f` outside the context,
//! `-f -`, a tar or a Dockerfile on stdin, .dockerignore).

mod manager_support;

mod build_support;

use std::io::Write;
use std::process::Stdio;

use build_support::*;
use manager_support::*;

/// The one `Error…` line of a failed build's stderr.
fn error_line(out: &std::process::Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error")).collect();
    assert_eq!(lines.len(), 1, "want one error line: {err}");
    lines[0].to_string()
}

#[test]
fn a_failing_run_shows_its_output_and_exit_code_and_leaves_nothing() {
    require_root!();
    let env = BuildEnv::start();
    // Pull the base first, so the snapshots before and after compare.
    env.h.hull_ok(&["pull", "-q", &env.base]);
    let before = env.snapshots();
    let ctx = Ctx::new(&format!(
        "FROM {base}\nRUN echo preparing > /p\nRUN echo 'about to fail' && echo 'on stderr' >&2 && exit 7\nRUN echo never\n",
        base = env.base
    ));
    for progress in ["plain", "tty"] {
        let out = env
            .h
            .hull_cmd(&[
                "build",
                "--network",
                "none",
                "--progress",
                progress,
                "-t",
                "fail/x:1",
            ])
            .arg(ctx.path())
            .output()
            .unwrap();
        assert_eq!(code(&out), 1, "{progress}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("about to fail"), "{progress}: {err}");
        assert!(err.contains("on stderr"), "{progress}: {err}");
        assert!(!err.contains("never"), "{progress}: {err}");
        let e = error_line(&out);
        assert!(e.contains('7'), "the exit code: {e}");
        assert!(e.contains(":3"), "the Dockerfile line: {e}");
        assert_eq!(stdout(&out), "", "no image id");
    }
    let out = env.build(ctx.path(), &["-q"]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("about to fail"),
        "-q shows the failing step"
    );
    // No image by that name, no container, mount or new snapshot.
    let img = env.h.hull(&["image", "inspect", "fail/x:1"]);
    assert!(!img.status.success());
    let ps = env.h.hull_ok(&["ps", "-a", "-q"]);
    assert_eq!(ps.trim(), "");
    let mounts = hull_integration::cleanup::mounts_under(env.h.dir.path());
    assert!(mounts.is_empty(), "{mounts:?}");
    // The good step before the failing one may stay in the build cache;
    // after a prune, exactly what was there before the failed builds.
    env.h.hull_ok(&["builder", "prune", "-f"]);
    env.assert_nothing_left(&before);
}

#[test]
fn dockerfile_errors_name_their_line() {
    require_root!();
    let env = BuildEnv::start();
    let cases = [
        (
            format!("FROM {}\nRUN true\nFROBNICATE now\n", env.base),
            ":3",
            "FROBNICATE",
        ),
        (
            format!("FROM {}\nCOPY --frmo=x a b\n", env.base),
            ":2",
            "frmo",
        ),
        (
            format!("FROM {}\nCOPY missing.txt /x\n", env.base),
            "",
            "missing.txt",
        ),
        (
            format!("FROM {}\nCOPY ../outside /x\n", env.base),
            "",
            "outside",
        ),
        (
            format!("FROM {}\nCOPY --from=nostage /a /b\n", env.base),
            "",
            "nostage",
        ),
    ];
    for (dockerfile, line, names) in cases {
        let ctx = Ctx::new(&dockerfile);
        let out = env.build(ctx.path(), &[]);
        assert_ne!(code(&out), 0, "{dockerfile}");
        let e = error_line(&out);
        assert!(e.contains(line), "{dockerfile}: {e}");
        assert!(e.contains(names), "{dockerfile}: {e}");
    }
    let ps = env.h.hull_ok(&["ps", "-a", "-q"]);
    assert_eq!(ps.trim(), "");
}

#[test]
fn client_side_errors_are_one_line() {
    require_root!();
    let env = BuildEnv::start();
    let empty = Ctx::new("FROM scratch\n");
    std::fs::remove_file(empty.path().join("Dockerfile")).unwrap();
    for (args, want) in [
        (
            vec!["-f", "/nonexistent/Dockerfile"],
            "cannot locate specified Dockerfile",
        ),
        (vec![], "cannot locate specified Dockerfile"),
        (vec!["--output", "type=tar,dest=x"], "invalid --output"),
        (vec!["-t", "Bad:Tag"], "invalid tag"),
        (vec!["--build-arg", "=x"], "--build-arg"),
    ] {
        let out = env.build(empty.path(), &args);
        assert_ne!(code(&out), 0, "{args:?}");
        let e = error_line(&out);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    let out = env.h.hull(&["build", "/nonexistent/context"]);
    assert_ne!(code(&out), 0);
    assert!(error_line(&out).contains("/nonexistent/context"));
    let out = env.h.hull(&["build", "https://example.com/repo.git"]);
    assert!(error_line(&out).contains("remote build contexts"));
}

#[test]
fn dockerfile_outside_the_context_on_stdin_and_a_tar_context() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new("FROM scratch\n");
    ctx.write("data.txt", "context data\n");
    let dockerfile = format!(
        "FROM {}\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n",
        env.base
    );
    // -f FILE outside the context: its text is sent.
    let elsewhere = tempfile::tempdir().unwrap();
    let df = elsewhere.path().join("Build.dockerfile");
    std::fs::write(&df, &dockerfile).unwrap();
    env.build_ok(
        ctx.path(),
        &["-f", df.to_str().unwrap(), "-t", "in/outside:1"],
    );
    assert_eq!(
        env.h.hull_ok(&["run", "--rm", "in/outside:1"]),
        "context data\n"
    );

    // -f - : the Dockerfile on stdin, the context from the directory.
    let out = pipe(
        &env,
        &["-f", "-", "-t", "in/stdin:1"],
        Some(ctx.path()),
        dockerfile.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        env.h.hull_ok(&["run", "--rm", "in/stdin:1"]),
        "context data\n"
    );

    // A tar context on stdin (Dockerfile inside it).
    ctx.write("Dockerfile", &dockerfile);
    let tar = std::process::Command::new("tar")
        .arg("-C")
        .arg(ctx.path())
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out = pipe(&env, &["-t", "in/tar:1"], None, &tar.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        env.h.hull_ok(&["run", "--rm", "in/tar:1"]),
        "context data\n"
    );
    // The same tar gzipped.
    let gz = std::process::Command::new("tar")
        .arg("-C")
        .arg(ctx.path())
        .args(["-czf", "-", "."])
        .output()
        .unwrap();
    assert!(gz.status.success());
    let out = pipe(&env, &["-t", "in/gz:1"], None, &gz.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.h.hull_ok(&["run", "--rm", "in/gz:1"]), "context data\n");

    // A Dockerfile on stdin, no context: COPY has nothing to copy.
    let simple = format!(
        "FROM {}\nRUN echo no context > /n\nCMD [\"cat\", \"/n\"]\n",
        env.base
    );
    let out = pipe(&env, &["-t", "in/bare:1"], None, simple.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.h.hull_ok(&["run", "--rm", "in/bare:1"]), "no context\n");
    let out = pipe(&env, &[], None, dockerfile.as_bytes());
    assert_ne!(code(&out), 0);
    assert!(error_line(&out).contains("data.txt"));
}

/// `hull build ARGS CONTEXT|-` with `input` on stdin.
fn pipe(
    env: &BuildEnv,
    args: &[&str],
    ctx: Option<&std::path::Path>,
    input: &[u8],
) -> std::process::Output {
    let mut c = env
        .h
        .hull_cmd(&["build", "--progress", "plain", "--network", "none"]);
    c.args(args);
    match ctx {
        Some(p) => c.arg(p),
        None => c.arg("-"),
    };
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn dockerignore_and_symlinks_in_the_context() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        "FROM {}\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"cd /ctx && find . | sort\"]\n",
        env.base
    ));
    ctx.write(".dockerignore", "*.log\n!keep.log\nsecrets/\n**/*.tmp\n")
        .write("app/main.txt", "main\n")
        .write("app/deep/x.tmp", "tmp\n")
        .write("build.log", "log\n")
        .write("keep.log", "keep\n")
        .write("secrets/key", "k\n")
        .symlink("app/main.txt", "link-to-main")
        .symlink("/etc/shadow", "abs-link");
    let tag = "ctx/ignore:1";
    env.build_ok(ctx.path(), &["-t", tag]);
    let out = env.h.hull_ok(&["run", "--rm", tag]);
    // The Dockerfile and .dockerignore are sent (the build needs them);
    // COPY . copies what the context holds.
    let want = ".\n./.dockerignore\n./Dockerfile\n./abs-link\n./app\n./app/deep\n./app/main.txt\n./keep.log\n./link-to-main\n";
    assert_eq!(out, want);
    let scratch = Scratch::new();
    let root = env.rootfs(tag, &scratch.join("img"));
    assert_eq!(
        std::fs::read_link(root.join("ctx/abs-link")).unwrap(),
        std::path::Path::new("/etc/shadow"),
        "a symlink stays a symlink"
    );
    assert_eq!(
        std::fs::read_link(root.join("ctx/link-to-main")).unwrap(),
        std::path::Path::new("app/main.txt")
    );
}

#[test]
fn ctrl_c_during_a_run_step_leaves_nothing() {
    require_root!();
    use std::io::{BufRead, BufReader};
    use std::time::Duration;
    let env = BuildEnv::start();
    env.h.hull_ok(&["pull", "-q", &env.base]);
    let before = env.snapshots();
    let ctx = Ctx::new(&format!(
        "FROM {}\nRUN echo started && sleep 60\n",
        env.base
    ));
    let mut child = env
        .h
        .hull_cmd(&[
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            "-t",
            "int/x:1",
        ])
        .arg(ctx.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The RUN step is running once its output arrives.
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the RUN step did not start");
        if line.ends_with(" started") {
            break;
        }
    }
    signal(child.id(), nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap();
    assert!(!status.success());
    // hulld cancels the build and removes its container and mounts.
    wait_until(
        "the build's container to go",
        Duration::from_secs(20),
        || {
            env.h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty()
                && hull_integration::cleanup::mounts_under(env.h.dir.path()).is_empty()
        },
    );
    assert!(!env
        .h
        .hull(&["image", "inspect", "int/x:1"])
        .status
        .success());
    env.h.hull_ok(&["builder", "prune", "-f"]);
    env.assert_nothing_left(&before);
}
