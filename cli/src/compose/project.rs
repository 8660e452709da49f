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
/// an external one must exist. Returns the names of those it created.
pub async fn ensure_networks(
    conn: &Conn,
    p: &Project,
    services: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut net = crate::network::client(conn);
    let mut created = Vec::new();
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
            internal: def.internal == Some(true),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("network {name}: {}", msg(&e)))?;
        eprintln!(" Network {name}  Created");
        created.push(name);
    }
    Ok(created)
}

/// Creates the project's named volumes that are missing; an external one
/// must exist. Returns the names of those it created.
pub async fn ensure_volumes(conn: &Conn, p: &Project) -> anyhow::Result<Vec<String>> {
    let mut created = Vec::new();
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
        created.push(name);
    }
    Ok(created)
}

/// Remove a network by name, printing Compose's progress line.
pub async fn remove_network(conn: &Conn, name: &str) -> anyhow::Result<()> {
    crate::network::client(conn)
        .remove(conn.req(pb::RemoveNetworkRequest {
            name: name.to_string(),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("network {name}: {}", msg(&e)))?;
    eprintln!(" Network {name}  Removed");
    Ok(())
}

/// Remove a volume by name, printing Compose's progress line; one that is
/// not there is no error.
pub async fn remove_volume(conn: &Conn, name: &str) -> anyhow::Result<()> {
    let r = conn
        .volumes()
        .remove(conn.req(pb::RemoveVolumeRequest {
            name: name.to_string(),
            force: false,
        }))
        .await;
    match r {
        Ok(_) => eprintln!(" Volume {name}  Removed"),
        Err(e) if e.code() == tonic::Code::NotFound => {}
        Err(e) => anyhow::bail!("volume {name}: {}", msg(&e)),
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
