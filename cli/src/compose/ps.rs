//! `hull compose ps`: the project's containers (running ones, `-a` all).

use clap::Args;

use super::project::{self, is_running, label};
use super::{labels, ComposeArgs};
use crate::client::Conn;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Also stopped containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Only service names.
    #[arg(long)]
    pub services: bool,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &PsArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let mut containers = project::containers(conn, &loaded.project.name).await?;
    containers.retain(|c| a.all || is_running(c));
    containers.sort_by(|x, y| x.name.cmp(&y.name));
    if a.quiet {
        for c in &containers {
            println!("{}", c.id);
        }
        return Ok(());
    }
    if a.services {
        let mut names: Vec<&str> = containers
            .iter()
            .map(|c| label(c, labels::SERVICE))
            .collect();
        names.dedup();
        for n in names {
            println!("{n}");
        }
        return Ok(());
    }
    let rows: Vec<[String; 5]> = containers
        .iter()
        .map(|c| {
            let status = match &c.status {
                Some(s) if s.state == "exited" => format!("exited ({})", s.exit_code),
                Some(s) => s.state.clone(),
                None => "unknown".into(),
            };
            let ports = c
                .summary
                .as_ref()
                .map(|s| {
                    s.ports
                        .iter()
                        .map(|p| {
                            format!(
                                "{}:{}->{}",
                                if p.host_ip.is_empty() {
                                    "0.0.0.0"
                                } else {
                                    &p.host_ip
                                },
                                p.host_port,
                                p.container_port
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            [
                c.name.clone(),
                hull_types::untrusted::escape(&c.image).to_string(),
                label(c, labels::SERVICE).to_string(),
                status,
                ports,
            ]
        })
        .collect();
    let head = ["NAME", "IMAGE", "SERVICE", "STATUS", "PORTS"];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}   "));
            }
        }
        println!("{}", s.trim_end());
    };
    line(head);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    Ok(())
}
