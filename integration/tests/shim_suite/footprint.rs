//! What the shim costs: idle memory, threads that stay, an exec burst.

use super::*;

/// Resident memory of idle shims: ours beside containerd's runc shim, with
/// the same containerd and image. Returns (hull, runc) per-shim averages.
pub fn idle_rss(runtime: &Path, n: usize) -> (u64, u64) {
    let f = setup(runtime);
    let mut hull = Vec::new();
    for i in 0..n {
        let id = unique_id(&format!("m{i}"));
        let pid = f.run_detached(&id, &["sleep", "600"]);
        let shim = f.shim_of(&id).0;
        assert_eq!(parent_of(pid), shim);
        hull.push(shim);
    }
    let mut runc = Vec::new();
    for i in 0..n {
        let id = unique_id(&format!("c{i}"));
        let flags: Vec<OsString> = vec![
            "run".into(),
            "--runc-binary".into(),
            runtime.into(),
            "--runc-root".into(),
            f.ctd.runc_root().into(),
            "-d".into(),
            "--null-io".into(),
            f.image.clone().into(),
            id.clone().into(),
            "sleep".into(),
            "600".into(),
        ];
        f.ctd.ctr_ok(&flags).expect("ctr run runc shim");
        let t = f
            .ctd
            .wait_task_status(&id, "RUNNING", WAIT)
            .expect("RUNNING");
        // The shim is the (subreaper) parent of the task's init.
        runc.push(parent_of(t.pid));
    }
    // Let both settle after their last request.
    std::thread::sleep(Duration::from_millis(500));
    let avg = |pids: &[i32], name: &str| {
        let ms: Vec<_> = pids.iter().map(|p| mem_of(*p).unwrap()).collect();
        let rss = ms.iter().map(|m| m.rss_kib).sum::<u64>() / ms.len() as u64;
        let pss = ms.iter().map(|m| m.pss_kib).sum::<u64>() / ms.len() as u64;
        let anon = ms.iter().map(|m| m.anon_kib).sum::<u64>() / ms.len() as u64;
        let threads = pids
            .iter()
            .map(|p| {
                std::fs::read_dir(format!("/proc/{p}/task"))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum::<usize>()
            / pids.len();
        println!(
            "{name}: RSS {rss} KiB, PSS {pss} KiB, anon {anon} KiB, {threads} threads \
             (mean of {n} idle shims)"
        );
        rss
    };
    let h = avg(&hull, "containerd-shim-hull-v2");
    let r = avg(&runc, "containerd-shim-runc-v2");
    (h, r)
}

/// Threads of a process.
fn threads_of(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Exec'd processes come and go without leaving threads in the shim (its
/// stdin copier ends with the process even when no writer ever came).
pub fn no_thread_leak(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("leak");
    // With stdio fifos this time (no --null-io): ctr -d never writes stdin.
    let mut flags = f.run_flags();
    flags.extend(["-d".into(), f.image.clone().into(), id.clone().into()]);
    flags.extend(["sleep".into(), "600".into()]);
    f.ctd.ctr_ok(&flags).expect("ctr run -d");
    f.ctd
        .wait_task_status(&id, "RUNNING", WAIT)
        .expect("RUNNING");
    let (shim, _) = f.shim_of(&id);
    let exec_once = |n: usize| {
        let out = f
            .ctd
            .ctr_output(["task", "exec", "--exec-id", &format!("x{n}"), &id, "true"])
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    };
    exec_once(0);
    let base = threads_of(shim);
    for n in 1..=5 {
        exec_once(n);
    }
    // Detached execs: ctr leaves at once and never opens their stdin.
    for n in 6..=10 {
        f.ctd
            .ctr_ok([
                "task",
                "exec",
                "-d",
                "--exec-id",
                &format!("x{n}"),
                &id,
                "sleep",
                "0.2",
            ])
            .expect("ctr task exec -d");
    }
    wait_for("detached execs to finish", WAIT, || {
        f.ctd
            .ctr_ok(["task", "ps", &id])
            .map(|s| s.lines().count() <= 2)
            .unwrap_or(false)
    });
    wait_for(
        &format!("shim threads back to {base} (now {})", threads_of(shim)),
        WAIT,
        || threads_of(shim) <= base,
    );
    // Nor zombies: every child of the shim is alive and not defunct.
    let children: Vec<i32> = std::fs::read_to_string(format!("/proc/{shim}/task/{shim}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for c in children {
        assert!(alive(c), "zombie child {c} under the shim");
    }
    f.kill_and_delete(&id);
}

/// Many short execs, several at once: each one's exit reaches its Wait
/// with its own code, however the exit and the start of the exec interleave
/// in the shim (an exit reaped while the start was still recording the pid
/// used to be lost, and `ctr task exec` hung).
pub fn exec_burst(runtime: &Path) {
    const WORKERS: usize = 3;
    const EACH: usize = 8;
    const EXEC_TIMEOUT: Duration = Duration::from_secs(20);
    let f = setup(runtime);
    let id = unique_id("burst");
    f.run_detached(&id, &["sleep", "600"]);
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            let (f, id) = (&f, &id);
            s.spawn(move || {
                for n in 0..EACH {
                    let exec_id = format!("b{w}-{n}");
                    let code = (w * EACH + n) % 5;
                    let mut cmd = f.ctd.ctr();
                    cmd.args(["task", "exec", "--exec-id", &exec_id, id]);
                    if code == 0 {
                        cmd.arg("true");
                    } else {
                        cmd.args(["sh", "-c", &format!("exit {code}")]);
                    }
                    let out = output_with_timeout(&mut cmd, None, EXEC_TIMEOUT)
                        .unwrap_or_else(|e| panic!("exec {exec_id}: {e:?}"));
                    assert_eq!(
                        out.status.code(),
                        Some(code as i32),
                        "exec {exec_id}: {}",
                        describe(&out)
                    );
                }
            });
        }
    });
    wait_for("execs gone from task ps", WAIT, || {
        f.ctd
            .ctr_ok(["task", "ps", &id])
            .map(|s| s.lines().count() <= 2)
            .unwrap_or(false)
    });
    f.kill_and_delete(&id);
}
