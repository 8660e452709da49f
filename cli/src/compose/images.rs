//! `hull compose images`: the image of each of the project's containers
//! (container, repository, tag, image id, size, as Compose prints them);
//! and the images `down --rmi local|all` removes.

use std::collections::BTreeSet;

use anyhow::bail;
use clap::Args;
use hull_compose::Project;
use hull_proto::v1 as pb;
use hull_types::reference::{familiar_name, split_repo_tag};

use super::build::image_name;
use super::project::{self, label};
use super::{labels, ComposeArgs};
use crate::client::Conn;
use crate::containers::msg;
use crate::progress::{human, short};

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only the image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Only the containers of these services.
    pub services: Vec<String>,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &ImagesArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    project::check_services(p, &a.services)?;
    let mut rows = Vec::new();
    for c in project::containers(conn, &p.name).await? {
        let service = label(&c, labels::SERVICE);
        if !a.services.is_empty() && !a.services.iter().any(|s| s == service) {
            continue;
        }
        let got = conn
            .images()
            .get(conn.req(pb::GetImageRequest {
                name: c.image.clone(),
                platform: None,
            }))
            .await;
        let image = match got {
            Ok(i) => i.into_inner(),
            // Removed since: Compose leaves such a container out too.
            Err(e) if e.code() == tonic::Code::NotFound => continue,
            Err(e) => bail!("image {}: {}", c.image, msg(&e)),
        };
        rows.push((c.name.clone(), image));
    }
    rows.sort_by(|x, y| x.0.cmp(&y.0));
    if a.quiet {
        let mut seen = BTreeSet::new();
        for (_, i) in &rows {
            let id = i.config_digest.trim_start_matches("sha256:").to_string();
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(());
    }
    let mut table = vec![["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]
        .map(String::from)
        .to_vec()];
    for (name, i) in &rows {
        let (repo, tag) = split_repo_tag(&familiar_name(&i.name));
        table.push(vec![
            name.clone(),
            repo,
            tag,
            short(&i.config_digest),
            human(i.size),
        ]);
    }
    crate::containers::print_columns(&table);
    Ok(())
}

/// The images `down --rmi MODE` removes: `local`, those compose named
/// itself (services with `build:` and no `image:`); `all`, every
/// service's image.
pub fn to_remove(p: &Project, mode: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for (name, svc) in &p.services {
        let local = svc.image.is_none() && svc.build.is_some();
        if mode == "all" || local {
            out.insert(image_name(&p.name, name, svc));
        }
    }
    out.into_iter().collect()
}

/// `down --rmi MODE`: removes the images; a missing one is no error, one
/// still in use is reported and the others still go.
pub async fn remove(conn: &Conn, p: &Project, mode: &str) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for name in to_remove(p, mode) {
        let r = conn
            .images()
            .delete(conn.req(pb::DeleteImageRequest {
                name: name.clone(),
                force: false,
                sync: true,
            }))
            .await;
        match r {
            Ok(_) => eprintln!(" Image {name}  Removed"),
            Err(e) if e.code() == tonic::Code::NotFound => {}
            Err(e) => failed.push(format!("image {name}: {}", msg(&e))),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmi_local_takes_only_images_compose_named() {
        let services = serde_norway::from_str(
            "built: {build: ./a}
named: {build: ./b, image: reg.test/b:1}
pulled: {image: busybox}
",
        )
        .unwrap();
        let p = Project {
            name: "proj".into(),
            services,
            networks: Default::default(),
            volumes: Default::default(),
        };
        assert_eq!(to_remove(&p, "local"), ["proj-built"]);
        assert_eq!(
            to_remove(&p, "all"),
            ["busybox", "proj-built", "reg.test/b:1"]
        );
    }
}
