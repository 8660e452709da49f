//! Conformance cases: runc's command-line contract (not the OCI spec; what shims rely on).

use super::*;

pub(crate) fn cli_exec(bin: &Path) -> R {
    let b = sh("cliexec", "exec sleep 1000", |b| {
        b.config_mut()["hostname"] = json!("exec-host")
    });
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&[
            "exec",
            b.id(),
            "sh",
            "-c",
            "hostname; cat /proc/1/comm; exit 7",
        ]);
        ensure!(o.status.code() == Some(7), "exit code: {}", short(&o));
        expect_lines(&stdout_of(&o), &["exec-host", "sleep"])
    })
}

pub(crate) fn cli_ps(bin: &Path) -> R {
    let b = sh("clips", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, pid| {
        let o = rt.run(&["ps", "--format", "json", b.id()]);
        ensure!(o.status.success(), "ps: {}", short(&o));
        let v: Value = serde_json::from_slice(&o.stdout)
            .map_err(|e| format!("ps json: {e}: {}", short(&o)))?;
        ensure!(v == json!([pid]), "ps lists {v}, want [{pid}]");
        Ok(())
    })
}

pub(crate) fn cli_pause_resume(bin: &Path) -> R {
    let b = sh("clipause", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let id = b.id();
        let o = rt.run(&["pause", id]);
        ensure!(o.status.success(), "pause: {}", short(&o));
        ensure!(
            rt.status(id).as_deref() == Some("paused"),
            "status {:?}",
            rt.status(id)
        );
        let fz = read(b.cgroup_dir("freezer").join("freezer.state"));
        ensure!(fz == "FROZEN", "freezer {fz}");
        let o = rt.run(&["resume", id]);
        ensure!(o.status.success(), "resume: {}", short(&o));
        ensure!(
            rt.status(id).as_deref() == Some("running"),
            "status {:?}",
            rt.status(id)
        );
        Ok(())
    })
}

pub(crate) fn cli_update(bin: &Path) -> R {
    let b = sh("cliupdate", "exec sleep 1000", |b| {
        b.resources_mut()["memory"] = json!({"limit": 67108864_i64});
        b.resources_mut()["pids"] = json!({"limit": 50});
    });
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&[
            "update",
            "--memory",
            "33554432",
            "--pids-limit",
            "20",
            b.id(),
        ]);
        ensure!(o.status.success(), "update: {}", short(&o));
        let m = cg_knob(&b, "memory", "memory.limit_in_bytes");
        let p = cg_knob(&b, "pids", "pids.max");
        ensure!(m == "33554432" && p == "20", "memory {m}, pids {p}");
        Ok(())
    })
}

pub(crate) fn cli_events_stats(bin: &Path) -> R {
    let b = sh("clievents", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["events", "--stats", b.id()]);
        ensure!(o.status.success(), "events --stats: {}", short(&o));
        let line = stdout_of(&o);
        let v: Value = serde_json::from_str(line.lines().next().unwrap_or_default())
            .map_err(|e| format!("not JSON ({e}): {line:?}"))?;
        ensure!(v["type"] == "stats" && v["id"] == b.id(), "event {v}");
        ensure!(
            v["data"]["pids"]["current"].as_u64() == Some(1),
            "pids.current {}",
            v["data"]["pids"]["current"]
        );
        ensure!(
            v["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
            "memory usage {}",
            v["data"]["memory"]["usage"]
        );
        Ok(())
    })
}

pub(crate) fn cli_spec_defaults(bin: &Path) -> R {
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let o = rt(bin).run(&["spec", "--bundle", &d.path().to_string_lossy()]);
    ensure!(o.status.success(), "spec: {}", short(&o));
    let text = read(d.path().join("config.json"));
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    ensure!(
        v["ociVersion"] == "1.0.2-dev",
        "ociVersion {}",
        v["ociVersion"]
    );
    ensure!(
        v["process"]["terminal"] == true,
        "terminal {}",
        v["process"]["terminal"]
    );
    ensure!(v["root"]["readonly"] == true, "root {}", v["root"]);
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["type"].as_str()).collect())
        .unwrap_or_default();
    ensure!(
        ns == ["pid", "network", "ipc", "uts", "mount"],
        "namespaces {ns:?}"
    );
    Ok(())
}

pub(crate) fn cli_console_socket_needs_terminal(bin: &Path) -> R {
    let b = sh("clicsock", "exec sleep 1000", |_| {});
    let sock = ConsoleSocket::bind(&b.dir().join("console.sock"));
    let rt = rt(bin);
    let o = rt.create_with(
        b.id(),
        &b,
        &["--console-socket", &sock.path().to_string_lossy()],
    );
    ensure!(!o.status.success(), "create succeeded: {}", short(&o));
    ensure!(
        stderr_of(&o).contains("cannot use console socket"),
        "message: {}",
        short(&o)
    );
    ensure!(!rt.state(b.id()).status.success(), "state left behind");
    Ok(())
}

pub(crate) fn cli_kill_signal_zero(bin: &Path) -> R {
    let b = sh("clikill0", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.kill(b.id(), "0");
        ensure!(
            o.status.success(),
            "kill 0 on a running container: {}",
            short(&o)
        );
        let o = rt.kill(b.id(), "KILL");
        ensure!(o.status.success(), "kill KILL: {}", short(&o));
        ensure!(rt.wait_status(b.id(), "stopped", T10), "did not stop");
        let o = rt.kill(b.id(), "0");
        ensure!(
            !o.status.success(),
            "kill 0 on a stopped container succeeded"
        );
        Ok(())
    })
}

pub(crate) fn cli_run_keep(bin: &Path) -> R {
    let b = sh("clikeep", "exit 3", |_| {});
    let rt = rt(bin);
    let o = rt.run_container(b.id(), &b, &["--keep"]);
    ensure!(o.status.code() == Some(3), "run --keep: {}", short(&o));
    ensure!(
        rt.status(b.id()).as_deref() == Some("stopped"),
        "status after run --keep: {:?}",
        rt.status(b.id())
    );
    let o = rt.delete(b.id());
    ensure!(o.status.success(), "delete: {}", short(&o));
    Ok(())
}

pub(crate) fn cli_update_cpu_share(bin: &Path) -> R {
    need_v1("cpu")?;
    let b = sh("clishare", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["update", "--cpu-share", "512", b.id()]);
        ensure!(o.status.success(), "update: {}", short(&o));
        let v = cg_knob(&b, "cpu", "cpu.shares");
        ensure!(v == "512", "cpu.shares {v}");
        Ok(())
    })
}

pub(crate) fn cli_version_shape(bin: &Path) -> R {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for flag in ["--version", "-v"] {
        let o = rt(bin).run(&[flag]);
        ensure!(o.status.success(), "{flag}: {}", short(&o));
        let text = stdout_of(&o);
        ensure!(
            text.starts_with(&format!("{name} version ")),
            "{flag}: {text:?}"
        );
        ensure!(
            text.lines().any(|l| l.starts_with("commit: "))
                && text.lines().any(|l| l.starts_with("spec: 1.")),
            "{flag}: {text:?}"
        );
    }
    Ok(())
}

pub(crate) fn cli_debug_log(bin: &Path) -> R {
    let b = sh("clidebug", "exec sleep 1000", |_| {});
    let mut rt = rt(bin);
    let log = b.dir().join("debug.log");
    rt.global_args = vec![
        "--debug".into(),
        "--log".into(),
        log.to_string_lossy().into_owned(),
        "--log-format".into(),
        "json".into(),
    ];
    let o = rt.run_detached(b.id(), &b);
    ensure!(o.status.success(), "run -d: {}", short(&o));
    let text = read(&log);
    let mut debug = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("log line {line:?}: {e}"))?;
        ensure!(v["msg"].is_string() && v["time"].is_string(), "{line}");
        if v["level"] == "debug" {
            debug += 1;
        }
    }
    ensure!(debug > 0, "no level=debug line in {text:?}");
    Ok(())
}

pub(crate) fn cli_list_json_fields(bin: &Path) -> R {
    let b = sh("clilist", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["list", "--format", "json"]);
        ensure!(o.status.success(), "list: {}", short(&o));
        let text = stdout_of(&o);
        let keys = [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ];
        let at: Vec<Option<usize>> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")))
            .collect();
        ensure!(
            at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
            "keys not in runc's order {keys:?}: {text}"
        );
        ensure!(
            !text.contains("\"annotations\""),
            "empty annotations printed: {text}"
        );
        Ok(())
    })
}

pub(crate) fn cli_ps_args(bin: &Path) -> R {
    let b = sh("clipsargs", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, pid| {
        let o = rt.run(&["ps", b.id(), "-o", "pid,comm"]);
        ensure!(o.status.success(), "ps: {}", short(&o));
        let rows: Vec<Vec<String>> = stdout_of(&o)
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect();
        let want = vec![
            vec!["PID".to_string(), "COMMAND".to_string()],
            vec![pid.to_string(), "sleep".to_string()],
        ];
        ensure!(rows == want, "ps table {rows:?}");
        Ok(())
    })
}

pub(crate) fn cli_exec_start_failure_255(bin: &Path) -> R {
    let b = sh("cliexec255", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["exec", b.id(), "/no/such/program"]);
        ensure!(
            o.status.code() == Some(255),
            "exit {:?}: {}",
            o.status.code(),
            short(&o)
        );
        Ok(())
    })
}

pub(crate) fn cli_exec_paused_refused(bin: &Path) -> R {
    need_v1("freezer")?;
    let b = sh("cliexecpause", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["pause", b.id()]);
        ensure!(o.status.success(), "pause: {}", short(&o));
        let e = rt.run(&["exec", b.id(), "true"]);
        let _ = rt.run(&["resume", b.id()]);
        ensure!(!e.status.success(), "exec in a paused container succeeded");
        ensure!(
            stderr_of(&e).contains("--ignore-paused"),
            "message: {}",
            short(&e)
        );
        Ok(())
    })
}

pub(crate) fn cli_delete_force_missing(bin: &Path) -> R {
    let o = rt(bin).run(&["delete", "--force", "no-such-container"]);
    ensure!(o.status.success(), "delete --force: {}", short(&o));
    ensure!(o.stderr.is_empty(), "delete --force printed: {}", short(&o));
    Ok(())
}

pub(crate) fn cli_update_memory_unlimited(bin: &Path) -> R {
    need_v1("memory")?;
    if !Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        return skip("no swap accounting");
    }
    let b = sh("climemunl", "exec sleep 1000", |b| {
        b.resources_mut()["memory"] = json!({"limit": 33554432_i64, "swap": 67108864_i64});
    });
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["update", "--memory", "-1", b.id()]);
        ensure!(o.status.success(), "update --memory -1: {}", short(&o));
        for f in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
            let v: u64 = cg_knob(&b, "memory", f).parse().unwrap_or(0);
            ensure!(v > 1 << 62, "{f} = {v}, want unlimited");
        }
        Ok(())
    })
}
