//! The shim across a containerd restart and its own SIGKILL.

use super::*;

/// Kill containerd with SIGKILL while 5 containers run: they keep running;
/// a restarted containerd finds them RUNNING through their shims; they can
/// be killed and deleted.
pub fn containerd_restart(runtime: &Path) {
    struct Guard {
        f: Fixture,
        restarted: Option<Restarted>,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            if self.restarted.is_some() {
                // Clean up through the live (restarted) daemon first.
                if let Ok(tasks) = self.f.ctd.tasks() {
                    for t in tasks {
                        let _ = self
                            .f
                            .ctd
                            .ctr_output(["task", "kill", "-a", "-s", "SIGKILL", &t.id]);
                        let _ =
                            self.f
                                .ctd
                                .wait_task_status(&t.id, "STOPPED", Duration::from_secs(5));
                        let _ = self.f.ctd.ctr_output(["task", "delete", "-f", &t.id]);
                        let _ = self.f.ctd.ctr_output(["containers", "rm", &t.id]);
                    }
                }
            }
            if self.restarted.take().is_some() {
                // The fixture's own cleanup talks to the (now stopped) daemon
                // by ctr: leave a dead socket so those calls are refused at
                // once instead of waiting out ctr's dial timeout.
                let addr = self.f.ctd.address();
                if !addr.exists() {
                    let _ = std::os::unix::net::UnixListener::bind(addr);
                }
            }
        }
    }
    let mut g = Guard {
        f: setup(runtime),
        restarted: None,
    };
    let f = &g.f;
    let ids: Vec<String> = (0..5).map(|i| unique_id(&format!("r{i}"))).collect();
    let pids: Vec<u32> = ids
        .iter()
        .map(|id| f.run_detached(id, &["sleep", "600"]))
        .collect();
    let shims: Vec<(i32, PathBuf)> = ids.iter().map(|id| f.shim_of(id)).collect();
    let ctd_pid = f.ctd.pid().expect("containerd pid") as i32;
    // Only the containerd this test started.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ctd_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL containerd");
    wait_for("containerd to die", WAIT, || !alive(ctd_pid));
    for (i, pid) in pids.iter().enumerate() {
        assert!(
            alive(*pid as i32),
            "container {} died with containerd",
            ids[i]
        );
        assert!(alive(shims[i].0), "shim of {} died with containerd", ids[i]);
    }
    let restarted = Restarted::start(&f.ctd).expect("restart containerd");
    g.restarted = Some(restarted);
    let f = &g.f;
    for (i, id) in ids.iter().enumerate() {
        let t = f
            .ctd
            .wait_task_status(id, "RUNNING", WAIT)
            .expect("RUNNING after restart");
        assert_eq!(t.pid, pids[i], "pid of {id} changed");
    }
    // The shims still serve requests: exec into one.
    let out = f
        .ctd
        .ctr_output([
            "task",
            "exec",
            "--exec-id",
            "x",
            &ids[0],
            "echo",
            "still-here",
        ])
        .unwrap();
    assert_eq!(text(&out.stdout), "still-here\n", "{}", describe(&out));
    for (i, id) in ids.iter().enumerate() {
        f.kill_and_delete(id);
        f.assert_gone(id, pids[i], shims[i].clone());
    }
}

/// Kill a shim with SIGKILL: containerd cleans up through `shim delete`;
/// the task is no longer running and nothing is left.
pub fn shim_killed(runtime: &Path) {
    let f = setup(runtime);
    let id = unique_id("sk");
    let pid = f.run_detached(&id, &["sleep", "600"]);
    let shim = f.shim_of(&id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.0),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL shim");
    // containerd 1.6 runs `containerd-shim-hull-v2 delete`, then drops the
    // task (or shows it STOPPED until deleted).
    wait_for("task to stop or vanish", WAIT, || {
        match f.ctd.task(&id).unwrap() {
            None => true,
            Some(t) => t.status == "STOPPED",
        }
    });
    if f.ctd.task(&id).unwrap().is_some() {
        let _ = f.ctd.ctr_output(["task", "delete", &id]);
    }
    f.ctd
        .ctr_ok(["containers", "rm", &id])
        .expect("ctr containers rm");
    f.assert_gone(&id, pid, shim);
}
