//! `hull compose`: multi-container projects from a Compose file. The model
//! (files, merging, interpolation, normalization) is `hull-compose`; this
//! module holds the commands: `config` (needs no daemon), `up -d`, `down`,
//! `ps` over hulld's gRPC API.

mod attached;
mod build;
mod builds;
mod config;
mod converge;
mod depwait;
mod down;
mod ensure;
mod images;
mod interrupt;
mod labels;
mod options;
mod project;
mod ps;
mod rollback;
mod transfer;
mod up;

// The lifecycle and inspection commands.
mod create;
mod events;
mod exec;
mod lifecycle;
mod logs;
mod logs_follow;
mod ls;
mod port;
mod remove;
mod run;
mod targets;
mod top;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// Compose file (several are merged in order; default: compose.yaml … in this directory or a parent).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name (default: COMPOSE_PROJECT_NAME, the file's `name:`, the directory's name).
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Environment file instead of the project directory's .env.
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Enable the services of a profile.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    #[command(subcommand)]
    pub cmd: ComposeCmd,
}

#[derive(Debug, Subcommand)]
pub enum ComposeCmd {
    /// Start the services' existing containers.
    Start(lifecycle::ServicesArgs),
    /// Stop the services' running containers.
    Stop(lifecycle::StopArgs),
    /// Restart the services' containers.
    Restart(lifecycle::StopArgs),
    /// Send a signal to the services' running containers.
    Kill(lifecycle::KillArgs),
    /// Pause the services' running containers.
    Pause(lifecycle::ServicesArgs),
    /// Unpause the services' paused containers.
    Unpause(lifecycle::ServicesArgs),
    /// Remove the services' stopped containers.
    Rm(remove::RmArgs),
    /// Create the services' containers without starting them.
    Create(create::CreateArgs),
    /// Show the output of the services' containers.
    Logs(logs::LogsArgs),
    /// Run a command in a running service container.
    Exec(exec::ComposeExecArgs),
    /// Run a one-off command in a new container of a service.
    Run(Box<run::RunArgs>),
    /// Show the processes of the services' containers.
    Top(top::TopArgs),
    /// Print the host address a service's port is published on.
    Port(port::PortArgs),
    /// Stream the project's container events.
    Events(events::EventsArgs),
    /// List the projects running on hulld.
    Ls(ls::LsArgs),
    /// Validate the files and print the normalized project.
    Config(config::ConfigArgs),
    /// Create and start the project's containers.
    Up(up::UpArgs),
    /// Stop and remove the project's containers and networks.
    Down(down::DownArgs),
    /// List the project's containers.
    Ps(ps::PsArgs),
    /// Build the images of services with a `build:` section.
    Build(build::BuildArgs),
    /// Pull the services' images.
    Pull(transfer::PullArgs),
    /// Push the images of services that are built and named.
    Push(transfer::PushArgs),
    /// List the images of the project's containers.
    Images(images::ImagesArgs),
}

impl ComposeArgs {
    /// Loads the project the flags name.
    pub fn load(&self) -> anyhow::Result<hull_compose::Loaded> {
        let opts = hull_compose::Options {
            files: self.files.clone(),
            working_dir: std::env::current_dir().context("current directory")?,
            project_name: self.project_name.clone(),
            env_files: self.env_files.clone(),
            profiles: self.profiles.clone(),
            environment: std::env::vars().collect(),
        };
        Ok(hull_compose::load(&opts)?)
    }
}

/// Commands that need no daemon; None when this one does.
pub fn run_offline(args: &ComposeArgs) -> Option<anyhow::Result<()>> {
    match &args.cmd {
        ComposeCmd::Config(c) => Some(config::run(args, c)),
        _ => None,
    }
}

/// Commands that talk to hulld.
pub async fn run(conn: &crate::client::Conn, args: &ComposeArgs) -> anyhow::Result<()> {
    match &args.cmd {
        ComposeCmd::Config(c) => config::run(args, c),
        ComposeCmd::Start(a) => lifecycle::start_cmd(conn, args, a).await,
        ComposeCmd::Stop(a) => lifecycle::stop_cmd(conn, args, a).await,
        ComposeCmd::Restart(a) => lifecycle::restart_cmd(conn, args, a).await,
        ComposeCmd::Kill(a) => lifecycle::kill_cmd(conn, args, a).await,
        ComposeCmd::Pause(a) => lifecycle::pause_cmd(conn, args, a).await,
        ComposeCmd::Unpause(a) => lifecycle::unpause_cmd(conn, args, a).await,
        ComposeCmd::Rm(a) => remove::run(conn, args, a).await,
        ComposeCmd::Create(a) => create::run(conn, args, a).await,
        ComposeCmd::Logs(a) => logs::run(conn, args, a).await,
        ComposeCmd::Exec(a) => exec::run(conn, args, a).await,
        ComposeCmd::Run(a) => run::run(conn, args, a).await,
        ComposeCmd::Top(a) => top::run(conn, args, a).await,
        ComposeCmd::Port(a) => port::run(conn, args, a).await,
        ComposeCmd::Events(a) => events::run(conn, args, a).await,
        ComposeCmd::Ls(a) => ls::run(conn, a).await,
        ComposeCmd::Up(a) => up::run(conn, args, a).await,
        ComposeCmd::Down(a) => down::run(conn, args, a).await,
        ComposeCmd::Ps(a) => ps::run(conn, args, a).await,
        ComposeCmd::Build(a) => build::run(conn, args, a).await,
        ComposeCmd::Pull(a) => transfer::pull(conn, args, a).await,
        ComposeCmd::Push(a) => transfer::push(conn, args, a).await,
        ComposeCmd::Images(a) => images::run(conn, args, a).await,
    }
}
