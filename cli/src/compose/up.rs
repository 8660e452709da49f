//! `hull compose up`: networks and volumes first, then each service in
//! dependency order (see `converge`). In the foreground (no `-d`) it then
//! follows the containers' output (see `attached`); `--wait` waits for them
//! to be running and healthy. A failed `up` takes back what it made, so no
//! half-started project is left running.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use futures_util::future::join_all;
use hull_compose::{Loaded, Project};
use hull_proto::v1 as pb;

use super::attached::{self, Attach};
use super::converge::{self, Recreate};
use super::interrupt::Interrupt;
use super::project::{self, label};
use super::rollback::Made;
use super::{depwait, ensure, labels, ComposeArgs};
use crate::client::Conn;
use crate::containers::lifecycle::stop;
use crate::containers::Exit;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Recreate containers even if their configuration did not change.
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers even if their configuration changed.
    #[arg(long)]
    pub no_recreate: bool,
    /// Don't start the services the named ones depend on.
    #[arg(long)]
    pub no_deps: bool,
    /// Remove containers of services no longer in the files.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Run N containers of SERVICE (SERVICE=N), over deploy.replicas.
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// Build images before starting containers.
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Don't build an image, even if it's missing.
    #[arg(long)]
    pub no_build: bool,
    /// Wait for the services to be running and healthy (implies -d).
    #[arg(long)]
    pub wait: bool,
    /// Seconds `--wait` waits at most.
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    pub wait_timeout: Option<u64>,
    /// Stop all containers when one exits (foreground only).
    #[arg(long, conflicts_with_all = ["detach", "wait"])]
    pub abort_on_container_exit: bool,
    /// Exit with this service's exit code (implies --abort-on-container-exit).
    #[arg(long, value_name = "SERVICE", conflicts_with_all = ["detach", "wait"])]
    pub exit_code_from: Option<String>,
    /// Only these services (and what they depend on).
    pub services: Vec<String>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &UpArgs) -> anyhow::Result<()> {
    let since = hull_types::time::now_nanos();
    // In the foreground, Ctrl-C is Compose's "Gracefully stopping…" from
    // the start, while containers are still being created and started.
    let intr = if a.detach || a.wait {
        Interrupt::never()
    } else {
        Interrupt::catch()?
    };
    let loaded = args.load()?;
    let p = &loaded.project;
    let selected = selection(p, &a.services, a.no_deps)?;
    if let Some(s) = &a.exit_code_from {
        if !selected.contains(s) {
            bail!("no such service: {s}");
        }
    }
    let scale = scale(p, &a.scale)?;
    let order: Vec<String> = p
        .start_order()?
        .into_iter()
        .filter(|s| selected.contains(s))
        .collect();
    let mut made = Made::default();
    let converged = converge_all(conn, &loaded, &order, &scale, a, &intr, &mut made).await;
    if intr.is_set() {
        // Compose stops (and keeps) what it started, as after the start.
        eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
        let waves = waves(conn, p, &order).await?;
        attached::stop_all(conn, &waves, &intr).await;
        return Err(Exit(130).into());
    }
    if let Err(e) = converged {
        made.undo(conn).await;
        return Err(e);
    }
    if a.wait {
        let timeout = a.wait_timeout.map(Duration::from_secs);
        return depwait::all_ready(conn, p, &order, timeout).await;
    }
    if a.detach {
        return Ok(());
    }
    let waves = waves(conn, p, &order).await?;
    let opts = Attach {
        abort_on_exit: a.abort_on_container_exit || a.exit_code_from.is_some(),
        exit_code_from: a.exit_code_from.clone(),
    };
    match attached::follow(conn, &waves, since, &opts, &intr).await? {
        0 => Ok(()),
        code => Err(Exit(code).into()),
    }
}

/// The project's containers of the services in `order` (not one-off
/// ones), grouped by the waves they start in, a wave's sorted by name.
async fn waves(
    conn: &Conn,
    p: &Project,
    order: &[String],
) -> anyhow::Result<Vec<Vec<pb::Container>>> {
    let mut containers = project::containers(conn, &p.name).await?;
    containers.retain(|c| label(c, labels::ONEOFF) != "True");
    containers.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(p.start_waves(order)
        .iter()
        .map(|wave| {
            containers
                .iter()
                .filter(|c| wave.iter().any(|s| s == label(c, labels::SERVICE)))
                .cloned()
                .collect()
        })
        .collect())
}

/// Everything up to started containers; what it makes goes into `made`.
async fn converge_all(
    conn: &Conn,
    loaded: &Loaded,
    order: &[String],
    scale: &HashMap<String, u32>,
    a: &UpArgs,
    intr: &Interrupt,
    made: &mut Made,
) -> anyhow::Result<()> {
    let p = &loaded.project;
    // Images first: one that cannot be built or pulled fails `up` before
    // anything is made. A pull or build is cut short by Ctrl-C.
    let policy = ensure::Policy::of(a.build, a.no_build);
    intr.or_stop(ensure::images(loaded, conn, order, policy))
        .await?;
    intr.check()?;
    made.networks = project::ensure_networks(conn, p, order).await?;
    made.volumes = project::ensure_volumes(conn, p).await?;
    let existing = project::containers(conn, &p.name).await?;
    orphans(conn, p, &existing, a.remove_orphans).await?;
    let recreate = Recreate {
        force: a.force_recreate,
        never: a.no_recreate,
    };
    // Wave by wave, the services of a wave in parallel.
    for wave in p.start_waves(order) {
        intr.check()?;
        let results = join_all(wave.iter().map(|service| {
            let existing = &existing;
            async move {
                let mut m = Made::default();
                let r = async {
                    if !a.no_deps {
                        intr.or_stop(depwait::dependencies(conn, p, service))
                            .await?;
                    }
                    let svc = &p.services[service];
                    let replicas = scale
                        .get(service)
                        .copied()
                        .or_else(|| svc.deploy.as_ref().and_then(|d| d.replicas))
                        .or(svc.scale)
                        .unwrap_or(1);
                    let target = converge::Wanted {
                        service,
                        replicas,
                        recreate,
                        interrupt: intr,
                        start: true,
                        remove_extra: true,
                    };
                    converge::service(conn, loaded, &target, existing, &mut m).await
                }
                .await;
                (m, r)
            }
        }))
        .await;
        if let Some(e) = made.absorb_all(results) {
            return Err(e);
        }
    }
    Ok(())
}

/// `--scale S=N` flags as a map; each S must be a service.
fn scale(p: &Project, flags: &[String]) -> anyhow::Result<HashMap<String, u32>> {
    let mut scale = HashMap::new();
    for s in flags {
        let parsed = s
            .split_once('=')
            .and_then(|(svc, n)| Some((svc, n.parse::<u32>().ok()?)));
        let Some((svc, n)) = parsed else {
            bail!("invalid --scale {s:?}: expected SERVICE=N");
        };
        if !p.services.contains_key(svc) {
            bail!("no such service: {svc}");
        }
        scale.insert(svc.to_string(), n);
    }
    Ok(scale)
}

/// The named services and everything they depend on (all when none named;
/// only the named ones with `--no-deps`).
fn selection(p: &Project, named: &[String], no_deps: bool) -> anyhow::Result<BTreeSet<String>> {
    if named.is_empty() {
        return Ok(p.services.keys().cloned().collect());
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = named.to_vec();
    while let Some(s) = todo.pop() {
        let Some(svc) = p.services.get(&s) else {
            bail!("no such service: {s}");
        };
        if out.insert(s) && !no_deps {
            todo.extend(svc.depends_on.keys().cloned());
        }
    }
    Ok(out)
}

async fn orphans(
    conn: &Conn,
    p: &Project,
    existing: &[pb::Container],
    remove: bool,
) -> anyhow::Result<()> {
    for c in existing {
        let service = label(c, labels::SERVICE);
        if p.services.contains_key(service) || label(c, labels::ONEOFF) == "True" {
            continue;
        }
        if remove {
            stop(conn, &c.id, None).await?;
            converge::delete(conn, &c.id).await?;
            eprintln!(" Container {}  Removed", c.name);
        } else {
            eprintln!("warning: found orphan container ({}) for this project; --remove-orphans removes it", c.name);
        }
    }
    Ok(())
}
