//! Each case's own containerd with a busybox image, and the `ctr` calls
//! the cases share.

use super::*;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Fixture {
    pub ctd: Containerd,
    pub image: String,
    pub runtime: PathBuf,
    pub runtime_cfg: PathBuf,
    pub runtime_root: PathBuf,
}

pub fn setup(runtime: &Path) -> Fixture {
    assert!(is_root(), "shim integration tests need root");
    assert!(
        runtime.exists(),
        "runtime binary {} does not exist",
        runtime.display()
    );
    ensure_shim_on_path();
    let ctd = Containerd::start().expect("start private containerd");
    let image = ctd.import_busybox().expect("import busybox image");
    let (runtime_cfg, runtime_root) =
        write_runtime_config(&ctd, runtime).expect("write runtime config");
    Fixture {
        ctd,
        image,
        runtime: runtime.to_path_buf(),
        runtime_cfg,
        runtime_root,
    }
}

/// Parent pid of a process.
pub fn parent_of(pid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    stat.rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("ppid in stat")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn describe(o: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {:?}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    )
}

impl Fixture {
    /// `ctr run` flags selecting the hull shim and the runtime under test.
    pub fn run_flags(&self) -> Vec<OsString> {
        vec![
            "run".into(),
            "--runtime".into(),
            RUNTIME_NAME.into(),
            "--runtime-config-path".into(),
            self.runtime_cfg.clone().into(),
            "--fifo-dir".into(),
            self.ctd.fifo_dir().into(),
        ]
    }

    pub fn run_rm(&self, id: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.ctd
            .run_rm(&self.run_flags(), &self.image, id, args, stdin)
            .expect("ctr run --rm")
    }

    /// `ctr run -d IMAGE ID ARGS…`; waits for RUNNING, returns the pid.
    pub fn run_detached(&self, id: &str, args: &[&str]) -> u32 {
        let pid = self
            .ctd
            .run_detached(&self.run_flags(), &self.image, id, args, WAIT)
            .expect("ctr run -d, task RUNNING");
        assert!(pid > 0, "RUNNING task has no pid");
        pid
    }

    /// `ctr ARGS` under script(1), which gives it the terminal `-t` needs.
    pub fn ctr_in_pty(&self, args: &[String]) -> Output {
        let mut line: Vec<String> = vec![
            "ctr".into(),
            "-a".into(),
            self.ctd.address().display().to_string(),
            "-n".into(),
            self.ctd.namespace().to_string(),
        ];
        line.extend(args.iter().cloned());
        // A known window size: ctr passes it on (ResizePty) to the process.
        let script = format!("stty cols 123 rows 45; {}", line.join(" "));
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &script, "/dev/null"]);
        output_with_timeout(&mut cmd, None, CTR_TIMEOUT).expect("script ctr")
    }

    pub fn runtime_state_dir(&self, id: &str) -> PathBuf {
        self.runtime_root.join(self.ctd.namespace()).join(id)
    }

    /// Cgroup v1 dir containerd's default spec asks for: /<namespace>/<id>.
    pub fn cgroup_dir(&self, controller: &str, id: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(self.ctd.namespace())
            .join(id)
    }

    /// What a running task has: its shim pid and socket.
    pub fn shim_of(&self, id: &str) -> (i32, PathBuf) {
        let pid = shim_pid(&self.ctd, id).expect("shim.pid in bundle");
        let sock = shim_socket(&self.ctd, id).expect("address in bundle");
        assert!(alive(pid), "shim {pid} of {id} not running");
        assert!(sock.exists(), "shim socket {} missing", sock.display());
        (pid, sock)
    }

    /// Nothing of a deleted container may be left: task, process, shim,
    /// socket, rootfs mount, runtime state, cgroups.
    pub fn assert_gone(&self, id: &str, init_pid: u32, shim: (i32, PathBuf)) {
        assert!(
            self.ctd.task(id).unwrap().is_none(),
            "task {id} still listed"
        );
        wait_for("container init to exit", WAIT, || !alive(init_pid as i32));
        wait_for("shim to exit", WAIT, || !alive(shim.0));
        // containerd may still be running `shim delete` after a dead shim.
        wait_for(
            &format!("shim socket {} removed", shim.1.display()),
            WAIT,
            || !shim.1.exists(),
        );
        let rootfs = bundle_dir(&self.ctd, id).join("rootfs");
        wait_for(
            &format!("rootfs {} unmounted", rootfs.display()),
            WAIT,
            || {
                !std::fs::read_to_string("/proc/self/mountinfo")
                    .unwrap()
                    .contains(&rootfs.display().to_string())
            },
        );
        let state = self.runtime_state_dir(id);
        wait_for(
            &format!("runtime state {} removed", state.display()),
            WAIT,
            || !state.exists(),
        );
        for c in ["pids", "memory", "freezer", "cpuacct"] {
            let cg = self.cgroup_dir(c, id);
            wait_for(&format!("cgroup {} removed", cg.display()), WAIT, || {
                !cg.exists()
            });
        }
    }

    /// SIGKILL, STOPPED, `ctr task delete` reporting 137, `containers rm`.
    pub fn kill_and_delete(&self, id: &str) {
        self.ctd
            .ctr_ok(["task", "kill", "-s", "SIGKILL", id])
            .expect("ctr task kill");
        self.ctd
            .wait_task_status(id, "STOPPED", WAIT)
            .expect("task STOPPED after SIGKILL");
        let del = self.ctd.ctr_output(["task", "delete", id]).unwrap();
        assert!(del.status.success(), "ctr task delete: {}", describe(&del));
        assert!(
            text(&del.stderr).contains("exit code 137"),
            "exit 137 not reported: {}",
            describe(&del)
        );
        self.ctd
            .ctr_ok(["containers", "rm", id])
            .expect("ctr containers rm");
    }
}
