//! `exec`: a process in a running container; its output, then its exit
//! code as ours.

use std::io::Write;

use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::flags::env_list;
use super::lifecycle::start_error_code;
use super::{msg, Exit};
use crate::client::Conn;

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Keep stdin open (attach it).
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

/// `exec`: the process's output, then its exit code as ours (Docker: 126
/// cannot invoke, 127 not found, 1 for daemon errors such as a stopped
/// container).
pub(crate) async fn exec(conn: &Conn, a: ExecArgs) -> anyhow::Result<()> {
    if a.interactive || a.tty {
        let req = pb::ExecRequest {
            container_id: a.container.clone(),
            args: a.command.clone(),
            env: env_list(&a.env),
            workdir: a.workdir.clone().unwrap_or_default(),
            user: a.user.clone().unwrap_or_default(),
        };
        return crate::attach::exec(conn, req, a.interactive, a.tty).await;
    }
    let mut s = match conn
        .tasks()
        .exec(conn.req(pb::ExecRequest {
            container_id: a.container.clone(),
            args: a.command.clone(),
            env: env_list(&a.env),
            workdir: a.workdir.clone().unwrap_or_default(),
            user: a.user.clone().unwrap_or_default(),
        }))
        .await
    {
        Ok(s) => s.into_inner(),
        Err(e) => {
            let code = match start_error_code(&e) {
                125 => 1,
                c => c,
            };
            eprintln!("Error response from daemon: {}", msg(&e));
            return Err(Exit(code).into());
        }
    };
    while let Some(m) = s.next().await {
        let m = m.map_err(|e| {
            eprintln!("Error response from daemon: {}", msg(&e));
            Exit(1)
        })?;
        if m.exited {
            if m.exit_code != 0 {
                return Err(Exit(m.exit_code).into());
            }
            return Ok(());
        }
        if m.stream == 2 {
            let mut e = std::io::stderr().lock();
            e.write_all(&m.data)?;
            e.flush()?;
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&m.data)?;
            o.flush()?;
        }
    }
    eprintln!("Error: the daemon ended the exec without an exit code");
    Err(Exit(1).into())
}
