//! What the containerd runc-shim suites share: a private containerd with a
//! busybox image, and the `ctr` calls through the runc shim to the runtime
//! under test.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use hull_integration::containerd::Containerd;
use hull_integration::{is_root, runtime_bin};

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Fixture {
    pub ctd: Containerd,
    pub image: String,
}

pub fn setup() -> Fixture {
    assert!(is_root(), "containerd integration tests need root");
    let rt = runtime_bin();
    assert!(
        rt.exists(),
        "runtime binary {} does not exist (build hullc or set HULL_RUNTIME)",
        rt.display()
    );
    let ctd = Containerd::start().expect("start private containerd");
    let image = ctd.import_busybox().expect("import busybox image");
    assert!(
        ctd.image_refs().unwrap().contains(&image),
        "image {image} not listed after import"
    );
    Fixture { ctd, image }
}

impl Fixture {
    /// `ctr run` flags that route through containerd's runc shim to the
    /// runtime under test, with private state and fifo dirs.
    pub fn run_flags(&self) -> Vec<OsString> {
        vec![
            "run".into(),
            "--runc-binary".into(),
            runtime_bin().into(),
            "--runc-root".into(),
            self.ctd.runc_root().into(),
            "--fifo-dir".into(),
            self.ctd.fifo_dir().into(),
        ]
    }

    /// `ctr run --rm IMAGE ID ARGS…`, optionally with stdin.
    pub fn run_rm(&self, id: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.ctd
            .run_rm(&self.run_flags(), &self.image, id, args, stdin)
            .expect("ctr run --rm")
    }

    /// `ctr run -d --null-io IMAGE ID ARGS…`; returns the RUNNING task's pid.
    pub fn run_detached(&self, id: &str, args: &[&str]) -> u32 {
        let pid = self
            .ctd
            .run_detached(&self.run_flags(), &self.image, id, args, WAIT)
            .expect("ctr run -d, task RUNNING");
        assert!(pid > 0, "RUNNING task has no pid");
        pid
    }

    /// Per-namespace state dir the shim hands the runtime as `--root`.
    pub fn runtime_state_dir(&self, id: &str) -> std::path::PathBuf {
        self.ctd.runc_root().join(self.ctd.namespace()).join(id)
    }

    /// cgroup v1 dir the shim asks for (`/<namespace>/<id>`) in `controller`.
    pub fn cgroup_dir(&self, controller: &str, id: &str) -> std::path::PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(self.ctd.namespace())
            .join(id)
    }

    /// Kill with SIGKILL, wait for STOPPED, delete task and container, and
    /// check nothing of the container is left.
    pub fn kill_and_remove(&self, id: &str, pid: u32) {
        self.ctd
            .ctr_ok(["task", "kill", "-s", "SIGKILL", id])
            .expect("ctr task kill");
        self.ctd
            .wait_task_status(id, "STOPPED", WAIT)
            .expect("task STOPPED after SIGKILL");
        let del = self.ctd.ctr_output(["task", "delete", id]).unwrap();
        assert!(del.status.success(), "ctr task delete: {}", describe(&del));
        // ctr reports the exit status it got from the shim: 128 + SIGKILL.
        assert!(
            text(&del.stderr).contains("exit code 137"),
            "exit 137 not reported: {}",
            describe(&del)
        );
        self.ctd
            .ctr_ok(["containers", "rm", id])
            .expect("ctr containers rm");
        assert!(
            self.ctd.task(id).unwrap().is_none(),
            "task {id} still listed after delete"
        );
        assert!(
            !self.ctd.containers().unwrap().contains(&id.to_string()),
            "container {id} still listed after rm"
        );
        wait_until("container init to be gone", || {
            !Path::new(&format!("/proc/{pid}")).exists()
        });
        assert!(
            !self.runtime_state_dir(id).exists(),
            "runtime state {} left after delete",
            self.runtime_state_dir(id).display()
        );
        for c in ["pids", "memory", "freezer"] {
            let cg = self.cgroup_dir(c, id);
            wait_until(&format!("cgroup {} removed", cg.display()), || !cg.exists());
        }
    }
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
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
