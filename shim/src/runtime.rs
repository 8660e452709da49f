//! The runc command-line contract: everything the shim asks of the runtime
//! binary (hullc, or runc) goes through here.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::reaper::Reaper;

#[derive(Clone)]
pub struct Runtime {
    pub binary: PathBuf,
    pub root: PathBuf,
    /// `--log` file (JSON lines) the runtime writes its errors to.
    pub log: PathBuf,
    pub systemd_cgroup: bool,
    reaper: Arc<Reaper>,
}

/// The stdio a created or exec'd process gets from the runtime.
#[derive(Default)]
pub struct ProcStdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

fn stdio(fd: Option<OwnedFd>) -> Stdio {
    match fd {
        Some(fd) => Stdio::from(fd),
        None => Stdio::null(),
    }
}

impl Runtime {
    pub fn new(binary: PathBuf, root: PathBuf, log: PathBuf, reaper: Arc<Reaper>) -> Self {
        Runtime {
            binary,
            root,
            log,
            systemd_cgroup: false,
            reaper,
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(&self.root);
        c.arg("--log")
            .arg(&self.log)
            .arg("--log-format")
            .arg("json");
        if self.systemd_cgroup {
            c.arg("--systemd-cgroup");
        }
        c
    }

    /// The last error the runtime logged (its JSON log), or its stderr.
    fn failure(&self, what: &str, code: u32, stderr: &[u8], log_from: u64) -> Error {
        let mut msg = last_log_error(&self.log, log_from).unwrap_or_default();
        if msg.is_empty() {
            msg = String::from_utf8_lossy(stderr).trim().to_string();
        }
        if msg.is_empty() {
            msg = format!("exit status {code}");
        }
        Error::Runtime(format!(
            "{} {what} failed: {msg}",
            self.binary
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
    }

    /// Run a runtime command with captured output; error on non-zero exit.
    fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    fn spawn_error(&self, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Error::NotFound(format!(
                "runtime binary {} not found (set BinaryName in the runtime options, \
                 or HULL_SHIM_RUNTIME)",
                self.binary.display()
            ));
        }
        Error::io(format!("run runtime binary {}", self.binary.display()), e)
    }

    fn run(&self, what: &str, mut cmd: Command) -> Result<Vec<u8>> {
        let log_from = self.log_len();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = self
            .reaper
            .output(&mut cmd)
            .map_err(|e| self.spawn_error(e))?;
        if out.code != 0 {
            return Err(self.failure(what, out.code, &out.stderr, log_from));
        }
        Ok(out.stdout)
    }

    /// Run a command whose stdio belongs to the container (create, exec):
    /// errors come from the runtime's log only.
    fn run_with_stdio(&self, what: &str, mut cmd: Command, io: ProcStdio) -> Result<()> {
        let log_from = self.log_len();
        cmd.stdin(stdio(io.stdin))
            .stdout(stdio(io.stdout))
            .stderr(stdio(io.stderr));
        let child = self
            .reaper
            .spawn(&mut cmd)
            .map_err(|e| self.spawn_error(e))?;
        // Our copies of the container's stdio must close now: they were moved
        // into `cmd`, which we drop before waiting.
        drop(cmd);
        let pid = child.id() as i32;
        drop(child);
        let exit = self.reaper.wait(pid);
        if exit.code != 0 {
            return Err(self.failure(what, exit.code, b"", log_from));
        }
        Ok(())
    }

    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
        no_pivot: bool,
        io: ProcStdio,
    ) -> Result<()> {
        let mut c = self.command();
        c.arg("create").arg("--bundle").arg(bundle);
        c.arg("--pid-file").arg(pid_file);
        if let Some(s) = console_socket {
            c.arg("--console-socket").arg(s);
        }
        if no_pivot {
            c.arg("--no-pivot");
        }
        c.arg(id).current_dir(bundle);
        self.run_with_stdio("create", c, io)
    }

    pub fn start(&self, id: &str) -> Result<()> {
        let mut c = self.command();
        c.arg("start").arg(id);
        self.run("start", c).map(|_| ())
    }

    pub fn exec(
        &self,
        id: &str,
        process_json: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
        io: ProcStdio,
    ) -> Result<()> {
        let mut c = self.command();
        c.arg("exec").arg("--detach");
        c.arg("--process").arg(process_json);
        c.arg("--pid-file").arg(pid_file);
        if let Some(s) = console_socket {
            c.arg("--console-socket").arg(s);
        }
        c.arg(id);
        self.run_with_stdio("exec", c, io)
    }

    pub fn kill(&self, id: &str, signal: u32, all: bool) -> Result<()> {
        let mut c = self.command();
        c.arg("kill");
        if all {
            c.arg("--all");
        }
        c.arg(id).arg(signal.to_string());
        self.run("kill", c).map(|_| ())
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut c = self.command();
        c.arg("delete");
        if force {
            c.arg("--force");
        }
        c.arg(id);
        self.run("delete", c).map(|_| ())
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        let mut c = self.command();
        c.arg("pause").arg(id);
        self.run("pause", c).map(|_| ())
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        let mut c = self.command();
        c.arg("resume").arg(id);
        self.run("resume", c).map(|_| ())
    }

    pub fn ps(&self, id: &str) -> Result<Vec<u32>> {
        let mut c = self.command();
        c.arg("ps").arg("--format").arg("json").arg(id);
        let out = self.run("ps", c)?;
        let text = String::from_utf8_lossy(&out);
        let text = text.trim();
        if text.is_empty() || text == "null" {
            return Ok(Vec::new());
        }
        serde_json::from_str(text)
            .map_err(|e| Error::Runtime(format!("ps: bad output {text:?}: {e}")))
    }

    /// `update --resources -` with the OCI LinuxResources JSON on stdin.
    pub fn update(&self, id: &str, resources_json: &[u8]) -> Result<()> {
        let mut c = self.command();
        c.arg("update").arg("--resources").arg("-").arg(id);
        c.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let log_from = self.log_len();
        let mut child = self.reaper.spawn(&mut c).map_err(|e| self.spawn_error(e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(resources_json)
                .map_err(|e| Error::io("write resources to runtime update", e))?;
        }
        let pid = child.id() as i32;
        let mut stderr = Vec::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_end(&mut stderr);
        }
        let exit = self.reaper.wait(pid);
        if exit.code != 0 {
            return Err(self.failure("update", exit.code, &stderr, log_from));
        }
        Ok(())
    }
}

/// The message of the last error-level line of a runc-style JSON log,
/// looking only at what was written after byte `from`.
pub fn last_log_error(path: &Path, from: u64) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let start = usize::try_from(from).ok()?.min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    let mut found = None;
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            let level = v.get("level").and_then(|l| l.as_str()).unwrap_or("");
            if level == "error" || level == "fatal" {
                if let Some(m) = v.get("msg").and_then(|m| m.as_str()) {
                    found = Some(m.to_string());
                }
            }
        }
    }
    found
}

/// Read a pid file the runtime wrote.
pub fn read_pid_file(path: &Path) -> Result<u32> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    text.trim()
        .parse()
        .map_err(|_| Error::Runtime(format!("bad pid file {}: {text:?}", path.display())))
}

/// Create (truncate) a file for the runtime's log.
pub fn reset_log(path: &Path) {
    let _ = crate::private::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_error_from_json_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.json");
        std::fs::write(
            &p,
            "{\"level\":\"info\",\"msg\":\"hello\"}\n{\"level\":\"error\",\"msg\":\"container \\\"x\\\" does not exist\"}\nnot json\n",
        )
        .unwrap();
        assert_eq!(
            last_log_error(&p, 0).as_deref(),
            Some("container \"x\" does not exist")
        );
        assert_eq!(last_log_error(&p, 200), None);
        assert_eq!(last_log_error(&dir.path().join("none"), 0), None);
    }
}
