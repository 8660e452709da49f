//! `hull build` beside `buildah bud` (issue 15): the same Dockerfile and
//! context built by both, each image read back with skopeo and unpacked by
//! umoci, the root filesystems compared (paths, modes, owners, symlink
//! targets, contents). Also: the result pushed to a registry and read by
//! skopeo, and `--output`/`--iidfile`.

mod manager_support;

mod build_support;

use std::process::Command;

use build_support::*;
use manager_support::*;

/// Builds `ctx` with hull and with buildah and compares the trees.
fn same_as_buildah(env: &BuildEnv, ctx: &Ctx, name: &str, extra: &[&str]) {
    let tag = format!("compat/{name}:1");
    let scratch = Scratch::new();
    let buildah = Buildah::new();
    buildah.bud(ctx.path(), &tag, extra);
    let theirs = buildah.rootfs(&tag, &scratch.join("buildah"));
    let mut args = vec!["-t", tag.as_str()];
    args.extend_from_slice(extra);
    env.build_ok(ctx.path(), &args);
    let ours = env.rootfs(&tag, &scratch.join("hull"));
    assert_same_tree(&ours, &theirs);
}

#[test]
fn compat_run_made_files_modes_owners_and_symlinks() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"FROM {base}
RUN mkdir -p /out/d && echo hi > /out/a && chmod 640 /out/a \
 && chown 12:34 /out/a && ln -s /out/a /out/abs && ln -s a /out/rel \
 && chmod 1777 /out/d && mkdir -m 0700 /out/private && echo x > /out/private/x \
 && rm -f /bin/vi && echo gone > /tmp-file && rm /tmp-file
RUN echo second >> /out/a && rm /out/rel && mkdir /out/rel
"#,
        base = env.base
    ));
    same_as_buildah(&env, &ctx, "run", &[]);
}

#[test]
fn compat_copy_rules_for_files_dirs_globs_and_slashes() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"FROM {base}
COPY one.txt /dst/file-renamed
COPY one.txt two.txt /dst/many/
COPY dir /dst/dir-contents
COPY dir/ /dst/dir-slash/
COPY *.txt /dst/glob/
COPY dir/sub /dst/
COPY exec.sh /dst/exec.sh
COPY link /dst/link
WORKDIR /rel
COPY one.txt relative/
"#,
        base = env.base
    ));
    ctx.write("one.txt", "one\n")
        .write("two.txt", "two\n")
        .write("dir/a", "a\n")
        .write("dir/sub/b", "b\n")
        .write("exec.sh", "#!/bin/sh\necho run\n")
        .chmod("exec.sh", 0o750)
        .chmod("dir/a", 0o604)
        .symlink("one.txt", "link");
    same_as_buildah(&env, &ctx, "copy", &[]);
}

#[test]
fn compat_add_archives_with_a_root_entry() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        "FROM {}\nADD layer.tar /extracted/\nADD layer.tar.gz /extracted-gz/\n",
        env.base
    ));
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("t/inner")).unwrap();
    std::fs::write(src.path().join("t/inner/f"), "in the tar\n").unwrap();
    std::os::unix::fs::symlink("inner/f", src.path().join("t/l")).unwrap();
    for (name, flags) in [("layer.tar", "-cf"), ("layer.tar.gz", "-czf")] {
        let out = Command::new("tar")
            .arg("-C")
            .arg(src.path().join("t"))
            .args(["--owner=3", "--group=4", flags])
            .arg(ctx.path().join(name))
            .arg(".")
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    same_as_buildah(&env, &ctx, "chown", &[]);
}

#[test]
fn compat_multi_stage_with_copy_from() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"FROM {base} AS build
WORKDIR /src
COPY src/ .
RUN mkdir -p /artifacts && cat *.in > /artifacts/joined && chmod 711 /artifacts \
 && ln -s joined /artifacts/latest

FROM {base}
COPY --from=build /artifacts /opt/artifacts
COPY --from=build /src/a.in /opt/a.in
RUN rm -r /usr 2>/dev/null; echo final > /final
"#,
        base = env.base
    ));
    ctx.write("src/a.in", "A\n").write("src/b.in", "B\n");
    same_as_buildah(&env, &ctx, "stages", &[]);
}

#[test]
fn compat_args_env_workdir_whiteouts_and_opaque_dirs() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"ARG BASE={base}
FROM $BASE
ARG DIR=/default
ARG MODE=600
ENV SUB=${{DIR}}/sub
WORKDIR $SUB
RUN echo "$DIR $SUB" > where && chmod $MODE where
COPY --chmod=0755 script /usr/local/bin/script
RUN mkdir -p /opq/sub && echo x > /opq/sub/f && echo y > /opq/g
RUN rm -rf /opq && mkdir /opq && echo replaced > /opq/only && rm /bin/sed
"#,
        base = env.base
    ));
    ctx.write("script", "#!/bin/sh\n");
    same_as_buildah(
        &env,
        &ctx,
        "args",
        &["--build-arg", "DIR=/given", "--build-arg", "MODE=604"],
    );
}

#[test]
fn the_result_runs_is_pushed_and_read_by_skopeo_and_umoci() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        "FROM {}\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n",
        env.base
    ));
    let scratch = Scratch::new();
    let iid = scratch.join("iid");
    let oci = scratch.join("out-oci.tar");
    let docker = scratch.join("out-docker.tar");
    let remote = env.reg.reference("pushed/app:1");
    let built = env.build_ok(
        ctx.path(),
        &[
            "-t",
            &remote,
            "-t",
            "local/app:1",
            "--iidfile",
            iid.to_str().unwrap(),
            "--output",
            &format!("type=oci,dest={}", oci.display()),
        ],
    );
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), built.id);
    assert_eq!(env.h.hull_ok(&["run", "--rm", "local/app:1"]), "built\n");
    assert_eq!(env.h.inspect("local/app:1")["Id"], built.id);

    // --output type=oci: an OCI archive skopeo reads.
    let info = sh(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci-archive:{}", oci.display())));
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 2, "{info}");

    // type=docker: a docker-archive skopeo reads, same config.
    env.build_ok(
        ctx.path(),
        &[
            "-t",
            "local/app:2",
            "--output",
            &format!("type=docker,dest={}", docker.display()),
        ],
    );
    let cfg = sh(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("docker-archive:{}", docker.display())));
    let cfg: serde_json::Value = serde_json::from_slice(&cfg.stdout).unwrap();
    assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["cat", "/built"]));

    // Pushed, then read back by skopeo from the registry and unpacked by umoci.
    env.h.hull_ok(&["push", "-q", &remote]);
    let layout = scratch.join("pulled");
    sh(Command::new("skopeo")
        .args(["copy", "--quiet", "--src-tls-verify=false"])
        .arg(format!("docker://{remote}"))
        .arg(format!("oci:{}:app", layout.display())));
    let rootfs = umoci_unpack(&layout, "app", &scratch.join("bundle"));
    assert_eq!(
        std::fs::read_to_string(rootfs.join("built")).unwrap(),
        "built\n"
    );
    assert!(rootfs.join("bin/busybox").exists());
}

#[test]
fn compat_chown_and_add_archive_entries() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"FROM {base}
COPY --chown=1000:1000 owned /owned
COPY --chown=7 dir /chowned-dir
COPY --chown=5:6 dir/ /into-existing/
ADD plain.txt /added/plain.txt
ADD entries.tar /extracted/
"#,
        base = env.base
    ));
    ctx.write("owned", "mine\n")
        .write("dir/a", "a\n")
        .write("dir/sub/b", "b\n")
        .write("plain.txt", "plain\n");
    // An archive without a ./ entry: its entries keep their owners and modes.
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("inner")).unwrap();
    std::fs::write(src.path().join("inner/f"), "in the tar\n").unwrap();
    std::os::unix::fs::symlink("inner/f", src.path().join("l")).unwrap();
    let out = Command::new("tar")
        .arg("-C")
        .arg(src.path())
        .args(["--owner=3", "--group=4", "--mode=go-w", "-cf"])
        .arg(ctx.path().join("entries.tar"))
        .args(["inner", "l"])
        .output()
        .unwrap();
    assert!(out.status.success());
    same_as_buildah(&env, &ctx, "entries", &[]);
}

#[test]
fn compat_special_bits_hardlinks_and_replaced_entries() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        r#"FROM {base}
RUN mkdir -p /s/empty /s/dir && echo x > /s/setuid && chmod 4755 /s/setuid \
 && echo y > /s/setgid && chmod 2710 /s/setgid && chmod 1770 /s/dir \
 && echo shared > /s/orig && ln /s/orig /s/hard && ln -s /s/dir /s/link \
 && echo z > /s/dir/z && chown -R 21:22 /s/dir
RUN rm /s/link && mkdir /s/link && echo now-a-dir > /s/link/f \
 && rm -r /s/dir && echo now-a-file > /s/dir && rm /bin/ls && ln -s busybox /bin/dir-list
"#,
        base = env.base
    ));
    same_as_buildah(&env, &ctx, "bits", &[]);
}
