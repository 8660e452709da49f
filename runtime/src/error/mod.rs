//! The runtime's error type. Every variant renders as one line naming the
//! thing that was wrong (a file, an id, a path, a syscall).

use std::path::PathBuf;

mod steps;
pub use steps::{Call, MountStep};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{call}: {source}")]
    Syscall {
        call: Call,
        #[source]
        source: nix::Error,
    },
    #[error("open {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("clone {flags:?}: {source}")]
    Clone {
        flags: nix::sched::CloneFlags,
        #[source]
        source: nix::Error,
    },
    #[error("namespace {typ} path {}: {source}", .path.display())]
    NamespacePath {
        typ: oci_spec::runtime::LinuxNamespaceType,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("join {typ} namespace {}: {source}", .path.display())]
    JoinNamespacePath {
        typ: oci_spec::runtime::LinuxNamespaceType,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("{path}: invalid config: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-', '.'")]
    InvalidId(String),
    #[error("container {id:?} is {status}: {op} needs it {wanted}")]
    BadState {
        id: String,
        status: String,
        op: &'static str,
        wanted: &'static str,
    },
    #[error("cgroup {path}: {msg}")]
    Cgroup { path: String, msg: String },
    #[error("cgroup {}: create: {source}", .path.display())]
    CgroupCreate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup {}: write {value:?}: {source}", .path.display())]
    CgroupWrite {
        path: PathBuf,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup {}: read: {source}", .path.display())]
    CgroupRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup {}: remove: {source}", .path.display())]
    CgroupRemove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup {}: timed out freezing", .0.display())]
    FreezeTimeout(PathBuf),
    #[error("the container has no cgroup (rootless): {0}")]
    NoCgroup(&'static str),
    #[error("mount {dest}: {msg}")]
    Mount { dest: String, msg: String },
    #[error("mount {}: bind source {}: {source}", .dest.display(), .path.display())]
    BindSource {
        dest: PathBuf,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mount {}: resolve rootfs: {source}", .rootfs.display())]
    ResolveRootfs {
        rootfs: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mount {}: {step}: {source}", .dest.display())]
    MountStep {
        dest: PathBuf,
        step: MountStep,
        #[source]
        source: nix::Error,
    },
    #[error("hook {path}: {msg}")]
    Hook { path: String, msg: String },
    /// A message relayed from a child process (its error, already one line).
    #[error("container init: {0}")]
    Init(String),
    /// The parent/child sync protocol went wrong.
    #[error("container init: {0}")]
    Protocol(&'static str),
    /// The init cannot set up the container this spec asks for.
    #[error("container init: {0}")]
    InitSetup(&'static str),
    #[error("container init: unexpected message {0}")]
    UnexpectedMessage(String),
    #[error("container init: parent went away")]
    ParentGone,
    #[error("container init: container setup killed by {0}")]
    SetupKilled(nix::sys::signal::Signal),
    #[error("container init: container state: {0}")]
    StateJson(#[source] serde_json::Error),
    #[error("container init: container {0:?}: init exited before start")]
    ExitedBeforeStart(String),
    #[error("container init: {what}: {source}")]
    Procfs {
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("container init: {what}: {why}")]
    ProcfsRefused { what: String, why: &'static str },
    #[error("container init: sysctl {key}={value}: {source}")]
    Sysctl {
        key: String,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("container init: block signals: {0}")]
    BlockSignals(#[source] nix::Error),
    #[error("container init: fork the program under init: {0}")]
    ForkProgram(#[source] nix::Error),
    #[error("container init: cwd {}: outside the container's root ({getcwd})", .cwd.display())]
    CwdOutsideRoot { cwd: PathBuf, getcwd: String },
    #[error("container init: NUL byte in {0:?}")]
    NulByte(String),
    #[error("container init: exec {}: {reason}", .path.display())]
    Exec { path: PathBuf, reason: String },
    #[error("container init: exec {0:?}: permission denied")]
    ExecPermission(String),
    #[error("container init: exec {0:?}: no such executable file")]
    ExecNoSuchFile(String),
    #[error("container init: exec {0:?}: executable file not found in $PATH")]
    ExecNotInPath(String),
    #[error("seccomp: {0}")]
    SeccompCompile(#[source] hull_seccomp::SeccompError),
    #[error("seccomp: {0}")]
    SeccompInstall(#[source] hull_seccomp::SeccompError),
    #[error("seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")]
    NotifyNeedsListenerPath,
    #[error("seccomp: listenerPath {}: no such socket", .0.display())]
    ListenerPathMissing(PathBuf),
    #[error("seccomp: listener without a seccomp profile")]
    ListenerWithoutProfile,
    #[error("seccomp: listenerPath {}: {source}", .path.display())]
    ListenerPath {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },

    // --- command line ---------------------------------------------------
    #[error("no command given (see hullc --help)")]
    NoCommand,
    #[error("--systemd-cgroup is not supported by hullc (cgroupfs only)")]
    SystemdCgroup,
    #[error("CRIU version check failed: checkpoint/restore is not supported by hullc (no CRIU)")]
    NoCriu,
    #[error("{0}: container id cannot be empty")]
    EmptyId(&'static str),
    #[error("unknown --format {0:?} (table or json)")]
    UnknownFormat(String),
    #[error("invalid --interval {0:?} (e.g. 5s, 500ms, 1m)")]
    BadInterval(String),
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    #[error("File {} exists. Remove it first", .0.display())]
    SpecExists(PathBuf),
    #[error("invalid size {0:?}")]
    BadSize(String),
    #[error("resources: {0}")]
    Resources(#[source] serde_json::Error),
    #[error("cpu quota must be -1 or positive")]
    CpuQuota,
    #[error("cpu period must be between 1000 and 1000000 (µs)")]
    CpuPeriod,
    #[error("couldn't find PID field in ps output")]
    PsNoPidColumn,
    #[error("unable to parse pid: {0:?}")]
    PsBadPid(String),
    #[error("ps: {0}")]
    PsSpawn(#[source] std::io::Error),
    #[error("ps {args}: {status}: {output}")]
    PsFailed {
        args: String,
        status: std::process::ExitStatus,
        output: String,
    },
    #[error("cleanup after exit: {0}")]
    CleanupAfterExit(Box<Error>),

    // --- exec ---------------------------------------------------------------
    #[error("exec: give a command (ARGS…) or --process FILE")]
    ExecNoCommand,
    #[error("{}: invalid process: {source}", .path.display())]
    ProcessFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("exec --user {0:?}: want UID[:GID] as numbers")]
    ExecUser(String),
    #[error("exec --cap {0:?}: unknown capability")]
    ExecCap(String),
    #[error("container {0:?}: cannot exec in a stopped container")]
    ExecStopped(String),
    #[error(
        "container {0:?}: cannot exec in a paused container (use --ignore-paused to override)"
    )]
    ExecPaused(String),

    // --- terminal -----------------------------------------------------------
    #[error("exec -t needs --console-socket")]
    ExecTtyNeedsConsoleSocket,
    #[error("process.terminal is true but no --console-socket was given")]
    TerminalNeedsConsoleSocket,
    #[error("cannot allocate tty if runc will detach without setting console socket")]
    DetachedTtyNeedsConsoleSocket,
    #[error("cannot use console socket if runc will not detach or allocate tty")]
    ConsoleSocketUnused,
    #[error("console socket {}: does not exist", .0.display())]
    ConsoleSocketMissing(PathBuf),
    #[error("console socket {}: {source}", .path.display())]
    ConsoleSocket {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },

    // --- container state and cgroups ---------------------------------------
    #[error("{}: {source}", .path.display())]
    StateFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("process is missing")]
    MissingProcess,
    #[error("invalid configuration: cannot use unified on cgroup v1")]
    UnifiedOnV1,
    #[error("container's cgroup unexpectedly frozen")]
    CgroupFrozen,
    #[error("container {id:?}: init {pid} did not die")]
    InitDidNotDie { id: String, pid: i32 },

    // --- process setup ------------------------------------------------------
    #[error("oomScoreAdj {value}: {source}{}", eperm_hint(.source, "lowering it needs CAP_SYS_RESOURCE"))]
    OomScoreAdj {
        value: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("rlimit {typ} soft={soft} hard={hard}: {source}{}", eperm_hint(.source, "raising a hard limit needs CAP_SYS_RESOURCE"))]
    Rlimit {
        typ: String,
        soft: u64,
        hard: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("timeOffsets: unknown clock {0:?}")]
    TimeOffsetClock(String),
    #[error("linux.personality.flags are not supported")]
    PersonalityFlags,
    #[error("sync channel: {0}")]
    SyncMessage(#[source] serde_json::Error),

    #[error("sethostname {name:?}: {source}")]
    Sethostname {
        name: String,
        #[source]
        source: nix::Error,
    },
    #[error("setdomainname {name:?}: {source}")]
    Setdomainname {
        name: String,
        #[source]
        source: nix::Error,
    },
    #[error("chdir to cwd {}: {source}", .path.display())]
    Cwd {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("unshare {flags:?}: {source}")]
    Unshare {
        flags: nix::sched::CloneFlags,
        #[source]
        source: nix::Error,
    },
    #[error("join namespace {flag:?}: {source}")]
    JoinNamespace {
        flag: nix::sched::CloneFlags,
        #[source]
        source: nix::Error,
    },
    #[error("setgroups {groups:?}: {source}")]
    Setgroups {
        groups: Vec<u32>,
        #[source]
        source: nix::Error,
    },
    #[error("setresgid {gid}: {source}")]
    Setresgid {
        gid: u32,
        #[source]
        source: nix::Error,
    },
    #[error("setresuid {uid}: {source}")]
    Setresuid {
        uid: u32,
        #[source]
        source: nix::Error,
    },
    #[error("chown stdio fd {fd}: {source}")]
    ChownStdio {
        fd: i32,
        #[source]
        source: nix::Error,
    },
    #[error("mkfifo {}: {source}", .path.display())]
    Mkfifo {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("kill {pid} {signal}: {source}")]
    Kill {
        pid: i32,
        signal: &'static str,
        #[source]
        source: nix::Error,
    },

    // --- capabilities -------------------------------------------------------
    #[error("read bounding set: {0}")]
    CapsReadBounding(#[source] caps::errors::CapsError),
    #[error("drop {cap} from bounding set: {source}")]
    CapsDropBounding {
        cap: caps::Capability,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("read permitted set: {0}")]
    CapsReadPermitted(#[source] caps::errors::CapsError),
    #[error("set {set} capabilities: {source}")]
    CapsSet {
        set: &'static str,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("clear ambient capabilities: {0}")]
    CapsClearAmbient(#[source] caps::errors::CapsError),
    #[error("clear capabilities: {0}")]
    CapsClear(#[source] caps::errors::CapsError),

    // --- hullc's own executable (sealed copy, CVE-2019-5736) ---------------
    #[error("memfd_create: {0}")]
    MemfdCreate(#[source] nix::Error),
    #[error("copy hullc into memfd: {0}")]
    MemfdCopy(#[source] std::io::Error),
    #[error("seal memfd: {0}")]
    MemfdSeal(#[source] nix::Error),
    #[error("re-exec from sealed memfd: {0}")]
    SealedReexec(#[source] std::io::Error),
}

/// " (HINT)" when the error is EPERM/EACCES: what the kernel wants.
fn eperm_hint(e: &std::io::Error, hint: &str) -> String {
    if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
        format!(" ({hint})")
    } else {
        String::new()
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The text a child process sends to its parent, which wraps it in
    /// `Error::Init` (so a "container init: " error is not prefixed twice).
    pub fn child_message(&self) -> String {
        let text = self.to_string();
        match text.strip_prefix("container init: ") {
            Some(rest) => rest.to_string(),
            None => text,
        }
    }
}

/// Attach a path to io errors: `fs::read(p).ctx(p)?`.
pub trait IoContext<T> {
    fn ctx(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

/// Attach the failing call to nix errors: `setsid().sys(Call::Setsid)?`.
pub trait SysContext<T> {
    fn sys(self, call: Call) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, call: Call) -> Result<T> {
        self.map_err(|source| Error::Syscall { call, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_messages_are_not_prefixed_twice() {
        for e in [
            Error::Init("exec \"x\": no such file".into()),
            Error::Protocol("hooks before init pid"),
            Error::ParentGone,
        ] {
            let relayed = Error::Init(e.child_message());
            assert_eq!(relayed.to_string(), e.to_string());
        }
        let other = Error::Sethostname {
            name: "h".into(),
            source: nix::errno::Errno::EPERM,
        };
        assert_eq!(
            Error::Init(other.child_message()).to_string(),
            "container init: sethostname \"h\": EPERM: Operation not permitted"
        );
    }
}
