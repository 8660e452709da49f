//! `hull compose build`, and the images `up` builds: a service's `build:`
//! goes through hulld's Build service with `hull build`'s context sending
//! (`crate::build`). The image is named by the service's `image:`, else
//! `PROJECT-SERVICE` as Compose v2 names it.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context as _};
use clap::Args;
use hull_compose::model::service::{Build, Service};
use hull_compose::Loaded;
use hull_proto::v1 as pb;

use super::{labels, ComposeArgs};
use crate::build::{flags, DockerfileSource, Mode};
use crate::client::Conn;
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Do not use the build cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Always pull the FROM images.
    #[arg(long)]
    pub pull: bool,
    /// Build-time variable K=V over the files' `args` (K alone: from the environment).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Show no build progress.
    #[arg(short, long)]
    pub quiet: bool,
    /// Only these services (default: every service with `build:`).
    pub services: Vec<String>,
}

/// What the command line adds to the files' `build:` keys.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub no_cache: bool,
    pub pull: bool,
    pub args: HashMap<String, String>,
    pub quiet: bool,
}

/// The image a service runs: its `image:`, else `PROJECT-SERVICE`.
pub fn image_name(project: &str, service: &str, svc: &Service) -> String {
    svc.image
        .clone()
        .unwrap_or_else(|| format!("{project}-{service}"))
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &BuildArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    super::project::check_services(p, &a.services)?;
    let o = Overrides {
        no_cache: a.no_cache,
        pull: a.pull,
        args: flags::build_args(&a.build_args, |k| std::env::var(k).ok())?,
        quiet: a.quiet,
    };
    let wanted: Vec<String> = p
        .start_order()?
        .into_iter()
        .filter(|s| a.services.is_empty() || a.services.contains(s))
        .filter(|s| p.services[s].build.is_some())
        .collect();
    super::builds::build_all(conn, &loaded, &wanted, &o).await
}

/// The id of hulld's image `name`; None when it has none of that name.
pub async fn image_id(conn: &Conn, name: &str) -> anyhow::Result<Option<String>> {
    let got = conn
        .images()
        .get(conn.req(pb::GetImageRequest {
            name: name.to_string(),
            platform: None,
        }))
        .await;
    match got {
        Ok(i) => Ok(Some(i.into_inner().config_digest)),
        Err(e) if e.code() == tonic::Code::NotFound => Ok(None),
        Err(e) => bail!("image {name}: {}", msg(&e)),
    }
}

/// Builds one service's image; its id. With `prefix` (builds running
/// together) the progress is plain, each line after the prefix.
pub async fn build_service(
    conn: &Conn,
    loaded: &Loaded,
    service: &str,
    o: &Overrides,
    prefix: Option<String>,
) -> anyhow::Result<String> {
    let p = &loaded.project;
    let svc = &p.services[service];
    let Some(b) = &svc.build else {
        bail!("service {service:?} has no build section");
    };
    // `args: [KEY]` and SOURCE_DATE_EPOCH: the project's environment
    // (.env under the process's), as interpolation sees it.
    let env = |k: &str| loaded.environment.var(k).map(str::to_string);
    let (options, warnings) = options(&p.name, service, svc, b, o, env)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let ctx = b.context.as_deref().unwrap_or(".");
    if hull_compose::paths::is_remote(ctx) {
        bail!("service {service:?}: remote build contexts are not supported: {ctx}");
    }
    let dir = Path::new(ctx);
    let dockerfile = match &b.dockerfile_inline {
        Some(text) => DockerfileSource::Text(text.clone().into_bytes()),
        None => crate::build::context::locate_dockerfile(dir, b.dockerfile.as_deref(), dir)
            .with_context(|| format!("service {service:?}: build"))?,
    };
    let mode = if o.quiet {
        Mode::Quiet
    } else {
        eprintln!(" Service {service}  Building");
        match prefix {
            Some(_) => Mode::Plain,
            None => Mode::pick("auto", false, std::io::stderr().is_terminal()),
        }
    };
    let built = match prefix {
        Some(p) => {
            let out = super::builds::Prefixed::new(p);
            crate::build::build_directory(conn, dir, dockerfile, options, mode, out).await
        }
        None => {
            let out = std::io::stderr();
            crate::build::build_directory(conn, dir, dockerfile, options, mode, out).await
        }
    };
    // hulld's answer inside the line that names the service (a bare
    // status would be printed as "Error response from daemon" alone).
    let r = built.map_err(|e| {
        let why = match e.downcast_ref::<tonic::Status>() {
            Some(s) => msg(s),
            None => format!("{e:#}"),
        };
        anyhow::anyhow!("service {service:?}: build failed: {why}")
    })?;
    if !o.quiet {
        eprintln!(" Service {service}  Built");
    }
    Ok(r.image_id)
}

/// The Build options of a service's `build:` (and warnings about keys
/// hull accepts but does not act on). Keys that would change what the
/// build makes and that hulld cannot honor are refused.
pub fn options(
    project: &str,
    service: &str,
    svc: &Service,
    b: &Build,
    o: &Overrides,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(pb::BuildOptions, Vec<String>)> {
    let refuse = |key: &str, why: &str| {
        anyhow::anyhow!("service {service:?}: build.{key} is not supported by hull build ({why})")
    };
    let mut warnings = Vec::new();
    if !b.cache_from.is_empty() {
        warnings.push(format!(
            "service {service:?}: build.cache_from is ignored (hull build uses its own cache)"
        ));
    }
    if b.shm_size.is_some() {
        warnings.push(format!(
            "service {service:?}: build.shm_size is ignored (RUN steps get the default /dev/shm)"
        ));
    }
    if !b.extra_hosts.is_empty() {
        return Err(refuse(
            "extra_hosts",
            "RUN steps see the host's resolution only",
        ));
    }
    if !b.platforms.is_empty() {
        return Err(refuse(
            "platforms",
            "images are built for the host's platform",
        ));
    }
    let network = match b.network.as_deref() {
        None | Some("default") => String::new(),
        Some(n @ ("none" | "host" | "bridge")) => n.to_string(),
        Some(n) => {
            return Err(refuse(
                &format!("network {n:?}"),
                "RUN steps run on none, host or the bridge",
            ))
        }
    };
    let mut build_args = HashMap::new();
    for (k, v) in &b.args {
        // `args: [KEY]` takes KEY's value from the environment, or none.
        if let Some(v) = v.clone().or_else(|| env(k)) {
            build_args.insert(k.clone(), v);
        }
    }
    build_args.extend(o.args.clone());
    let mut image_labels: HashMap<String, String> = b.labels.clone().into_iter().collect();
    image_labels.insert(labels::PROJECT.into(), project.to_string());
    image_labels.insert(labels::SERVICE.into(), service.to_string());
    image_labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    let mut tags = vec![image_name(project, service, svc)];
    tags.extend(b.tags.iter().cloned());
    let tags = flags::tags(&tags).with_context(|| format!("service {service:?}"))?;
    let options = pb::BuildOptions {
        tags,
        build_args,
        target: b.target.clone().unwrap_or_default(),
        no_cache: o.no_cache || b.no_cache == Some(true),
        pull: o.pull || b.pull == Some(true),
        labels: image_labels,
        network,
        source_date_epoch: flags::source_date_epoch(env)?,
        // FROM images of private registries, as `hull build` sends them.
        registry_auths: crate::build::registry_auths()?,
        ..Default::default()
    };
    Ok((options, warnings))
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
