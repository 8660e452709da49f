//! A container's life: `run`/`create` (pulling a missing image), `start`,
//! `stop` (stop signal, timeout, then SIGKILL), and Docker's exit codes
//! when a task cannot start.

use std::io::Write;
use std::time::Duration;

use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::flags::{parse_signal, run_options, RunArgs};
use super::{msg, Exit};
use crate::client::Conn;
use hull_types::reference::familiar_name;

pub(super) async fn run_container(conn: &Conn, a: RunArgs, run: bool) -> anyhow::Result<()> {
    // Before anything is made (Docker checks here too).
    let attached = run && !a.detach && (a.interactive || a.tty);
    if attached {
        crate::attach::check_tty(a.interactive, a.tty)?;
    }
    let options = match run_options(&a) {
        Ok(o) => o,
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
    let container = pb::Container {
        name: a.name.clone().unwrap_or_default(),
        image: a.image.clone(),
        labels,
        ..Default::default()
    };
    let how = Launch {
        run,
        detach: a.detach,
        rm: a.rm,
        interactive: a.interactive,
        tty: a.tty,
        networks: Vec::new(),
    };
    if let Some(id) = launch(conn, container, options, how).await? {
        println!("{id}");
    }
    Ok(())
}

/// How `launch` runs a container it creates: `hull run`'s and `hull
/// compose run`'s flags.
#[derive(Debug, Default)]
pub(crate) struct Launch {
    /// Start it (else only create it).
    pub run: bool,
    pub detach: bool,
    pub rm: bool,
    pub interactive: bool,
    pub tty: bool,
    /// More networks to connect it to before it starts: (network, aliases).
    pub networks: Vec<(String, Vec<String>)>,
}

/// Creates `container` with `options` and, when asked, starts it: in the
/// foreground its output (attached with -i/-t), its exit code as an `Exit`
/// error, removed after with --rm. Returns the ID when the container was
/// only created or left running detached (the caller prints it).
pub(crate) async fn launch(
    conn: &Conn,
    container: pb::Container,
    options: pb::RunOptions,
    how: Launch,
) -> anyhow::Result<Option<String>> {
    let attached = how.run && !how.detach && (how.interactive || how.tty);
    let detach = how.detach || !how.run;
    // `run -i` in the foreground: our EOF is the container's (StdinOnce).
    let options = pb::RunOptions {
        stdin_once: how.run && how.interactive && !how.detach,
        ..options
    };
    let created = conn
        .containers()
        .create(conn.req(pb::CreateContainerRequest {
            container: Some(pb::Container {
                // A detached --rm container is removed by hulld when it exits;
                // in the foreground we remove it after reading its output.
                auto_remove: how.rm && detach,
                ..container
            }),
            options: Some(options),
        }))
        .await
        .map_err(|e| daemon_error(&e))?
        .into_inner();
    let id = created.id.clone();
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
    for (net, aliases) in &how.networks {
        let connected = crate::network::client(conn)
            .connect_container(conn.req(pb::ConnectNetworkRequest {
                network: net.clone(),
                container: id.clone(),
                aliases: aliases.clone(),
            }))
            .await;
        if let Err(e) = connected {
            remove(conn).await;
            return Err(daemon_error(&e).into());
        }
    }
    if !how.run {
        return Ok(Some(id));
    }
    if let Err(e) = conn
        .tasks()
        .create(conn.req(pb::CreateTaskRequest {
            container_id: id.clone(),
            ..Default::default()
        }))
        .await
    {
        if how.rm {
            remove(conn).await;
        }
        return Err(start_error(&e).into());
    }
    if attached {
        let out = crate::attach::run_foreground(conn, &id, how.interactive, how.rm).await;
        let detached = matches!(out, Ok(crate::attach::Outcome::Detached));
        if how.rm && !detached {
            remove(conn).await;
        }
        return match out? {
            crate::attach::Outcome::Exited(0) | crate::attach::Outcome::Detached => Ok(None),
            crate::attach::Outcome::Exited(c) => Err(Exit(c).into()),
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
        if how.rm {
            remove(conn).await;
        }
        return Err(start_error(&e).into());
    }
    let Some(pump) = pump else {
        return Ok(Some(id));
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
    if how.rm {
        remove(conn).await;
    }
    let code = w.exit_status as i32;
    if code != 0 {
        return Err(Exit(code).into());
    }
    Ok(None)
}

/// Make sure the image is here; pull it (quietly, as `docker run` does on
/// stderr) when it is not.
pub(crate) async fn ensure_image(conn: &Conn, image: &str) -> anyhow::Result<()> {
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
            auth: crate::login::auth_for(image),
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

pub(crate) async fn start(conn: &Conn, c: &str) -> anyhow::Result<()> {
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
pub(crate) async fn stop(conn: &Conn, c: &str, time: Option<u64>) -> anyhow::Result<()> {
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

pub(crate) fn daemon_error(e: &tonic::Status) -> Exit {
    eprintln!("hull: Error response from daemon: {}.", msg(e));
    Exit(125)
}

/// Docker's codes for a task that could not start: 127 command not found,
/// 126 not executable, else 125.
pub(crate) fn start_error(e: &tonic::Status) -> Exit {
    let code = start_error_code(e);
    eprintln!("hull: Error response from daemon: {}.", msg(e));
    Exit(code)
}

/// 127 or 126 when hulld marked the failure as a command that cannot be
/// run (`hull_types::cannot_run`, sent as typed metadata on a failed
/// precondition), else 125.
pub(crate) fn start_error_code(e: &tonic::Status) -> i32 {
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
}
