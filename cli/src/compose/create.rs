//! `hull compose create [SERVICE…]`: the containers of the services (and
//! of what they depend on) made, with their images (built or pulled as
//! `up` does), networks and volumes, but not started: `up`'s `converge`
//! without the start. An existing container is kept while its
//! configuration is the same (or `--no-recreate`), unless
//! `--force-recreate`.

use clap::Args;

use super::converge::{self, Recreate};
use super::interrupt::Interrupt;
use super::rollback::Made;
use super::{ensure, project, ComposeArgs};
use crate::client::Conn;

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
    let never = Interrupt::never();
    for service in &order {
        let svc = &p.services[service];
        let replicas = svc
            .deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .or(svc.scale)
            .unwrap_or(1);
        let wanted = converge::Wanted {
            service,
            replicas,
            recreate: Recreate {
                force: a.force_recreate,
                never: a.no_recreate,
            },
            interrupt: &never,
            start: false,
            remove_extra: false,
        };
        // Nothing is taken back on failure, as before.
        let mut made = Made::default();
        converge::service(conn, &loaded, &wanted, &existing, &mut made).await?;
    }
    Ok(())
}
