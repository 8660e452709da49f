//! Conformance cases: hooks.

use super::*;

pub(crate) fn host_hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

pub(crate) fn log_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Bundle with a host dir `m` bound at /m and a hook of each kind that
/// appends its name to m/log and saves its stdin to m/<kind>.json.
pub(crate) fn hooks_bundle(tag: &str, args: &[&str]) -> (Bundle, PathBuf) {
    let mut b = Bundle::new(tag, args);
    let m = b.host_dir("m");
    let hm = m.display().to_string();
    b.add_bind(&m, "/m", false);
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        b.add_hook(
            kind,
            host_hook(&format!("cat > {hm}/{kind}.json; echo {kind} >> {hm}/log")),
        );
    }
    // Runs in the container's namespaces: write via either path.
    b.add_hook(
        "createContainer",
        host_hook(&format!(
            "if [ -d {hm} ]; then d={hm}; else d=/m; fi; cat > $d/createContainer.json; echo createContainer >> $d/log"
        )),
    );
    // Path resolves in the container: the rootfs's busybox sh.
    b.add_hook(
        "startContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", "cat > /m/startContainer.json; echo startContainer >> /m/log"]}),
    );
    b.config_mut()["annotations"] = json!({"org.hull.test": "hooks"});
    b.write().unwrap();
    (b, m)
}

pub(crate) fn hooks_order(bin: &Path) -> R {
    let (b, m) = hooks_bundle("hookorder", &["/bin/sleep", "1000"]);
    let log = m.join("log");
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let got = log_lines(&log);
    ensure!(
        got == ["prestart", "createRuntime", "createContainer"],
        "after create: {got:?}"
    );
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    let want = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
    ];
    // poststart MUST run before `start` returns.
    let got = log_lines(&log);
    ensure!(got == want, "after start: {got:?}");
    ensure!(rt.kill(id, "KILL").status.success(), "kill failed");
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let got = log_lines(&log);
    ensure!(got == want, "before delete: {got:?}");
    let d = rt.delete(id);
    ensure!(d.status.success(), "delete: {}", short(&d));
    let got = log_lines(&log);
    ensure!(
        got.last().map(String::as_str) == Some("poststop") && got.len() == 6,
        "after delete: {got:?}"
    );
    Ok(())
}

pub(crate) fn hook_states(m: &Path) -> Result<Vec<(String, Value)>, String> {
    let mut v = Vec::new();
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let p = m.join(format!("{kind}.json"));
        let text = fs::read_to_string(&p).map_err(|e| format!("{kind}: no state ({e})"))?;
        let j: Value =
            serde_json::from_str(&text).map_err(|e| format!("{kind}: not JSON ({e}): {text:?}"))?;
        v.push((kind.to_string(), j));
    }
    Ok(v)
}

pub(crate) fn run_hooks_lifecycle(bin: &Path, b: &Bundle) -> R {
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(rt.kill(id, "KILL").status.success(), "kill failed");
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let d = rt.delete(id);
    ensure!(d.status.success(), "delete: {}", short(&d));
    Ok(())
}

pub(crate) fn hooks_state_stdin(bin: &Path) -> R {
    let (b, m) = hooks_bundle("hookstdin", &["/bin/sleep", "1000"]);
    run_hooks_lifecycle(bin, &b)?;
    let bundle = b.dir().display().to_string();
    for (kind, j) in hook_states(&m)? {
        ensure!(j["id"] == b.id(), "{kind}: id {}", j["id"]);
        ensure!(
            j["bundle"] == bundle.as_str(),
            "{kind}: bundle {}",
            j["bundle"]
        );
        ensure!(
            j["ociVersion"]
                .as_str()
                .map(|s| !s.is_empty())
                .unwrap_or(false),
            "{kind}: ociVersion {}",
            j["ociVersion"]
        );
        ensure!(j["status"].is_string(), "{kind}: status {}", j["status"]);
        ensure!(
            j["annotations"]["org.hull.test"] == "hooks",
            "{kind}: annotations {}",
            j["annotations"]
        );
        if kind != "poststop" {
            ensure!(
                j["pid"].as_i64().map(|p| p > 0).unwrap_or(false),
                "{kind}: pid {}",
                j["pid"]
            );
        }
    }
    Ok(())
}

pub(crate) fn hooks_state_status(bin: &Path) -> R {
    let (b, m) = hooks_bundle("hookstatus", &["/bin/sleep", "1000"]);
    run_hooks_lifecycle(bin, &b)?;
    let want = [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ];
    let got: Vec<(String, String)> = hook_states(&m)?
        .into_iter()
        .map(|(k, j)| (k, j["status"].as_str().unwrap_or("?").to_string()))
        .collect();
    let bad: Vec<String> = got
        .iter()
        .zip(want)
        .filter(|((_, g), (_, w))| g != w)
        .map(|((k, g), (_, w))| format!("{k}={g} (want {w})"))
        .collect();
    ensure!(bad.is_empty(), "{}", bad.join(", "));
    Ok(())
}

pub(crate) fn hooks_args_env(bin: &Path) -> R {
    let mut b = Bundle::new("hookargs", &["/bin/true"]);
    let m = b.host_dir("m");
    let out = m.join("out");
    b.add_hook(
        "createRuntime",
        json!({"path": "/bin/sh",
               "args": ["sh", "-c", format!("echo \"$0|$1|$X|$PATH\" > {}", out.display()), "zero", "one"],
               "env": ["X=ex", "PATH=/hookpath"]}),
    );
    b.write().unwrap();
    run_ok(bin, &b)?;
    let got = read(&out);
    ensure!(got == "zero|one|ex|/hookpath", "hook saw {got:?}");
    Ok(())
}

/// Hook `kind` fails: the lifecycle MUST error and stop; the program never runs.
pub(crate) fn hook_fails(bin: &Path, kind: &str, at_start: bool) -> R {
    let mut b = Bundle::new(
        &format!("hf{}", &kind[..4]),
        &["/bin/sh", "-c", "echo ran > /m/ran; exec sleep 1000"],
    );
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    let hook = if kind == "startContainer" {
        json!({"path": "/bin/false"})
    } else {
        host_hook("exit 3")
    };
    b.add_hook(kind, hook);
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    if !at_start {
        ensure!(
            !o.status.success(),
            "create succeeded despite a failing {kind} hook"
        );
    } else {
        ensure!(o.status.success(), "create: {}", short(&o));
        let s = rt.start(id);
        // "generate an error": runc-style runtimes run startContainer in
        // the init after `start` returned; then the error must at least be
        // reported on the container's stderr (the runtime's log).
        if s.status.success() {
            let reported = wait_until(T10, || {
                !fs::read_to_string(Runtime::stderr_path(&b, id))
                    .unwrap_or_default()
                    .trim()
                    .is_empty()
            });
            ensure!(
                reported,
                "start succeeded and no error was reported for the failing {kind} hook"
            );
        }
        // "stop the container": it must end up stopped (or be gone).
        let st = rt.status(id);
        ensure!(
            st.is_none() || st.as_deref() == Some("stopped") || rt.wait_status(id, "stopped", T10),
            "container not stopped after failing {kind}: {st:?}"
        );
        let _ = rt.delete(id);
    }
    ensure!(!m.join("ran").exists(), "the user program ran");
    ensure!(
        rt.status(id).is_none(),
        "container still known: {:?}",
        rt.status(id)
    );
    let mut last = Vec::new();
    ensure!(
        wait_until(Duration::from_secs(5), || {
            last = rt.leftovers(id, &b);
            last.is_empty()
        }),
        "left behind: {last:?}"
    );
    Ok(())
}

pub(crate) fn hooks_prestart_fail(bin: &Path) -> R {
    hook_fails(bin, "prestart", false)
}

pub(crate) fn hooks_create_runtime_fail(bin: &Path) -> R {
    hook_fails(bin, "createRuntime", false)
}

pub(crate) fn hooks_create_container_fail(bin: &Path) -> R {
    hook_fails(bin, "createContainer", false)
}

pub(crate) fn hooks_start_container_fail(bin: &Path) -> R {
    hook_fails(bin, "startContainer", true)
}

/// runtime-spec 1.0.2: a failing poststart hook is a warning and the
/// container keeps running; 1.1+: `start` generates an error and the
/// container is stopped. Either is accepted; anything else is not (e.g.
/// running poststart during `create`).
pub(crate) fn hooks_poststart_fail(bin: &Path) -> R {
    let mut b = Bundle::sh("hfpost", "echo ran > /m/ran; exec sleep 1000");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.add_hook("poststart", host_hook("exit 3"));
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let s = rt.start(id);
    if s.status.success() {
        ensure!(wait_file(&m.join("ran"), T10), "program did not run");
        ensure!(
            rt.status(id).as_deref() == Some("running"),
            "start succeeded (1.0.2 semantics) but status is {:?}",
            rt.status(id)
        );
    } else {
        let st = rt.status(id);
        ensure!(
            st.is_none() || rt.wait_status(id, "stopped", T10),
            "start failed (1.1 semantics) but the container was not stopped: {st:?}"
        );
    }
    Ok(())
}

pub(crate) fn hooks_failed_create_runs_poststop(bin: &Path) -> R {
    let mut b = Bundle::new("hfpoststop", &["/bin/true"]);
    let m = b.host_dir("m");
    b.add_hook("createRuntime", host_hook("exit 3"));
    b.add_hook(
        "poststop",
        host_hook(&format!("echo poststop >> {}/log", m.display())),
    );
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(
        !o.status.success(),
        "create succeeded despite a failing createRuntime hook"
    );
    // The failed create may leave a stopped container to delete.
    if rt.status(id).is_some() {
        let _ = rt.delete(id);
    }
    ensure!(
        log_lines(&m.join("log")) == ["poststop"],
        "poststop hooks did not run once after the failed create: {:?}",
        log_lines(&m.join("log"))
    );
    Ok(())
}

pub(crate) fn hooks_poststop_fail_warns(bin: &Path) -> R {
    let mut b = Bundle::new("hfstop", &["/bin/true"]);
    b.add_hook("poststop", host_hook("exit 3"));
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let d = rt.delete(id);
    ensure!(
        d.status.success(),
        "delete failed on a failing poststop: {}",
        short(&d)
    );
    ensure!(rt.status(id).is_none(), "still known after delete");
    Ok(())
}

pub(crate) fn hooks_timeout(bin: &Path) -> R {
    let mut b = Bundle::new("htime", &["/bin/true"]);
    let mut h = host_hook("exec sleep 30");
    h["timeout"] = json!(1);
    b.add_hook("createRuntime", h);
    b.write().unwrap();
    let t0 = Instant::now();
    let r = expect_refused(bin, &b, false);
    ensure!(
        t0.elapsed() < Duration::from_secs(20),
        "hook not aborted after its timeout: {:?}",
        t0.elapsed()
    );
    r
}

pub(crate) fn hooks_namespaces(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "hookns",
        "readlink /proc/self/ns/mnt > /m/container; exec sleep 1000",
    );
    let m = b.host_dir("m");
    let hm = m.display().to_string();
    b.add_bind(&m, "/m", false);
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        b.add_hook(
            kind,
            host_hook(&format!("readlink /proc/self/ns/mnt > {hm}/{kind}")),
        );
    }
    b.add_hook(
        "createContainer",
        host_hook(&format!(
            "if [ -d {hm} ]; then d={hm}; else d=/m; fi; readlink /proc/self/ns/mnt > $d/createContainer"
        )),
    );
    b.add_hook(
        "startContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", "readlink /proc/self/ns/mnt > /m/startContainer"]}),
    );
    b.write().unwrap();
    run_hooks_lifecycle(bin, &b)?;
    let host = host_ns("mnt");
    let ctr = read(m.join("container"));
    ensure!(
        ctr != host && ctr.starts_with("mnt:"),
        "container mnt ns {ctr}"
    );
    let mut bad = Vec::new();
    for (kind, want, what) in [
        ("prestart", &host, "runtime"),
        ("createRuntime", &host, "runtime"),
        ("createContainer", &ctr, "container"),
        ("startContainer", &ctr, "container"),
        ("poststart", &host, "runtime"),
        ("poststop", &host, "runtime"),
    ] {
        let got = read(m.join(kind));
        if &got != want {
            bad.push(format!(
                "{kind} ran in {got} (want the {what} namespace {want})"
            ));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("; "));
    Ok(())
}

pub(crate) fn hook_create_container_cwd(bin: &Path) -> R {
    let b = sh("hookcwd", "true", |_| {});
    let out = b.dir().join("hook-cwd");
    let mut b = b;
    b.add_hook(
        "createContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!("pwd > {}", out.display())]}),
    );
    b.write().map_err(|e| e.to_string())?;
    run_ok(bin, &b)?;
    let cwd = fs::read_to_string(&out).map_err(|e| e.to_string())?;
    let rootfs = fs::canonicalize(b.rootfs()).map_err(|e| e.to_string())?;
    ensure!(Path::new(cwd.trim()) == rootfs, "hook cwd {cwd:?}");
    Ok(())
}
