//! The images `up` needs, made sure of before it creates anything: built
//! for a service with `build:` (per `--build`/`--no-build` and
//! `pull_policy: build`), pulled for the others (per `pull_policy`).

use anyhow::bail;
use hull_compose::model::service::Service;
use hull_compose::Loaded;

use super::build::{image_id, image_name, Overrides};
use super::builds::build_all;
use crate::client::Conn;
use crate::containers::msg;

/// When `up` builds the image of a service with `build:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// When it is missing (the default).
    Missing,
    /// Always (`up --build`).
    Always,
    /// Never (`up --no-build`): a missing image is an error.
    Never,
}

impl Policy {
    /// From `up`'s `--build` and `--no-build`.
    pub fn of(build: bool, no_build: bool) -> Policy {
        match (build, no_build) {
            (true, _) => Policy::Always,
            (_, true) => Policy::Never,
            _ => Policy::Missing,
        }
    }
}

/// A service's `pull_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// `missing` / `if_not_present` (the default).
    Missing,
    Always,
    Never,
    /// `build`: always built.
    Build,
}

/// Reads `pull_policy`, refusing what hull does not know.
pub fn pull_policy(service: &str, svc: &Service) -> anyhow::Result<PullPolicy> {
    Ok(match svc.pull_policy.as_deref() {
        None | Some("missing") | Some("if_not_present") => PullPolicy::Missing,
        Some("always") => PullPolicy::Always,
        Some("never") => PullPolicy::Never,
        Some("build") if svc.build.is_some() => PullPolicy::Build,
        Some("build") => bail!("service {service:?}: pull_policy: build needs a build section"),
        Some(other) => bail!(
            "service {service:?}: unknown pull_policy {other:?} (always, never, missing, if_not_present or build)"
        ),
    })
}

/// Makes sure every one of `services` has its image; a failure (a build
/// that fails, an image that cannot be pulled or is missing where
/// nothing may make it) ends `up` before it made anything.
pub async fn images(
    loaded: &Loaded,
    conn: &Conn,
    services: &[String],
    policy: Policy,
) -> anyhow::Result<()> {
    let p = &loaded.project;
    // Every pull_policy is read before anything is pulled or built.
    let mut wanted = Vec::new();
    for service in services {
        let svc = &p.services[service];
        wanted.push((service, svc, pull_policy(service, svc)?));
    }
    let mut builds = Vec::new();
    for (service, svc, pull) in wanted {
        let image = image_name(&p.name, service, svc);
        let present = image_id(conn, &image).await?.is_some();
        if svc.build.is_some() {
            let build = match (policy, pull) {
                (Policy::Always, _) | (Policy::Missing, PullPolicy::Build) => true,
                (_, _) if present => false,
                (Policy::Never, _) => bail!(
                    "service {service:?}: image {image} is missing and --no-build forbids building it"
                ),
                (Policy::Missing, _) => true,
            };
            if build {
                builds.push(service.clone());
            }
            continue;
        }
        match pull {
            PullPolicy::Always => super::transfer::pull_one(conn, &image)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("service {service:?}: pull {image}: {}", crate::containers::msg(&e))
                })?,
            PullPolicy::Never if !present => bail!(
                "service {service:?}: image {image} is missing and pull_policy: never forbids pulling it"
            ),
            _ if present => {}
            _ => pull_missing(conn, service, &image).await?,
        }
    }
    build_all(conn, loaded, &builds, &Overrides::default()).await
}

/// Pull an image hulld does not have (`images` checked that); the error
/// names the service and the image.
async fn pull_missing(conn: &Conn, service: &str, image: &str) -> anyhow::Result<()> {
    eprintln!(" {service} Pulling");
    super::transfer::pull_one(conn, image).await.map_err(|e| {
        // hulld's message names the image most of the time: once is enough.
        let m = msg(&e);
        if m.contains(image) {
            anyhow::anyhow!("service {service:?}: pull: {m}")
        } else {
            anyhow::anyhow!("service {service:?}: pull image {image}: {m}")
        }
    })?;
    eprintln!(" {service} Pulled");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies() {
        let svc = |y: &str| -> Service { serde_norway::from_str(y).unwrap() };
        let got = |y: &str| pull_policy("s", &svc(y));
        assert_eq!(got("image: a\n").unwrap(), PullPolicy::Missing);
        assert_eq!(
            got("image: a\npull_policy: if_not_present\n").unwrap(),
            PullPolicy::Missing
        );
        assert_eq!(
            got("image: a\npull_policy: always\n").unwrap(),
            PullPolicy::Always
        );
        assert_eq!(
            got("build: .\npull_policy: build\n").unwrap(),
            PullPolicy::Build
        );
        assert!(got("image: a\npull_policy: build\n").is_err());
        let e = got("image: a\npull_policy: sometimes\n").unwrap_err();
        assert!(e.to_string().contains("\"sometimes\""), "{e}");
        assert_eq!(Policy::of(true, false), Policy::Always);
        assert_eq!(Policy::of(false, true), Policy::Never);
        assert_eq!(Policy::of(false, false), Policy::Missing);
    }
}
