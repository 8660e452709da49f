//! Container commands of `hull` with Docker's names, flags and exit codes:
//! run, create, start, ps, logs, stop, kill, rm, wait.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::client::Conn;
use hull_types::reference::familiar_name;
use hull_types::time::rfc3339;
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

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end ("all" for everything).
    #[arg(long)]
    pub tail: Option<String>,
    /// Only since a Unix time or a relative time (e.g. 42s, 5m, 2h).
    #[arg(long)]
    pub since: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Keep stdin open (attach it).
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run in the background and print the container ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open (attach it).
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from here).
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// user[:group]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// Set labels (KEY=VALUE).
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    #[arg(long)]
    pub privileged: bool,
    #[arg(long)]
    pub read_only: bool,
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines).
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// seccomp=unconfined|PROFILE.json, no-new-privileges[:true|false]
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i32>,
    /// Log options: max-size=SIZE, max-file=N.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    /// Bind mount or volume: [NAME|/HOST/PATH:]/CONTAINER/PATH[:ro|rw|nocopy].
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// type=bind|volume|tmpfs,source=…,target=…[,readonly].
    #[arg(long)]
    pub mount: Vec<String>,
    /// A tmpfs: /PATH[:OPTIONS].
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// bridge (default), host, none, or a network's name.
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Publish a port: [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp].
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every port the image EXPOSEs on a random host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Another name for the container on its (user-defined) network.
    #[arg(long = "network-alias", visible_alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// DNS server for /etc/resolv.conf.
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// An /etc/hosts entry: HOST:IP.
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub use super::ps::PsArgs;

pub async fn run(conn: &Conn, c: ContainerCmd) -> anyhow::Result<()> {
    match c {
        ContainerCmd::Exec(a) => exec(conn, a).await,
        ContainerCmd::Stats {
            no_stream: false,
            containers,
        } => super::stats::stream(conn, containers).await,
        ContainerCmd::Stats {
            no_stream: true,
            containers,
        } => stats(conn, containers).await,
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
                }))
                .await
                .map_err(|e| {
                    eprintln!("Error response from daemon: {}", msg(&e));
                    Exit(1)
                })?;
            Ok(())
        }
        ContainerCmd::Inspect { format, containers } => inspect(conn, format, &containers).await,
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
        ContainerCmd::Logs(a) => logs(conn, a).await,
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

/// `exec`: the process's output, then its exit code as ours (Docker: 126
/// cannot invoke, 127 not found, 1 for daemon errors such as a stopped
/// container).
async fn exec(conn: &Conn, a: ExecArgs) -> anyhow::Result<()> {
    if a.interactive || a.tty {
        let req = pb::ExecRequest {
            container_id: a.container.clone(),
            args: a.command.clone(),
            env: env_list(&a.env),
            workdir: a.workdir.clone().unwrap_or_default(),
            user: a.user.clone().unwrap_or_default(),
        };
        return super::attach::exec(conn, req, a.interactive, a.tty).await;
    }
    let mut s = match conn
        .tasks()
        .exec(conn.req(pb::ExecRequest {
            container_id: a.container.clone(),
            args: a.command.clone(),
            env: env_list(&a.env),
            workdir: a.workdir.clone().unwrap_or_default(),
            user: a.user.clone().unwrap_or_default(),
        }))
        .await
    {
        Ok(s) => s.into_inner(),
        Err(e) => {
            let code = match start_error_code(&e) {
                125 => 1,
                c => c,
            };
            eprintln!("Error response from daemon: {}", msg(&e));
            return Err(Exit(code).into());
        }
    };
    while let Some(m) = s.next().await {
        let m = m.map_err(|e| {
            eprintln!("Error response from daemon: {}", msg(&e));
            Exit(1)
        })?;
        if m.exited {
            if m.exit_code != 0 {
                return Err(Exit(m.exit_code).into());
            }
            return Ok(());
        }
        if m.stream == 2 {
            let mut e = std::io::stderr().lock();
            e.write_all(&m.data)?;
            e.flush()?;
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&m.data)?;
            o.flush()?;
        }
    }
    eprintln!("Error: the daemon ended the exec without an exit code");
    Err(Exit(1).into())
}

async fn stats(conn: &Conn, mut names: Vec<String>) -> anyhow::Result<()> {
    if names.is_empty() {
        names = conn
            .list_containers()
            .await?
            .into_iter()
            .filter(|c| c.status.as_ref().is_some_and(|s| s.state == "running"))
            .map(|c| c.id)
            .collect();
    }
    let sample = |n: String| {
        let mut t = conn.tasks();
        let r = conn.req(pb::PidsRequest { container_id: n });
        async move {
            t.stats(r)
                .await
                .map(|s| (s.into_inner(), std::time::Instant::now()))
        }
    };
    println!("{}", super::stats::HEADER);
    let mut failed = false;
    for n in names {
        let c = match conn
            .containers()
            .get(conn.req(pb::GetContainerRequest { id: n.clone() }))
            .await
        {
            Ok(c) => c.into_inner(),
            Err(e) => {
                eprintln!("Error response from daemon: {}", msg(&e));
                failed = true;
                continue;
            }
        };
        // CPU % over a short interval, like `docker stats --no-stream`.
        let first = sample(c.id.clone()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = sample(c.id.clone()).await;
        let ((a, ta), (b, tb)) = match (first, second) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("Error response from daemon: {}", msg(&e));
                failed = true;
                continue;
            }
        };
        println!("{}", super::stats::line(&c, &b, Some(&(a, ta)), tb));
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
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

/// `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(s: &str) -> anyhow::Result<u32> {
    if let Ok(n) = s.parse::<u32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal: {s}");
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    let sig: nix::sys::signal::Signal = name
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid signal: {s}"))?;
    Ok(sig as i32 as u32)
}

pub(super) fn daemon_error(e: &tonic::Status) -> Exit {
    eprintln!("hull: Error response from daemon: {}.", msg(e));
    Exit(125)
}

/// Docker's codes for a task that could not start: 127 command not found,
/// 126 not executable, else 125.
pub(super) fn start_error(e: &tonic::Status) -> Exit {
    let code = start_error_code(e);
    eprintln!("hull: Error response from daemon: {}.", msg(e));
    Exit(code)
}

/// 127 or 126 when hulld marked the failure as a command that cannot be
/// run (`hull_types::cannot_run`, sent as typed metadata on a failed
/// precondition), else 125.
pub(super) fn start_error_code(e: &tonic::Status) -> i32 {
    use hull_types::cannot_run::{CannotRun, METADATA_KEY};
    if e.code() != tonic::Code::FailedPrecondition {
        return 125;
    }
    e.metadata()
        .get(METADATA_KEY)
        .and_then(|v| v.to_str().ok())
        .and_then(CannotRun::parse)
        .map_or(125, CannotRun::exit_code)
}

/// Make sure the image is here; pull it (quietly, as `docker run` does on
/// stderr) when it is not.
async fn ensure_image(conn: &Conn, image: &str) -> anyhow::Result<()> {
    let got = conn
        .images()
        .get(conn.req(pb::GetImageRequest {
            name: image.to_string(),
            platform: None,
        }))
        .await;
    match got {
        Ok(_) => return Ok(()),
        Err(e) if e.code() == tonic::Code::NotFound => {}
        Err(e) => return Err(daemon_error(&e).into()),
    }
    eprintln!("Unable to find image '{image}' locally");
    let mut s = conn
        .transfer()
        .pull(conn.req(pb::PullRequest {
            reference: image.to_string(),
            platform: None,
            auth: super::login::auth_for(image),
            no_unpack: false,
        }))
        .await
        .map_err(|e| daemon_error(&e))?
        .into_inner();
    while let Some(p) = s.next().await {
        if let Err(e) = p {
            return Err(daemon_error(&e).into());
        }
    }
    eprintln!(
        "Status: Downloaded newer image for {}",
        familiar_name(image)
    );
    Ok(())
}

fn env_list(v: &[String]) -> Vec<String> {
    v.iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|val| format!("{e}={val}"))
            }
        })
        .collect()
}

/// Docker's memory sizes: a number with an optional b, k, m or g suffix.
pub fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|x| !x.is_empty()).unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size: '{s}'"))?;
    if !n.is_finite() || n <= 0.0 {
        bail!("invalid size: '{s}'");
    }
    Ok((n * mult as f64) as i64)
}

/// Flags checked before anything is created: Docker's exit code 125.
fn run_options(a: &RunArgs) -> anyhow::Result<pb::RunOptions> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("open {f}: no such file"))?;
        for l in text.lines() {
            let l = l.trim();
            if !l.is_empty() && !l.starts_with('#') {
                env.push(l.to_string());
            }
        }
    }
    env.extend(a.env.iter().cloned());
    let mut o = pb::RunOptions {
        args: a.command.clone(),
        entrypoint: a.entrypoint.clone().unwrap_or_default(),
        has_entrypoint: a.entrypoint.is_some(),
        env: env_list(&env),
        workdir: a.workdir.clone().unwrap_or_default(),
        user: a.user.clone().unwrap_or_default(),
        hostname: a.hostname.clone().unwrap_or_default(),
        privileged: a.privileged,
        read_only: a.read_only,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        memory: a
            .memory
            .as_deref()
            .map(parse_bytes)
            .transpose()?
            .unwrap_or(0),
        cpus: a.cpus.unwrap_or(0.0),
        pids_limit: a.pids_limit.unwrap_or(0),
        stop_signal: a.stop_signal.clone().unwrap_or_default(),
        stop_timeout: a.stop_timeout.unwrap_or(0),
        restart_policy: a.restart.clone().unwrap_or_default(),
        init: a.init,
        volumes: a.volume.iter().map(|v| absolute_bind_source(v)).collect(),
        mounts: a.mount.clone(),
        tmpfs: a.tmpfs.clone(),
        tty: a.tty,
        open_stdin: a.interactive,
        host_network: a.network.as_deref() == Some("host"),
        network: a.network.clone().unwrap_or_default(),
        publish: a.publish.clone(),
        publish_all: a.publish_all,
        network_aliases: a.network_alias.clone(),
        dns: a.dns.clone(),
        add_hosts: a.add_host.clone(),
        ..Default::default()
    };
    for p in &a.publish {
        hull_types::ports::parse(p).map_err(|e| anyhow::anyhow!(e))?;
    }
    if let Some(p) = &a.restart {
        p.parse::<hull_types::restart::RestartPolicy>()?;
        if a.rm && p != "no" {
            bail!("Conflicting options: --restart and --rm");
        }
    }
    for lo in &a.log_opt {
        match lo.split_once('=') {
            Some(("max-size", v)) => o.log_max_size = parse_bytes(v)?,
            Some(("max-file", v)) => {
                o.log_max_file = v
                    .parse::<i32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| anyhow::anyhow!("invalid value for log-opt max-file: {v}"))?
            }
            _ => bail!("unknown log opt '{lo}'"),
        }
    }
    if let Some(c) = a.cpus {
        if !(c > 0.0 && c.is_finite()) {
            bail!("invalid argument \"{c}\" for \"--cpus\" flag: range of CPUs must be positive");
        }
    }
    if let Some(s) = &a.stop_signal {
        parse_signal(s)?;
    }
    for so in &a.security_opt {
        let (k, v) = so
            .split_once(['=', ':'])
            .map(|(k, v)| (k, Some(v)))
            .unwrap_or((so.as_str(), None));
        match (k, v) {
            ("no-new-privileges", None | Some("true")) => o.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => o.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => o.seccomp = "unconfined".into(),
            ("seccomp", Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("opening seccomp profile ({path}) failed"))?;
                serde_json::from_str::<serde_json::Value>(&text)
                    .with_context(|| format!("decoding seccomp profile ({path}) failed"))?;
                o.seccomp = text;
            }
            _ => bail!("invalid --security-opt: {so:?}"),
        }
    }
    Ok(o)
}

async fn run_container(conn: &Conn, a: RunArgs, run: bool) -> anyhow::Result<()> {
    // Before anything is made (Docker checks here too).
    let attached = run && !a.detach && (a.interactive || a.tty);
    if attached {
        super::attach::check_tty(a.interactive, a.tty)?;
    }
    let options = match run_options(&a) {
        // `run -i` in the foreground: our EOF is the container's (StdinOnce).
        Ok(o) => pb::RunOptions {
            stdin_once: run && a.interactive && !a.detach,
            ..o
        },
        Err(e) => {
            eprintln!("hull: {e:#}.");
            return Err(Exit(125).into());
        }
    };
    ensure_image(conn, &a.image).await?;
    let labels = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let detach = a.detach || !run;
    let created = conn
        .containers()
        .create(conn.req(pb::CreateContainerRequest {
            container: Some(pb::Container {
                name: a.name.clone().unwrap_or_default(),
                image: a.image.clone(),
                labels,
                // A detached --rm container is removed by hulld when it exits;
                // in the foreground we remove it after reading its output.
                auto_remove: a.rm && detach,
                ..Default::default()
            }),
            options: Some(options),
        }))
        .await
        .map_err(|e| daemon_error(&e))?
        .into_inner();
    let id = created.id.clone();
    if !run {
        println!("{id}");
        return Ok(());
    }
    let remove = |conn: &Conn| {
        let id = id.clone();
        let mut c = conn.containers();
        // Foreground --rm: anonymous volumes go with the container.
        let r = conn.req(pb::DeleteContainerRequest {
            id,
            force: true,
            volumes: true,
        });
        async move {
            let _ = c.delete(r).await;
        }
    };
    if let Err(e) = conn
        .tasks()
        .create(conn.req(pb::CreateTaskRequest {
            container_id: id.clone(),
            ..Default::default()
        }))
        .await
    {
        if a.rm {
            remove(conn).await;
        }
        return Err(start_error(&e).into());
    }
    if attached {
        let out = super::attach::run_foreground(conn, &id, a.interactive, a.rm).await;
        let detached = matches!(out, Ok(super::attach::Outcome::Detached));
        if a.rm && !detached {
            remove(conn).await;
        }
        return match out? {
            super::attach::Outcome::Exited(0) | super::attach::Outcome::Detached => Ok(()),
            super::attach::Outcome::Exited(c) => Err(Exit(c).into()),
        };
    }
    // Follow the output from the start (foreground).
    let pump = if detach {
        None
    } else {
        let s = conn
            .tasks()
            .logs(conn.req(pb::LogsRequest {
                container_id: id.clone(),
                follow: true,
                ..Default::default()
            }))
            .await
            .map_err(|e| daemon_error(&e))?
            .into_inner();
        Some(tokio::spawn(copy_logs(s)))
    };
    if let Err(e) = conn
        .tasks()
        .start(conn.req(pb::StartTaskRequest {
            container_id: id.clone(),
            exec_id: String::new(),
        }))
        .await
    {
        if a.rm {
            remove(conn).await;
        }
        return Err(start_error(&e).into());
    }
    let Some(pump) = pump else {
        println!("{id}");
        return Ok(());
    };
    let w = conn
        .tasks()
        .wait(conn.req(pb::WaitTaskRequest {
            container_id: id.clone(),
            exec_id: String::new(),
        }))
        .await
        .map_err(|e| daemon_error(&e))?
        .into_inner();
    let _ = pump.await;
    if a.rm {
        remove(conn).await;
    }
    let code = w.exit_status as i32;
    if code != 0 {
        return Err(Exit(code).into());
    }
    Ok(())
}

/// Write log chunks to our stdout/stderr until the stream ends.
async fn copy_logs(mut s: tonic::Streaming<pb::LogChunk>) -> anyhow::Result<()> {
    while let Some(c) = s.next().await {
        let c = c?;
        if c.stream == 2 {
            let mut e = std::io::stderr().lock();
            e.write_all(&c.data)?;
            e.flush()?;
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&c.data)?;
            o.flush()?;
        }
    }
    Ok(())
}

async fn start(conn: &Conn, c: &str) -> anyhow::Result<()> {
    conn.tasks()
        .create(conn.req(pb::CreateTaskRequest {
            container_id: c.to_string(),
            ..Default::default()
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
    conn.tasks()
        .start(conn.req(pb::StartTaskRequest {
            container_id: c.to_string(),
            exec_id: String::new(),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
    Ok(())
}

/// The stop signal of a container: its image's StopSignal, else SIGTERM.
fn stop_signal(c: &pb::Container) -> u32 {
    serde_json::from_slice::<serde_json::Value>(&c.spec)
        .ok()
        .and_then(|v| {
            v["annotations"][hull_types::annotations::STOP_SIGNAL]
                .as_str()
                .map(str::to_string)
        })
        .and_then(|s| parse_signal(&s).ok())
        .unwrap_or(libc::SIGTERM as u32)
}

/// Docker's stop: the stop signal, `time` seconds, then SIGKILL.
async fn stop(conn: &Conn, c: &str, time: Option<u64>) -> anyhow::Result<()> {
    let info = conn
        .containers()
        .get(conn.req(pb::GetContainerRequest { id: c.to_string() }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
        .into_inner();
    let time = time.unwrap_or_else(|| {
        serde_json::from_slice::<serde_json::Value>(&info.spec)
            .ok()
            .and_then(|v| {
                v["annotations"][hull_types::annotations::STOP_TIMEOUT]
                    .as_str()
                    .and_then(|s| s.parse().ok())
            })
            .unwrap_or(10)
    });
    let running = info
        .status
        .as_ref()
        .is_some_and(|s| s.state == "running" || s.state == "paused");
    let kill = |sig: u32, all: bool| {
        let mut t = conn.tasks();
        let r = conn.req(pb::KillTaskRequest {
            container_id: info.id.clone(),
            exec_id: String::new(),
            signal: sig,
            all,
        });
        async move { t.kill(r).await }
    };
    if !running {
        // Tells hulld the user wants it down: a restart policy waiting out
        // its back-off gives up (the "not running" answer is expected).
        let _ = kill(stop_signal(&info), false).await;
        return Ok(());
    }
    let wait = || {
        let mut t = conn.tasks();
        let r = conn.req(pb::WaitTaskRequest {
            container_id: info.id.clone(),
            exec_id: String::new(),
        });
        async move { t.wait(r).await }
    };
    if time > 0 {
        if let Err(e) = kill(stop_signal(&info), false).await {
            if e.code() == tonic::Code::FailedPrecondition {
                return Ok(()); // exited meanwhile
            }
            return Err(anyhow::anyhow!("{}", msg(&e)));
        }
        if let Ok(r) = tokio::time::timeout(Duration::from_secs(time), wait()).await {
            r.map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
            return Ok(());
        }
    }
    // SIGKILL to the container's init ends the whole PID namespace. The
    // process may die while the signal is on its way: what counts is
    // that the task exits.
    let killed = kill(libc::SIGKILL as u32, false).await;
    if let Err(e) = &killed {
        if e.code() == tonic::Code::FailedPrecondition {
            return Ok(());
        }
    }
    match tokio::time::timeout(Duration::from_secs(30), wait()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.code() == tonic::Code::FailedPrecondition => Ok(()),
        Ok(Err(e)) => Err(anyhow::anyhow!("{}", msg(&e))),
        Err(_) => Err(anyhow::anyhow!(
            "{}",
            killed
                .err()
                .map(|e| msg(&e).to_string())
                .unwrap_or_else(|| "the container did not stop after SIGKILL".into())
        )),
    }
}

async fn logs(conn: &Conn, a: LogsArgs) -> anyhow::Result<()> {
    let (has_tail, tail) = match a.tail.as_deref() {
        None | Some("all") => (false, 0),
        Some(n) => (
            true,
            n.parse::<i64>()
                .map_err(|_| anyhow::anyhow!("invalid value for \"tail\": {n}"))?,
        ),
    };
    let since_nanos = a
        .since
        .as_deref()
        .map(|s| hull_types::time::parse_since(s, hull_types::time::now_nanos()))
        .transpose()?
        .unwrap_or(0);
    let mut s = conn
        .tasks()
        .logs(conn.req(pb::LogsRequest {
            container_id: a.container.clone(),
            follow: a.follow,
            has_tail,
            tail,
            since_nanos,
        }))
        .await
        .map_err(|e| {
            eprintln!("Error response from daemon: {}", msg(&e));
            Exit(1)
        })?
        .into_inner();
    while let Some(c) = s.next().await {
        let c = c?;
        let mut data = Vec::new();
        if a.timestamps {
            data.extend_from_slice(hull_types::time::rfc3339_nanos(c.time_nanos).as_bytes());
            data.push(b' ');
        }
        data.extend_from_slice(&c.data);
        if c.stream == 2 {
            let mut e = std::io::stderr().lock();
            e.write_all(&data)?;
            e.flush()?;
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&data)?;
            o.flush()?;
        }
    }
    Ok(())
}

/// Docker's `inspect` document for a container.
pub fn inspect_json(c: &pb::Container) -> serde_json::Value {
    use serde_json::json;
    let spec: serde_json::Value = serde_json::from_slice(&c.spec).unwrap_or_default();
    let st = c.status.clone().unwrap_or_default();
    let args: Vec<serde_json::Value> = spec["process"]["args"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let user = &spec["process"]["user"];
    let user = match (user["uid"].as_u64(), user["gid"].as_u64()) {
        (Some(0), Some(0)) | (None, _) => String::new(),
        (Some(u), Some(g)) => format!("{u}:{g}"),
        (Some(u), None) => u.to_string(),
    };
    json!({
        "Id": c.id,
        "Created": rfc3339(c.created_at),
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.get(1..).map(|a| a.to_vec()).unwrap_or_default(),
        "State": {
            "Status": if st.state.is_empty() { "created".to_string() } else { st.state.clone() },
            "Running": st.state == "running" || st.state == "paused",
            "Paused": st.state == "paused",
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": "",
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.finished_at),
        },
        "Image": c.image,
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "Driver": c.snapshotter,
        "Platform": "linux",
        "Config": {
            "Hostname": spec["hostname"],
            "User": user,
            "Tty": spec["process"]["terminal"],
            "Env": spec["process"]["env"],
            "Cmd": spec["process"]["args"],
            "Image": familiar_name(&c.image),
            "WorkingDir": spec["process"]["cwd"],
            "Labels": c.labels,
            "StopSignal": spec["annotations"][hull_types::annotations::STOP_SIGNAL]
                .as_str()
                .unwrap_or("SIGTERM"),
        },
        "HostConfig": {
            "AutoRemove": c.auto_remove,
            "RestartPolicy": restart_policy_json(&c.restart_policy),
            "ReadonlyRootfs": spec["root"]["readonly"],
            "Memory": spec["linux"]["resources"]["memory"]["limit"].as_i64().unwrap_or(0),
            "PidsLimit": spec["linux"]["resources"]["pids"]["limit"].as_i64().unwrap_or(0),
            "CpuQuota": spec["linux"]["resources"]["cpu"]["quota"].as_i64().unwrap_or(0),
            "CpuPeriod": spec["linux"]["resources"]["cpu"]["period"].as_i64().unwrap_or(0),
        },
        "GraphDriver": {"Name": c.snapshotter},
        "ResolvConfPath": format!("{}/resolv.conf", c.bundle),
        "HostnamePath": format!("{}/hostname", c.bundle),
        "HostsPath": format!("{}/hosts", c.bundle),
        "LogPath": format!("{}/stdout.log", c.bundle),
    })
}

/// Docker's HostConfig.RestartPolicy: {"Name": "on-failure", "MaximumRetryCount": 3}.
fn restart_policy_json(p: &str) -> serde_json::Value {
    let (name, max) = match p.split_once(':') {
        Some((n, m)) => (n, m.parse::<u32>().unwrap_or(0)),
        None if p.is_empty() => ("no", 0),
        None => (p, 0),
    };
    serde_json::json!({"Name": name, "MaximumRetryCount": max})
}

async fn inspect(conn: &Conn, format: Option<String>, names: &[String]) -> anyhow::Result<()> {
    let mut docs = Vec::new();
    let mut failed = false;
    for n in names {
        match conn
            .containers()
            .get(conn.req(pb::GetContainerRequest { id: n.clone() }))
            .await
        {
            Ok(c) => {
                let c = c.into_inner();
                let mut d = inspect_json(&c);
                super::network::add_settings(conn, &c.id, &mut d).await;
                docs.push(d)
            }
            Err(e) => {
                eprintln!("Error: No such object: {n}");
                let _ = e;
                failed = true;
            }
        }
    }
    match format.as_deref() {
        None | Some("json") => {
            println!("{}", serde_json::to_string_pretty(&docs)?);
        }
        Some(t) => {
            for d in &docs {
                match super::template::render(t, &hull_types::untrusted::escape_json(d)) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("template parsing error: {e}");
                        return Err(Exit(1).into());
                    }
                }
            }
        }
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// `-v ./dir:/c` → `-v /cwd/dir:/c` (hulld does not know our cwd).
fn absolute_bind_source(v: &str) -> String {
    match v.split_once(':') {
        Some((src, rest)) if src.starts_with('.') => std::env::current_dir()
            .map(|d| format!("{}:{rest}", d.join(src).display()))
            .unwrap_or_else(|_| v.to_string()),
        _ => v.to_string(),
    }
}

/// Rows as left-aligned columns, three spaces apart; the last column is
/// not padded (it may hold spaces, like a command line).
fn print_columns(rows: &[Vec<String>]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_error_codes_come_from_the_typed_marker() {
        use hull_types::cannot_run::{CannotRun, METADATA_KEY};
        let marked = |code: tonic::Code, why: CannotRun| {
            let mut s = tonic::Status::new(code, "start: exec failed");
            s.metadata_mut()
                .insert(METADATA_KEY, why.as_str().parse().unwrap());
            s
        };
        let fp = tonic::Code::FailedPrecondition;
        assert_eq!(start_error_code(&marked(fp, CannotRun::NotFound)), 127);
        assert_eq!(start_error_code(&marked(fp, CannotRun::NotExecutable)), 126);
        // Text alone, or the marker on another code, is not the reason.
        let text = tonic::Status::failed_precondition("executable file not found in $PATH");
        assert_eq!(start_error_code(&text), 125);
        let other = marked(tonic::Code::Internal, CannotRun::NotFound);
        assert_eq!(start_error_code(&other), 125);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        crate::Cli::command().debug_assert();
    }

    #[test]
    fn sizes_and_signals() {
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("-1m").is_err());
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("NOPE").is_err());
    }
}
