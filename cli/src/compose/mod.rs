//! `hull compose`: multi-container projects from a Compose file. The model
//! (files, merging, interpolation, normalization) is `hull-compose`; this
//! module holds the commands: `config` (needs no daemon), `up -d`, `down`,
//! `ps` over hulld's gRPC API.

mod attached;
mod config;
mod converge;
mod depwait;
mod down;
mod labels;
mod options;
mod project;
mod ps;
mod rollback;
mod up;

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
    /// Validate the files and print the normalized project.
    Config(config::ConfigArgs),
    /// Create and start the project's containers.
    Up(up::UpArgs),
    /// Stop and remove the project's containers and networks.
    Down(down::DownArgs),
    /// List the project's containers.
    Ps(ps::PsArgs),
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
        ComposeCmd::Up(a) => up::run(conn, args, a).await,
        ComposeCmd::Down(a) => down::run(conn, args, a).await,
        ComposeCmd::Ps(a) => ps::run(conn, args, a).await,
    }
}
