//! Bringing one service to what the files say: `replicas` containers named
//! PROJECT-SERVICE-N with Compose's labels. A container whose config hash
//! label matches the service's is kept (started if stopped); one whose hash
//! differs is recreated; replicas over the count are removed. Everything
//! made is recorded for a rollback. `up` converges and starts, `create`
//! converges only.

use anyhow::bail;
use futures_util::future::join_all;
use hull_compose::Loaded;
use hull_proto::v1 as pb;

use super::interrupt::Interrupt;
use super::project::{is_running, label};
use super::rollback::Made;
use super::{build, labels, options};
use crate::client::Conn;
use crate::containers::lifecycle::{start, stop};
use crate::containers::msg;

/// How `up` treats containers that already exist.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recreate {
    pub force: bool,
    pub never: bool,
}

/// The service's containers of this project (not one-off ones).
pub fn of_service<'a>(existing: &'a [pb::Container], service: &str) -> Vec<&'a pb::Container> {
    existing
        .iter()
        .filter(|c| label(c, labels::SERVICE) == service && label(c, labels::ONEOFF) != "True")
        .collect()
}

/// What one service is to be brought to.
pub struct Wanted<'a> {
    pub service: &'a str,
    pub replicas: u32,
    pub recreate: Recreate,
    /// Checked before each create and start (Ctrl-C of a foreground `up`).
    pub interrupt: &'a Interrupt,
    /// Start the containers (`up`), or only create them (`create`).
    pub start: bool,
    /// Remove the replicas over `replicas` (`up`; `create` keeps them).
    pub remove_extra: bool,
}

/// Converge a service to its `replicas` containers, the replicas in
/// parallel; what was made goes into `made` even when it fails.
pub async fn service(
    conn: &Conn,
    loaded: &Loaded,
    w: &Wanted<'_>,
    existing: &[pb::Container],
    made: &mut Made,
) -> anyhow::Result<()> {
    let (service, replicas, recreate) = (w.service, w.replicas, w.recreate);
    let p = &loaded.project;
    let svc = &p.services[service];
    let image = build::image_name(&p.name, service, svc);
    let image_id = build::image_id(conn, &image).await?.unwrap_or_default();
    let hash = p.config_hash(service)?;
    let mine = of_service(existing, service);
    let target = Target {
        loaded,
        service,
        image: &image,
        image_id: &image_id,
        hash: &hash,
        recreate,
        interrupt: w.interrupt,
        start: w.start,
    };
    let results = join_all((1..=replicas).map(|n| {
        let current = mine
            .iter()
            .find(|c| c.name == format!("{}-{service}-{n}", p.name))
            .copied();
        let target = &target;
        async move {
            let mut m = Made::default();
            let r = replica(conn, target, n, current, &mut m).await;
            (m, r)
        }
    }))
    .await;
    let first = made.absorb_all(results);
    // Scaled down: the highest numbers go.
    let extra = mine.iter().filter(|c| {
        w.remove_extra && label(c, labels::NUMBER).parse::<u32>().unwrap_or(0) > replicas
    });
    let removed = join_all(extra.map(|c| async move {
        stop(conn, &c.id, None).await?;
        delete(conn, &c.id).await?;
        eprintln!(" Container {}  Removed", c.name);
        anyhow::Ok(())
    }))
    .await;
    first.map_or(Ok(()), Err)?;
    removed.into_iter().collect()
}

/// What one replica is made from.
struct Target<'a> {
    loaded: &'a Loaded,
    service: &'a str,
    image: &'a str,
    /// The image's id, kept in a label: a rebuilt image recreates.
    image_id: &'a str,
    hash: &'a str,
    recreate: Recreate,
    interrupt: &'a Interrupt,
    start: bool,
}

/// Replica `n`: kept (started when stopped) while its hash matches,
/// else (re)created and started (with `start` false: neither started).
async fn replica(
    conn: &Conn,
    t: &Target<'_>,
    n: u32,
    current: Option<&pb::Container>,
    made: &mut Made,
) -> anyhow::Result<()> {
    let name = format!("{}-{}-{n}", t.loaded.project.name, t.service);
    if let Some(c) = current {
        let same = label(c, labels::CONFIG_HASH) == t.hash && label(c, labels::IMAGE) == t.image_id;
        if (same || t.recreate.never) && !t.recreate.force {
            if !t.start {
                eprintln!(" Container {name}  Created");
                return Ok(());
            }
            if is_running(c) {
                eprintln!(" Container {name}  Running");
                return Ok(());
            }
            t.interrupt.check()?;
            start(conn, &c.id)
                .await
                .map_err(|e| anyhow::anyhow!("container {name}: {e}"))?;
            made.started.push((c.id.clone(), name.clone()));
            eprintln!(" Container {name}  Started");
            return Ok(());
        }
        t.interrupt.check()?;
        stop(conn, &c.id, None).await?;
        delete(conn, &c.id).await?;
        eprintln!(" Container {name}  Recreated");
    }
    t.interrupt.check()?;
    let id = create(conn, t, n).await?;
    made.containers.push((id.clone(), name.clone()));
    eprintln!(" Container {name}  Created");
    if !t.start {
        return Ok(());
    }
    t.interrupt.check()?;
    start(conn, &id)
        .await
        .map_err(|e| anyhow::anyhow!("container {name}: {e}"))?;
    eprintln!(" Container {name}  Started");
    Ok(())
}

/// Create replica `n` of `service` with Compose's labels, joined to the
/// service's further networks.
async fn create(conn: &Conn, t: &Target<'_>, n: u32) -> anyhow::Result<String> {
    let (loaded, service) = (t.loaded, t.service);
    let p = &loaded.project;
    let svc = &p.services[service];
    let name = format!("{}-{service}-{n}", p.name);
    let options = options::run_options(p, service, svc)?;
    let l = labels::of_container(loaded, service, n, false, t.image_id)?;
    let created = conn
        .containers()
        .create(conn.req(pb::CreateContainerRequest {
            container: Some(pb::Container {
                name: name.clone(),
                image: t.image.to_string(),
                labels: l,
                ..Default::default()
            }),
            options: Some(options),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("container {name}: {}", msg(&e)))?
        .into_inner();
    if svc.network_mode.is_none() {
        for (net, aliases) in options::networks(p, service, svc).into_iter().skip(1) {
            let r = crate::network::client(conn)
                .connect_container(conn.req(pb::ConnectNetworkRequest {
                    network: net.clone(),
                    container: created.id.clone(),
                    aliases,
                }))
                .await;
            if let Err(e) = r {
                let _ = delete(conn, &created.id).await;
                bail!("container {name}: network {net}: {}", msg(&e));
            }
        }
    }
    Ok(created.id)
}

/// Remove a container of the project (stopped first by the caller).
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
