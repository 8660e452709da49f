//! `hull compose rm [-f] [-s] [-v] [SERVICE…]`: the project's stopped
//! containers (one-off ones included) removed, after Compose's question
//! unless `-f`; `-s` stops running ones first, `-v` takes their anonymous
//! volumes along.

use std::io::{BufRead, Write};

use clap::Args;
use hull_proto::v1 as pb;

use super::project::is_running;
use super::targets::{self, OneOff};
use super::ComposeArgs;
use crate::client::Conn;
use crate::containers::lifecycle::stop;
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop the containers first if needed.
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove anonymous volumes attached to the containers.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &RmArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    let mut all = targets::containers(conn, p, &a.services, OneOff::Include).await?;
    // Dependents first.
    all.reverse();
    if a.stop {
        for c in all.iter().filter(|c| is_running(c)) {
            stop(conn, &c.id, None)
                .await
                .map_err(|e| anyhow::anyhow!("container {}: {e:#}", c.name))?;
            eprintln!(" Container {}  Stopped", c.name);
        }
        all = targets::containers(conn, p, &a.services, OneOff::Include).await?;
        all.reverse();
    }
    all.retain(|c| !is_running(c));
    if all.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    if !a.force && !confirm(&all)? {
        return Ok(());
    }
    for c in &all {
        conn.containers()
            .delete(conn.req(pb::DeleteContainerRequest {
                id: c.id.clone(),
                force: false,
                volumes: a.volumes,
            }))
            .await
            .map_err(|e| anyhow::anyhow!("container {}: {}", c.name, msg(&e)))?;
        eprintln!(" Container {}  Removed", c.name);
    }
    Ok(())
}

/// Compose's question: the names, then "Are you sure? [yN]"; only y/Y
/// answers yes.
fn confirm(all: &[pb::Container]) -> anyhow::Result<bool> {
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    print!("Going to remove {}\nAre you sure? [yN] ", names.join(", "));
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y"))
}
