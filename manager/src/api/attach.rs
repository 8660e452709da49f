//! The Tasks service's Attach and ExecAttach streams: the client's
//! messages turned into the containers room's own, its answers back.

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::{namespace, Server, Stream_};
use crate::containers::attach::{self, AttachInput, AttachOutput, Input};
use crate::containers::tasks::ExecSpec;
use crate::error::Result;

pub(super) fn exec_spec(r: pb::ExecRequest) -> ExecSpec {
    ExecSpec {
        container_id: r.container_id,
        args: r.args,
        env: r.env,
        workdir: r.workdir,
        user: r.user,
    }
}

fn input(m: pb::AttachInput) -> AttachInput {
    AttachInput {
        container_id: m.container_id,
        exec: m.exec.map(exec_spec),
        stdin: m.stdin,
        tty: m.tty,
        data: m.data,
        close_stdin: m.close_stdin,
        width: m.width,
        height: m.height,
    }
}

/// The client's messages after the first, until it goes (or fails).
fn rest(s: Streaming<pb::AttachInput>) -> Input {
    Box::pin(s.map_while(|m| m.ok()).map(input))
}

fn outputs(rx: mpsc::Receiver<Result<AttachOutput>>) -> Stream_<pb::AttachOutput> {
    Box::pin(ReceiverStream::new(rx).map(|o| {
        o.map(|o| pb::AttachOutput {
            stream: o.stream,
            data: o.data,
            exited: o.exited,
            exit_code: o.exit_code,
            attached: o.attached,
            tty: o.tty,
        })
        .map_err(Status::from)
    }))
}

/// The namespace, the first message (`missing`: the error without one)
/// and the rest of an attach stream.
async fn opened(
    req: Request<Streaming<pb::AttachInput>>,
    missing: &'static str,
) -> Result<(String, pb::AttachInput, Streaming<pb::AttachInput>), Status> {
    let ns = namespace(&req)?;
    let mut s = req.into_inner();
    let first = s
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument(missing))?;
    Ok((ns, first, s))
}

impl Server {
    pub(super) async fn attach_stream(
        &self,
        req: Request<Streaming<pb::AttachInput>>,
    ) -> Result<Response<Stream_<pb::AttachOutput>>, Status> {
        let (ns, first, s) = opened(req, "attach: no container given").await?;
        let rx = attach::attach(self.m.clone(), ns, input(first), rest(s)).await?;
        Ok(Response::new(outputs(rx)))
    }

    pub(super) async fn exec_attach_stream(
        &self,
        req: Request<Streaming<pb::AttachInput>>,
    ) -> Result<Response<Stream_<pb::AttachOutput>>, Status> {
        let (ns, first, s) = opened(req, "exec: nothing asked").await?;
        let r = first.exec.clone().unwrap_or_default();
        if r.args.is_empty() {
            return Err(Status::invalid_argument("no command given"));
        }
        let rx =
            attach::exec_attach(self.m.clone(), ns, input(first), exec_spec(r), rest(s)).await?;
        Ok(Response::new(outputs(rx)))
    }
}
