//! `hull system df` and `hull system prune` (Docker's names, output and
//! rules), composed from the daemon's Images, Containers and Snapshots
//! services.

use std::collections::{BTreeMap, HashMap, HashSet};

use clap::Subcommand;
use hull_proto::v1 as pb;
use serde_json::{Map, Value};

use super::client::Conn;
use super::containers::{msg, Exit};
use super::progress::human;
use super::ps::tabwrite;
use hull_types::reference::familiar_name;

#[derive(Debug, Subcommand)]
pub enum SystemCmd {
    /// Show hull disk usage.
    Df {
        /// Show detailed information on space usage.
        #[arg(short, long)]
        verbose: bool,
        /// A Go template, `table TEMPLATE`, or `json`.
        #[arg(long)]
        format: Option<String>,
    },
    /// Remove stopped containers, dangling images and unused content.
    Prune {
        /// Remove all unused images, not only dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Prune unused anonymous volumes too.
        #[arg(long)]
        volumes: bool,
    },
}

fn daemon(e: tonic::Status) -> anyhow::Error {
    eprintln!("Error response from daemon: {}", msg(&e));
    Exit(1).into()
}

fn active(c: &pb::Container) -> bool {
    c.status
        .as_ref()
        .is_some_and(|s| s.state == "running" || s.state == "paused")
}

/// An image's ID: its config digest (or the manifest's when unknown).
fn image_id(i: &pb::Image) -> String {
    if i.config_digest.is_empty() {
        i.target
            .as_ref()
            .map(|t| t.digest.clone())
            .unwrap_or_default()
    } else {
        i.config_digest.clone()
    }
}

/// What `system df` counts.
#[derive(Debug, Default)]
pub struct Usage {
    /// Image ID → (names, size, in use).
    pub images: BTreeMap<String, (Vec<String>, i64, bool)>,
    /// Container ID → (name, writable layer size, active).
    pub containers: BTreeMap<String, (String, i64, bool)>,
    /// Volume name → in use (the daemon reports no sizes: "N/A").
    pub volumes: BTreeMap<String, bool>,
}

pub async fn usage(conn: &Conn) -> anyhow::Result<Usage> {
    let images = conn
        .images()
        .list(conn.req(pb::ListImagesRequest { filters: vec![] }))
        .await
        .map_err(daemon)?
        .into_inner()
        .images;
    let containers = conn.list_containers().await.map_err(daemon)?;
    let id_of: HashMap<&str, String> = images
        .iter()
        .map(|i| (i.name.as_str(), image_id(i)))
        .collect();
    let used: HashSet<String> = containers
        .iter()
        .filter_map(|c| id_of.get(c.image.as_str()).cloned())
        .collect();
    let mut u = Usage::default();
    for i in &images {
        let id = image_id(i);
        let e = u
            .images
            .entry(id.clone())
            .or_insert_with(|| (Vec::new(), i.size, used.contains(&id)));
        e.0.push(i.name.clone());
    }
    if let Ok(v) = conn
        .volumes()
        .list(conn.req(pb::ListVolumesRequest {}))
        .await
    {
        for v in v.into_inner().volumes {
            u.volumes.insert(v.name, !v.used_by.is_empty());
        }
    }
    for c in &containers {
        let size = conn
            .snapshots()
            .usage(conn.req(pb::SnapshotKeyRequest {
                key: c.snapshot_key.clone(),
            }))
            .await
            .map(|u| u.into_inner().size)
            .unwrap_or(0);
        u.containers
            .insert(c.id.clone(), (c.name.clone(), size, active(c)));
    }
    Ok(u)
}

/// Docker's RECLAIMABLE cell: size and the share of the total.
fn reclaimable(r: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", human(r), r * 100 / total)
    } else {
        human(r)
    }
}

fn df_rows(u: &Usage) -> Vec<Map<String, Value>> {
    let isize: i64 = u.images.values().map(|x| x.1).sum();
    let iactive = u.images.values().filter(|x| x.2).count();
    let ireclaim: i64 = u.images.values().filter(|x| !x.2).map(|x| x.1).sum();
    let csize: i64 = u.containers.values().map(|x| x.1).sum();
    let cactive = u.containers.values().filter(|x| x.2).count();
    let creclaim: i64 = u.containers.values().filter(|x| !x.2).map(|x| x.1).sum();
    let row = |t: &str, total: usize, act: usize, size: i64, rec: String| {
        let mut m = Map::new();
        for (k, v) in [
            ("Type", t.to_string()),
            ("TotalCount", total.to_string()),
            ("Active", act.to_string()),
            ("Size", human(size)),
            ("Reclaimable", rec),
        ] {
            m.insert(k.into(), Value::String(v));
        }
        m
    };
    vec![
        row(
            "Images",
            u.images.len(),
            iactive,
            isize,
            reclaimable(ireclaim, isize),
        ),
        row(
            "Containers",
            u.containers.len(),
            cactive,
            csize,
            reclaimable(creclaim, csize),
        ),
        if u.volumes.is_empty() {
            row("Local Volumes", 0, 0, 0, reclaimable(0, 0))
        } else {
            let mut r = row(
                "Local Volumes",
                u.volumes.len(),
                u.volumes.values().filter(|x| **x).count(),
                0,
                String::new(),
            );
            // Sizes unknown to the API: Docker's "N/A".
            r.insert("Size".into(), Value::String("N/A".into()));
            r.insert("Reclaimable".into(), Value::String("N/A".into()));
            r
        },
        row("Build Cache", 0, 0, 0, human(0)),
    ]
}

const DF_TABLE: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

async fn df(conn: &Conn, verbose: bool, format: Option<String>) -> anyhow::Result<()> {
    let u = usage(conn).await?;
    let rows = df_rows(&u);
    let fmt = match format.as_deref() {
        None | Some("") | Some("table") => DF_TABLE.to_string(),
        Some(f) => f.replace("\\t", "\t").replace("\\n", "\n"),
    };
    if fmt == "json" {
        for r in rows {
            println!("{}", Value::Object(r));
        }
        return Ok(());
    }
    let (table, body) = match fmt.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, fmt.clone()),
    };
    let mut lines = Vec::new();
    let bad = |e: super::template::TemplateError| {
        eprintln!("template parsing error: {e}");
        Exit(1)
    };
    if table {
        let mut h = Map::new();
        for (k, v) in [
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ] {
            h.insert(k.into(), Value::String(v.into()));
        }
        lines.push(super::template::render(&body, &Value::Object(h)).map_err(bad)?);
    }
    for r in rows {
        lines.push(super::template::render(&body, &Value::Object(r)).map_err(bad)?);
    }
    if table {
        print!("{}", tabwrite(&lines));
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    if verbose {
        let mut l = vec!["\nImages space usage:\n".to_string()];
        l.push("REPOSITORY:TAG\tIMAGE ID\tSIZE\tCONTAINERS".into());
        for (id, (names, size, used)) in &u.images {
            for n in names {
                l.push(format!(
                    "{}\t{}\t{}\t{}",
                    familiar_name(n),
                    super::progress::short(id),
                    human(*size),
                    if *used { "1+" } else { "0" }
                ));
            }
        }
        print!("{}", l[0]);
        print!("{}", tabwrite(&l[1..]));
        let mut l = vec!["CONTAINER ID\tNAMES\tSIZE\tSTATUS".to_string()];
        for (id, (name, size, act)) in &u.containers {
            l.push(format!(
                "{}\t{name}\t{}\t{}",
                &id[..12.min(id.len())],
                human(*size),
                if *act { "active" } else { "stopped" }
            ));
        }
        println!("\nContainers space usage:\n");
        print!("{}", tabwrite(&l));
        println!("\nLocal Volumes space usage:\n\nVOLUME NAME\tLINKS\tSIZE");
        println!("\nBuild cache usage: 0B");
    }
    Ok(())
}

async fn prune(conn: &Conn, all: bool, force: bool, volumes: bool) -> anyhow::Result<()> {
    if !super::prompt::confirm(&super::prompt::system(all, volumes), force)? {
        return Ok(());
    }
    let mut reclaimed: i64 = 0;
    // Stopped containers.
    let containers = conn.list_containers().await.map_err(daemon)?;
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    for c in containers {
        if active(&c) {
            kept.push(c);
            continue;
        }
        let size = conn
            .snapshots()
            .usage(conn.req(pb::SnapshotKeyRequest {
                key: c.snapshot_key.clone(),
            }))
            .await
            .map(|u| u.into_inner().size)
            .unwrap_or(0);
        match conn
            .containers()
            .delete(conn.req(pb::DeleteContainerRequest {
                id: c.id.clone(),
                force: false,
                volumes: false,
            }))
            .await
        {
            Ok(_) => {
                reclaimed += size;
                deleted.push(c.id);
            }
            // Started meanwhile: it is in use now.
            Err(_) => kept.push(c),
        }
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
        println!();
    }
    // Networks no container uses (Docker's system prune does them too).
    let r = pb::networks_client::NetworksClient::new(conn.channel.clone())
        .prune(conn.req(pb::PruneNetworksRequest {}))
        .await
        .map_err(daemon)?
        .into_inner();
    if !r.removed.is_empty() {
        println!("Deleted Networks:");
        for n in &r.removed {
            println!("{n}");
        }
        println!();
    }
    if volumes {
        let r = conn
            .volumes()
            .prune(conn.req(pb::PruneVolumesRequest { all: false }))
            .await
            .map_err(daemon)?
            .into_inner();
        if !r.removed.is_empty() {
            println!("Deleted Volumes:");
            for v in &r.removed {
                println!("{v}");
            }
            println!();
        }
        reclaimed += r.space_reclaimed as i64;
    }
    // With -a: images no remaining container uses.
    let mut untagged = Vec::new();
    if all {
        let in_use: HashSet<&str> = kept.iter().map(|c| c.image.as_str()).collect();
        let images = conn
            .images()
            .list(conn.req(pb::ListImagesRequest { filters: vec![] }))
            .await
            .map_err(daemon)?
            .into_inner()
            .images;
        let used_ids: HashSet<String> = images
            .iter()
            .filter(|i| in_use.contains(i.name.as_str()))
            .map(image_id)
            .collect();
        for i in images {
            if used_ids.contains(&image_id(&i)) {
                continue;
            }
            if conn
                .images()
                .delete(conn.req(pb::DeleteImageRequest {
                    name: i.name.clone(),
                    force: false,
                    sync: false,
                }))
                .await
                .is_ok()
            {
                untagged.push(i.name);
            }
        }
    }
    // Dangling images and everything else no image, container or lease
    // holds: the daemon's garbage collection.
    let r = conn
        .images()
        .prune(conn.req(pb::PruneRequest { all: false }))
        .await
        .map_err(daemon)?
        .into_inner();
    reclaimed += r.reclaimed_bytes;
    if !untagged.is_empty() || !r.deleted_content.is_empty() {
        println!("Deleted Images:");
        for n in &untagged {
            println!("untagged: {}", familiar_name(n));
        }
        for d in &r.deleted_content {
            println!("deleted: {d}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human(reclaimed));
    Ok(())
}

pub async fn run(conn: &Conn, c: SystemCmd) -> anyhow::Result<()> {
    match c {
        SystemCmd::Df { verbose, format } => df(conn, verbose, format).await,
        SystemCmd::Prune {
            all,
            force,
            volumes,
        } => prune(conn, all, force, volumes).await,
    }
}

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[arg(short, long)]
    pub format: Option<String>,
}

/// `hull version`: this client's and the daemon's versions.
pub async fn version(conn: &Conn) -> anyhow::Result<()> {
    let v = conn
        .version()
        .version(conn.req(pb::VersionRequest {}))
        .await?
        .into_inner();
    println!(
        "Client:\n Version:    {}\n API:        {}",
        env!("CARGO_PKG_VERSION"),
        hull_proto::API_VERSION
    );
    println!(
        "\nServer:\n Version:    {}\n API:        {}\n OS/Arch:    {}/{}",
        v.version, v.api_version, v.os, v.arch
    );
    Ok(())
}

/// `hull info`: what the daemon holds and how it is set up.
pub async fn info(conn: &Conn, a: InfoArgs) -> anyhow::Result<()> {
    let i = conn
        .version()
        .info(conn.req(pb::InfoRequest {}))
        .await?
        .into_inner();
    if a.format.as_deref() == Some("json") {
        println!(
            "{}",
            serde_json::json!({
                "Root": i.root, "State": i.state, "Address": i.address,
                "Snapshotter": i.snapshotter, "Images": i.images,
                "ContentBlobs": i.content_blobs, "ContentBytes": i.content_bytes,
                "Snapshots": i.snapshots, "Pid": i.pid, "KernelVersion": i.kernel_version,
                "OS": i.os, "Architecture": i.arch, "MemoryRSS": i.rss_bytes,
                "Namespaces": i.namespaces, "InsecureRegistries": i.insecure_registries,
                "RegistryMirrors": i.registry_mirrors,
                "MaxConcurrentDownloads": i.max_concurrent_downloads,
            })
        );
    } else {
        println!("Server:");
        println!(" Images: {}", i.images);
        println!(" Snapshotter: {}", i.snapshotter);
        println!(" Snapshots: {}", i.snapshots);
        println!(
            " Content: {} blobs, {}",
            i.content_blobs,
            human(i.content_bytes)
        );
        println!(" Root Dir: {}", i.root);
        println!(" State Dir: {}", i.state);
        println!(" Socket: {}", i.address);
        println!(" Kernel Version: {}", i.kernel_version);
        println!(" OS/Arch: {}/{}", i.os, i.arch);
        println!(" Daemon PID: {}", i.pid);
        println!(" Daemon RSS: {}", human(i.rss_bytes));
        println!(" Namespaces: {}", i.namespaces.join(", "));
        println!(" Max Concurrent Downloads: {}", i.max_concurrent_downloads);
        println!(
            " Insecure Registries: {} (and localhost)",
            i.insecure_registries.join(", ")
        );
        if !i.registry_mirrors.is_empty() {
            println!(" Registry Mirrors: {}", i.registry_mirrors.join(" "));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_counts_and_reclaimable() {
        let mut u = Usage::default();
        u.images
            .insert("sha256:a".into(), (vec!["a:1".into()], 3000, true));
        u.images.insert(
            "sha256:b".into(),
            (vec!["b:1".into(), "b:2".into()], 1000, false),
        );
        u.containers.insert("c1".into(), ("x".into(), 10, true));
        u.containers.insert("c2".into(), ("y".into(), 30, false));
        let r = df_rows(&u);
        assert_eq!(r[0]["TotalCount"], "2");
        assert_eq!(r[0]["Active"], "1");
        assert_eq!(r[0]["Size"], "4kB");
        assert_eq!(r[0]["Reclaimable"], "1kB (25%)");
        assert_eq!(r[1]["Reclaimable"], "30B (75%)");
        assert_eq!(r[3]["Reclaimable"], "0B");
    }
}
