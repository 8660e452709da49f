//! `hull build`: each Dockerfile instruction, in Dockerfiles of the tests'
//! own, checked in the image's config, its history and its files, and the
//! result run with `hull run` (issue 15).

mod manager_support;

mod build_support;

use build_support::*;
use manager_support::*;

#[test]
fn config_instructions_land_in_the_image_config() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"# a comment
FROM {base}
MAINTAINER someone <someone@example.com>
LABEL org.example.one="1" two=2
ENV GREETING=hello \
    TARGET=world
WORKDIR /srv/app
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD ["/bin/true"]
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
ENTRYPOINT ["/bin/echo"]
CMD ["$GREETING", "from", "exec", "form"]
"#,
        base = env.base
    ));
    let tag = "cfg/instructions:1";
    env.build_ok(ctx.path(), &["-t", tag, "--label", "from.cli=yes"]);
    let c = config(&env.h, tag);
    let env_list: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env_list.contains(&"GREETING=hello"), "{env_list:?}");
    assert!(env_list.contains(&"TARGET=world"), "{env_list:?}");
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "1000:1000");
    assert!(c["ExposedPorts"].get("8080/tcp").is_some(), "{c}");
    assert!(c["ExposedPorts"].get("53/udp").is_some(), "{c}");
    assert!(c["Volumes"].get("/data").is_some(), "{c}");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Labels"]["org.example.one"], "1");
    assert_eq!(c["Labels"]["two"], "2");
    assert_eq!(c["Labels"]["from.cli"], "yes");
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/bin/true"])
    );
    assert_eq!(c["Healthcheck"]["Retries"], 4);
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(c["OnBuild"], serde_json::json!(["RUN echo triggered"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/echo"]));
    // Exec form: no substitution in CMD.
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["$GREETING", "from", "exec", "form"])
    );
    let author = &env.h.inspect(tag)["Author"];
    assert_eq!(author, "someone <someone@example.com>");
}

#[test]
fn run_copy_workdir_and_user_make_files_and_the_result_runs() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"FROM {base}
WORKDIR /work
RUN echo "made by run" > made.txt && mkdir -p /home/u && chown 1000:1000 /home/u
COPY hello.txt ./
COPY dir/ /copied/
COPY --chown=1000:1000 --chmod=600 secret /home/u/secret
ADD archive.tar /unpacked/
USER 1000
RUN id -u > /home/u/whoami
USER root
CMD ["sh", "-c", "cat /work/made.txt /work/hello.txt /copied/a /copied/sub/b /unpacked/inside.txt; stat -c '%u %a' /home/u/secret; cat /home/u/whoami"]
"#,
        base = env.base
    ));
    ctx.write("hello.txt", "hello file\n")
        .write("dir/a", "a\n")
        .write("dir/sub/b", "b\n")
        .write("secret", "s\n");
    // A local tar archive ADD unpacks.
    let mut tar_bytes = Vec::new();
    {
        let inner = tempfile::tempdir().unwrap();
        std::fs::write(inner.path().join("inside.txt"), "from the archive\n").unwrap();
        let out = std::process::Command::new("tar")
            .arg("-C")
            .arg(inner.path())
            .args(["-cf", "-", "inside.txt"])
            .output()
            .unwrap();
        assert!(out.status.success());
        tar_bytes.extend_from_slice(&out.stdout);
    }
    ctx.write_bytes("archive.tar", &tar_bytes);
    let tag = "run/files:1";
    let built = env.build_ok(ctx.path(), &["-t", tag]);
    assert!(
        built
            .progress
            .ran()
            .iter()
            .any(|i| i.starts_with("RUN echo")),
        "{}",
        built.progress.text
    );
    let out = env.h.hull_ok(&["run", "--rm", tag]);
    assert_eq!(
        out,
        "made by run\nhello file\na\nb\nfrom the archive\n1000 600\n1000\n"
    );
}

#[test]
fn heredocs_in_run_and_copy() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        "FROM {base}\nRUN <<EOF\necho one > /h1\necho two >> /h1\nEOF\nCOPY <<EOF /etc/h2\nhello ${{NOT_EXPANDED:-x}}\nEOF\nRUN <<-EOT sh\n\techo tabbed > /h3\n\tEOT\nCMD [\"cat\", \"/h1\", \"/etc/h2\", \"/h3\"]\n",
        base = env.base
    ));
    let tag = "heredoc/x:1";
    env.build_ok(ctx.path(), &["-t", tag]);
    let out = env.h.hull_ok(&["run", "--rm", tag]);
    // COPY <<EOF expands variables like a shell heredoc does: an unset
    // variable with a default gives the default.
    assert_eq!(out, "one\ntwo\nhello x\ntabbed\n");
}

#[test]
fn arg_and_env_substitution_where_docker_substitutes() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"ARG BASE={base}
FROM ${{BASE}}
ARG WHO=nobody
ARG UNSET
ARG FROM_ENV
ENV DIR=/out \
    NAME=${{WHO}}-env
ENV ALT=${{WHO:+set}} DEF=${{UNSET:-fallback}} EMPTYALT=${{UNSET:+never}}
WORKDIR $DIR/${{NAME}}
RUN echo "$WHO $NAME $ALT $DEF [$EMPTYALT] $FROM_ENV" > vars
COPY ${{NAME}}.txt ./
LABEL who=$WHO escaped=\$WHO
CMD cat $DIR/$NAME/vars $DIR/$NAME/$NAME.txt
"#,
        base = env.base
    ));
    ctx.write("alice-env.txt", "the alice file\n");
    let tag = "subst/x:1";
    let out = env
        .h
        .hull_cmd(&[
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            "-t",
            tag,
            "--build-arg",
            "WHO=alice",
            "--build-arg",
            "FROM_ENV",
        ])
        .env("FROM_ENV", "taken-from-env")
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let c = config(&env.h, tag);
    assert_eq!(c["WorkingDir"], "/out/alice-env");
    assert_eq!(c["Labels"]["who"], "alice");
    assert_eq!(c["Labels"]["escaped"], "$WHO");
    // Shell-form CMD keeps its text; the shell expands it at run time.
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "cat $DIR/$NAME/vars $DIR/$NAME/$NAME.txt"])
    );
    let run = env.h.hull_ok(&["run", "--rm", tag]);
    assert_eq!(
        run,
        "alice alice-env set fallback [] taken-from-env\nthe alice file\n"
    );
    // ARG values are not kept in the image's environment.
    let env_list = c["Env"].to_string();
    assert!(!env_list.contains("WHO="), "{env_list}");
}

#[test]
fn history_shows_each_instruction() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        "FROM {base}\nENV A=1\nRUN echo layer > /l\nCOPY f /f\nCMD [\"sh\"]\n",
        base = env.base
    ));
    ctx.write("f", "f");
    let tag = "hist/x:1";
    let built = env.build_ok(ctx.path(), &["-t", tag]);
    let lines = env.h.hull_ok(&["image", "history", "--no-trunc", tag]);
    let rows: Vec<&str> = lines.lines().collect();
    assert!(rows[0].starts_with("IMAGE"), "{lines}");
    // Newest first: CMD, COPY, RUN, ENV, then the base's entries.
    assert!(rows[1].starts_with(&built.id), "{lines}");
    assert!(rows[1].contains("CMD"), "{lines}");
    assert!(rows[2].contains("COPY"), "{lines}");
    assert!(
        rows[3].contains("RUN") && rows[3].contains("echo layer"),
        "{lines}"
    );
    assert!(rows[4].contains("ENV A=1"), "{lines}");
    // Instructions that change no files have no layer.
    assert!(rows[1].contains(" 0B "), "{lines}");
    assert!(!rows[3].contains(" 0B "), "{lines}");
    let q = env.h.hull_ok(&["history", "-q", tag]);
    assert_eq!(q.lines().next().unwrap(), &built.id[7..19]);
    let json = env
        .h
        .hull_ok(&["image", "history", "--format", "json", tag]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(
        first["CreatedBy"].as_str().unwrap().contains("CMD"),
        "{first}"
    );
}

#[test]
fn onbuild_triggers_are_substituted_in_the_child_and_copy_link_copies_alike() {
    require_root!();
    let env = BuildEnv::start();
    let parent = Ctx::new(&format!(
        "FROM {}\nENV APPDIR=sub SRC=file.txt\nONBUILD WORKDIR /app/$APPDIR\nONBUILD COPY ${{SRC}} ./\n",
        env.base
    ));
    env.build_ok(parent.path(), &["-t", "onbuild/parent:1"]);
    // Stored as written, substituted when the child runs it.
    let cfg = config(&env.h, "onbuild/parent:1");
    assert_eq!(
        cfg["OnBuild"],
        serde_json::json!(["WORKDIR /app/$APPDIR", "COPY ${SRC} ./"])
    );
    let child = Ctx::new(
        "FROM onbuild/parent:1\nCOPY --link --chmod=640 file.txt /linked/\nCOPY --chmod=640 file.txt /plain/\n",
    );
    child.write("file.txt", "payload\n");
    let tag = "onbuild/child:1";
    env.build_ok(child.path(), &["-t", tag]);
    let out = env
        .h
        .hull_ok(&["run", "--rm", tag, "sh", "-c", "pwd; cat file.txt"]);
    assert_eq!(out, "/app/sub\npayload\n");
    let scratch = Scratch::new();
    let root = env.rootfs(tag, &scratch.join("img"));
    let linked = tree(&root.join("linked"));
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked, tree(&root.join("plain")));
}

#[test]
fn a_stage_substitutes_with_its_base_images_env() {
    require_root!();
    let env = BuildEnv::start();
    let parent = Ctx::new(&format!(
        "FROM {}\nENV PATH=/usr/sbin:/usr/bin:/bin APPDIR=/srv/base-app\n",
        env.base
    ));
    env.build_ok(parent.path(), &["-t", "baseenv/parent:1"]);
    let parent_path = "/usr/sbin:/usr/bin:/bin";
    // As Docker: the base's ENV is there for substitution (`$PATH` is the
    // base's PATH, not empty), and a stage built on a named stage starts
    // from the environment that stage ended with.
    let child = Ctx::new(
        "FROM baseenv/parent:1 AS first\nENV PATH=/opt/tools:$PATH\nWORKDIR $APPDIR/work\nFROM first\nENV MARK=${APPDIR}-second\n",
    );
    let tag = "baseenv/child:1";
    env.build_ok(child.path(), &["-t", tag]);
    let c = config(&env.h, tag);
    assert_eq!(c["WorkingDir"], "/srv/base-app/work", "{c}");
    let env_list: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let want_path = format!("PATH=/opt/tools:{parent_path}");
    assert!(env_list.contains(&want_path.as_str()), "{env_list:?}");
    assert!(
        env_list.contains(&"MARK=/srv/base-app-second"),
        "{env_list:?}"
    );
}
