//! `hull network …` and `hull port`.

use anyhow::bail;
use clap::Subcommand;
use hull_proto::v1 as pb;
use tonic::transport::Channel;

use super::client::Conn;
use super::containers::Exit;
use hull_types::untrusted::escape;

#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Create a bridge network.
    Create {
        /// Subnet in CIDR form (default: the next free 10.89.N.0/24).
        #[arg(long)]
        subnet: Option<String>,
        /// Gateway (default: the subnet's first address).
        #[arg(long)]
        gateway: Option<String>,
        /// Driver (only "bridge").
        #[arg(short, long)]
        driver: Option<String>,
        #[arg(long = "label")]
        label: Vec<String>,
        /// No access to or from outside the network.
        #[arg(long)]
        internal: bool,
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
    },
    /// Display detailed information on networks.
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove networks.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove all networks no container uses.
    Prune {
        #[arg(short, long)]
        force: bool,
    },
    /// Connect a container to a network.
    Connect {
        #[arg(long = "alias")]
        alias: Vec<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
}

pub(crate) fn client(conn: &Conn) -> pb::networks_client::NetworksClient<Channel> {
    pb::networks_client::NetworksClient::new(conn.channel.clone())
}

fn fail(e: &tonic::Status) -> anyhow::Error {
    super::client::exit_if_connection_lost(e);
    eprintln!("Error response from daemon: {}", escape(e.message()));
    Exit(1).into()
}

pub async fn run(conn: &Conn, c: NetworkCmd) -> anyhow::Result<()> {
    let mut cl = client(conn);
    match c {
        NetworkCmd::Create {
            subnet,
            gateway,
            driver,
            label,
            internal,
            name,
        } => {
            let labels = label
                .iter()
                .map(|l| match l.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (l.clone(), String::new()),
                })
                .collect();
            let n = cl
                .create(conn.req(pb::CreateNetworkRequest {
                    name,
                    subnet: subnet.unwrap_or_default(),
                    gateway: gateway.unwrap_or_default(),
                    labels,
                    driver: driver.unwrap_or_default(),
                    internal,
                }))
                .await
                .map_err(|e| fail(&e))?
                .into_inner();
            println!("{}", n.id);
        }
        NetworkCmd::Ls { quiet } => {
            let mut v = cl
                .list(conn.req(pb::ListNetworksRequest {}))
                .await
                .map_err(|e| fail(&e))?
                .into_inner()
                .networks;
            v.sort_by(|a, b| a.name.cmp(&b.name));
            if quiet {
                for n in v {
                    println!("{}", &n.id[..n.id.len().min(12)]);
                }
                return Ok(());
            }
            println!(
                "{:<14}{:<20}{:<10}{:<20}{:<16}",
                "NETWORK ID", "NAME", "DRIVER", "SUBNET", "BRIDGE"
            );
            for n in v {
                println!(
                    "{:<14}{:<20}{:<10}{:<20}{:<16}",
                    &n.id[..n.id.len().min(12)],
                    n.name,
                    n.driver,
                    n.subnet,
                    n.bridge
                );
            }
        }
        NetworkCmd::Inspect { format, networks } => {
            let mut docs = Vec::new();
            let mut failed = false;
            for n in &networks {
                match cl
                    .get(conn.req(pb::GetNetworkRequest { name: n.clone() }))
                    .await
                {
                    Ok(r) => docs.push(serde_json::from_str::<serde_json::Value>(
                        &r.into_inner().inspect_json,
                    )?),
                    Err(e) => {
                        eprintln!("Error: No such network: {n} ({})", escape(e.message()));
                        failed = true;
                    }
                }
            }
            match format.as_deref() {
                None | Some("json") => println!("{}", serde_json::to_string_pretty(&docs)?),
                Some(t) => {
                    for d in &docs {
                        match super::template::render(t, &hull_types::untrusted::escape_json(d)) {
                            Ok(s) => println!("{s}"),
                            Err(e) => {
                                eprintln!("template parsing error: {e}");
                                return Err(Exit(1).into());
                            }
                        }
                    }
                }
            }
            if failed {
                return Err(Exit(1).into());
            }
        }
        NetworkCmd::Rm { networks } => {
            let mut failed = false;
            for n in networks {
                match cl
                    .remove(conn.req(pb::RemoveNetworkRequest { name: n.clone() }))
                    .await
                {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error response from daemon: {}", escape(e.message()));
                        failed = true;
                    }
                }
            }
            if failed {
                return Err(Exit(1).into());
            }
        }
        NetworkCmd::Prune { force } => {
            if !super::prompt::confirm(super::prompt::NETWORKS, force)? {
                return Ok(());
            }
            let r = cl
                .prune(conn.req(pb::PruneNetworksRequest {}))
                .await
                .map_err(|e| fail(&e))?
                .into_inner();
            if !r.removed.is_empty() {
                println!("Deleted Networks:");
                for n in r.removed {
                    println!("{n}");
                }
            }
        }
        NetworkCmd::Connect {
            alias,
            network,
            container,
        } => {
            cl.connect_container(conn.req(pb::ConnectNetworkRequest {
                network,
                container,
                aliases: alias,
            }))
            .await
            .map_err(|e| fail(&e))?;
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            cl.disconnect_container(conn.req(pb::DisconnectNetworkRequest {
                network,
                container,
                force,
            }))
            .await
            .map_err(|e| fail(&e))?;
        }
    }
    Ok(())
}

/// `hull port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub async fn port(conn: &Conn, container: &str, private: Option<&str>) -> anyhow::Result<()> {
    let r = client(conn)
        .container_settings(conn.req(pb::ContainerNetworkRequest {
            container: container.to_string(),
        }))
        .await
        .map_err(|e| fail(&e))?
        .into_inner();
    let want = private.map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut shown = false;
    for b in &r.ports {
        match &want {
            Some(w) if *w != b.container_port => continue,
            Some(_) => println!("{}:{}", b.host_ip, b.host_port),
            None => println!("{} -> {}:{}", b.container_port, b.host_ip, b.host_port),
        }
        shown = true;
    }
    if let (Some(w), false) = (&want, shown) {
        bail!("No public port '{w}' published for {container}");
    }
    Ok(())
}

/// Add the container's network side to its `inspect` document `d`:
/// NetworkSettings, HostConfig.NetworkMode, HostConfig.PortBindings,
/// HostConfig.PublishAllPorts, Config.ExposedPorts. Nothing when hulld
/// has no network configuration for it.
pub async fn add_settings(conn: &Conn, container: &str, d: &mut serde_json::Value) {
    let Ok(r) = client(conn)
        .container_settings(conn.req(pb::ContainerNetworkRequest {
            container: container.to_string(),
        }))
        .await
    else {
        return;
    };
    let r = r.into_inner();
    let Ok(settings) = serde_json::from_str::<serde_json::Value>(&r.settings_json) else {
        return;
    };
    if let Ok(extra) = serde_json::from_str::<serde_json::Value>(&r.inspect_json) {
        merge(d, extra);
    }
    d["HostConfig"]["NetworkMode"] = r.mode.into();
    d["NetworkSettings"] = settings;
}

/// Merge object `src` into `dst` key by key (objects recursively; other
/// values replace).
fn merge(dst: &mut serde_json::Value, src: serde_json::Value) {
    match (dst, src) {
        (serde_json::Value::Object(d), serde_json::Value::Object(s)) => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (d, s) => *d = s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keeps_both_sides() {
        let mut d = json!({"HostConfig": {"Memory": 0, "PortBindings": null}, "Id": "x"});
        merge(
            &mut d,
            json!({"HostConfig": {"PortBindings": {"80/tcp": []}}, "Config": {"ExposedPorts": {}}}),
        );
        assert_eq!(
            d,
            json!({"HostConfig": {"Memory": 0, "PortBindings": {"80/tcp": []}},
                   "Id": "x", "Config": {"ExposedPorts": {}}})
        );
    }
}
