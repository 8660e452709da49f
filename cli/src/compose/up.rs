//! `hull compose up -d`: networks and volumes first, then each service in
//! dependency order, `replicas` containers named PROJECT-SERVICE-N with
//! Compose's labels. A container whose config hash label matches the
//! service's is kept (started if stopped); one whose hash differs is
//! recreated.

use std::collections::{BTreeSet, HashMap};

use anyhow::bail;
use clap::Args;
use hull_compose::model::service::Condition;
use hull_compose::{Loaded, Project};
use hull_proto::v1 as pb;

use super::project::{self, is_running, label};
use super::{build, ensure, labels, options, ComposeArgs};
use crate::client::Conn;
use crate::containers::lifecycle::{ensure_image, start, stop};
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run in the background (the only mode for now).
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Recreate containers even if their configuration did not change.
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers even if their configuration changed.
    #[arg(long)]
    pub no_recreate: bool,
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
    /// Only these services (and what they depend on).
    pub services: Vec<String>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &UpArgs) -> anyhow::Result<()> {
    if !a.detach {
        bail!("hull compose up: only detached mode (-d) is supported for now");
    }
    let loaded = args.load()?;
    let p = &loaded.project;
    let selected = with_dependencies(p, &a.services)?;
    let mut scale = HashMap::new();
    for s in &a.scale {
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
    orphans(conn, p, &existing, a.remove_orphans).await?;
    for service in &order {
        wait_for_dependencies(conn, p, service).await?;
        let replicas = scale.get(service).copied();
        up_service(conn, &loaded, service, replicas, &existing, a).await?;
    }
    Ok(())
}

/// The named services and everything they depend on (all when none named).
fn with_dependencies(p: &Project, named: &[String]) -> anyhow::Result<BTreeSet<String>> {
    if named.is_empty() {
        return Ok(p.services.keys().cloned().collect());
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = named.to_vec();
    while let Some(s) = todo.pop() {
        let Some(svc) = p.services.get(&s) else {
            bail!("no such service: {s}");
        };
        if out.insert(s) {
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
            delete(conn, &c.id).await?;
            eprintln!(" Container {}  Removed", c.name);
        } else {
            eprintln!("warning: found orphan container ({}) for this project; --remove-orphans removes it", c.name);
        }
    }
    Ok(())
}

/// `service_completed_successfully` waits for the dependency's containers
/// to exit 0, `service_healthy` for their healthchecks to pass (failing
/// when one turns unhealthy or has no healthcheck); `service_started` needs
/// nothing more, as the dependency was started first.
async fn wait_for_dependencies(conn: &Conn, p: &Project, service: &str) -> anyhow::Result<()> {
    let Some(svc) = p.services.get(service) else {
        return Ok(());
    };
    for (dep, cond) in &svc.depends_on {
        let cond = cond
            .as_ref()
            .map(|c| c.condition)
            .unwrap_or(Condition::ServiceStarted);
        match cond {
            Condition::ServiceStarted => {}
            Condition::ServiceHealthy => wait_healthy(conn, p, dep).await?,
            Condition::ServiceCompletedSuccessfully => wait_completed(conn, p, dep).await?,
        }
    }
    Ok(())
}

async fn wait_completed(conn: &Conn, p: &Project, dep: &str) -> anyhow::Result<()> {
    for c in project::containers(conn, &p.name).await? {
        if label(&c, labels::SERVICE) != dep {
            continue;
        }
        let w = conn
            .tasks()
            .wait(conn.req(pb::WaitTaskRequest {
                container_id: c.id.clone(),
                exec_id: String::new(),
            }))
            .await;
        let code = match w {
            Ok(w) => w.into_inner().exit_status,
            Err(_) => c.status.as_ref().map(|s| s.exit_code as u32).unwrap_or(0),
        };
        if code != 0 {
            bail!("service {dep:?} didn't complete successfully: exit {code}");
        }
    }
    Ok(())
}

/// Poll the dependency's containers until every one reports healthy.
async fn wait_healthy(conn: &Conn, p: &Project, dep: &str) -> anyhow::Result<()> {
    loop {
        let mut waiting = false;
        for c in project::containers(conn, &p.name).await? {
            if label(&c, labels::SERVICE) != dep || label(&c, labels::ONEOFF) == "True" {
                continue;
            }
            let status = c.status.as_ref();
            let health = status.and_then(|s| s.health.as_ref());
            match health.map(|h| h.status.as_str()) {
                Some("healthy") => {}
                Some("unhealthy") => bail!(
                    "dependency failed to start: container {} is unhealthy",
                    c.name
                ),
                Some(_) if is_running(&c) => waiting = true,
                Some(_) => bail!("dependency failed to start: container {} exited", c.name),
                None => bail!(
                    "dependency failed to start: container {} has no healthcheck configured",
                    c.name
                ),
            }
        }
        if !waiting {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn up_service(
    conn: &Conn,
    loaded: &Loaded,
    service: &str,
    scale: Option<u32>,
    existing: &[pb::Container],
    a: &UpArgs,
) -> anyhow::Result<()> {
    let p = &loaded.project;
    let svc = &p.services[service];
    let image = build::image_name(&p.name, service, svc);
    let replicas = scale
        .or_else(|| svc.deploy.as_ref().and_then(|d| d.replicas))
        .or(svc.scale)
        .unwrap_or(1);
    let hash = p.config_hash(service)?;
    let options = options::run_options(p, service, svc)?;
    let nets = options::networks(p, service, svc);
    let mine: Vec<&pb::Container> = existing
        .iter()
        .filter(|c| label(c, labels::SERVICE) == service && label(c, labels::ONEOFF) != "True")
        .collect();
    ensure_image(conn, &image).await?;
    let image_id = build::image_id(conn, &image).await?.unwrap_or_default();
    for n in 1..=replicas {
        let name = format!("{}-{service}-{n}", p.name);
        if let Some(c) = mine.iter().find(|c| c.name == name) {
            let same = label(c, labels::CONFIG_HASH) == hash && label(c, labels::IMAGE) == image_id;
            if (same || a.no_recreate) && !a.force_recreate {
                if !is_running(c) {
                    start(conn, &c.id).await?;
                    eprintln!(" Container {name}  Started");
                } else {
                    eprintln!(" Container {name}  Running");
                }
                continue;
            }
            stop(conn, &c.id, None).await?;
            delete(conn, &c.id).await?;
            eprintln!(" Container {name}  Recreated");
        }
        let mut l: HashMap<String, String> = svc.labels.clone().into_iter().collect();
        l.insert(labels::PROJECT.into(), p.name.clone());
        l.insert(labels::SERVICE.into(), service.to_string());
        l.insert(labels::NUMBER.into(), n.to_string());
        l.insert(labels::CONFIG_HASH.into(), hash.clone());
        l.insert(labels::ONEOFF.into(), "False".into());
        l.insert(labels::IMAGE.into(), image_id.clone());
        l.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
        l.insert(
            labels::WORKING_DIR.into(),
            loaded.project_dir.display().to_string(),
        );
        l.insert(
            labels::CONFIG_FILES.into(),
            loaded
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        let created = conn
            .containers()
            .create(conn.req(pb::CreateContainerRequest {
                container: Some(pb::Container {
                    name: name.clone(),
                    image: image.clone(),
                    labels: l,
                    ..Default::default()
                }),
                options: Some(options.clone()),
            }))
            .await
            .map_err(|e| anyhow::anyhow!("container {name}: {}", msg(&e)))?
            .into_inner();
        for (net, aliases) in nets.iter().skip(1) {
            crate::network::client(conn)
                .connect_container(conn.req(pb::ConnectNetworkRequest {
                    network: net.clone(),
                    container: created.id.clone(),
                    aliases: aliases.clone(),
                }))
                .await
                .map_err(|e| anyhow::anyhow!("container {name}: network {net}: {}", msg(&e)))?;
        }
        eprintln!(" Container {name}  Created");
        start(conn, &created.id)
            .await
            .map_err(|e| anyhow::anyhow!("container {name}: {e}"))?;
        eprintln!(" Container {name}  Started");
    }
    // Scaled down: the highest numbers go.
    for c in mine {
        let n: u32 = label(c, labels::NUMBER).parse().unwrap_or(0);
        if n > replicas {
            stop(conn, &c.id, None).await?;
            delete(conn, &c.id).await?;
            eprintln!(" Container {}  Removed", c.name);
        }
    }
    Ok(())
}

pub async fn delete(conn: &Conn, id: &str) -> anyhow::Result<()> {
    conn.containers()
        .delete(conn.req(pb::DeleteContainerRequest {
            id: id.to_string(),
            force: true,
            volumes: false,
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
    Ok(())
}
