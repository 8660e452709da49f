//! `hull compose pull` and `hull compose push`: the services' images to
//! and from their registries through hulld's Transfer service, all at once
//! (credentials from Docker's config.json, as `hull pull`).

use anyhow::bail;
use clap::Args;
use futures_util::future::join_all;
use hull_compose::model::service::Service;
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::ComposeArgs;
use crate::client::Conn;
use crate::containers::msg;
use crate::login::auth_for;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Warn about images that fail to pull instead of failing.
    #[arg(long)]
    pub ignore_pull_failures: bool,
    /// Only these services.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Warn about images that fail to push instead of failing.
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Only these services.
    pub services: Vec<String>,
}

/// One image to move: the service it is for, and whether the service
/// could build it instead.
struct Job<'a> {
    service: &'a str,
    image: &'a str,
    buildable: bool,
}

/// The named services' (all when none) images, less those `skip` leaves
/// alone (said on stderr unless `quiet`).
fn jobs<'a>(
    p: &'a hull_compose::Project,
    named: &[String],
    skip: fn(&Service) -> Option<&'static str>,
    quiet: bool,
) -> anyhow::Result<Vec<Job<'a>>> {
    super::project::check_services(p, named)?;
    let mut out = Vec::new();
    for (name, svc) in &p.services {
        if !named.is_empty() && !named.contains(name) {
            continue;
        }
        match (skip(svc), &svc.image) {
            (None, Some(image)) => out.push(Job {
                service: name,
                image,
                buildable: svc.build.is_some(),
            }),
            (why, _) if !quiet => {
                eprintln!(" Service {name}  Skipped - {}", why.unwrap_or_default())
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Why `pull` leaves a service alone; None when it pulls its image.
pub fn pull_skip(svc: &Service) -> Option<&'static str> {
    match (&svc.image, svc.pull_policy.as_deref()) {
        (None, _) => Some("No image to be pulled"),
        (_, Some("build")) => Some("Built, not pulled (pull_policy: build)"),
        (_, Some("never")) => Some("Never pulled (pull_policy: never)"),
        _ => None,
    }
}

/// Why `push` leaves a service alone; None when it pushes its image.
/// Compose pushes only images it builds and that have a name to push to.
pub fn push_skip(svc: &Service) -> Option<&'static str> {
    match (&svc.image, &svc.build) {
        (None, _) => Some("No image name to push to"),
        (_, None) => Some("Not built here"),
        _ => None,
    }
}

async fn drain(mut s: tonic::Streaming<pb::Progress>) -> Result<(), tonic::Status> {
    while let Some(p) = s.next().await {
        p?;
    }
    Ok(())
}

pub(super) async fn pull_one(conn: &Conn, image: &str) -> Result<(), tonic::Status> {
    let s = conn
        .transfer()
        .pull(conn.req(pb::PullRequest {
            reference: image.to_string(),
            platform: None,
            auth: auth_for(image),
            no_unpack: false,
        }))
        .await?
        .into_inner();
    drain(s).await
}

async fn push_one(conn: &Conn, image: &str) -> Result<(), tonic::Status> {
    let s = conn
        .transfer()
        .push(conn.req(pb::PushRequest {
            reference: image.to_string(),
            platform: None,
            auth: auth_for(image),
            remote: String::new(),
        }))
        .await?
        .into_inner();
    drain(s).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Pull,
    Push,
}

impl Way {
    /// The verb, its -ing form and its past.
    fn words(self) -> [&'static str; 3] {
        match self {
            Way::Pull => ["pull", "Pulling", "Pulled"],
            Way::Push => ["push", "Pushing", "Pushed"],
        }
    }
}

/// Moves every job's image at once; a failure fails the command after
/// the others finished, unless ignored (or, pulling, the service can
/// build the image instead, as Compose treats it).
async fn move_all(
    conn: &Conn,
    jobs: &[Job<'_>],
    way: Way,
    quiet: bool,
    ignore: bool,
) -> anyhow::Result<()> {
    let [verb, doing, done] = way.words();
    if !quiet {
        for j in jobs {
            eprintln!(" Service {}  {doing}", j.service);
        }
    }
    let results = join_all(jobs.iter().map(|j| async move {
        match way {
            Way::Pull => pull_one(conn, j.image).await,
            Way::Push => push_one(conn, j.image).await,
        }
    }))
    .await;
    let mut failed = Vec::new();
    for (j, r) in jobs.iter().zip(results) {
        let Err(e) = r else {
            if !quiet {
                eprintln!(" Service {}  {done}", j.service);
            }
            continue;
        };
        let what = format!("service {}: {verb} {}: {}", j.service, j.image, msg(&e));
        if way == Way::Pull && j.buildable {
            eprintln!("warning: {what} (it can be built with `hull compose build`)");
        } else if ignore {
            eprintln!("warning: {what}");
        } else {
            failed.push(what);
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

pub async fn pull(conn: &Conn, args: &ComposeArgs, a: &PullArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let jobs = jobs(&loaded.project, &a.services, pull_skip, a.quiet)?;
    move_all(conn, &jobs, Way::Pull, a.quiet, a.ignore_pull_failures).await
}

pub async fn push(conn: &Conn, args: &ComposeArgs, a: &PushArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let jobs = jobs(&loaded.project, &a.services, push_skip, a.quiet)?;
    move_all(conn, &jobs, Way::Push, a.quiet, a.ignore_push_failures).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(yaml: &str) -> Service {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn what_pull_and_push_skip() {
        assert_eq!(pull_skip(&svc("image: a\n")), None);
        assert_eq!(pull_skip(&svc("image: a\nbuild: .\n")), None);
        assert!(pull_skip(&svc("build: .\n")).is_some());
        assert!(pull_skip(&svc("image: a\npull_policy: never\n")).is_some());
        assert!(pull_skip(&svc("image: a\nbuild: .\npull_policy: build\n")).is_some());
        assert_eq!(push_skip(&svc("image: a\nbuild: .\n")), None);
        assert!(push_skip(&svc("image: a\n")).is_some());
        assert!(push_skip(&svc("build: .\n")).is_some());
    }
}
