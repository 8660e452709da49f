//! `hull compose down`: the project's containers stopped and removed in
//! reverse start order, then its networks; `-v` removes its named volumes
//! (not external ones) and the containers' anonymous volumes.

use clap::Args;
use futures_util::future::join_all;
use hull_proto::v1 as pb;

use super::project::{self, label};
use super::{labels, ComposeArgs};
use crate::client::Conn;
use crate::containers::lifecycle::stop;
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also remove named volumes declared in the files and anonymous volumes.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Also remove containers of services no longer in the files.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Also remove images: `local` those compose named itself (built ones
    /// without `image:`), `all` every service's image.
    #[arg(long, value_parser = ["local", "all"])]
    pub rmi: Option<String>,
    /// Seconds to wait for each container to stop.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &DownArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    let order = p.start_order()?;
    let waves = p.start_waves(&order);
    // Orphans (no wave) go first, then the waves from the last: dependents
    // before what they depend on, the containers of a wave in parallel.
    let wave = |c: &pb::Container| {
        waves
            .iter()
            .position(|w| w.iter().any(|s| s == label(c, labels::SERVICE)))
    };
    let mut containers = project::containers(conn, &p.name).await?;
    containers.retain(|c| a.remove_orphans || wave(c).is_some());
    let mut groups: Vec<Vec<&pb::Container>> = vec![Vec::new(); waves.len() + 1];
    for c in &containers {
        groups[wave(c).map_or(0, |w| waves.len() - w)].push(c);
    }
    for group in groups {
        let removed = join_all(group.into_iter().map(|c| async move {
            stop(conn, &c.id, a.timeout).await?;
            conn.containers()
                .delete(conn.req(pb::DeleteContainerRequest {
                    id: c.id.clone(),
                    force: true,
                    volumes: a.volumes,
                }))
                .await
                .map_err(|e| anyhow::anyhow!("container {}: {}", c.name, msg(&e)))?;
            eprintln!(" Container {}  Removed", c.name);
            anyhow::Ok(())
        }))
        .await;
        removed.into_iter().collect::<anyhow::Result<()>>()?;
    }
    let nets = crate::network::client(conn)
        .list(conn.req(pb::ListNetworksRequest {}))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
        .into_inner()
        .networks;
    for n in nets {
        if n.labels.get(labels::PROJECT) == Some(&p.name) {
            project::remove_network(conn, &n.name).await?;
        }
    }
    if let Some(mode) = &a.rmi {
        super::images::remove(conn, p, mode).await?;
    }
    if a.volumes {
        for (key, def) in &p.volumes {
            if !def.external.yes {
                let name = def.name.clone().unwrap_or_else(|| key.clone());
                project::remove_volume(conn, &name).await?;
            }
        }
    }
    Ok(())
}
