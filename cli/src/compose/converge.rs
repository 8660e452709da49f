//! Bringing one service to what the files say: `replicas` containers named
//! PROJECT-SERVICE-N with Compose's labels. A container whose config hash
//! label matches the service's is kept (started if stopped); one whose hash
//! differs is recreated; replicas over the count are removed. Everything
//! made is recorded for a rollback.

use std::collections::HashMap;

use anyhow::bail;
use futures_util::future::join_all;
use hull_compose::{Loaded, Project};
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::project::{is_running, label};
use super::rollback::Made;
use super::{labels, options};
use crate::client::Conn;
use crate::containers::lifecycle::{start, stop};
use crate::containers::msg;

/// How `up` treats containers that already exist.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recreate {
    pub force: bool,
    pub never: bool,
}

/// Pull the image when hulld does not have it; the error names the service
/// and the image.
pub async fn pull_missing(conn: &Conn, service: &str, image: &str) -> anyhow::Result<()> {
    let got = conn
        .images()
        .get(conn.req(pb::GetImageRequest {
            name: image.to_string(),
            platform: None,
        }))
        .await;
    match got {
        Ok(_) => return Ok(()),
        Err(e) if e.code() == tonic::Code::NotFound => {}
        Err(e) => bail!("service {service:?}: image {image}: {}", msg(&e)),
    }
    eprintln!(" {service} Pulling");
    // hulld's message names the image most of the time: once is enough.
    let fail = |e: tonic::Status| {
        let m = msg(&e);
        if m.contains(image) {
            anyhow::anyhow!("service {service:?}: pull: {m}")
        } else {
            anyhow::anyhow!("service {service:?}: pull image {image}: {m}")
        }
    };
    let mut s = conn
        .transfer()
        .pull(conn.req(pb::PullRequest {
            reference: image.to_string(),
            platform: None,
            auth: crate::login::auth_for(image),
            no_unpack: false,
        }))
        .await
        .map_err(fail)?
        .into_inner();
    while let Some(p) = s.next().await {
        p.map_err(fail)?;
    }
    eprintln!(" {service} Pulled");
    Ok(())
}

/// The service's containers of this project (not one-off ones).
pub fn of_service<'a>(existing: &'a [pb::Container], service: &str) -> Vec<&'a pb::Container> {
    existing
        .iter()
        .filter(|c| label(c, labels::SERVICE) == service && label(c, labels::ONEOFF) != "True")
        .collect()
}

/// Converge `service` to `replicas` containers, the replicas in parallel;
/// what was made goes into `made` even when it fails.
pub async fn service(
    conn: &Conn,
    loaded: &Loaded,
    service: &str,
    replicas: u32,
    existing: &[pb::Container],
    recreate: Recreate,
    made: &mut Made,
) -> anyhow::Result<()> {
    let p = &loaded.project;
    let svc = &p.services[service];
    let Some(image) = svc.image.clone() else {
        bail!(
            "service {service:?}: building images (build:) is not supported yet; give it an image"
        );
    };
    let hash = p.config_hash(service)?;
    let mine = of_service(existing, service);
    let target = Target {
        loaded,
        service,
        image: &image,
        hash: &hash,
        recreate,
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
    let extra = mine
        .iter()
        .filter(|c| label(c, labels::NUMBER).parse::<u32>().unwrap_or(0) > replicas);
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
    hash: &'a str,
    recreate: Recreate,
}

/// Replica `n`: kept (started when stopped) while its hash matches,
/// else (re)created and started.
async fn replica(
    conn: &Conn,
    t: &Target<'_>,
    n: u32,
    current: Option<&pb::Container>,
    made: &mut Made,
) -> anyhow::Result<()> {
    let name = format!("{}-{}-{n}", t.loaded.project.name, t.service);
    if let Some(c) = current {
        let same = label(c, labels::CONFIG_HASH) == t.hash;
        if (same || t.recreate.never) && !t.recreate.force {
            if is_running(c) {
                eprintln!(" Container {name}  Running");
                return Ok(());
            }
            start(conn, &c.id)
                .await
                .map_err(|e| anyhow::anyhow!("container {name}: {e}"))?;
            made.started.push((c.id.clone(), name.clone()));
            eprintln!(" Container {name}  Started");
            return Ok(());
        }
        stop(conn, &c.id, None).await?;
        delete(conn, &c.id).await?;
        eprintln!(" Container {name}  Recreated");
    }
    let id = create(conn, t.loaded, t.service, n, t.image, t.hash).await?;
    made.containers.push((id.clone(), name.clone()));
    eprintln!(" Container {name}  Created");
    start(conn, &id)
        .await
        .map_err(|e| anyhow::anyhow!("container {name}: {e}"))?;
    eprintln!(" Container {name}  Started");
    Ok(())
}

/// Create replica `n` of `service` with Compose's labels, joined to the
/// service's further networks.
async fn create(
    conn: &Conn,
    loaded: &Loaded,
    service: &str,
    n: u32,
    image: &str,
    hash: &str,
) -> anyhow::Result<String> {
    let p = &loaded.project;
    let svc = &p.services[service];
    let name = format!("{}-{service}-{n}", p.name);
    let options = options::run_options(p, service, svc)?;
    let l = service_labels(loaded, service, n, hash);
    let created = conn
        .containers()
        .create(conn.req(pb::CreateContainerRequest {
            container: Some(pb::Container {
                name: name.clone(),
                image: image.to_string(),
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

fn service_labels(loaded: &Loaded, service: &str, n: u32, hash: &str) -> HashMap<String, String> {
    let p: &Project = &loaded.project;
    let mut l: HashMap<String, String> = p.services[service].labels.clone().into_iter().collect();
    l.insert(labels::PROJECT.into(), p.name.clone());
    l.insert(labels::SERVICE.into(), service.to_string());
    l.insert(labels::NUMBER.into(), n.to_string());
    l.insert(labels::CONFIG_HASH.into(), hash.to_string());
    l.insert(labels::ONEOFF.into(), "False".into());
    l.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    l.insert(
        labels::WORKING_DIR.into(),
        loaded.project_dir.display().to_string(),
    );
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    l.insert(labels::CONFIG_FILES.into(), files.join(","));
    l
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
