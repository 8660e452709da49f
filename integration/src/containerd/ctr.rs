//! Running `ctr` with a time limit, and reading what it prints.

use super::*;

/// Run `cmd` with piped stdout/stderr (and `stdin` fed, then closed, if
/// given). If it has not exited after `timeout`, SIGKILL it (our own child)
/// and return [`ContainerdError::WaitTimeout`] with what it printed so far.
pub fn output_with_timeout(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, ContainerdError> {
    use std::io::{Read, Write};
    tracing::debug!(?cmd, "spawn");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(io_err(format!("spawning {cmd:?}")))?;
    let feeder = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
                // Dropping the pipe closes the child's stdin (EOF).
            }))
        }
        _ => None,
    };
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_t = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_t = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(io_err("waiting for child"))? {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    // A grandchild holding the pipes open would block these joins; ctr's
    // children are daemonised shims that do not inherit ctr's stdio.
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(ContainerdError::WaitTimeout {
            what: format!("{cmd:?} to exit"),
            timeout,
            last: format!(
                "stdout: {} stderr: {}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            ),
        }),
    }
}

pub(super) fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Parse `ctr task ls` (header `TASK PID STATUS`).
pub fn parse_task_ls(out: &str) -> Vec<TaskInfo> {
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let id = f.next()?.to_string();
            let pid = f.next()?.parse().ok()?;
            let status = f.next()?.to_string();
            Some(TaskInfo { id, pid, status })
        })
        .collect()
}

impl Containerd {
    /// `ctr RUN_FLAGS… --rm IMAGE ID ARGS…` (RUN_FLAGS starting with `run`,
    /// choosing shim and runtime), stdin fed if given, within
    /// [`CTR_TIMEOUT`].
    pub fn run_rm(
        &self,
        run_flags: &[std::ffi::OsString],
        image: &str,
        id: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Output, ContainerdError> {
        let mut cmd = self.ctr();
        cmd.args(run_flags)
            .arg("--rm")
            .arg(image)
            .arg(id)
            .args(args);
        output_with_timeout(&mut cmd, stdin, CTR_TIMEOUT)
    }

    /// `ctr RUN_FLAGS… -d --null-io IMAGE ID ARGS…`, then waits up to `wait`
    /// for the task to be RUNNING; its pid.
    pub fn run_detached(
        &self,
        run_flags: &[std::ffi::OsString],
        image: &str,
        id: &str,
        args: &[&str],
        wait: Duration,
    ) -> Result<u32, ContainerdError> {
        let mut flags = run_flags.to_vec();
        flags.extend(["-d".into(), "--null-io".into(), image.into(), id.into()]);
        flags.extend(args.iter().map(std::ffi::OsString::from));
        self.ctr_ok(&flags)?;
        Ok(self.wait_task_status(id, "RUNNING", wait)?.pid)
    }
}
