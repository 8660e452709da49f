//! `hull compose exec [-d] [-T] [-e K=V] [-u USER] [-w DIR] [--index N]
//! SERVICE CMD…`: a command in the service's container number N (1 by
//! default), with our stdin, a terminal when ours is one (unless `-T`), and
//! its exit code as ours; `-d` leaves it running in the background.

use std::io::IsTerminal;

use clap::Args;
use hull_proto::v1 as pb;

use super::targets;
use super::ComposeArgs;
use crate::client::Conn;
use crate::containers::exec::{exec, ExecArgs};
use crate::containers::flags::env_list;
use crate::containers::{msg, Exit};

#[derive(Debug, Args)]
pub struct ComposeExecArgs {
    /// Run the command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep stdin attached (the default; accepted for Compose's command lines).
    #[arg(short = 'i', long, hide = true)]
    pub interactive: bool,
    /// Don't allocate a terminal (the default when stdin is not one).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set an environment variable (KEY=VALUE, or KEY to take ours).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Run as this user[:group].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory of the command.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Which of the service's containers (its number).
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &ComposeExecArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    super::project::check_services(&loaded.project, std::slice::from_ref(&a.service))?;
    let c = targets::indexed(conn, &loaded.project, &a.service, a.index).await?;
    if a.detach {
        // The process runs on once we hang up (hulld keeps its output).
        conn.tasks()
            .exec(conn.req(pb::ExecRequest {
                container_id: c.id.clone(),
                args: a.command.clone(),
                env: env_list(&a.env),
                workdir: a.workdir.clone().unwrap_or_default(),
                user: a.user.clone().unwrap_or_default(),
            }))
            .await
            .map_err(|e| {
                eprintln!("Error response from daemon: {}", msg(&e));
                Exit(1)
            })?;
        return Ok(());
    }
    let stdin_tty = std::io::stdin().is_terminal();
    exec(
        conn,
        ExecArgs {
            interactive: true,
            tty: !a.no_tty && stdin_tty,
            env: a.env.clone(),
            workdir: a.workdir.clone(),
            user: a.user.clone(),
            container: c.id.clone(),
            command: a.command.clone(),
        },
    )
    .await
}
