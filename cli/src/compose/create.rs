//! `hull compose create [SERVICE…]`: the containers of the services (and
//! of what they depend on) made, with their networks and volumes, but not
//! started. An existing container is kept unless `--force-recreate`.

use clap::Args;
use hull_compose::Loaded;
use hull_proto::v1 as pb;

use super::project;
use super::{labels, options, ComposeArgs};
use crate::client::Conn;
use crate::containers::lifecycle::{ensure_image, launch, stop, Launch};
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Recreate containers even if they exist.
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers (the default).
    #[arg(long)]
    pub no_recreate: bool,
    pub services: Vec<String>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &CreateArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    let selected = p.with_dependencies(&a.services)?;
    let order: Vec<String> = p
        .start_order()?
        .into_iter()
        .filter(|s| selected.contains(s))
        .collect();
    project::ensure_networks(conn, p, &order).await?;
    project::ensure_volumes(conn, p).await?;
    let existing = project::containers(conn, &p.name).await?;
    for service in &order {
        let svc = &p.services[service];
        let replicas = svc
            .deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .or(svc.scale)
            .unwrap_or(1);
        for n in 1..=replicas {
            let name = format!("{}-{service}-{n}", p.name);
            if let Some(c) = existing.iter().find(|c| c.name == name) {
                if !a.force_recreate {
                    eprintln!(" Container {name}  Created");
                    continue;
                }
                stop(conn, &c.id, None).await?;
                conn.containers()
                    .delete(conn.req(pb::DeleteContainerRequest {
                        id: c.id.clone(),
                        force: true,
                        volumes: false,
                    }))
                    .await
                    .map_err(|e| anyhow::anyhow!("container {name}: {}", msg(&e)))?;
            }
            create_one(conn, &loaded, service, n, &name).await?;
            eprintln!(" Container {name}  Created");
        }
    }
    Ok(())
}

/// Creates container `name`, number `n` of `service`, on all its networks.
async fn create_one(
    conn: &Conn,
    loaded: &Loaded,
    service: &str,
    n: u32,
    name: &str,
) -> anyhow::Result<String> {
    let p = &loaded.project;
    let svc = &p.services[service];
    let Some(image) = svc.image.clone() else {
        anyhow::bail!(
            "service {service:?}: building images (build:) is not supported here; give it an image"
        );
    };
    ensure_image(conn, &image).await?;
    let container = pb::Container {
        name: name.to_string(),
        image,
        labels: labels::of_container(loaded, service, n, false)?,
        ..Default::default()
    };
    let how = Launch {
        networks: options::networks(p, service, svc)
            .into_iter()
            .skip(1)
            .collect(),
        ..Default::default()
    };
    let opts = options::run_options(p, service, svc)?;
    launch(conn, container, opts, how)
        .await?
        .ok_or_else(|| anyhow::anyhow!("container {name}: not created"))
}
