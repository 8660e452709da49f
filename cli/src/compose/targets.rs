//! Which containers a command works on: the project's containers of the
//! named services (all services when none is named), in start order
//! (dependencies first, then by container number), as Compose selects them.

use anyhow::bail;
use hull_compose::Project;
use hull_proto::v1 as pb;

use super::labels;
use super::project::{self, label};
use crate::client::Conn;

/// Whether one-off (`compose run`) containers are included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneOff {
    Exclude,
    Include,
}

/// The services named (all when none), in start order.
pub fn ordered_services(p: &Project, services: &[String]) -> anyhow::Result<Vec<String>> {
    project::check_services(p, services)?;
    Ok(p.start_order()?
        .into_iter()
        .filter(|s| services.is_empty() || services.contains(s))
        .collect())
}

/// The project's containers of `services` (all when empty), dependencies'
/// first; containers of services no longer in the files come last.
pub async fn containers(
    conn: &Conn,
    p: &Project,
    services: &[String],
    oneoff: OneOff,
) -> anyhow::Result<Vec<pb::Container>> {
    let order = ordered_services(p, services)?;
    let rank = |c: &pb::Container| {
        order
            .iter()
            .position(|s| s == label(c, labels::SERVICE))
            .unwrap_or(usize::MAX)
    };
    let mut v: Vec<pb::Container> = project::containers(conn, &p.name)
        .await?
        .into_iter()
        .filter(|c| oneoff == OneOff::Include || !is_oneoff(c))
        .filter(|c| services.is_empty() || rank(c) != usize::MAX)
        .collect();
    v.sort_by_key(|c| (rank(c), is_oneoff(c), number(c), c.name.clone()));
    Ok(v)
}

pub fn is_oneoff(c: &pb::Container) -> bool {
    label(c, labels::ONEOFF) == "True"
}

/// The `container-number` label (0 when missing).
pub fn number(c: &pb::Container) -> u32 {
    label(c, labels::NUMBER).parse().unwrap_or(0)
}

/// The service's container of number `index` (Compose's `--index`), not a
/// one-off one.
pub async fn indexed(
    conn: &Conn,
    p: &Project,
    service: &str,
    index: u32,
) -> anyhow::Result<pb::Container> {
    let all = containers(conn, p, &[service.to_string()], OneOff::Exclude).await?;
    if all.is_empty() {
        bail!("service {service:?} is not running");
    }
    all.into_iter()
        .find(|c| number(c) == index)
        .ok_or_else(|| anyhow::anyhow!("service {service:?} has no container #{index}"))
}
