//! `hull compose run [options] SERVICE [CMD…]`: a one-off container of a
//! service, named PROJECT-SERVICE-run-<random> and labelled
//! `com.docker.compose.oneoff=True`, after the services it depends on were
//! brought up (unless `--no-deps`). In the foreground its output and exit
//! code are ours; `--rm` removes it once it exited. As Compose, it publishes
//! the service's ports only with `--service-ports`, gets no restart policy
//! and no network aliases (unless `--use-aliases`).

use std::io::{IsTerminal, Read};

use anyhow::bail;
use clap::{Args, Parser};
use hull_proto::v1 as pb;

use super::{build, ensure, labels, options, project, up, ComposeArgs};
use crate::client::Conn;
use crate::containers::flags::env_list;
use crate::containers::lifecycle::{launch, Launch};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run in the background and print the container's name.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Set an environment variable (KEY=VALUE, or KEY to take ours).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Add a label (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Don't start the services it depends on.
    #[arg(long)]
    pub no_deps: bool,
    /// Override the image's entrypoint (split at spaces).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run as this user[:group].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory in the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Bind-mount or volume (SRC:DST[:ro]).
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Publish a port ([IP:]HOST:CONTAINER[/PROTO]).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Build the image before starting the container.
    #[arg(long)]
    pub build: bool,
    /// Publish the service's own ports too.
    #[arg(long)]
    pub service_ports: bool,
    /// Name of the container (default PROJECT-SERVICE-run-<random>).
    #[arg(long)]
    pub name: Option<String>,
    /// Keep stdin attached (the default; accepted for Compose's command lines).
    #[arg(short = 'i', long, hide = true)]
    pub interactive: bool,
    /// Give the container the service's network aliases too.
    #[arg(long)]
    pub use_aliases: bool,
    /// Don't allocate a terminal (the default when stdin is not one).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `up`'s flags, parsed as its command line would be (so `run` brings the
/// dependencies up exactly as `up -d DEP…` does).
#[derive(Debug, Parser)]
struct UpLine {
    #[command(flatten)]
    up: up::UpArgs,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &RunArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    let Some(svc) = p.services.get(&a.service) else {
        bail!("no such service: {}", a.service);
    };
    let image = build::image_name(&p.name, &a.service, svc);
    let deps: Vec<String> = svc.depends_on.keys().cloned().collect();
    if !a.no_deps && !deps.is_empty() {
        let mut line = vec!["up".to_string(), "-d".into()];
        line.extend(deps);
        let parsed = UpLine::try_parse_from(line)?;
        up::run(conn, args, &parsed.up).await?;
    }
    let only = std::slice::from_ref(&a.service);
    ensure::images(&loaded, conn, only, ensure::Policy::of(a.build, false)).await?;
    let image_id = build::image_id(conn, &image).await?.unwrap_or_default();
    project::ensure_networks(conn, p, only).await?;
    project::ensure_volumes(conn, p).await?;

    // The service as this run changes it, then as hulld's options.
    let mut svc = svc.clone();
    if let Some(ep) = &a.entrypoint {
        svc.entrypoint = Some(ep.split_whitespace().map(str::to_string).collect());
        // A new entrypoint drops the service's command (Compose).
        svc.command = None;
    }
    if !a.command.is_empty() {
        svc.command = Some(a.command.clone());
    }
    if let Some(u) = &a.user {
        svc.user = Some(u.clone());
    }
    if let Some(w) = &a.workdir {
        svc.working_dir = Some(w.clone());
    }
    for e in env_list(&a.env) {
        if let Some((k, v)) = e.split_once('=') {
            svc.environment.insert(k.to_string(), Some(v.to_string()));
        }
    }
    if !a.service_ports {
        svc.ports.clear();
    }
    svc.restart = None;
    let mut opts = options::run_options(p, &a.service, &svc)?;
    opts.volumes.extend(a.volumes.iter().cloned());
    opts.publish.extend(a.publish.iter().cloned());
    if !a.use_aliases {
        opts.network_aliases.clear();
    }
    let foreground_tty = !a.detach && !a.no_tty && std::io::stdin().is_terminal();
    opts.tty = foreground_tty || (a.detach && opts.tty);
    opts.open_stdin = !a.detach || opts.open_stdin;

    let name = match &a.name {
        Some(n) => n.clone(),
        None => format!("{}-{}-run-{}", p.name, a.service, random_hex()?),
    };
    let mut l = labels::of_container(&loaded, &a.service, 1, true, &image_id)?;
    for kv in &a.label {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        l.insert(k.to_string(), v.to_string());
    }
    let container = pb::Container {
        name: name.clone(),
        image,
        labels: l,
        ..Default::default()
    };
    let how = Launch {
        run: true,
        detach: a.detach,
        rm: a.rm,
        interactive: !a.detach,
        tty: foreground_tty,
        networks: options::networks(p, &a.service, &svc)
            .into_iter()
            .skip(1)
            .map(|(n, aliases)| (n, if a.use_aliases { aliases } else { Vec::new() }))
            .collect(),
    };
    if launch(conn, container, opts, how).await?.is_some() {
        println!("{name}");
    }
    Ok(())
}

/// 12 random hex digits (Compose's one-off suffix).
fn random_hex() -> anyhow::Result<String> {
    let mut b = [0u8; 6];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
