//! What a project has on hulld: its containers (found by label), and its
//! networks and volumes made when missing.

use hull_compose::Project;
use hull_proto::v1 as pb;

use super::labels;
use crate::client::Conn;
use crate::containers::msg;

/// The project's containers, oldest first.
pub async fn containers(conn: &Conn, project: &str) -> anyhow::Result<Vec<pb::Container>> {
    let mut v: Vec<pb::Container> = conn
        .list_containers()
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
        .into_iter()
        .filter(|c| labels::of_project(&c.labels, project))
        .collect();
    v.sort_by_key(|c| c.created_at_nanos);
    Ok(v)
}

pub fn label<'a>(c: &'a pb::Container, key: &str) -> &'a str {
    c.labels.get(key).map(String::as_str).unwrap_or("")
}

pub fn is_running(c: &pb::Container) -> bool {
    c.status
        .as_ref()
        .is_some_and(|s| s.state == "running" || s.state == "paused")
}

/// Creates the project's networks that `services` use and that are missing;
/// an external one must exist.
pub async fn ensure_networks(conn: &Conn, p: &Project, services: &[String]) -> anyhow::Result<()> {
    let mut net = crate::network::client(conn);
    for (key, def) in &p.networks {
        let used = services
            .iter()
            .filter_map(|s| p.services.get(s))
            .any(|s| s.network_mode.is_none() && s.networks.contains_key(key));
        if !used {
            continue;
        }
        let name = def.name.clone().unwrap_or_else(|| key.clone());
        let got = net
            .get(conn.req(pb::GetNetworkRequest { name: name.clone() }))
            .await;
        match got {
            Ok(_) => continue,
            Err(e) if e.code() != tonic::Code::NotFound => {
                anyhow::bail!("network {name}: {}", msg(&e))
            }
            Err(_) if def.external.yes => {
                anyhow::bail!("network {name} declared as external, but could not be found")
            }
            Err(_) => {}
        }
        if def.internal == Some(true) {
            eprintln!("warning: network {name}: internal networks are not supported by hulld; it is created as a plain bridge");
        }
        let subnet = def
            .ipam
            .as_ref()
            .and_then(|i| i.config.first())
            .and_then(|c| c.subnet.clone())
            .unwrap_or_default();
        let gateway = def
            .ipam
            .as_ref()
            .and_then(|i| i.config.first())
            .and_then(|c| c.gateway.clone())
            .unwrap_or_default();
        let mut l: std::collections::HashMap<String, String> =
            def.labels.clone().into_iter().collect();
        l.insert(labels::PROJECT.into(), p.name.clone());
        l.insert(labels::NETWORK.into(), key.clone());
        net.create(conn.req(pb::CreateNetworkRequest {
            name: name.clone(),
            subnet,
            gateway,
            labels: l,
            driver: def.driver.clone().unwrap_or_default(),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("network {name}: {}", msg(&e)))?;
        eprintln!(" Network {name}  Created");
    }
    Ok(())
}

/// Creates the project's named volumes that are missing; an external one
/// must exist.
pub async fn ensure_volumes(conn: &Conn, p: &Project) -> anyhow::Result<()> {
    for (key, def) in &p.volumes {
        let name = def.name.clone().unwrap_or_else(|| key.clone());
        let got = conn
            .volumes()
            .get(conn.req(pb::GetVolumeRequest { name: name.clone() }))
            .await;
        match got {
            Ok(_) => continue,
            Err(e) if e.code() != tonic::Code::NotFound => {
                anyhow::bail!("volume {name}: {}", msg(&e))
            }
            Err(_) if def.external.yes => {
                anyhow::bail!("volume {name} declared as external, but could not be found")
            }
            Err(_) => {}
        }
        let mut l: std::collections::HashMap<String, String> =
            def.labels.clone().into_iter().collect();
        l.insert(labels::PROJECT.into(), p.name.clone());
        l.insert(labels::VOLUME.into(), key.clone());
        conn.volumes()
            .create(conn.req(pb::CreateVolumeRequest {
                name: name.clone(),
                labels: l,
            }))
            .await
            .map_err(|e| anyhow::anyhow!("volume {name}: {}", msg(&e)))?;
        eprintln!(" Volume {name}  Created");
    }
    Ok(())
}

/// Fails on the first of `names` that is not a service of `p`.
pub fn check_services(p: &Project, names: &[String]) -> anyhow::Result<()> {
    match names.iter().find(|s| !p.services.contains_key(*s)) {
        Some(s) => anyhow::bail!("no such service: {s}"),
        None => Ok(()),
    }
}
