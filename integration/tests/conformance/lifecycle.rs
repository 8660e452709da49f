//! Conformance cases: state, lifecycle and signals.

use super::*;

pub(crate) fn annotations_in_state(bin: &Path) -> R {
    let b = sh("annot", "exec sleep 1000", |b| {
        b.config_mut()["annotations"] = json!({"org.hull.a": "1", "org.hull.b": "two words"});
    });
    with_created(bin, &b, |rt, _| {
        let st = rt.state_json(b.id());
        ensure!(
            st["annotations"] == json!({"org.hull.a": "1", "org.hull.b": "two words"}),
            "annotations {}",
            st["annotations"]
        );
        Ok(())
    })
}

pub(crate) fn state_fields(bin: &Path) -> R {
    let b = sh("statef", "exec sleep 1000", |_| {});
    with_created(bin, &b, |rt, pid| {
        let st = rt.state_json(b.id());
        ensure!(
            st["ociVersion"].is_string(),
            "ociVersion {}",
            st["ociVersion"]
        );
        ensure!(st["id"] == b.id(), "id {}", st["id"]);
        ensure!(st["status"] == "created", "status {}", st["status"]);
        ensure!(
            pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid}"
        );
        ensure!(
            st["bundle"] == b.dir().display().to_string().as_str(),
            "bundle {}",
            st["bundle"]
        );
        Ok(())
    })
}

pub(crate) fn marker_bundle(tag: &str) -> (Bundle, PathBuf) {
    let mut b = Bundle::sh(tag, "echo ran >> /m/ran; exec sleep 1000");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.write().unwrap();
    (b, m.join("ran"))
}

pub(crate) fn lifecycle_create_does_not_run_program(bin: &Path) -> R {
    let (b, ran) = marker_bundle("lccreate");
    with_created(bin, &b, |rt, pid| {
        ensure!(rt.status(b.id()).as_deref() == Some("created"), "status");
        // The init exists (pid is live) but the program has not run; the
        // runtime returned, so any run would have had every chance to start.
        ensure!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "no init process"
        );
        ensure!(!ran.exists(), "program ran before start");
        Ok(())
    })
}

pub(crate) fn lifecycle_start_runs_program(bin: &Path) -> R {
    let (b, ran) = marker_bundle("lcstart");
    with_running(bin, &b, |rt, _| {
        ensure!(wait_file(&ran, T10), "program did not run after start");
        ensure!(
            rt.status(b.id()).as_deref() == Some("running"),
            "status {:?}",
            rt.status(b.id())
        );
        ensure!(
            read(&ran) == "ran",
            "program ran more than once: {:?}",
            read(&ran)
        );
        Ok(())
    })
}

pub(crate) fn lifecycle_exit_is_stopped(bin: &Path) -> R {
    let b = sh("lcexit", "exit 0", |_| {});
    with_running(bin, &b, |rt, _| {
        ensure!(
            rt.wait_status(b.id(), "stopped", T10),
            "status {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

pub(crate) fn lifecycle_delete_removes_everything(bin: &Path) -> R {
    let b = sh("lcdel", "exit 0", |_| {});
    with_running(bin, &b, |rt, _| {
        ensure!(rt.wait_status(b.id(), "stopped", T10), "never stopped");
        let d = rt.delete(b.id());
        ensure!(d.status.success(), "delete: {}", short(&d));
        ensure!(
            rt.status(b.id()).is_none(),
            "state still answers after delete"
        );
        let left = rt.leftovers(b.id(), &b);
        ensure!(left.is_empty(), "left behind: {left:?}");
        Ok(())
    })
}

pub(crate) fn config_updates_without_affect(bin: &Path) -> R {
    let (mut b, ran) = marker_bundle("cfgupd");
    let rt = rt(bin);
    let id = b.id().to_string();
    let o = rt.create(&id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    // Changing config.json after create MUST NOT affect the container.
    b.set_args(&["/bin/sh", "-c", "echo changed >> /m/ran; exec sleep 1000"]);
    b.write().unwrap();
    let s = rt.start(&id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(
        wait_until(T10, || !read(&ran).starts_with('<')
            && !read(&ran).is_empty()),
        "program did not run"
    );
    ensure!(
        read(&ran) == "ran",
        "config change after create took effect: {:?}",
        read(&ran)
    );
    Ok(())
}

pub(crate) fn create_duplicate_id_error(bin: &Path) -> R {
    let b = sh("dupid", "exec sleep 1000", |_| {});
    with_created(bin, &b, |rt, pid| {
        let o = rt.create(b.id(), &b);
        ensure!(
            !o.status.success(),
            "second create with the same id succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("created"),
            "first container changed: {:?}",
            rt.status(b.id())
        );
        ensure!(rt.pid(b.id()) == pid, "first container's pid changed");
        Ok(())
    })
}

pub(crate) fn start_running_refused(bin: &Path) -> R {
    let (b, ran) = marker_bundle("startrun");
    with_running(bin, &b, |rt, pid| {
        ensure!(wait_file(&ran, T10), "program did not run");
        let s = rt.start(b.id());
        ensure!(
            !s.status.success(),
            "start of a running container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("running") && rt.pid(b.id()) == pid,
            "container affected"
        );
        ensure!(read(&ran) == "ran", "program ran twice");
        Ok(())
    })
}

pub(crate) fn start_stopped_refused(bin: &Path) -> R {
    let (b, ran) = marker_bundle("startstop");
    with_running(bin, &b, |rt, _| {
        ensure!(wait_file(&ran, T10), "program did not run");
        ensure!(rt.kill(b.id(), "KILL").status.success(), "kill");
        ensure!(rt.wait_status(b.id(), "stopped", T10), "never stopped");
        let s = rt.start(b.id());
        ensure!(
            !s.status.success(),
            "start of a stopped container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("stopped"),
            "status {:?}",
            rt.status(b.id())
        );
        ensure!(read(&ran) == "ran", "program ran again");
        Ok(())
    })
}

pub(crate) fn delete_running_refused(bin: &Path) -> R {
    let b = sh("delrun", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, pid| {
        let d = rt.delete(b.id());
        ensure!(
            !d.status.success(),
            "delete of a running container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("running")
                && Path::new(&format!("/proc/{pid}")).exists(),
            "container affected: {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

pub(crate) fn delete_created_refused(bin: &Path) -> R {
    let b = sh("delcreated", "exec sleep 1000", |_| {});
    with_created(bin, &b, |rt, pid| {
        let d = rt.delete(b.id());
        ensure!(
            !d.status.success(),
            "delete of a created container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("created")
                && Path::new(&format!("/proc/{pid}")).exists(),
            "container affected: {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

pub(crate) fn kill_signal_delivered(bin: &Path) -> R {
    let b = sh(
        "killsig",
        "trap 'echo got-usr1; exit 0' USR1; echo ready; while :; do sleep 0.05; done",
        |_| {},
    );
    with_running(bin, &b, |rt, _| {
        let id = b.id();
        ensure!(
            wait_until(T10, || Runtime::container_stdout(&b, id).contains("ready")),
            "not ready"
        );
        let k = rt.kill(id, "USR1");
        ensure!(k.status.success(), "kill USR1: {}", short(&k));
        ensure!(
            rt.wait_status(id, "stopped", T10),
            "did not stop after USR1"
        );
        expect_contains(&Runtime::container_stdout(&b, id), "got-usr1")
    })
}

pub(crate) fn kill_created_container(bin: &Path) -> R {
    let (b, ran) = marker_bundle("killcreated");
    with_created(bin, &b, |rt, _| {
        let k = rt.kill(b.id(), "KILL");
        ensure!(
            k.status.success(),
            "kill of a created container: {}",
            short(&k)
        );
        ensure!(
            rt.wait_status(b.id(), "stopped", T10),
            "status {:?}",
            rt.status(b.id())
        );
        ensure!(!ran.exists(), "program ran");
        Ok(())
    })
}

pub(crate) fn kill_stopped_error(bin: &Path) -> R {
    let b = sh("killstopped", "exit 0", |_| {});
    with_running(bin, &b, |rt, _| {
        ensure!(rt.wait_status(b.id(), "stopped", T10), "never stopped");
        let k = rt.kill(b.id(), "TERM");
        ensure!(!k.status.success(), "kill of a stopped container succeeded");
        ensure!(
            rt.status(b.id()).as_deref() == Some("stopped"),
            "status {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

pub(crate) fn ops_on_unknown_id_error(bin: &Path) -> R {
    let rt = rt(bin);
    let id = "no-such-container-xyz";
    for args in [
        vec!["state", id],
        vec!["start", id],
        vec!["kill", id, "KILL"],
        vec!["delete", id],
    ] {
        let o = rt.run(&args);
        ensure!(!o.status.success(), "{args:?} succeeded");
    }
    Ok(())
}

pub(crate) fn pid_file(bin: &Path) -> R {
    let b = sh("pidfile", "exec sleep 1000", |_| {});
    let rt = rt(bin);
    let pf = b.dir().join("init.pid");
    let o = rt.create_with(b.id(), &b, &["--pid-file", &pf.display().to_string()]);
    ensure!(o.status.success(), "create: {}", short(&o));
    let txt = fs::read_to_string(&pf).map_err(|e| format!("pid file: {e}"))?;
    let pid: i32 = txt
        .trim()
        .parse()
        .map_err(|e| format!("pid file {txt:?}: {e}"))?;
    ensure!(
        pid == rt.pid(b.id()),
        "pid file {pid} != state pid {}",
        rt.pid(b.id())
    );
    Ok(())
}

pub(crate) fn run_exit_code(bin: &Path) -> R {
    let b = sh("exitcode", "exit 42", |_| {});
    let o = run_any(bin, &b);
    ensure!(o.status.code() == Some(42), "{}", short(&o));
    Ok(())
}

pub(crate) fn kill_signal_forms(bin: &Path) -> R {
    let b = sh(
        "killforms",
        "n=0; trap 'n=$((n+1)); echo usr1-$n' USR1; echo ready; while [ $n -lt 3 ]; do sleep 0.05; done; echo done",
        |_| {},
    );
    with_running(bin, &b, |rt, _| {
        let id = b.id();
        ensure!(
            wait_until(T10, || Runtime::container_stdout(&b, id).contains("ready")),
            "not ready"
        );
        for (i, sig) in ["USR1", "SIGUSR1", "10"].iter().enumerate() {
            let k = rt.kill(id, sig);
            ensure!(k.status.success(), "kill {sig}: {}", short(&k));
            let want = format!("usr1-{}", i + 1);
            ensure!(
                wait_until(T10, || Runtime::container_stdout(&b, id).contains(&want)),
                "signal {sig} not delivered: {:?}",
                Runtime::container_stdout(&b, id)
            );
        }
        ensure!(rt.wait_status(id, "stopped", T10), "did not stop");
        Ok(())
    })
}
