//! `hull run --init` through the OCI spec alone: hulld bind-mounts
//! hull-init at /sbin/hull-init and makes it the container's process, with
//! the program its child. The same checks run with the shim driving hullc
//! and driving runc: no runtime knows anything of hull's.

mod manager_support;

use std::path::Path;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// A registry with a busybox image (Cmd /bin/sh); the image's reference.
fn setup_image() -> (Registry, Layout, String) {
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("ctr/busybox:v1");
    l.push("bb", &image, &[]);
    (reg, l, image)
}

/// A directory with hulld and the binaries it starts, where `hullc` is
/// the host's runc: hulld hands the shim that binary as its runtime.
fn bins_with_runc() -> tempfile::TempDir {
    let runc = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("runc is installed (scripts/deps.sh test)");
    let bins = bin_dir_with(&[
        "hulld",
        "hull",
        "containerd-shim-hull-v2",
        "hull-log-driver",
        "hull-init",
    ]);
    std::os::unix::fs::symlink(runc, bins.path().join("hullc")).unwrap();
    bins
}

fn exit_code(h: &Hulld, name: &str) -> i64 {
    let v: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["inspect", name])).expect("inspect JSON");
    v[0]["State"]["ExitCode"].as_i64().unwrap_or(-1)
}

/// What `--init` must do, whichever runtime the shim drives.
fn check_init(h: &Hulld, image: &str, runtime: &str) {
    h.hull_ok(&["pull", "-q", image]);

    // PID 1 is hull-init, from the bind mount; the program is its child.
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "--init",
        image,
        "sh",
        "-c",
        "echo $$; echo $PPID; cat /proc/1/comm; \
         tr '\\0' ' ' </proc/1/cmdline; echo",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{runtime}: {out}");
    assert_ne!(lines[0], "1", "{runtime}: the program is PID 1: {out}");
    assert_eq!(lines[1], "1", "{runtime}: the program's parent: {out}");
    assert_eq!(lines[2], "hull-init", "{runtime}: PID 1: {out}");
    assert_eq!(
        lines[3].trim_end(),
        "/sbin/hull-init -- sh -c echo $$; echo $PPID; cat /proc/1/comm; \
         tr '\\0' ' ' </proc/1/cmdline; echo",
        "{runtime}: {out}"
    );

    // An orphan is reparented to hull-init and reaped when it exits: its
    // /proc entry goes (a zombie keeps it), within 10 s.
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "--init",
        image,
        "sh",
        "-c",
        "o=$(sh -c 'sleep 0.3 >/dev/null 2>&1 & echo $!'); \
         grep PPid /proc/$o/status | cut -f2; \
         i=0; while [ -e /proc/$o ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
         if [ -e /proc/$o ]; then grep State /proc/$o/status; else echo reaped; fi",
    ]);
    assert_eq!(out.trim(), "1\nreaped", "{runtime}: the orphan: {out}");

    // `sleep` as PID 1 ignores SIGTERM (stop would end in SIGKILL, 137);
    // under hull-init the TERM reaches it and it dies of it (143).
    let name = format!("init-stop-{runtime}");
    h.hull_ok(&[
        "run", "-d", "--name", &name, "--init", image, "sleep", "600",
    ]);
    // `ps` shows the program as Docker does, without the init.
    let ps = h.hull_ok(&["ps", "--no-trunc", "--filter", &format!("name={name}")]);
    assert!(ps.contains("\"sleep 600\""), "{runtime}: {ps}");
    assert!(!ps.contains("hull-init"), "{runtime}: {ps}");
    h.hull_ok(&["stop", "-t", "30", &name]);
    assert_eq!(exit_code(h, &name), 143, "{runtime}");
    h.hull_ok(&["rm", &name]);

    // Exit codes pass through, as 128+N for a signal.
    let o = h.hull(&["run", "--rm", "--init", image, "sh", "-c", "exit 7"]);
    assert_eq!(code(&o), 7, "{runtime}: {}", stderr(&o));
    let o = h.hull(&["run", "--rm", "--init", image, "sh", "-c", "kill -KILL $$"]);
    assert_eq!(code(&o), 137, "{runtime}: {}", stderr(&o));
    // A program that is not there: the shell's 127, and hull-init says why.
    let o = h.hull(&["run", "--rm", "--init", image, "no-such-program"]);
    assert_eq!(code(&o), 127, "{runtime}: {}", stderr(&o));
    assert!(
        stderr(&o).contains("hull-init: exec no-such-program"),
        "{runtime}: {}",
        stderr(&o)
    );
}

#[test]
fn init_is_pid_1_forwards_signals_reaps_and_passes_the_exit_code_with_hullc() {
    require_root!();
    let (_reg, _l, image) = setup_image();
    let h = Hulld::start();
    let _cleanup = Containers::of(&h);
    check_init(&h, &image, "hullc");
}

#[test]
fn init_is_pid_1_forwards_signals_reaps_and_passes_the_exit_code_with_runc() {
    require_root!();
    let (_reg, _l, image) = setup_image();
    let bins = bins_with_runc();
    let h = Hulld::start_in("", Some(bins.path().to_path_buf()));
    let _cleanup = Containers::of(&h);
    check_init(&h, &image, "runc");
}

#[test]
fn init_spec_is_plain_oci() {
    require_root!();
    let (_reg, _l, image) = setup_image();
    let h = Hulld::start();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    h.hull_ok(&["create", "--name", "init-spec", "--init", &image, "true"]);
    let inspect: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["inspect", "init-spec"])).expect("inspect JSON");
    let id = inspect[0]["Id"].as_str().expect("an Id").to_string();
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            h.state
                .join("containers/default")
                .join(&id)
                .join("config.json"),
        )
        .expect("the bundle's config.json"),
    )
    .unwrap();
    assert_eq!(
        spec["process"]["args"],
        serde_json::json!(["/sbin/hull-init", "--", "true"])
    );
    let init_mount = spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/sbin/hull-init")
        .expect("a mount at /sbin/hull-init");
    assert_eq!(
        Path::new(init_mount["source"].as_str().unwrap()),
        hull_integration::bin_path("hull-init")
            .canonicalize()
            .unwrap()
    );
    let opts = init_mount["options"].as_array().unwrap();
    assert!(opts.iter().any(|o| o == "ro"), "{init_mount}");
    let annotations = spec["annotations"].as_object().cloned().unwrap_or_default();
    assert!(
        !annotations.keys().any(|k| k == "io.hull.init"),
        "{annotations:?}"
    );
    h.hull_ok(&["rm", "init-spec"]);
}
