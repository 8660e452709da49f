//! `hull build` (and `hull image build`, `hull builder build`): sends the
//! context to hulld's Build service as a tar stream (`.dockerignore`
//! applied here), shows the progress hulld streams back, prints the image
//! id; `hull builder prune` clears hulld's build cache. `hull image
//! history` is in [`history`].

pub mod context;
pub mod flags;
pub mod history;
pub mod progress;

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{bail, Context as _};
use hull_proto::v1 as pb;
use hull_types::chunks::ChunkWriter;
use hull_types::reference::familiar_name;
use tokio_stream::wrappers::ReceiverStream;

use crate::client::Conn;
use crate::progress::{human, short};
pub use context::{Context, DockerfileSource, StdinKind};
pub use flags::BuildArgs;
pub use progress::Mode;
use progress::Progress;

/// `hull builder …`
#[derive(Debug, clap::Subcommand)]
pub enum BuilderCmd {
    /// Build an image from a Dockerfile.
    Build(Box<BuildArgs>),
    /// Remove the build cache.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

pub async fn run_builder(conn: &Conn, c: BuilderCmd) -> anyhow::Result<()> {
    match c {
        BuilderCmd::Build(a) => build(conn, *a).await,
        BuilderCmd::Prune { force } => prune(conn, force).await,
    }
}

const PRUNE_WARNING: &str =
    "WARNING! This will remove all dangling build cache.\nAre you sure you want to continue?";

/// `hull builder prune [-f]`.
pub async fn prune(conn: &Conn, force: bool) -> anyhow::Result<()> {
    if !crate::prompt::confirm(PRUNE_WARNING, force)? {
        println!("Total reclaimed space: 0B");
        return Ok(());
    }
    let r = conn
        .build()
        .prune_cache(conn.req(pb::PruneBuildCacheRequest {}))
        .await?
        .into_inner();
    println!("Deleted build cache records: {}", r.records_removed);
    println!(
        "Total reclaimed space: {}",
        human(r.bytes_freed.min(i64::MAX as u64) as i64)
    );
    Ok(())
}

/// What the context stream carries: a directory's tar, or stdin's bytes.
enum Source {
    Dir(Context),
    /// A tar (or gzip of one) read from stdin; `head` was already read.
    Stdin {
        head: Vec<u8>,
        gzip: bool,
    },
    /// No context (the Dockerfile came on stdin).
    Empty,
}

impl Source {
    /// Writes the whole context into `w`; the bytes of tar sent.
    fn send(self, mut w: impl Write) -> anyhow::Result<u64> {
        let n = match self {
            Source::Dir(c) => c.write_tar(&mut w)?,
            Source::Empty => {
                w.write_all(&context::EMPTY_TAR)?;
                context::EMPTY_TAR.len() as u64
            }
            Source::Stdin { head, gzip } => {
                let rest = std::io::Cursor::new(head).chain(std::io::stdin().lock());
                if gzip {
                    std::io::copy(&mut flate2::read::GzDecoder::new(rest), &mut w)
                        .context("read the gzip context on stdin")?
                } else {
                    std::io::copy(&mut { rest }, &mut w).context("read the context on stdin")?
                }
            }
        };
        w.flush()?;
        Ok(n)
    }
}

/// Reads up to `n` bytes (less only at the end of input).
fn read_head(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// The context source and the Dockerfile options of a build.
fn prepare(a: &BuildArgs) -> anyhow::Result<(Source, String, Vec<u8>)> {
    let ctx = a.context.as_str();
    if ctx.contains("://") || ctx.starts_with("git@") {
        bail!("remote build contexts are not supported: {ctx} (give a directory or -)");
    }
    let stdin_dockerfile = a.file.as_deref() == Some("-");
    if ctx == "-" {
        if stdin_dockerfile {
            bail!("cannot use stdin for both the build context and the Dockerfile");
        }
        let mut stdin = std::io::stdin().lock();
        let head = read_head(&mut stdin, 512).context("read stdin")?;
        return Ok(match context::stdin_kind(&head) {
            StdinKind::Dockerfile => {
                let mut text = head;
                stdin.read_to_end(&mut text).context("read stdin")?;
                (Source::Empty, String::new(), text)
            }
            kind => {
                let path = a.file.clone().unwrap_or_default();
                let gzip = kind == StdinKind::Gzip;
                (Source::Stdin { head, gzip }, path, Vec::new())
            }
        });
    }
    let dir = Path::new(ctx);
    let dockerfile = if stdin_dockerfile {
        let mut text = Vec::new();
        std::io::stdin()
            .read_to_end(&mut text)
            .context("read the Dockerfile from stdin")?;
        DockerfileSource::Text(text)
    } else {
        let cwd = std::env::current_dir().context("current directory")?;
        context::locate_dockerfile(dir, a.file.as_deref(), &cwd)?
    };
    dir_source(dir, dockerfile)
}

/// A directory context, the Dockerfile in it (sent with it) or as text.
fn dir_source(
    dir: &Path,
    dockerfile: DockerfileSource,
) -> anyhow::Result<(Source, String, Vec<u8>)> {
    let (path, text) = match dockerfile {
        DockerfileSource::InContext(p) => (p, Vec::new()),
        DockerfileSource::Text(t) => (String::new(), t),
    };
    let always: Vec<String> = (!path.is_empty())
        .then(|| path.clone())
        .into_iter()
        .collect();
    let c = Context::open(dir, &always)?;
    Ok((Source::Dir(c), path, text))
}

/// Builds the directory `dir` with `options` (whose Dockerfile fields
/// `dockerfile` fills in), showing the progress on stderr in `mode` as
/// `hull build` does; the result. `hull compose build` builds through it.
pub async fn build_directory(
    conn: &Conn,
    dir: &Path,
    dockerfile: DockerfileSource,
    options: pb::BuildOptions,
    mode: Mode,
    out: impl std::io::Write,
) -> anyhow::Result<pb::BuildResult> {
    let (source, dockerfile_path, dockerfile) = dir_source(dir, dockerfile)?;
    let options = pb::BuildOptions {
        dockerfile_path,
        dockerfile,
        ..options
    };
    with_progress(conn, options, source, mode, out).await
}

/// Sends the build and shows its progress on `out` (stderr, or a
/// writer of `hull compose build`'s that prefixes lines).
async fn with_progress<W: std::io::Write>(
    conn: &Conn,
    options: pb::BuildOptions,
    source: Source,
    mode: Mode,
    out: W,
) -> anyhow::Result<pb::BuildResult> {
    let size = crate::attach::term_size().unwrap_or((80, 24));
    let mut shown = Progress::new(mode, out, (size.0 as usize, size.1 as usize));
    match send_and_follow(conn, options, source, &mut shown).await {
        Ok(r) => {
            shown.finish();
            Ok(r)
        }
        Err(e) => {
            shown.fail();
            Err(e)
        }
    }
}

/// `hull build`.
pub async fn build(conn: &Conn, a: BuildArgs) -> anyhow::Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let output = a.output.as_deref().map(flags::output).transpose()?;
    let options = pb::BuildOptions {
        tags: flags::tags(&a.tags)?,
        build_args: flags::build_args(&a.build_args, env)?,
        target: a.target.clone().unwrap_or_default(),
        no_cache: a.no_cache,
        pull: a.pull,
        labels: flags::labels(&a.labels)?,
        network: flags::network(a.network.as_deref()),
        source_date_epoch: flags::source_date_epoch(env)?,
        registry_auths: registry_auths()?,
        ..Default::default()
    };
    let (source, dockerfile_path, dockerfile) = prepare(&a)?;
    let options = pb::BuildOptions {
        dockerfile_path,
        dockerfile,
        ..options
    };
    let mode = Mode::pick(&a.progress, a.quiet, std::io::stderr().is_terminal());
    let result = with_progress(conn, options, source, mode, std::io::stderr()).await?;
    let id = result.image_id.clone();
    if let Some(f) = &a.iidfile {
        std::fs::write(f, &id).with_context(|| format!("write --iidfile {}", f.display()))?;
    }
    if !a.quiet {
        let mut err = std::io::stderr().lock();
        writeln!(err, "Successfully built {}", short(&id))?;
        for t in &result.tags {
            writeln!(err, "Successfully tagged {}", familiar_name(t))?;
        }
    }
    if let Some(o) = output {
        let name = result.tags.first().cloned().unwrap_or_else(|| id.clone());
        crate::transfer::save(
            conn,
            crate::transfer::SaveArgs {
                output: Some(o.dest.to_string_lossy().into_owned()),
                format: o.format.export_name().into(),
                platform: None,
                images: vec![name],
            },
        )
        .await
        .with_context(|| format!("--output {}", o.dest.display()))?;
    }
    println!("{id}");
    Ok(())
}

/// The credentials `hull login` stored, for the images the build pulls.
pub(crate) fn registry_auths() -> anyhow::Result<std::collections::HashMap<String, pb::RegistryAuth>>
{
    Ok(crate::dockerconfig::all()?
        .into_iter()
        .map(|(host, username, password)| {
            let auth = pb::RegistryAuth {
                username,
                password,
                identity_token: String::new(),
            };
            (host, auth)
        })
        .collect())
}

fn context_chunk(data: Vec<u8>) -> pb::BuildRequest {
    pb::BuildRequest {
        part: Some(pb::build_request::Part::Context(data)),
    }
}

/// Streams the options and the context, shows the events; the result.
/// The context is packed on a thread of its own; the request stream stays
/// open until the packer has finished without error, so a context that
/// fails half-way is never taken for a whole one: the call is dropped
/// instead (which cancels the build in hulld).
async fn send_and_follow<W: std::io::Write>(
    conn: &Conn,
    options: pb::BuildOptions,
    source: Source,
    shown: &mut Progress<W>,
) -> anyhow::Result<pb::BuildResult> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::BuildRequest, tonic::Status>>(8);
    let mut hold = Some(tx.clone());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<anyhow::Result<u64>>();
    std::thread::spawn(move || {
        let _ = done_tx.send(source.send(ChunkWriter::new(tx, context_chunk)));
    });
    let first = pb::BuildRequest {
        part: Some(pb::build_request::Part::Options(options)),
    };
    let outbound = tokio_stream::StreamExt::map_while(
        tokio_stream::StreamExt::chain(tokio_stream::once(Ok(first)), ReceiverStream::new(rx)),
        |r: Result<pb::BuildRequest, tonic::Status>| r.ok(),
    );
    let mut client = conn.build();
    let (ev_tx, mut ev_rx) = tokio::sync::mpsc::channel::<pb::BuildEvent>(64);
    let call = async move {
        let mut s = client.build(conn.req(outbound)).await?.into_inner();
        while let Some(ev) = s.message().await? {
            if ev_tx.send(ev).await.is_err() {
                break;
            }
        }
        Ok::<(), tonic::Status>(())
    };
    tokio::pin!(call);
    let mut done_rx = Some(done_rx);
    let mut result = None;
    let mut ended = None;
    loop {
        tokio::select! {
            r = &mut call, if ended.is_none() => ended = Some(r),
            packed = async { done_rx.as_mut().expect("guarded").await }, if done_rx.is_some() => {
                done_rx = None;
                match packed {
                    Ok(Ok(n)) => {
                        hold = None;
                        shown.note(&format!("#0 transferring context: {} done", human(n as i64)));
                    }
                    Ok(Err(e)) => return Err(e.context("send the build context")),
                    Err(_) => bail!("send the build context: the packer stopped"),
                }
            }
            ev = ev_rx.recv() => match ev {
                Some(ev) => match ev.event {
                    Some(pb::build_event::Event::Step(s)) => shown.step(&s),
                    Some(pb::build_event::Event::Output(o)) => shown.output(&o),
                    Some(pb::build_event::Event::Result(r)) => result = Some(r),
                    None => {}
                },
                None => break,
            },
        }
    }
    drop(hold);
    // The events that came before an error are shown before it.
    if let Some(Err(e)) = ended {
        return Err(e.into());
    }
    result.ok_or_else(|| anyhow::anyhow!("the build ended without a result"))
}
