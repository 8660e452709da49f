//! `hull compose create [SERVICE…]`: the containers of the services (and
//! of what they depend on) made, with their images (built or pulled as
//! `up` does), networks and volumes, but not started. An existing container is kept unless `--force-recreate`.

use clap::Args;
use hull_compose::Loaded;
use hull_proto::v1 as pb;

use super::project::{self, label};
use super::{build, ensure, labels, options, ComposeArgs};
use crate::client::Conn;
use crate::containers::lifecycle::{launch, stop, Launch};
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Recreate containers even if they exist.
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers even if their configuration changed.
    #[arg(long)]
    pub no_recreate: bool,
    /// Build images before creating containers.
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Don't build an image, even if it is missing.
    #[arg(long)]
    pub no_build: bool,
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
    ensure::images(
        &loaded,
        conn,
        &order,
        ensure::Policy::of(a.build, a.no_build),
    )
    .await?;
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
        let hash = p.config_hash(service)?;
        let image = build::image_name(&p.name, service, svc);
        let image_id = build::image_id(conn, &image).await?.unwrap_or_default();
        for n in 1..=replicas {
            let name = format!("{}-{service}-{n}", p.name);
            if let Some(c) = existing.iter().find(|c| c.name == name) {
                let same =
                    label(c, labels::CONFIG_HASH) == hash && label(c, labels::IMAGE) == image_id;
                if (same || a.no_recreate) && !a.force_recreate {
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
            let container = pb::Container {
                name: name.clone(),
                image: image.clone(),
                labels: labels::of_container(&loaded, service, n, false, &image_id)?,
                ..Default::default()
            };
            create_one(conn, &loaded, service, container).await?;
            eprintln!(" Container {name}  Created");
        }
    }
    Ok(())
}

/// Creates `container` of `service`, on all the service's networks.
async fn create_one(
    conn: &Conn,
    loaded: &Loaded,
    service: &str,
    container: pb::Container,
) -> anyhow::Result<String> {
    let p = &loaded.project;
    let svc = &p.services[service];
    let name = container.name.clone();
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
