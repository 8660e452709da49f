//! hullc, hull's OCI runtime: library half (the binary is a thin CLI).

pub mod cgroups;
pub mod cli;
pub mod config;
pub mod console;
pub mod container;
pub mod error;
pub mod hooks;
pub mod logging;
pub mod process;
pub mod rootfs;
pub mod rootless;
pub mod security;
pub mod syscall;

use cli::{Cli, Command};
use container::Store;
use error::{Error, Result};

/// Run a parsed command; returns the process exit code.
pub fn dispatch(cli: &Cli) -> Result<i32> {
    let g = &cli.global;
    if g.systemd_cgroup {
        return Err(Error::SystemdCgroup);
    }
    let store = Store::new(&rootless::state_root(&g.root));
    let Some(command) = &cli.command else {
        return Err(Error::NoCommand);
    };
    match command {
        Command::Create(a) => cli::create::run(&store, a).map(|_| 0),
        Command::Start(a) => cli::start::run(&store, &a.id).map(|_| 0),
        Command::Run(a) => cli::run::run(&store, a),
        Command::State(a) => cli::state::run(&store, &a.id).map(|_| 0),
        Command::List(a) => cli::list::run(&store, a).map(|_| 0),
        Command::Kill(a) => cli::kill::run(&store, a).map(|_| 0),
        Command::Delete(a) => cli::delete::run(&store, a).map(|_| 0),
        Command::Spec(a) => cli::spec::run(a).map(|_| 0),
        Command::Exec(a) => cli::exec::run(&store, a),
        Command::Update(a) => cli::update::run(&store, a).map(|_| 0),
        Command::Events(a) => cli::events::run(&store, a).map(|_| 0),
        Command::Features => {
            cli::features::run();
            Ok(0)
        }
        Command::Ps(a) => cli::ps::run(&store, a).map(|_| 0),
        Command::Pause(a) => cli::pause::pause(&store, &a.id).map(|_| 0),
        Command::Resume(a) => cli::pause::resume(&store, &a.id).map(|_| 0),
        Command::Checkpoint(a) => cli::criu::checkpoint(&store, a).map(|_| 0),
        Command::Restore(a) => cli::criu::restore(&store, a).map(|_| 0),
    }
}

/// The exit code of a failed command: runc's `exec` exits 255 when the
/// process could not be started, every other command 1.
pub fn failure_code(cmd: Option<&Command>) -> i32 {
    match cmd {
        Some(Command::Exec(_)) => 255,
        _ => 1,
    }
}

/// Commands that enter a container run from a sealed copy of hullc.
pub fn needs_sealed_exe(cmd: Option<&Command>) -> bool {
    matches!(
        cmd,
        Some(Command::Create(_) | Command::Run(_) | Command::Exec(_))
    )
}

/// Commands that only print a report: as runc's, they end quietly, killed
/// by SIGPIPE, when their reader goes away (`hullc state x | grep -q …`).
pub fn only_prints(cmd: Option<&Command>) -> bool {
    matches!(
        cmd,
        None | Some(Command::State(_) | Command::List(_) | Command::Ps(_))
            | Some(Command::Events(_) | Command::Features)
    )
}

/// Fds the caller asked to pass through (--preserve-fds).
pub fn preserved_fds(cmd: Option<&Command>) -> i32 {
    match cmd {
        Some(Command::Create(a)) => a.preserve_fds,
        Some(Command::Run(a)) => a.create.preserve_fds,
        Some(Command::Exec(a)) => a.preserve_fds,
        _ => 0,
    }
}

/// Fds that a path argument names (`exec -p /dev/fd/N`, `/proc/self/fd/N`):
/// they must survive hullc's own re-exec (see process::sealed_exe), so they
/// are not made close-on-exec with the others.
pub fn fds_named_by_args(cmd: Option<&Command>) -> Vec<i32> {
    let paths: Vec<&std::path::Path> = match cmd {
        Some(Command::Exec(a)) => a.process.iter().map(|p| p.as_path()).collect(),
        _ => Vec::new(),
    };
    paths
        .iter()
        .filter_map(|p| {
            let s = p.to_str()?;
            s.strip_prefix("/dev/fd/")
                .or_else(|| s.strip_prefix("/proc/self/fd/"))?
                .parse()
                .ok()
        })
        .filter(|fd| *fd > 2)
        .collect()
}
