//! `hull compose top [SERVICE…]`: the processes of each running service
//! container: its name, then `top`'s table, then a blank line.

use clap::Args;
use hull_proto::v1 as pb;

use super::project::is_running;
use super::targets::{self, OneOff};
use super::ComposeArgs;
use crate::client::Conn;
use crate::containers::{msg, print_columns};

#[derive(Debug, Args)]
pub struct TopArgs {
    pub services: Vec<String>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &TopArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let containers =
        targets::containers(conn, &loaded.project, &a.services, OneOff::Include).await?;
    for c in containers.iter().filter(|c| is_running(c)) {
        let r = conn
            .tasks()
            .top(conn.req(pb::PidsRequest {
                container_id: c.id.clone(),
            }))
            .await
            .map_err(|e| anyhow::anyhow!("container {}: {}", c.name, msg(&e)))?
            .into_inner();
        println!("{}", c.name);
        let mut rows = vec![r.titles];
        rows.extend(r.processes.into_iter().map(|p| p.fields));
        print_columns(&rows);
        println!();
    }
    Ok(())
}
