//! `hull`: Docker-style commands talking to hulld's gRPC API. It links no
//! daemon code: what it shares with hulld is in `hull-types`.

mod attach;
mod client;
mod containers;
mod cp;
mod dockerconfig;
mod events;
mod network;
mod progress;
mod prompt;
mod ps;
mod stats;
mod system;
mod template;
mod volumes;

use std::io::{Read, Write};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use client::Conn;
use hull_types::reference::{familiar_name, split_repo_tag};
use hull_types::untrusted::escape;
use progress::{human, short, Display};

#[derive(Debug, Parser)]
#[command(
    name = "hull",
    version,
    about = "A container manager (Docker-style CLI for hulld)"
)]
pub struct Cli {
    /// Daemon socket (unix:///path or a path).
    #[arg(
        short = 'H',
        long = "host",
        env = "HULL_HOST",
        default_value = "unix:///run/hull/hull.sock",
        global = true
    )]
    pub host: String,
    /// Namespace.
    #[arg(
        short = 'n',
        long = "namespace",
        env = "HULL_NAMESPACE",
        default_value = "default",
        global = true
    )]
    pub namespace: String,
    /// The daemon socket as shims name it (`hull --address A publish`).
    #[arg(long = "address", hide = true, global = true)]
    pub address: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// List images.
    Images(ImagesArgs),
    /// Remove images.
    Rmi(RmiArgs),
    /// Create a tag TARGET that refers to SOURCE.
    Tag { source: String, target: String },
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCmd),
    /// Log in to a registry.
    Login(LoginArgs),
    /// Log out from a registry.
    Logout { registry: Option<String> },
    /// Save images to a tar archive.
    Save(SaveArgs),
    /// Load images from a tar archive.
    Load(LoadArgs),
    /// Show version information.
    Version,
    /// Show daemon information.
    Info(InfoArgs),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volumes::VolumeCmd),
    /// Snapshots (low level, like `ctr snapshots`).
    #[command(subcommand)]
    Snapshot(SnapCmd),
    /// Stream daemon events.
    Events {
        #[arg(long = "filter", short = 'f')]
        filter: Vec<String>,
    },
    #[command(flatten)]
    Container(containers::ContainerCmd),
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::CpArgs),
    /// Manage hull (disk usage, prune).
    #[command(subcommand)]
    System(system::SystemCmd),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCmd),
    /// List port mappings of a container.
    Port {
        container: String,
        /// PRIVATE_PORT[/PROTO]
        private: Option<String>,
    },
    /// Forward a shim's event (protobuf Any on stdin) to hulld.
    #[command(hide = true)]
    Publish {
        #[arg(long)]
        topic: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// os/arch[/variant]; default the host's.
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(short, long)]
    pub quiet: bool,
    pub reference: String,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(short, long)]
    pub quiet: bool,
    pub reference: String,
}

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

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    #[arg(long)]
    pub password_stdin: bool,
    pub registry: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    #[arg(short, long)]
    pub output: Option<String>,
    /// oci (default) or docker.
    #[arg(long, default_value = "oci")]
    pub format: String,
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    #[arg(short, long)]
    pub input: Option<String>,
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[arg(short, long)]
    pub format: Option<String>,
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
    /// Remove unused content and snapshots (-a: and all images).
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapCmd {
    #[command(alias = "list")]
    Ls,
    Mounts {
        key: String,
    },
    Prepare {
        key: String,
        parent: Option<String>,
    },
    View {
        key: String,
        parent: Option<String>,
    },
    Commit {
        name: String,
        key: String,
    },
    Rm {
        key: String,
    },
    Usage {
        key: String,
    },
}

fn main() {
    // `hull … | head` ends quietly, as other CLIs do, instead of panicking
    // on a write to a closed pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    std::process::exit(run_cli());
}

/// Parses the command line and runs the command; returns the exit code.
fn run_cli() -> i32 {
    let cli = match Cli::try_parse_from(ps::rewrite_args(std::env::args_os().collect())) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hull: {e}");
            return 1;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<containers::Exit>() {
                return c.0;
            }
            if let Some(s) = e.downcast_ref::<tonic::Status>() {
                client::exit_if_connection_lost(s);
                eprintln!("Error response from daemon: {}", escape(s.message()));
            } else {
                eprintln!("Error: {}", escape(&format!("{e:#}")));
            }
            1
        }
    }
}

/// Help and version go to stdout (exit 0); a usage error is one line and
/// Docker's exit code for it, 125.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            125
        } else {
            0
        };
    }
    // clap's first paragraph, on one line.
    let text = e.to_string();
    let first: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: "))
        .collect();
    eprintln!("hull: {}\nSee 'hull --help'.", first.join(" "));
    125
}

fn pb_platform(p: &Option<String>) -> anyhow::Result<Option<pb::Platform>> {
    Ok(match p {
        None => None,
        Some(s) => {
            let p = hull_types::platform::parse(s)?;
            Some(pb::Platform {
                os: p.os,
                architecture: p.architecture,
                variant: p.variant,
                os_version: String::new(),
            })
        }
    })
}

/// The registry host of a reference, for credentials.
fn registry_of(reference: &str) -> String {
    use hull_types::reference::{normalize_name, parse};
    match (normalize_name(reference), parse(reference)) {
        (Ok(_), Ok(r)) => r.registry().to_string(),
        _ => String::new(),
    }
}

fn auth_for(reference: &str) -> Option<pb::RegistryAuth> {
    let reg = registry_of(reference);
    match dockerconfig::get(&reg) {
        Ok(Some((u, p))) => Some(pb::RegistryAuth {
            username: u,
            password: p,
            identity_token: String::new(),
        }),
        _ => None,
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that need no daemon.
    if let Cmd::Logout { registry } = &cli.cmd {
        let reg = registry.clone().unwrap_or_else(|| "docker.io".into());
        if dockerconfig::erase(&reg)? {
            println!("Removing login credentials for {reg}");
        } else {
            println!("Not logged in to {reg}");
        }
        return Ok(());
    }
    let host = cli.address.clone().unwrap_or_else(|| cli.host.clone());
    let conn = Conn::connect(&host, &cli.namespace).await?;
    match cli.cmd {
        Cmd::Pull(a) | Cmd::Image(ImageCmd::Pull(a)) => pull(&conn, a).await,
        Cmd::Push(a) | Cmd::Image(ImageCmd::Push(a)) => push(&conn, a).await,
        Cmd::Images(a) | Cmd::Image(ImageCmd::Ls(a)) => images(&conn, a).await,
        Cmd::Rmi(a) | Cmd::Image(ImageCmd::Rm(a)) => rmi(&conn, a).await,
        Cmd::Tag { source, target } | Cmd::Image(ImageCmd::Tag { source, target }) => {
            conn.images()
                .tag(conn.req(pb::TagImageRequest { source, target }))
                .await?;
            Ok(())
        }
        Cmd::Image(ImageCmd::Inspect(a)) => inspect(&conn, a).await,
        Cmd::Image(ImageCmd::Prune { all, force }) => {
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
            for i in &r.deleted_images {
                println!("Untagged: {}", familiar_name(i));
            }
            for c in &r.deleted_content {
                println!("Deleted: {c}");
            }
            println!("Total reclaimed space: {}", human(r.reclaimed_bytes));
            Ok(())
        }
        Cmd::Login(a) => login(&conn, a).await,
        Cmd::Logout { .. } => Ok(()),
        Cmd::Save(a) | Cmd::Image(ImageCmd::Save(a)) => save(&conn, a).await,
        Cmd::Load(a) | Cmd::Image(ImageCmd::Load(a)) => load(&conn, a).await,
        Cmd::Version => {
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
        Cmd::Info(a) => {
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
        Cmd::Snapshot(c) => snapshot(&conn, c).await,
        Cmd::Volume(c) => volumes::run(&conn, c).await,
        Cmd::Container(c) => containers::run(&conn, c).await,
        Cmd::Network(c) => network::run(&conn, c).await,
        Cmd::Port { container, private } => {
            network::port(&conn, &container, private.as_deref()).await
        }
        Cmd::Publish { topic } => {
            let mut event = Vec::new();
            std::io::stdin().read_to_end(&mut event)?;
            conn.events()
                .publish(pb::PublishRequest {
                    namespace: cli.namespace.clone(),
                    topic,
                    event,
                })
                .await?;
            Ok(())
        }
        Cmd::Events { filter } => events::run(&conn, filter).await,
        Cmd::Cp(a) => cp::run(&conn, a).await,
        Cmd::System(c) => system::run(&conn, c).await,
    }
}

async fn pull(conn: &Conn, a: PullArgs) -> anyhow::Result<()> {
    let full = hull_types::reference::normalize_name(&a.reference)?;
    let (_, tag) = split_repo_tag(&full);
    if !a.quiet {
        println!(
            "{}: Pulling from {}",
            tag,
            split_repo_tag(&familiar_name(&full)).0
        );
    }
    let mut s = conn
        .transfer()
        .pull(conn.req(pb::PullRequest {
            reference: a.reference.clone(),
            platform: pb_platform(&a.platform)?,
            auth: auth_for(&a.reference),
            no_unpack: false,
        }))
        .await?
        .into_inner();
    let mut d = Display::new(a.quiet);
    let mut digest = String::new();
    while let Some(p) = s.next().await {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                d.finish();
                return Err(e.into());
            }
        };
        if p.kind == pb::progress::Kind::Done as i32 {
            digest = p.digest.clone();
        }
        if p.kind != pb::progress::Kind::Status as i32 {
            d.update(&p);
        }
    }
    d.finish();
    if digest.is_empty() {
        bail!("pull of {} ended without a result", a.reference);
    }
    if !a.quiet {
        println!("Status: Downloaded image for {}", familiar_name(&full));
    }
    println!("{full}");
    Ok(())
}

async fn push(conn: &Conn, a: PushArgs) -> anyhow::Result<()> {
    let full = hull_types::reference::normalize_name(&a.reference)?;
    let mut s = conn
        .transfer()
        .push(conn.req(pb::PushRequest {
            reference: a.reference.clone(),
            platform: pb_platform(&a.platform)?,
            auth: auth_for(&a.reference),
            remote: String::new(),
        }))
        .await?
        .into_inner();
    if !a.quiet {
        println!(
            "The push refers to repository [{}]",
            split_repo_tag(&full).0
        );
    }
    let mut d = Display::new(a.quiet);
    let mut digest = String::new();
    while let Some(p) = s.next().await {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                d.finish();
                return Err(e.into());
            }
        };
        if p.kind == pb::progress::Kind::Done as i32 {
            digest = p.digest.clone();
            d.finish();
            println!(
                "{}: digest: {} size: {}",
                split_repo_tag(&full).1,
                p.digest,
                p.total
            );
            continue;
        }
        if p.kind != pb::progress::Kind::Status as i32 {
            d.update(&p);
        }
    }
    d.finish();
    if digest.is_empty() {
        bail!("push of {} ended without a result", a.reference);
    }
    Ok(())
}

fn ago(t: i64) -> String {
    let now = hull_types::time::now_secs();
    let d = (now - t).max(0);
    match d {
        0..=59 => format!("{d} seconds ago"),
        60..=3599 => format!("{} minutes ago", d / 60),
        3600..=86399 => format!("{} hours ago", d / 3600),
        _ => format!("{} days ago", d / 86400),
    }
}

async fn images(conn: &Conn, a: ImagesArgs) -> anyhow::Result<()> {
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
        let (repo, tag) = split_repo_tag(&shown);
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

async fn rmi(conn: &Conn, a: RmiArgs) -> anyhow::Result<()> {
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
                for u in r.untagged {
                    println!("Untagged: {}", familiar_name(&u));
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

async fn inspect(conn: &Conn, a: InspectArgs) -> anyhow::Result<()> {
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

async fn login(conn: &Conn, a: LoginArgs) -> anyhow::Result<()> {
    let registry = a.registry.clone().unwrap_or_else(|| "docker.io".into());
    let username = match a.username {
        Some(u) => u,
        None => {
            print!("Username: ");
            std::io::stdout().flush()?;
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            s.trim().to_string()
        }
    };
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = a.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        print!("Password: ");
        std::io::stdout().flush()?;
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    };
    if username.is_empty() {
        bail!("username is empty");
    }
    let r = conn
        .transfer()
        .login(conn.req(pb::LoginRequest {
            registry: registry.clone(),
            auth: Some(pb::RegistryAuth {
                username: username.clone(),
                password: password.clone(),
                identity_token: String::new(),
            }),
        }))
        .await?
        .into_inner();
    dockerconfig::store(&registry, &username, &password)?;
    println!("{}", r.status);
    Ok(())
}

async fn save(conn: &Conn, a: SaveArgs) -> anyhow::Result<()> {
    let mut s = conn
        .images()
        .export(conn.req(pb::ExportRequest {
            names: a.images.clone(),
            platform: pb_platform(&a.platform)?,
            format: a.format.clone(),
        }))
        .await?
        .into_inner();
    let mut w: Box<dyn Write> = match &a.output {
        Some(p) if p != "-" => {
            let tmp = format!("{p}.tmp-{}", std::process::id());
            Box::new(std::fs::File::create(&tmp).with_context(|| format!("create {tmp}"))?)
        }
        _ => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            Box::new(std::io::stdout().lock())
        }
    };
    while let Some(c) = s.next().await {
        w.write_all(&c?.data)?;
    }
    w.flush()?;
    drop(w);
    if let Some(p) = &a.output {
        if p != "-" {
            std::fs::rename(format!("{p}.tmp-{}", std::process::id()), p)?;
        }
    }
    Ok(())
}

async fn load(conn: &Conn, a: LoadArgs) -> anyhow::Result<()> {
    let mut r: Box<dyn Read + Send> = match &a.input {
        Some(p) if p != "-" => {
            Box::new(std::fs::File::open(p).with_context(|| format!("open {p}"))?)
        }
        _ => Box::new(std::io::stdin()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportChunk>(4);
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            if tx
                .blocking_send(pb::ImportChunk {
                    data: buf[..n].to_vec(),
                    base_name: String::new(),
                })
                .is_err()
            {
                return Ok(());
            }
        }
    });
    let res = conn
        .images()
        .import(conn.req(tokio_stream::wrappers::ReceiverStream::new(rx)))
        .await;
    let _ = reader.join();
    let res = res?.into_inner();
    for i in res.images {
        println!("Loaded image: {}", familiar_name(&i.name));
    }
    Ok(())
}

async fn snapshot(conn: &Conn, c: SnapCmd) -> anyhow::Result<()> {
    let mut s = conn.snapshots();
    let print_mounts = |m: pb::MountsResponse| {
        for m in m.mounts {
            println!(
                "mount -t {} {} <target> -o {}",
                m.r#type,
                m.source,
                m.options.join(",")
            );
        }
    };
    match c {
        SnapCmd::Ls => {
            let l = s
                .list(conn.req(pb::ListSnapshotsRequest {}))
                .await?
                .into_inner();
            println!("{:<72} {:<72} KIND", "KEY", "PARENT");
            for i in l.info {
                let kind = match pb::snapshot_info::Kind::try_from(i.kind) {
                    Ok(pb::snapshot_info::Kind::View) => "View",
                    Ok(pb::snapshot_info::Kind::Active) => "Active",
                    Ok(pb::snapshot_info::Kind::Committed) => "Committed",
                    _ => "?",
                };
                println!("{:<72} {:<72} {}", i.name, i.parent, kind);
            }
        }
        SnapCmd::Mounts { key } => print_mounts(
            s.mounts(conn.req(pb::SnapshotKeyRequest { key }))
                .await?
                .into_inner(),
        ),
        SnapCmd::Prepare { key, parent } => print_mounts(
            s.prepare(conn.req(pb::PrepareSnapshotRequest {
                key,
                parent: parent.unwrap_or_default(),
                labels: Default::default(),
            }))
            .await?
            .into_inner(),
        ),
        SnapCmd::View { key, parent } => print_mounts(
            s.view(conn.req(pb::PrepareSnapshotRequest {
                key,
                parent: parent.unwrap_or_default(),
                labels: Default::default(),
            }))
            .await?
            .into_inner(),
        ),
        SnapCmd::Commit { name, key } => {
            s.commit(conn.req(pb::CommitSnapshotRequest {
                name,
                key,
                labels: Default::default(),
            }))
            .await?;
        }
        SnapCmd::Rm { key } => {
            s.remove(conn.req(pb::SnapshotKeyRequest { key })).await?;
        }
        SnapCmd::Usage { key } => {
            let u = s
                .usage(conn.req(pb::SnapshotKeyRequest { key }))
                .await?
                .into_inner();
            println!("{} {}", u.size, u.inodes);
        }
    }
    Ok(())
}
