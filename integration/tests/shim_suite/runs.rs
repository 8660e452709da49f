//! Running containers through the shim: foreground and detached, stdio,
//! terminals, log URIs and bad input.

use super::*;

/// Foreground runs: stdout, stderr and exit codes pass through the shim.
pub fn foreground_exit_codes(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("fg");
    let out = f.run_rm(
        &id,
        &["sh", "-c", "echo hello; echo oops >&2; exit 3"],
        None,
    );
    assert_eq!(text(&out.stdout), "hello\n", "{}", describe(&out));
    assert!(text(&out.stderr).contains("oops"), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let ok = f.run_rm(&unique_id("ok"), &["true"], None);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    // (pid 1 cannot SIGKILL itself in its namespace: a child shell does.)
    let sig = f.run_rm(
        &unique_id("sig"),
        &["sh", "-c", "sh -c 'kill -9 $$'; exit $?"],
        None,
    );
    assert_eq!(sig.status.code(), Some(137), "{}", describe(&sig));
    let missing = f.run_rm(&unique_id("nobin"), &["/no/such/binary"], None);
    assert!(!missing.status.success(), "{}", describe(&missing));
    assert!(
        !f.ctd.containers().unwrap().contains(&id),
        "--rm left container {id}"
    );
    assert!(
        !f.runtime_state_dir(&id).exists(),
        "runtime state left after --rm"
    );
}

/// stdin reaches the process and its EOF too (the shim closes the pipe).
pub fn stdin_forwarded(runtime: &Path) {
    let f = setup(runtime);
    let out = f.run_rm(
        &unique_id("stdin"),
        &["sh", "-c", "read line; echo got:$line; cat; echo eof"],
        Some(b"data-123\nmore\n"),
    );
    assert_eq!(
        text(&out.stdout),
        "got:data-123\nmore\neof\n",
        "{}",
        describe(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// `ctr run -t`: the process gets a pty from the runtime's console socket.
pub fn tty_run(runtime: &Path) {
    let f = setup(runtime);
    // Results go to a host directory: under load, script(1)/ctr may drop
    // the tail of a quickly exiting terminal's output (with containerd's own
    // runc shim too), so the output itself is checked below on a process
    // that is still running.
    let outdir = f.ctd.dir().join("tty-out");
    std::fs::create_dir_all(&outdir).unwrap();
    let id = unique_id("tty");
    let mut args: Vec<String> = f
        .run_flags()
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    args.extend([
        "--rm".into(),
        "-t".into(),
        "--mount".into(),
        format!(
            "type=bind,src={},dst=/out,options=rbind:rw",
            outdir.display()
        ),
        f.image.clone(),
        id,
    ]);
    // ctr sends the window size (ResizePty) only after Start: poll for it.
    let script = "'tty > /out/tty; for i in $(seq 1 200); do s=$(stty size 2>/dev/null); \
                  [ \"$s\" = \"45 123\" ] && break; sleep 0.05; done; echo $s > /out/size; exit 4'";
    args.extend(["sh".into(), "-c".into(), script.into()]);
    let out = f.ctr_in_pty(&args);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let tty = std::fs::read_to_string(outdir.join("tty")).unwrap_or_default();
    assert_eq!(
        tty.trim(),
        "/dev/pts/0",
        "no pty in container: {}",
        describe(&out)
    );
    let size = std::fs::read_to_string(outdir.join("size")).unwrap_or_default();
    assert_eq!(size.trim(), "45 123", "window size not passed to the pty");

    // Terminal output reaches the caller: a terminal exec that keeps
    // running until the test has seen its output.
    let id = unique_id("ttyout");
    f.run_detached(&id, &["sleep", "600"]);
    let typescript = f.ctd.dir().join("typescript");
    let line = format!(
        "stty cols 123 rows 45; ctr -a {} -n {} task exec -t --exec-id e {id} \
         sh -c 'echo ready-$((6*7)); sleep 600'",
        f.ctd.address().display(),
        f.ctd.namespace()
    );
    let mut script = Command::new("script")
        .args(["-q", "-e", "-f", "-c", &line])
        .arg(&typescript)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("script ctr task exec -t");
    let seen = (|| {
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            let t = std::fs::read_to_string(&typescript).unwrap_or_default();
            if t.contains("ready-42") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    })();
    let _ = f
        .ctd
        .ctr_output(["task", "kill", "--exec-id", "e", "-s", "SIGKILL", &id]);
    let status = script.wait().expect("script exits");
    assert!(
        seen,
        "terminal output never reached ctr: {:?}",
        std::fs::read_to_string(&typescript).unwrap_or_default()
    );
    assert_eq!(status.code(), Some(137), "killed terminal exec's exit code");
    f.kill_and_delete(&id);
}

/// Detached task: ps, exec (plain and -t), pause/resume, metrics, kill,
/// delete; then nothing is left.
pub fn detached_lifecycle(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("det");
    let pid = f.run_detached(&id, &["sleep", "600"]);
    // RUNNING is reported once the runtime's start returned; the exec of the
    // user's program follows at once.
    wait_for(&format!("pid {pid} to run sleep"), WAIT, || {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim() == "sleep")
            .unwrap_or(false)
    });
    let shim = f.shim_of(&id);
    // The shim is the subreaper parent of the container's init.
    let ppid = parent_of(pid);
    assert_eq!(ppid, shim.0, "init's parent is not the shim");

    let ps = f.ctd.ctr_ok(["task", "ps", &id]).expect("ctr task ps");
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().next() == Some(&pid.to_string())),
        "pid {pid} not in `ctr task ps`: {ps}"
    );

    // exec without a terminal: output and exit code.
    let exec = f
        .ctd
        .ctr_output([
            "task",
            "exec",
            "--exec-id",
            "e1",
            &id,
            "sh",
            "-c",
            "echo in-exec; exit 5",
        ])
        .unwrap();
    assert_eq!(text(&exec.stdout), "in-exec\n", "{}", describe(&exec));
    assert_eq!(exec.status.code(), Some(5), "{}", describe(&exec));

    // exec with a terminal. (Its name is checked through a file: script(1)
    // may lose the tail of a quickly exiting ctr's output on a loaded host.)
    let out = f.ctr_in_pty(&[
        "task".into(),
        "exec".into(),
        "-t".into(),
        "--exec-id".into(),
        "e2".into(),
        id.clone(),
        "sh".into(),
        "-c".into(),
        "'tty > /tmp/exec-tty; exit 6'".into(),
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let name = f
        .ctd
        .ctr_ok([
            "task",
            "exec",
            "--exec-id",
            "e2b",
            &id,
            "cat",
            "/tmp/exec-tty",
        ])
        .expect("read exec tty name");
    assert!(
        name.starts_with("/dev/pts/"),
        "exec -t has no pty: {name:?}"
    );

    // A long exec shows in ps with its exec id, and can be killed.
    let mut long = f.ctd.ctr();
    long.args(["task", "exec", "--exec-id", "e3", &id, "sleep", "500"]);
    let mut long = long.spawn().expect("spawn ctr exec");
    wait_for("exec e3 in ps", WAIT, || {
        f.ctd
            .ctr_ok(["task", "ps", &id])
            .map(|s| s.lines().any(|l| l.contains("e3")))
            .unwrap_or(false)
    });
    f.ctd
        .ctr_ok(["task", "kill", "--exec-id", "e3", "-s", "SIGKILL", &id])
        .expect("kill exec");
    let st = long.wait().expect("ctr exec exits");
    assert_eq!(st.code(), Some(137), "killed exec's exit code");

    // pause / resume: the freezer cgroup follows.
    f.ctd.ctr_ok(["task", "pause", &id]).expect("pause");
    f.ctd.wait_task_status(&id, "PAUSED", WAIT).expect("PAUSED");
    let frozen = std::fs::read_to_string(f.cgroup_dir("freezer", &id).join("freezer.state"))
        .unwrap_or_default();
    assert_eq!(frozen.trim(), "FROZEN", "freezer state after pause");
    f.ctd.ctr_ok(["task", "resume", &id]).expect("resume");
    f.ctd
        .wait_task_status(&id, "RUNNING", WAIT)
        .expect("RUNNING after resume");

    // metrics: containerd decodes the shim's cgroup v1 Metrics.
    let m = f.ctd.ctr_ok(["task", "metrics", &id]).expect("metrics");
    let pids_line = m
        .lines()
        .find(|l| l.starts_with("pids.current"))
        .unwrap_or_else(|| panic!("no pids.current in metrics:\n{m}"));
    let current: u64 = pids_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(current >= 1, "pids.current {current}");
    let mem_line = m
        .lines()
        .find(|l| l.starts_with("memory.usage_in_bytes"))
        .unwrap_or_else(|| panic!("no memory usage in metrics:\n{m}"));
    let usage: u64 = mem_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(usage > 0, "memory usage 0");

    // SIGTERM is ignored by a pid-1 sleep: still running; SIGKILL stops it.
    f.ctd.ctr_ok(["task", "kill", &id]).expect("kill TERM");
    assert!(alive(pid as i32), "pid 1 died of an ignored SIGTERM");
    f.kill_and_delete(&id);
    f.assert_gone(&id, pid, shim);
}

/// Bad input through ctr: unknown exec id, kill of an exited task. The
/// errors are clear and the shim keeps serving.
pub fn bad_input_via_ctr(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("bad");
    let pid = f.run_detached(&id, &["sleep", "600"]);
    let shim = f.shim_of(&id);
    let out = f
        .ctd
        .ctr_output(["task", "kill", "--exec-id", "nope", &id])
        .unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("exec \"nope\" not found"),
        "unclear error: {}",
        describe(&out)
    );
    // Still serving.
    let t = f.ctd.task(&id).unwrap().expect("task listed");
    assert_eq!(t.status, "RUNNING");
    f.ctd
        .ctr_ok(["task", "kill", "-s", "SIGKILL", &id])
        .expect("kill");
    f.ctd
        .wait_task_status(&id, "STOPPED", WAIT)
        .expect("STOPPED");
    let again = f
        .ctd
        .ctr_output(["task", "kill", "-s", "SIGKILL", &id])
        .unwrap();
    assert!(!again.status.success(), "{}", describe(&again));
    assert!(
        text(&again.stderr).contains("process already finished"),
        "unclear error: {}",
        describe(&again)
    );
    let t = f.ctd.task(&id).unwrap().expect("task listed");
    assert_eq!(t.status, "STOPPED");
    let del = f.ctd.ctr_output(["task", "delete", &id]).unwrap();
    assert!(del.status.success(), "{}", describe(&del));
    f.ctd.ctr_ok(["containers", "rm", &id]).expect("rm");
    f.assert_gone(&id, pid, shim);
}

/// `--log-uri`: `file://` appends the process's stdout and stderr to a file;
/// `binary://` hands them to a logging program on fds 3 and 4.
pub fn log_uris(runtime: &Path) {
    let f = setup(runtime);
    // file://
    let log = f.ctd.dir().join("logs").join("c.log");
    let mut cmd = f.ctd.ctr();
    cmd.args(f.run_flags())
        .arg("--rm")
        .arg("--log-uri")
        .arg(format!("file://{}", log.display()))
        .arg(&f.image)
        .arg(unique_id("file"))
        .args(["sh", "-c", "echo to-out; echo to-err >&2; exit 2"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("ctr run file log");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let text = std::fs::read_to_string(&log).expect("log file");
    assert!(
        text.contains("to-out\n") && text.contains("to-err\n"),
        "file log: {text:?}"
    );

    // binary://: a shell logger that copies fd 3 and 4 into files named by
    // its `dir` argument, after signalling readiness by closing fd 5.
    let logger = f.ctd.dir().join("logger.sh");
    std::fs::write(
        &logger,
        "#!/bin/sh\n# args: dir DIR\nexec 5>&-\ncat <&3 >\"$2/out\" &\ncat <&4 >\"$2/err\" &\nwait\n",
    )
    .unwrap();
    std::fs::set_permissions(&logger, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dir = f.ctd.dir().join("binlog");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = f.ctd.ctr();
    cmd.args(f.run_flags())
        .arg("--rm")
        .arg("--log-uri")
        .arg(format!(
            "binary://{}?dir={}",
            logger.display(),
            dir.display()
        ))
        .arg(&f.image)
        .arg(unique_id("bin"))
        .args(["sh", "-c", "echo b-out; echo b-err >&2"]);
    let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("ctr run binary log");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    wait_for("binary logger output", WAIT, || {
        std::fs::read_to_string(dir.join("out")).unwrap_or_default() == "b-out\n"
            && std::fs::read_to_string(dir.join("err")).unwrap_or_default() == "b-err\n"
    });
    // The logger ends with the container: its shell's `wait` sees both cats
    // exit (it would hang forever with a signal mask inherited from a shim
    // that blocks SIGCHLD).
    let path = logger.display().to_string();
    let logger_running = || {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .any(|c| String::from_utf8_lossy(&c).contains(path.as_str()))
    };
    wait_for("the logging binary to exit", WAIT, || !logger_running());
}
