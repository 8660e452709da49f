//! `hull update`: a container's resources (memory, CPUs, pids) and restart
//! policy, changed while it runs or before it starts again, as Docker's
//! `docker update` does. Prints each container as given; one line per
//! failure, exit 1.

use clap::Args;
use hull_proto::v1 as pb;

use super::flags::{check_cpus, parse_bytes};
use super::{each_parallel, msg};
use crate::client::Conn;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 64m).
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn update(conn: &Conn, a: UpdateArgs) -> anyhow::Result<()> {
    let mut fields = Vec::new();
    let resources = pb::ContainerResources {
        memory: a
            .memory
            .as_deref()
            .map(parse_bytes)
            .transpose()?
            .unwrap_or(0),
        cpus: a.cpus.unwrap_or(0.0),
        pids_limit: a.pids_limit.unwrap_or(0),
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
    };
    if let Some(c) = a.cpus {
        check_cpus(c)?;
    }
    if resources != pb::ContainerResources::default() {
        fields.push("resources".to_string());
    }
    if let Some(p) = &a.restart {
        p.parse::<hull_types::restart::RestartPolicy>()?;
        fields.push("restart_policy".to_string());
    }
    if fields.is_empty() {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    let restart = a.restart.clone().unwrap_or_default();
    each_parallel(&a.containers, |c| {
        let req = pb::UpdateContainerRequest {
            container: Some(pb::Container {
                id: c,
                restart_policy: restart.clone(),
                ..Default::default()
            }),
            fields: fields.clone(),
            resources: Some(resources.clone()),
        };
        async move {
            conn.containers()
                .update(conn.req(req))
                .await
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("{}", msg(&e)))
        }
    })
    .await
}
