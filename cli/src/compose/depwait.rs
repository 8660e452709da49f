//! Waiting on containers during `up`: a service's dependencies before it
//! starts (`depends_on` conditions), and with `--wait` the whole selection
//! until it is running and healthy.

use std::time::{Duration, Instant};

use anyhow::bail;
use hull_compose::model::service::Condition;
use hull_compose::Project;
use hull_proto::v1 as pb;

use super::labels;
use super::project::{self, is_running, label};
use crate::client::Conn;

const POLL: Duration = Duration::from_millis(200);

/// `service_completed_successfully` waits for the dependency's containers
/// to exit 0, `service_healthy` for their healthchecks to pass (failing
/// when one turns unhealthy or has no healthcheck); `service_started` needs
/// nothing more, as the dependency was started first.
pub async fn dependencies(conn: &Conn, p: &Project, service: &str) -> anyhow::Result<()> {
    let Some(svc) = p.services.get(service) else {
        return Ok(());
    };
    for (dep, cond) in &svc.depends_on {
        let cond = cond
            .as_ref()
            .map(|c| c.condition)
            .unwrap_or(Condition::ServiceStarted);
        match cond {
            Condition::ServiceStarted => {}
            Condition::ServiceHealthy => healthy(conn, p, dep).await?,
            Condition::ServiceCompletedSuccessfully => completed(conn, p, dep).await?,
        }
    }
    Ok(())
}

/// The project's service containers (not one-off ones) of `service`.
async fn of_service(conn: &Conn, p: &Project, service: &str) -> anyhow::Result<Vec<pb::Container>> {
    let mut v = project::containers(conn, &p.name).await?;
    v.retain(|c| label(c, labels::SERVICE) == service && label(c, labels::ONEOFF) != "True");
    Ok(v)
}

async fn completed(conn: &Conn, p: &Project, dep: &str) -> anyhow::Result<()> {
    for c in of_service(conn, p, dep).await? {
        let w = conn
            .tasks()
            .wait(conn.req(pb::WaitTaskRequest {
                container_id: c.id.clone(),
                exec_id: String::new(),
            }))
            .await;
        let code = match w {
            Ok(w) => w.into_inner().exit_status,
            Err(_) => c.status.as_ref().map(|s| s.exit_code as u32).unwrap_or(0),
        };
        if code != 0 {
            bail!("service {dep:?} didn't complete successfully: exit {code}");
        }
    }
    Ok(())
}

/// What one container's state says about a wait for it.
enum Verdict {
    Ready,
    Waiting,
    Failed(String),
}

fn health_verdict(c: &pb::Container, need_check: bool) -> Verdict {
    let status = c.status.as_ref();
    let health = status.and_then(|s| s.health.as_ref());
    match health.map(|h| h.status.as_str()) {
        _ if !is_running(c) => {
            let code = status.map(|s| s.exit_code).unwrap_or(0);
            Verdict::Failed(format!("container {} exited ({code})", c.name))
        }
        Some("healthy") => Verdict::Ready,
        Some("unhealthy") => Verdict::Failed(format!("container {} is unhealthy", c.name)),
        Some(_) => Verdict::Waiting,
        None if need_check => Verdict::Failed(format!(
            "container {} has no healthcheck configured",
            c.name
        )),
        None => Verdict::Ready,
    }
}

/// Poll the dependency's containers until every one reports healthy.
async fn healthy(conn: &Conn, p: &Project, dep: &str) -> anyhow::Result<()> {
    loop {
        let mut waiting = false;
        for c in of_service(conn, p, dep).await? {
            match health_verdict(&c, true) {
                Verdict::Ready => {}
                Verdict::Waiting => waiting = true,
                Verdict::Failed(why) => bail!("dependency failed to start: {why}"),
            }
        }
        if !waiting {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `up --wait`: every container of `services` running, and healthy when it
/// has a healthcheck. A container that exited fails the wait, unless it
/// exited 0 and a service waits for it with `service_completed_successfully`.
pub async fn all_ready(
    conn: &Conn,
    p: &Project,
    services: &[String],
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    let completes = |s: &str| {
        p.services.values().any(|svc| {
            svc.depends_on.get(s).is_some_and(|d| {
                d.as_ref()
                    .is_some_and(|d| d.condition == Condition::ServiceCompletedSuccessfully)
            })
        })
    };
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut waiting = Vec::new();
        for c in project::containers(conn, &p.name).await? {
            let service = label(&c, labels::SERVICE);
            if !services.iter().any(|s| s == service) || label(&c, labels::ONEOFF) == "True" {
                continue;
            }
            let exit0 = c.status.as_ref().is_some_and(|s| s.exit_code == 0);
            if !is_running(&c) && exit0 && completes(service) {
                continue;
            }
            match health_verdict(&c, false) {
                Verdict::Ready => {}
                Verdict::Waiting => waiting.push(c.name.clone()),
                Verdict::Failed(why) => bail!("{why}"),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            bail!(
                "timeout waiting for {} to become healthy",
                waiting.join(", ")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
