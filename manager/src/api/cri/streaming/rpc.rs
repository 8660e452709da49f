//! The Exec, Attach and PortForward RPCs: checked as kubelet's streaming
//! server checks them (a container ID, stdin, stdout or stderr asked for,
//! not a terminal with a separate stderr), the container or sandbox looked
//! up (NotFound, or FailedPrecondition when it is not running), then the
//! request left under a token and its URL answered.

use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::tokens::{AttachRequest, ExecRequest, PortForwardRequest, Request as Pending};
use crate::api::cri::{Cri, NAMESPACE};
use crate::pods::pod_containers::{self, State};
use crate::pods::SandboxState;

fn stdio_checked(
    container_id: &str,
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
) -> Result<(), Status> {
    if container_id.is_empty() {
        return Err(Status::invalid_argument("missing required container_id"));
    }
    if tty && stderr {
        return Err(Status::invalid_argument(
            "tty and stderr cannot both be true",
        ));
    }
    if !stdin && !stdout && !stderr {
        return Err(Status::invalid_argument(
            "one of stdin, stdout, or stderr must be set",
        ));
    }
    Ok(())
}

/// The container's full ID, if it is running.
async fn running(cri: &Cri, id: String) -> Result<String, Status> {
    cri.blocking(move |m| {
        let v = pod_containers::status(&m, NAMESPACE, &id)?;
        if v.state != State::Running {
            return Err(crate::error::Error::FailedPrecondition(format!(
                "container {} is not running",
                v.record.id
            )));
        }
        Ok(v.record.id)
    })
    .await
}

/// The URL for `r` on the streaming server.
fn url_for(cri: &Cri, r: Pending) -> Result<String, Status> {
    let s = cri
        .state
        .streaming
        .get()
        .ok_or_else(|| Status::unavailable("the streaming server is not running"))?;
    let kind = r.kind();
    let token = s.tokens.insert(r);
    Ok(s.url(kind, &token))
}

pub async fn exec(
    cri: &Cri,
    req: Request<v1::ExecRequest>,
) -> Result<Response<v1::ExecResponse>, Status> {
    let r = req.into_inner();
    stdio_checked(&r.container_id, r.tty, r.stdin, r.stdout, r.stderr)?;
    if r.cmd.is_empty() {
        return Err(Status::invalid_argument("no command to exec"));
    }
    let container_id = running(cri, r.container_id).await?;
    let url = url_for(
        cri,
        Pending::Exec(ExecRequest {
            container_id,
            cmd: r.cmd,
            tty: r.tty,
            stdin: r.stdin,
            stdout: r.stdout,
            stderr: r.stderr,
        }),
    )?;
    Ok(Response::new(v1::ExecResponse { url }))
}

pub async fn attach(
    cri: &Cri,
    req: Request<v1::AttachRequest>,
) -> Result<Response<v1::AttachResponse>, Status> {
    let r = req.into_inner();
    stdio_checked(&r.container_id, r.tty, r.stdin, r.stdout, r.stderr)?;
    let container_id = running(cri, r.container_id).await?;
    let url = url_for(
        cri,
        Pending::Attach(AttachRequest {
            container_id,
            tty: r.tty,
            stdin: r.stdin,
            stdout: r.stdout,
            stderr: r.stderr,
        }),
    )?;
    Ok(Response::new(v1::AttachResponse { url }))
}

pub async fn port_forward(
    cri: &Cri,
    req: Request<v1::PortForwardRequest>,
) -> Result<Response<v1::PortForwardResponse>, Status> {
    let r = req.into_inner();
    if r.pod_sandbox_id.is_empty() {
        return Err(Status::invalid_argument("missing required pod_sandbox_id"));
    }
    if let Some(p) = r.port.iter().find(|p| !(1..=65535).contains(*p)) {
        return Err(Status::invalid_argument(format!("invalid port {p}")));
    }
    let ports: Vec<u16> = r
        .port
        .iter()
        .filter_map(|p| u16::try_from(*p).ok())
        .collect();
    let id = r.pod_sandbox_id;
    let sandbox_id = cri
        .blocking(move |m| {
            let sb = crate::pods::find_sandbox(&m, NAMESPACE, &id)?;
            if sb.state != SandboxState::Ready {
                return Err(crate::error::Error::FailedPrecondition(format!(
                    "pod sandbox {} is not ready",
                    sb.id
                )));
            }
            Ok(sb.id)
        })
        .await?;
    let url = url_for(
        cri,
        Pending::PortForward(PortForwardRequest { sandbox_id, ports }),
    )?;
    Ok(Response::new(v1::PortForwardResponse { url }))
}
