//! `hull`: Docker-style commands talking to hulld's gRPC API. It links no
//! daemon code: what it shares with hulld is in `hull-types`.

mod attach;
mod build;
mod client;
mod compose;
mod containers;
mod cp;
mod dockerconfig;
mod events;
mod images;
mod login;
mod network;
mod progress;
mod prompt;
mod ps;
mod snapshots;
mod stats;
mod system;
mod template;
mod transfer;
mod volumes;

use std::io::Read;

use clap::{Parser, Subcommand};
use hull_proto::v1 as pb;

use client::Conn;
use hull_types::untrusted::escape;
use images::{ImageCmd, ImagesArgs, RmiArgs};
use login::LoginArgs;
use snapshots::SnapCmd;
use system::InfoArgs;
use transfer::{LoadArgs, PullArgs, PushArgs, SaveArgs};

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
    /// Build an image from a Dockerfile.
    Build(Box<build::BuildArgs>),
    /// Manage builds (build, prune the cache).
    #[command(subcommand)]
    Builder(build::BuilderCmd),
    /// Show the history of an image.
    History(build::history::HistoryArgs),
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
    /// Multi-container projects from a Compose file.
    Compose(compose::ComposeArgs),
    /// Forward a shim's event (protobuf Any on stdin) to hulld.
    #[command(hide = true)]
    Publish {
        #[arg(long)]
        topic: String,
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
                // A status without a message (a service this hulld lacks) says its code.
                let msg = if s.message().is_empty() {
                    s.code().description()
                } else {
                    s.message()
                };
                eprintln!("Error response from daemon: {}", escape(msg));
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that need no daemon.
    if let Cmd::Logout { registry } = &cli.cmd {
        return login::logout(registry.as_deref());
    }
    if let Cmd::Compose(c) = &cli.cmd {
        if let Some(done) = compose::run_offline(c) {
            return done;
        }
    }
    let host = cli.address.clone().unwrap_or_else(|| cli.host.clone());
    let conn = Conn::connect(&host, &cli.namespace).await?;
    match cli.cmd {
        Cmd::Pull(a) | Cmd::Image(ImageCmd::Pull(a)) => transfer::pull(&conn, a).await,
        Cmd::Push(a) | Cmd::Image(ImageCmd::Push(a)) => transfer::push(&conn, a).await,
        Cmd::Images(a) | Cmd::Image(ImageCmd::Ls(a)) => images::list(&conn, a).await,
        Cmd::Rmi(a) | Cmd::Image(ImageCmd::Rm(a)) => images::rmi(&conn, a).await,
        Cmd::Tag { source, target } | Cmd::Image(ImageCmd::Tag { source, target }) => {
            conn.images()
                .tag(conn.req(pb::TagImageRequest { source, target }))
                .await?;
            Ok(())
        }
        Cmd::Image(ImageCmd::Inspect(a)) => images::inspect(&conn, a).await,
        Cmd::Image(ImageCmd::Prune { all, force }) => images::prune(&conn, all, force).await,
        Cmd::Login(a) => login::login(&conn, a).await,
        Cmd::Logout { .. } => Ok(()),
        Cmd::Save(a) | Cmd::Image(ImageCmd::Save(a)) => transfer::save(&conn, a).await,
        Cmd::Load(a) | Cmd::Image(ImageCmd::Load(a)) => transfer::load(&conn, a).await,
        Cmd::Build(a) | Cmd::Image(ImageCmd::Build(a)) => build::build(&conn, *a).await,
        Cmd::Builder(c) => build::run_builder(&conn, c).await,
        Cmd::History(a) | Cmd::Image(ImageCmd::History(a)) => {
            build::history::history(&conn, a).await
        }
        Cmd::Version => system::version(&conn).await,
        Cmd::Info(a) => system::info(&conn, a).await,
        Cmd::Snapshot(c) => snapshots::run(&conn, c).await,
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
        Cmd::Compose(c) => compose::run(&conn, &c).await,
        Cmd::Events { filter } => events::run(&conn, filter).await,
        Cmd::Cp(a) => cp::run(&conn, a).await,
        Cmd::System(c) => system::run(&conn, c).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
