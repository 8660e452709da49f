//! Moving images: `pull` and `push` through hulld's Transfer service
//! (credentials from Docker's config.json), `save` and `load` as tar
//! archives.

use std::io::{Read, Write};

use anyhow::{bail, Context};
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use crate::client::Conn;
use crate::login::auth_for;
use crate::progress::Display;
use hull_types::reference::{familiar_name, split_repo_tag};

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

pub fn pb_platform(p: &Option<String>) -> anyhow::Result<Option<pb::Platform>> {
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

pub async fn pull(conn: &Conn, a: PullArgs) -> anyhow::Result<()> {
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

pub async fn push(conn: &Conn, a: PushArgs) -> anyhow::Result<()> {
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

pub async fn save(conn: &Conn, a: SaveArgs) -> anyhow::Result<()> {
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
    let file = a.output.as_deref().filter(|p| *p != "-");
    let tmp = file.map(|p| format!("{p}.tmp-{}", std::process::id()));
    let copied = async {
        while let Some(c) = s.next().await {
            w.write_all(&c?.data)?;
        }
        w.flush()?;
        anyhow::Ok(())
    }
    .await;
    drop(w);
    if let (Some(p), Some(tmp)) = (file, tmp) {
        // A failed export leaves no partial archive behind.
        if copied.is_err() {
            let _ = std::fs::remove_file(&tmp);
        } else {
            std::fs::rename(&tmp, p)?;
        }
    }
    copied
}

pub async fn load(conn: &Conn, a: LoadArgs) -> anyhow::Result<()> {
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
