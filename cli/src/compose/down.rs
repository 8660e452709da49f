//! `hull compose down`: the project's containers stopped and removed in
//! reverse start order, then its networks; `-v` removes its named volumes
//! (not external ones) and the containers' anonymous volumes.

use clap::Args;
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
    let rank = |c: &pb::Container| {
        order
            .iter()
            .position(|s| s == label(c, labels::SERVICE))
            .unwrap_or(usize::MAX)
    };
    let mut containers = project::containers(conn, &p.name).await?;
    containers.retain(|c| a.remove_orphans || rank(c) != usize::MAX);
    // Dependents first.
    containers.sort_by_key(|c| std::cmp::Reverse(rank(c)));
    for c in &containers {
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
    }
    let mut net = crate::network::client(conn);
    let nets = net
        .list(conn.req(pb::ListNetworksRequest {}))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
        .into_inner()
        .networks;
    for n in nets {
        if n.labels.get(labels::PROJECT) == Some(&p.name) {
            net.remove(conn.req(pb::RemoveNetworkRequest {
                name: n.name.clone(),
            }))
            .await
            .map_err(|e| anyhow::anyhow!("network {}: {}", n.name, msg(&e)))?;
            eprintln!(" Network {}  Removed", n.name);
        }
    }
    if let Some(mode) = &a.rmi {
        super::images::remove(conn, p, mode).await?;
    }
    if a.volumes {
        for (key, def) in &p.volumes {
            if def.external.yes {
                continue;
            }
            let name = def.name.clone().unwrap_or_else(|| key.clone());
            let r = conn
                .volumes()
                .remove(conn.req(pb::RemoveVolumeRequest {
                    name: name.clone(),
                    force: false,
                }))
                .await;
            match r {
                Ok(_) => eprintln!(" Volume {name}  Removed"),
                Err(e) if e.code() == tonic::Code::NotFound => {}
                Err(e) => anyhow::bail!("volume {name}: {}", msg(&e)),
            }
        }
    }
    Ok(())
}
