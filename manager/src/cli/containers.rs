//! Container commands of `hull` with Docker's names, flags and exit codes:
//! run, create, start, ps, logs, stop, kill, rm, wait.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::client::Conn;
use crate::images::familiar_name;

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
    Run(RunArgs),
    /// Create a new container.
    Create(RunArgs),
    /// Start one or more stopped containers.
    Start {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers.
    Ps(PsArgs),
    /// Fetch the logs of a container.
    Logs {
        #[arg(short, long)]
        follow: bool,
        container: String,
    },
    /// Stop one or more running containers.
    Stop {
        /// Seconds to wait before killing the container.
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
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
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
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
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all containers (default: running only).
    #[arg(short, long)]
    pub all: bool,
    /// Only IDs.
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long)]
    pub no_trunc: bool,
}

pub async fn run(conn: &Conn, c: ContainerCmd) -> anyhow::Result<()> {
    match c {
        ContainerCmd::Exec(a) => exec(conn, a).await,
        ContainerCmd::Pause { containers } => pause(conn, &containers, true).await,
        ContainerCmd::Unpause { containers } => pause(conn, &containers, false).await,
        ContainerCmd::Top { container } => {
            let r = conn
                .tasks()
                .pids(conn.req(pb::PidsRequest {
                    container_id: container,
                }))
                .await
                .map_err(|e| {
                    eprintln!("Error response from daemon: {}", e.message());
                    Exit(1)
                })?
                .into_inner();
            println!("PID");
            for p in r.pids {
                println!("{p}");
            }
            Ok(())
        }
        ContainerCmd::Run(a) => run_container(conn, a, true).await,
        ContainerCmd::Create(a) => run_container(conn, a, false).await,
        ContainerCmd::Start { containers } => {
            each(&containers, |c| async move {
                start(conn, &c).await?;
                println!("{c}");
                Ok(())
            })
            .await
        }
        ContainerCmd::Ps(a) => ps(conn, a).await,
        ContainerCmd::Logs { follow, container } => logs(conn, &container, follow).await,
        ContainerCmd::Stop { time, containers } => {
            each(&containers, |c| async move {
                stop(conn, &c, time).await?;
                println!("{c}");
                Ok(())
            })
            .await
        }
        ContainerCmd::Kill { signal, containers } => {
            let sig = parse_signal(&signal)?;
            each(&containers, |c| async move {
                conn.tasks()
                    .kill(conn.req(pb::KillTaskRequest {
                        container_id: c.clone(),
                        exec_id: String::new(),
                        signal: sig,
                        all: false,
                    }))
                    .await
                    .map_err(|e| anyhow::anyhow!("Cannot kill container: {c}: {}", e.message()))?;
                println!("{c}");
                Ok(())
            })
            .await
        }
        ContainerCmd::Rm { force, containers } => {
            each(&containers, |c| async move {
                conn.containers()
                    .delete(conn.req(pb::DeleteContainerRequest {
                        id: c.clone(),
                        force,
                    }))
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
                println!("{c}");
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
                    .map_err(|e| anyhow::anyhow!("{}", e.message()))?
                    .into_inner();
                println!("{}", w.exit_status as i32);
                Ok(())
            })
            .await
        }
    }
}

async fn pause(conn: &Conn, containers: &[String], paused: bool) -> anyhow::Result<()> {
    each(containers, |c| async move {
        let r = conn.req(pb::PauseTaskRequest {
            container_id: c.clone(),
        });
        let res = if paused {
            conn.tasks().pause(r).await
        } else {
            conn.tasks().resume(r).await
        };
        res.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        println!("{c}");
        Ok(())
    })
    .await
}

/// `exec`: the process's output, then its exit code as ours (Docker: 126
/// cannot invoke, 127 not found, 1 for daemon errors such as a stopped
/// container).
async fn exec(conn: &Conn, a: ExecArgs) -> anyhow::Result<()> {
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
            let code = match start_error_code(e.message()) {
                125 => 1,
                c => c,
            };
            eprintln!("Error response from daemon: {}", e.message());
            return Err(Exit(code).into());
        }
    };
    while let Some(m) = s.next().await {
        let m = m.map_err(|e| {
            eprintln!("Error response from daemon: {}", e.message());
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
            eprintln!("Error response from daemon: {e:#}");
            failed = true;
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

fn daemon_error(e: &tonic::Status) -> Exit {
    eprintln!("hull: Error response from daemon: {}.", e.message());
    Exit(125)
}

/// Docker's codes for a task that could not start: 127 command not found,
/// 126 not executable, else 125.
fn start_error(e: &tonic::Status) -> Exit {
    let code = start_error_code(e.message());
    eprintln!("hull: Error response from daemon: {}.", e.message());
    Exit(code)
}

fn start_error_code(msg: &str) -> i32 {
    let msg = msg.to_ascii_lowercase();
    if msg.contains("no such file")
        || msg.contains("no such executable")
        || msg.contains("executable file not found")
        || msg.contains("command not found")
    {
        127
    } else if msg.contains("permission denied") || msg.contains("exec format") {
        126
    } else {
        125
    }
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
            auth: super::auth_for(image),
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

async fn run_container(conn: &Conn, a: RunArgs, run: bool) -> anyhow::Result<()> {
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
            options: Some(pb::RunOptions {
                args: a.command.clone(),
                entrypoint: a.entrypoint.clone().unwrap_or_default(),
                has_entrypoint: a.entrypoint.is_some(),
                env: env_list(&a.env),
                workdir: a.workdir.clone().unwrap_or_default(),
                user: a.user.clone().unwrap_or_default(),
                hostname: a.hostname.clone().unwrap_or_default(),
                privileged: a.privileged,
                read_only: a.read_only,
                cap_add: a.cap_add.clone(),
                cap_drop: a.cap_drop.clone(),
                ..Default::default()
            }),
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
        let r = conn.req(pb::DeleteContainerRequest { id, force: true });
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
    // Follow the output from the start (foreground).
    let pump = if detach {
        None
    } else {
        let s = conn
            .tasks()
            .logs(conn.req(pb::LogsRequest {
                container_id: id.clone(),
                follow: true,
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
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    conn.tasks()
        .start(conn.req(pb::StartTaskRequest {
            container_id: c.to_string(),
            exec_id: String::new(),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    Ok(())
}

/// The stop signal of a container: its image's StopSignal, else SIGTERM.
fn stop_signal(c: &pb::Container) -> u32 {
    serde_json::from_slice::<serde_json::Value>(&c.spec)
        .ok()
        .and_then(|v| {
            v["annotations"]["org.opencontainers.image.stopSignal"]
                .as_str()
                .map(str::to_string)
        })
        .and_then(|s| parse_signal(&s).ok())
        .unwrap_or(libc::SIGTERM as u32)
}

/// Docker's stop: the stop signal, `time` seconds, then SIGKILL.
async fn stop(conn: &Conn, c: &str, time: u64) -> anyhow::Result<()> {
    let info = conn
        .containers()
        .get(conn.req(pb::GetContainerRequest { id: c.to_string() }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?
        .into_inner();
    let running = info
        .status
        .as_ref()
        .is_some_and(|s| s.state == "running" || s.state == "paused");
    if !running {
        return Ok(());
    }
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
            return Err(anyhow::anyhow!("{}", e.message()));
        }
        if let Ok(r) = tokio::time::timeout(Duration::from_secs(time), wait()).await {
            r.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            return Ok(());
        }
    }
    match kill(libc::SIGKILL as u32, true).await {
        Ok(_) => {}
        Err(e) if e.code() == tonic::Code::FailedPrecondition => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("{}", e.message())),
    }
    match wait().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == tonic::Code::FailedPrecondition => Ok(()),
        Err(e) => Err(anyhow::anyhow!("{}", e.message())),
    }
}

async fn logs(conn: &Conn, c: &str, follow: bool) -> anyhow::Result<()> {
    let s = conn
        .tasks()
        .logs(conn.req(pb::LogsRequest {
            container_id: c.to_string(),
            follow,
        }))
        .await?
        .into_inner();
    copy_logs(s).await
}

fn ago(secs: i64) -> String {
    let now = crate::content::now_secs();
    let d = (now - secs).max(0);
    match d {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        d if d < 60 => format!("{d} seconds"),
        d if d < 120 => "About a minute".into(),
        d if d < 3600 => format!("{} minutes", d / 60),
        d if d < 7200 => "About an hour".into(),
        d if d < 86400 => format!("{} hours", d / 3600),
        d => format!("{} days", d / 86400),
    }
}

fn status_text(s: Option<&pb::ContainerStatus>) -> String {
    match s {
        Some(s) if s.state == "running" => format!("Up {}", ago(s.started_at)),
        Some(s) if s.state == "paused" => format!("Up {} (Paused)", ago(s.started_at)),
        Some(s) if s.state == "exited" => {
            format!("Exited ({}) {} ago", s.exit_code, ago(s.finished_at))
        }
        _ => "Created".into(),
    }
}

fn command_of(c: &pb::Container) -> String {
    serde_json::from_slice::<serde_json::Value>(&c.spec)
        .ok()
        .and_then(|v| {
            v["process"]["args"].as_array().map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        })
        .unwrap_or_default()
}

async fn ps(conn: &Conn, a: PsArgs) -> anyhow::Result<()> {
    let list = conn
        .containers()
        .list(conn.req(pb::ListContainersRequest { filters: vec![] }))
        .await
        .context("list containers")?
        .into_inner()
        .containers;
    let shown: Vec<&pb::Container> = list
        .iter()
        .filter(|c| {
            a.all
                || c.status
                    .as_ref()
                    .is_some_and(|s| s.state == "running" || s.state == "paused")
        })
        .collect();
    let short = |id: &str| -> String {
        if a.no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for c in shown {
            writeln!(out, "{}", short(&c.id))?;
        }
        return Ok(());
    }
    let rows: Vec<[String; 6]> = shown
        .iter()
        .map(|c| {
            let mut cmd = format!("\"{}\"", command_of(c));
            if !a.no_trunc && cmd.chars().count() > 22 {
                cmd = format!("{}…\"", cmd.chars().take(20).collect::<String>());
            }
            [
                short(&c.id),
                familiar_name(&c.image),
                cmd,
                format!("{} ago", ago(c.created_at)),
                status_text(c.status.as_ref()),
                c.name.clone(),
            ]
        })
        .collect();
    let head = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "NAMES",
    ];
    let mut w = head.map(|h| h.chars().count());
    for r in &rows {
        for (i, x) in r.iter().enumerate() {
            w[i] = w[i].max(x.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w[i] - c.chars().count() + 3));
            }
        }
        s
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
