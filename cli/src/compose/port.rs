//! `hull compose port [--protocol tcp|udp] [--index N] SERVICE
//! PRIVATE_PORT`: the host address a container port is published on, as
//! `IP:PORT`.

use anyhow::bail;
use clap::Args;

use super::targets;
use super::ComposeArgs;
use crate::client::Conn;

#[derive(Debug, Args)]
pub struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "udp"])]
    pub protocol: String,
    /// Which of the service's containers (its number).
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub private_port: u16,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &PortArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    super::project::check_services(&loaded.project, std::slice::from_ref(&a.service))?;
    let c = targets::indexed(conn, &loaded.project, &a.service, a.index).await?;
    let want = format!("{}/{}", a.private_port, a.protocol);
    let ports = c
        .summary
        .as_ref()
        .map(|s| s.ports.as_slice())
        .unwrap_or(&[]);
    let Some(p) = ports
        .iter()
        .find(|p| p.container_port == want && p.host_port != 0)
    else {
        bail!("no port {want} for container {}", c.name);
    };
    let ip = if p.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &p.host_ip
    };
    println!("{ip}:{}", p.host_port);
    Ok(())
}
