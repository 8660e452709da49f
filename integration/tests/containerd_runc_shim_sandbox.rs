//! The sandbox a process sees (ids, capabilities, limits, env, mounts,
//! devices, masked paths, cgroups, fds) under containerd's runc shim is the
//! same with the runtime under test as with runc, for init and for exec.
//!
//! Needs root and /usr/sbin/runc; each test starts its own containerd.

mod containerd_runc_shim_support;

use std::ffi::OsString;
use std::path::Path;

use containerd_runc_shim_support::*;
use hull_integration::containerd::{output_with_timeout, CTR_TIMEOUT};
use hull_integration::{runtime_bin, unique_id};

/// Everything a process can observe about its sandbox that does not depend
/// on ids or timing. The container id (in cgroup paths) is passed as $CID
/// and replaced by "ID".
const VIEW_SCRIPT: &str = r#"
echo "== id"; id; umask; hostname
echo "== status"; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
echo "== oom"; cat /proc/self/oom_score_adj
echo "== limits"; ulimit -a
echo "== env"; env | grep -v -E '^(CID|PWD|SHLVL|_)=' | sort
echo "== mounts"; awk '{ for (i = 7; $i != "-"; i++); print $5, $6, $(i + 1) }' /proc/self/mountinfo
echo "== dev"; for d in /dev/* /dev/pts/* /dev/shm /dev/mqueue; do stat -c '%n %F %t:%T %a %u:%g' "$d"; done
echo "== masked"; wc -c < /proc/kcore; ls /proc/acpi 2>&1 | wc -l; cat /proc/timer_list 2>&1 | wc -c
echo "== proc-sys"; (echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null && echo proc-sys-writable || echo proc-sys-ro
echo "== sysfs"; touch /sys/x 2>/dev/null && echo sys-writable || echo sys-ro
echo "== cgroup"; sed "s#$CID#ID#g" /proc/self/cgroup | sort
echo "== fds"; ls /proc/self/fd | wc -l
"#;

impl Fixture {
    /// Output of VIEW_SCRIPT as init of a fresh container run by `runtime`.
    fn view_via_run(&self, runtime: &Path, tag: &str) -> String {
        let id = unique_id(tag);
        let mut cmd = self.ctd.ctr();
        cmd.args([
            "run",
            "--runc-binary",
            &runtime.display().to_string(),
            "--runc-root",
            &self.ctd.runc_root().display().to_string(),
            "--fifo-dir",
            &self.ctd.fifo_dir().display().to_string(),
            "--rm",
            "--env",
            &format!("CID={id}"),
            &self.image,
            &id,
            "sh",
            "-c",
            VIEW_SCRIPT,
        ]);
        let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} ({})",
            describe(&out),
            runtime.display()
        );
        text(&out.stdout)
    }

    /// Output of VIEW_SCRIPT via `ctr task exec` into a running container
    /// started with `runtime`.
    fn view_via_exec(&self, runtime: &Path, tag: &str) -> String {
        let id = unique_id(tag);
        let mut flags: Vec<OsString> = vec![
            "run".into(),
            "--runc-binary".into(),
            runtime.into(),
            "--runc-root".into(),
            self.ctd.runc_root().into(),
            "-d".into(),
            "--null-io".into(),
            "--env".into(),
            format!("CID={id}").into(),
        ];
        flags.extend([
            self.image.clone().into(),
            id.clone().into(),
            "sleep".into(),
            "300".into(),
        ]);
        self.ctd.ctr_ok(&flags).expect("ctr run -d");
        let t = self
            .ctd
            .wait_task_status(&id, "RUNNING", WAIT)
            .expect("RUNNING");
        let mut cmd = self.ctd.ctr();
        cmd.args(["task", "exec", "--exec-id", "view", "--fifo-dir"])
            .arg(self.ctd.fifo_dir())
            .args([&id, "sh", "-c", VIEW_SCRIPT]);
        let out = output_with_timeout(&mut cmd, None, CTR_TIMEOUT).unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} ({})",
            describe(&out),
            runtime.display()
        );
        self.kill_and_remove(&id, t.pid);
        text(&out.stdout)
    }
}

/// Lines only in `a` and only in `b`, for a readable failure message.
fn line_diff(a: &str, b: &str) -> String {
    let only = |x: &str, y: &str| -> Vec<String> {
        let ys: Vec<&str> = y.lines().collect();
        x.lines()
            .filter(|l| !ys.contains(l))
            .map(|l| format!("  {l}"))
            .collect()
    };
    format!(
        "only under the runtime under test:\n{}\nonly under runc:\n{}",
        only(a, b).join("\n"),
        only(b, a).join("\n")
    )
}

const RUNC: &str = "/usr/sbin/runc";

#[test]
fn init_sees_the_same_sandbox_as_under_runc() {
    let f = setup();
    let ours = f.view_via_run(&runtime_bin(), "view");
    let reference = f.view_via_run(Path::new(RUNC), "viewref");
    assert!(
        reference.contains("== fds"),
        "view script incomplete under runc:\n{reference}"
    );
    if std::env::var_os("HULL_SHOW_VIEW").is_some() {
        eprintln!("{reference}");
    }
    assert!(ours == reference, "{}", line_diff(&ours, &reference));
}

#[test]
fn exec_sees_the_same_sandbox_as_under_runc() {
    let f = setup();
    let ours = f.view_via_exec(&runtime_bin(), "xview");
    let reference = f.view_via_exec(Path::new(RUNC), "xviewref");
    assert!(
        reference.contains("== fds"),
        "view script incomplete under runc:\n{reference}"
    );
    if std::env::var_os("HULL_SHOW_VIEW").is_some() {
        eprintln!("{reference}");
    }
    assert!(ours == reference, "{}", line_diff(&ours, &reference));
}
