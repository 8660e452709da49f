//! `hull volume create|ls|inspect|rm|prune`, with Docker's output.

use hull_proto::v1 as pb;

use super::client::Conn;
use super::containers::Exit;
use hull_types::time::rfc3339;
use hull_types::untrusted::escape;

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCmd {
    /// Create a volume (a random name when none is given).
    Create {
        /// Set labels (KEY=VALUE).
        #[arg(short, long = "label")]
        label: Vec<String>,
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only names.
        #[arg(short, long)]
        quiet: bool,
        /// dangling=true|false, name=SUBSTRING.
        #[arg(short, long)]
        filter: Vec<String>,
    },
    /// Show volumes as JSON.
    Inspect {
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove volumes.
    #[command(alias = "remove")]
    Rm {
        /// Remove even while a container uses it.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove unused anonymous volumes (with -a also unused named ones).
    Prune {
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

fn daemon(e: &tonic::Status) -> anyhow::Error {
    super::client::exit_if_connection_lost(e);
    eprintln!("Error response from daemon: {}", escape(e.message()));
    Exit(1).into()
}

pub async fn run(conn: &Conn, c: VolumeCmd) -> anyhow::Result<()> {
    let mut vc = conn.volumes();
    match c {
        VolumeCmd::Create { label, name } => {
            let labels = label
                .iter()
                .map(|l| match l.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (l.clone(), String::new()),
                })
                .collect();
            let v = vc
                .create(conn.req(pb::CreateVolumeRequest {
                    name: name.unwrap_or_default(),
                    labels,
                }))
                .await
                .map_err(|e| daemon(&e))?
                .into_inner();
            println!("{}", v.name);
        }
        VolumeCmd::Ls { quiet, filter } => {
            let mut vs = vc
                .list(conn.req(pb::ListVolumesRequest {}))
                .await
                .map_err(|e| daemon(&e))?
                .into_inner()
                .volumes;
            for f in &filter {
                match f.split_once('=') {
                    Some(("dangling", v)) => {
                        let want = matches!(v, "true" | "1");
                        vs.retain(|x| x.used_by.is_empty() == want);
                    }
                    Some(("name", v)) => vs.retain(|x| x.name.contains(v)),
                    _ => {
                        eprintln!("hull: invalid filter '{f}'");
                        return Err(Exit(125).into());
                    }
                }
            }
            if !quiet {
                println!("DRIVER    VOLUME NAME");
            }
            for v in vs {
                if quiet {
                    println!("{}", v.name);
                } else {
                    println!("local     {}", v.name);
                }
            }
        }
        VolumeCmd::Inspect { volumes } => {
            let mut docs = Vec::new();
            let mut failed = false;
            for n in volumes {
                match vc.get(conn.req(pb::GetVolumeRequest { name: n })).await {
                    Ok(v) => {
                        let v = v.into_inner();
                        docs.push(serde_json::json!({
                            "CreatedAt": rfc3339(v.created_at),
                            "Driver": "local",
                            "Labels": v.labels,
                            "Mountpoint": v.mountpoint,
                            "Name": v.name,
                            "Options": {},
                            "Scope": "local",
                        }));
                    }
                    Err(e) => {
                        eprintln!("Error response from daemon: {}", escape(e.message()));
                        failed = true;
                    }
                }
            }
            println!("{}", serde_json::to_string_pretty(&docs)?);
            if failed {
                return Err(Exit(1).into());
            }
        }
        VolumeCmd::Rm { force, volumes } => {
            let mut failed = false;
            for n in volumes {
                match vc
                    .remove(conn.req(pb::RemoveVolumeRequest {
                        name: n.clone(),
                        force,
                    }))
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
        VolumeCmd::Prune { all, force } => {
            let warning = if all {
                super::prompt::ALL_VOLUMES
            } else {
                super::prompt::VOLUMES
            };
            if !super::prompt::confirm(warning, force)? {
                println!("Total reclaimed space: 0B");
                return Ok(());
            }
            let r = vc
                .prune(conn.req(pb::PruneVolumesRequest { all }))
                .await
                .map_err(|e| daemon(&e))?
                .into_inner();
            println!("Deleted Volumes:");
            for n in &r.removed {
                println!("{n}");
            }
            println!();
            println!(
                "Total reclaimed space: {}",
                super::progress::human(r.space_reclaimed as i64)
            );
        }
    }
    Ok(())
}
