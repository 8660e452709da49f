//! hullc's command line: runc's commands and flags.

pub mod create;
pub mod criu;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use crate::logging::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "hullc",
    about = "hull's OCI runtime (runc-compatible)",
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version (runc's shape: name, commit, spec).
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Directory for container state.
    #[arg(long, global = true, default_value = "/run/hullc")]
    pub root: PathBuf,
    /// Log file (default: stderr).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported: an error if used).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container (its program waits for `start`).
    Create(create::CreateArgs),
    /// Start a created container's program.
    Start(IdArg),
    /// Create and start a container; without -d, wait and exit with its code.
    Run(run::RunArgs),
    /// Print a container's OCI state as JSON.
    State(IdArg),
    /// List containers.
    #[command(alias = "ls")]
    List(list::ListArgs),
    /// Send a signal to a container's init (or all its processes).
    Kill(kill::KillArgs),
    /// Delete a stopped container (--force: any container).
    Delete(delete::DeleteArgs),
    /// Run a new process inside a running container.
    Exec(exec::ExecArgs),
    /// Write a default config.json.
    Spec(spec::SpecArgs),
    /// List the processes in a container.
    Ps(ps::PsArgs),
    /// Freeze every process in a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Change a container's resources.
    Update(update::UpdateArgs),
    /// Resource stats and OOM events as JSON lines.
    Events(events::EventsArgs),
    /// What this runtime supports (OCI features document).
    Features,
    /// Not supported: checkpointing needs CRIU.
    Checkpoint(criu::CriuArgs),
    /// Not supported: restoring needs CRIU.
    Restore(criu::CriuArgs),
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

/// `hullc --version`, in runc's line shape.
pub fn version_text() -> String {
    format!(
        "hullc version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("HULL_COMMIT").unwrap_or("unknown"),
        spec::SPEC_VERSION
    )
}
