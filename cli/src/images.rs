//! Images: `hull images`, `rmi`, `image inspect`, `image prune`, and the
//! `image` subcommands.

use std::io::Write;

use anyhow::bail;
use clap::Subcommand;
use hull_proto::v1 as pb;

use crate::client::Conn;
use crate::containers;
use crate::progress::{human, short};
use crate::prompt;
use crate::transfer::{pb_platform, LoadArgs, PullArgs, PushArgs, SaveArgs};
use hull_types::reference::{familiar_name, is_dangling, split_repo_tag};
use hull_types::untrusted::escape;

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long)]
    pub digests: bool,
    #[arg(long)]
    pub no_trunc: bool,
    /// "json" or "table".
    #[arg(long)]
    pub format: Option<String>,
    /// Only this repository.
    pub repository: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmiArgs {
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// "json" (default).
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    Inspect(InspectArgs),
    #[command(alias = "list")]
    Ls(ImagesArgs),
    Rm(RmiArgs),
    Pull(PullArgs),
    Push(PushArgs),
    Tag {
        source: String,
        target: String,
    },
    Save(SaveArgs),
    Load(LoadArgs),
    /// Build an image from a Dockerfile.
    Build(Box<crate::build::BuildArgs>),
    /// Show the history of an image.
    History(crate::build::history::HistoryArgs),
    /// Remove unused content and snapshots (-a: and all images).
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
    },
}

fn ago(t: i64) -> String {
    ago_at(hull_types::time::now_secs(), t)
}

/// Docker's "N units ago" for time `t` seen at `now` (Unix seconds).
pub(crate) fn ago_at(now: i64, t: i64) -> String {
    let d = (now - t).max(0);
    match d {
        0..=59 => format!("{d} seconds ago"),
        60..=3599 => format!("{} minutes ago", d / 60),
        3600..=86399 => format!("{} hours ago", d / 3600),
        _ => format!("{} days ago", d / 86400),
    }
}

pub async fn list(conn: &Conn, a: ImagesArgs) -> anyhow::Result<()> {
    let mut list = conn
        .images()
        .list(conn.req(pb::ListImagesRequest { filters: vec![] }))
        .await?
        .into_inner()
        .images;
    list.sort_by(|x, y| y.created_at.cmp(&x.created_at).then(x.name.cmp(&y.name)));
    if let Some(repo) = &a.repository {
        let want = split_repo_tag(&hull_types::reference::normalize_name(repo)?).0;
        list.retain(|i| split_repo_tag(&i.name).0 == want);
    }
    let id_of = |i: &pb::Image| -> String {
        let id = if i.config_digest.is_empty() {
            i.target
                .as_ref()
                .map(|t| t.digest.clone())
                .unwrap_or_default()
        } else {
            i.config_digest.clone()
        };
        if a.no_trunc {
            id
        } else {
            short(&id)
        }
    };
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for i in &list {
            let id = id_of(i);
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(());
    }
    let json = a.format.as_deref() == Some("json");
    let mut out = std::io::stdout().lock();
    if !json {
        if a.digests {
            writeln!(
                out,
                "{:<40} {:<12} {:<72} {:<14} {:<16} SIZE",
                "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED"
            )?;
        } else {
            writeln!(
                out,
                "{:<40} {:<12} {:<14} {:<16} SIZE",
                "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
            )?;
        }
    }
    for i in &list {
        let name = familiar_name(&i.name);
        let shown = if json {
            name.as_str().into()
        } else {
            escape(&name)
        };
        let (repo, tag) = if is_dangling(&i.name) {
            ("<none>".to_string(), "<none>".to_string())
        } else {
            split_repo_tag(&shown)
        };
        let digest = i
            .target
            .as_ref()
            .map(|t| t.digest.clone())
            .unwrap_or_default();
        if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "Repository": repo, "Tag": tag, "ID": id_of(i), "Digest": digest,
                    "CreatedAt": i.created_at, "CreatedSince": ago(i.created_at),
                    "Size": human(i.size), "SizeBytes": i.size, "Name": i.name,
                })
            )?;
        } else if a.digests {
            writeln!(
                out,
                "{:<40} {:<12} {:<72} {:<14} {:<16} {}",
                repo,
                tag,
                digest,
                id_of(i),
                ago(i.created_at),
                human(i.size)
            )?;
        } else {
            writeln!(
                out,
                "{:<40} {:<12} {:<14} {:<16} {}",
                repo,
                tag,
                id_of(i),
                ago(i.created_at),
                human(i.size)
            )?;
        }
    }
    Ok(())
}

pub async fn rmi(conn: &Conn, a: RmiArgs) -> anyhow::Result<()> {
    let mut failed = None;
    for name in &a.images {
        match conn
            .images()
            .delete(conn.req(pb::DeleteImageRequest {
                name: name.clone(),
                force: a.force,
                sync: true,
            }))
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                for u in r.untagged.iter().filter(|u| !is_dangling(u)) {
                    println!("Untagged: {}", familiar_name(u));
                }
                for d in r.deleted {
                    println!("Deleted: {d}");
                }
            }
            Err(e) => {
                eprintln!("Error response from daemon: {}", containers::msg(&e));
                failed = Some(e);
            }
        }
    }
    if failed.is_some() {
        std::process::exit(1);
    }
    Ok(())
}

pub async fn inspect(conn: &Conn, a: InspectArgs) -> anyhow::Result<()> {
    let mut out = Vec::new();
    for name in &a.images {
        let r = conn
            .images()
            .inspect(conn.req(pb::GetImageRequest {
                name: name.clone(),
                platform: pb_platform(&a.platform)?,
            }))
            .await?
            .into_inner();
        let img = r.image.unwrap_or_default();
        let cfg: serde_json::Value = serde_json::from_slice(&r.config).unwrap_or_default();
        let target = img.target.unwrap_or_default();
        out.push(serde_json::json!({
            "Id": img.config_digest,
            "RepoTags": r.repo_tags.iter().map(|t| familiar_name(t)).collect::<Vec<_>>(),
            "RepoDigests": r.repo_digests.iter().map(|t| familiar_name(t)).collect::<Vec<_>>(),
            "Created": cfg.get("created").cloned().unwrap_or_default(),
            "Architecture": cfg.get("architecture").cloned().unwrap_or_default(),
            "Os": cfg.get("os").cloned().unwrap_or_default(),
            "Variant": cfg.get("variant").cloned().unwrap_or_default(),
            "Author": cfg.get("author").cloned().unwrap_or_default(),
            "Size": img.size,
            "Config": cfg.get("config").cloned().unwrap_or_default(),
            "RootFS": {"Type": "layers", "Layers": r.diff_ids},
            "Descriptor": {"mediaType": target.media_type, "digest": target.digest, "size": target.size},
            "ManifestDigest": img.manifest_digest,
            "Layers": r.layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
            "LayerMediaTypes": r.layers.iter().map(|l| l.media_type.clone()).collect::<Vec<_>>(),
            "ChainIDs": r.chain_ids,
            "Unpacked": img.unpacked,
            "Name": img.name,
        }));
    }
    if let Some(f) = &a.format {
        if f != "json" {
            bail!("only --format json is supported");
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `image prune [-a]`: remove unused images, content and snapshots.
pub async fn prune(conn: &Conn, all: bool, force: bool) -> anyhow::Result<()> {
    let warning = if all {
        prompt::ALL_IMAGES
    } else {
        prompt::DANGLING_IMAGES
    };
    if !prompt::confirm(warning, force)? {
        println!("Total reclaimed space: 0B");
        return Ok(());
    }
    let r = conn
        .images()
        .prune(conn.req(pb::PruneRequest { all }))
        .await?
        .into_inner();
    for i in r.deleted_images.iter().filter(|i| !is_dangling(i)) {
        println!("Untagged: {}", familiar_name(i));
    }
    for c in &r.deleted_content {
        println!("Deleted: {c}");
    }
    println!("Total reclaimed space: {}", human(r.reclaimed_bytes));
    Ok(())
}
