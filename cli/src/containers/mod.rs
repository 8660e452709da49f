//! Container commands of `hull` with Docker's names, flags and exit codes:
//! run, create, start, ps, logs, stop, kill, rm, wait.

pub(crate) mod exec;
pub(crate) mod flags;
mod inspect;
pub(crate) mod lifecycle;
pub(crate) mod logs;
mod update;

pub(crate) use lifecycle::{daemon_error, start_error, start_error_code};

use exec::ExecArgs;
use flags::{parse_signal, RunArgs};
use lifecycle::{run_container, start, stop};
use logs::LogsArgs;

use clap::Subcommand;
use hull_proto::v1 as pb;

use super::client::Conn;
use hull_types::untrusted::escape;

/// A daemon error as Docker users read it: without the status category
/// ("not found: …") the daemon's error type puts first, with control
/// characters escaped (it may quote a hostile image's content). A broken
/// connection instead ends the process with one line saying the daemon
/// went away (see `client::exit_if_connection_lost`).
pub(crate) fn msg(e: &tonic::Status) -> String {
    super::client::exit_if_connection_lost(e);
    let m = &*escape(e.message());
    for p in [
        "not found: ",
        "already exists: ",
        "invalid argument: ",
        "failed precondition: ",
        "unsupported: ",
    ] {
        if let Some(rest) = m.strip_prefix(p) {
            return rest.to_string();
        }
    }
    m.to_string()
}

/// Ends `hull` with this exit code; the message (if any) was printed.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// Create and run a new container from an image.
    Run(Box<RunArgs>),
    /// Create a new container.
    Create(Box<RunArgs>),
    /// Start one or more stopped containers.
    Start {
        /// Attach stdout/stderr and forward signals (one container).
        #[arg(short, long)]
        attach: bool,
        /// Attach the container's stdin.
        #[arg(short, long)]
        interactive: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Attach local standard input, output, and error to a running container.
    Attach {
        /// Do not attach stdin.
        #[arg(long)]
        no_stdin: bool,
        container: String,
    },
    /// List containers.
    Ps(PsArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Stop one or more running containers.
    Stop {
        /// Seconds to wait before killing the container.
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Kill one or more running containers.
    Kill {
        #[arg(short = 's', long = "signal", default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove one or more containers.
    Rm {
        /// Kill a running container first.
        #[arg(short, long)]
        force: bool,
        /// Remove its anonymous volumes too.
        #[arg(short, long)]
        volumes: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Block until containers stop, then print their exit codes.
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Pause all processes within containers.
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Unpause all processes within containers.
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Display the running processes of a container (their PIDs).
    Top { container: String },
    /// Display resource usage of running containers.
    Stats {
        /// Print one sample and exit (else refresh until Ctrl-C).
        #[arg(long)]
        no_stream: bool,
        containers: Vec<String>,
    },
    /// Restart one or more containers.
    Restart {
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// Update configuration of one or more containers (resources, restart policy).
    Update(UpdateArgs),
    /// Display detailed information on containers (JSON, or --format TEMPLATE).
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerSub),
}

#[derive(Debug, Subcommand)]
pub enum ContainerSub {
    /// Remove all stopped containers.
    Prune {
        #[arg(short, long)]
        force: bool,
    },
    #[command(alias = "list")]
    Ls(PsArgs),
}

pub use super::ps::PsArgs;
pub use update::UpdateArgs;

pub async fn run(conn: &Conn, c: ContainerCmd) -> anyhow::Result<()> {
    match c {
        ContainerCmd::Exec(a) => exec::exec(conn, a).await,
        ContainerCmd::Stats {
            no_stream: false,
            containers,
        } => super::stats::stream(conn, containers).await,
        ContainerCmd::Stats {
            no_stream: true,
            containers,
        } => super::stats::once(conn, containers).await,
        ContainerCmd::Container(ContainerSub::Ls(a)) => super::ps::run(conn, a).await,
        ContainerCmd::Container(ContainerSub::Prune { force }) => prune(conn, force).await,
        ContainerCmd::Restart { time, containers } => {
            each_parallel(&containers, |c| async move {
                stop(conn, &c, time).await?;
                start(conn, &c).await
            })
            .await
        }
        ContainerCmd::Rename {
            container,
            new_name,
        } => {
            conn.containers()
                .update(conn.req(pb::UpdateContainerRequest {
                    container: Some(pb::Container {
                        id: container,
                        name: new_name,
                        ..Default::default()
                    }),
                    fields: vec!["name".into()],
                    resources: None,
                }))
                .await
                .map_err(|e| {
                    eprintln!("Error response from daemon: {}", msg(&e));
                    Exit(1)
                })?;
            Ok(())
        }
        ContainerCmd::Update(a) => update::update(conn, a).await,
        ContainerCmd::Inspect { format, containers } => {
            inspect::inspect(conn, format, &containers).await
        }
        ContainerCmd::Pause { containers } => pause(conn, &containers, true).await,
        ContainerCmd::Unpause { containers } => pause(conn, &containers, false).await,
        ContainerCmd::Top { container } => {
            let r = conn
                .tasks()
                .top(conn.req(pb::PidsRequest {
                    container_id: container,
                }))
                .await
                .map_err(|e| {
                    eprintln!("Error response from daemon: {}", msg(&e));
                    Exit(1)
                })?
                .into_inner();
            let mut rows = vec![r.titles];
            rows.extend(r.processes.into_iter().map(|p| p.fields));
            print_columns(&rows);
            Ok(())
        }
        ContainerCmd::Run(a) => run_container(conn, *a, true).await,
        ContainerCmd::Create(a) => run_container(conn, *a, false).await,
        // `-i` attaches too (Docker).
        ContainerCmd::Start {
            attach,
            interactive,
            containers,
        } if attach || interactive => {
            if containers.len() != 1 {
                eprintln!("you cannot start and attach multiple containers at once");
                return Err(Exit(1).into());
            }
            super::attach::start_attached(conn, &containers[0], interactive).await
        }
        ContainerCmd::Attach {
            no_stdin,
            container,
        } => super::attach::attach(conn, &container, no_stdin).await,
        ContainerCmd::Start { containers, .. } => {
            each(&containers, |c| async move {
                start(conn, &c).await?;
                println!("{c}");
                Ok(())
            })
            .await
        }
        ContainerCmd::Ps(a) => super::ps::run(conn, a).await,
        ContainerCmd::Logs(a) => logs::logs(conn, a).await,
        ContainerCmd::Stop { time, containers } => {
            each_parallel(&containers, |c| async move { stop(conn, &c, time).await }).await
        }
        ContainerCmd::Kill { signal, containers } => {
            let sig = parse_signal(&signal)?;
            each_parallel(&containers, |c| async move {
                conn.tasks()
                    .kill(conn.req(pb::KillTaskRequest {
                        container_id: c.clone(),
                        exec_id: String::new(),
                        signal: sig,
                        all: false,
                    }))
                    .await
                    .map_err(|e| anyhow::anyhow!("Cannot kill container: {c}: {}", msg(&e)))?;
                Ok(())
            })
            .await
        }
        ContainerCmd::Rm {
            force,
            volumes,
            containers,
        } => {
            each_parallel(&containers, |c| async move {
                conn.containers()
                    .delete(conn.req(pb::DeleteContainerRequest {
                        id: c.clone(),
                        force,
                        volumes,
                    }))
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
                Ok(())
            })
            .await
        }
        ContainerCmd::Wait { containers } => {
            each(&containers, |c| async move {
                let w = conn
                    .tasks()
                    .wait(conn.req(pb::WaitTaskRequest {
                        container_id: c.clone(),
                        exec_id: String::new(),
                    }))
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
                    .into_inner();
                println!("{}", w.exit_status as i32);
                Ok(())
            })
            .await
        }
    }
}

async fn pause(conn: &Conn, containers: &[String], paused: bool) -> anyhow::Result<()> {
    each_parallel(containers, |c| async move {
        let r = conn.req(pb::PauseTaskRequest {
            container_id: c.clone(),
        });
        let res = if paused {
            conn.tasks().pause(r).await
        } else {
            conn.tasks().resume(r).await
        };
        res.map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
        Ok(())
    })
    .await
}

/// Docker's multi-container commands: go on after an error, print each
/// error, exit 1 when any failed.
async fn each<F, Fut>(items: &[String], f: F) -> anyhow::Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut failed = false;
    for c in items {
        if let Err(e) = f(c.clone()).await {
            eprintln!("Error response from daemon: {}", escape(&format!("{e:#}")));
            failed = true;
        }
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// `container prune`: after Docker's question (unless `force`), every
/// stopped container, with Docker's output: the removed IDs, then the space
/// their writable layers held.
async fn prune(conn: &Conn, force: bool) -> anyhow::Result<()> {
    if !super::prompt::confirm(super::prompt::CONTAINERS, force)? {
        println!("Total reclaimed space: 0B");
        return Ok(());
    }
    let mut deleted = Vec::new();
    let mut reclaimed = 0i64;
    for c in conn.list_containers().await? {
        let stopped = c
            .status
            .as_ref()
            .is_some_and(|s| s.state == "exited" || s.state == "created");
        if !stopped {
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
        let gone = conn
            .containers()
            .delete(conn.req(pb::DeleteContainerRequest {
                id: c.id.clone(),
                force: false,
                volumes: false,
            }))
            .await;
        match gone {
            Ok(_) => {
                reclaimed += size;
                deleted.push(c.id);
            }
            // Started meanwhile: in use now (Docker skips it too).
            Err(e) => tracing::debug!(id = c.id, "prune: {}", msg(&e)),
        }
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        super::progress::human(reclaimed)
    );
    Ok(())
}

/// How many containers `each_parallel` works on at once (Docker's CLI: 50).
const PARALLEL_OPS: usize = 50;

/// stop, kill, rm, restart, pause, unpause: `f` on every container at once
/// (up to PARALLEL_OPS), as Docker does, printing each name on success or
/// its error, in the order of the arguments; exit 1 if any failed.
async fn each_parallel<F, Fut>(items: &[String], f: F) -> anyhow::Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut results = futures_util::StreamExt::buffered(
        futures_util::stream::iter(items.iter().map(|c| {
            let fut = f(c.clone());
            async move { (c, fut.await) }
        })),
        PARALLEL_OPS,
    );
    let mut failed = false;
    while let Some((c, r)) = futures_util::StreamExt::next(&mut results).await {
        match r {
            Ok(()) => println!("{c}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// Rows as left-aligned columns, three spaces apart; the last column is
/// not padded (it may hold spaces, like a command line).
pub(crate) fn print_columns(rows: &[Vec<String>]) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        println!("{line}");
    }
}
