//! Connecting to hulld over its unix socket, with the namespace header.

use std::path::PathBuf;
use std::sync::OnceLock;

use hull_proto::v1 as pb;
use hull_proto::NAMESPACE_HEADER;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

pub struct Conn {
    pub channel: Channel,
    pub namespace: String,
}

/// The daemon this process talks to, as `unix:///path` (for messages).
static DAEMON: OnceLock<String> = OnceLock::new();

/// The call's error is the connection to hulld breaking (hulld killed or
/// stopped mid-call), not an answer from hulld: tonic made the status up
/// from a transport error (it carries the h2/hyper/io error as its source
/// and no response metadata), and hulld's socket refuses connections.
pub fn connection_lost(e: &tonic::Status) -> bool {
    use tonic::Code;
    if !e.metadata().is_empty()
        || !matches!(
            e.code(),
            Code::Unknown | Code::Internal | Code::Unavailable | Code::Cancelled
        )
    {
        return false;
    }
    // hulld's own statuses come from the wire, without a source.
    let transport = std::error::Error::source(e).is_some();
    transport
        && DAEMON
            .get()
            .is_some_and(|d| refuses_connections(&socket_path(d)))
}

/// hulld's socket refuses connections within half a second: a hulld being
/// killed drops its connections before its listening socket, so one
/// accepted connection does not yet say it is alive.
fn refuses_connections(sock: &std::path::Path) -> bool {
    for _ in 0..10 {
        if std::os::unix::net::UnixStream::connect(sock).is_err() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// When `e` is the connection to hulld breaking: say so in one line and
/// exit 125 (Docker's code for a failure of the client or daemon).
pub fn exit_if_connection_lost(e: &tonic::Status) {
    if connection_lost(e) {
        let daemon = DAEMON.get().map(String::as_str).unwrap_or("unix://?");
        eprintln!("hull: the daemon at {daemon} went away during the call (was it stopped?)");
        std::process::exit(125);
    }
}

/// `unix:///path`, `unix:/path` or a plain path.
pub fn socket_path(host: &str) -> PathBuf {
    PathBuf::from(
        host.strip_prefix("unix://")
            .or_else(|| host.strip_prefix("unix:"))
            .unwrap_or(host),
    )
}

impl Conn {
    pub async fn connect(host: &str, namespace: &str) -> anyhow::Result<Conn> {
        let path = socket_path(host);
        let p2 = path.clone();
        let channel = Endpoint::try_from("http://hulld.local")?
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let p = p2.clone();
                async move {
                    let s = tokio::net::UnixStream::connect(p).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(NoSigPipe(s)))
                }
            }))
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "Cannot connect to the hull daemon at unix://{}. Is hulld running? ({e})",
                    path.display()
                )
            })?;
        let _ = DAEMON.set(format!("unix://{}", path.display()));
        Ok(Conn {
            channel,
            namespace: namespace.to_string(),
        })
    }

    /// A request carrying the namespace.
    pub fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        if let Ok(v) = self.namespace.parse() {
            r.metadata_mut().insert(NAMESPACE_HEADER, v);
        }
        r
    }

    pub fn volumes(&self) -> pb::volumes_client::VolumesClient<Channel> {
        pb::volumes_client::VolumesClient::new(self.channel.clone())
    }

    pub fn images(&self) -> pb::images_client::ImagesClient<Channel> {
        pb::images_client::ImagesClient::new(self.channel.clone())
            .max_decoding_message_size(64 << 20)
    }
    pub fn transfer(&self) -> pb::transfer_client::TransferClient<Channel> {
        pb::transfer_client::TransferClient::new(self.channel.clone())
    }
    pub fn version(&self) -> pb::version_client::VersionClient<Channel> {
        pb::version_client::VersionClient::new(self.channel.clone())
    }
    pub fn snapshots(&self) -> pb::snapshots_client::SnapshotsClient<Channel> {
        pb::snapshots_client::SnapshotsClient::new(self.channel.clone())
    }
    pub fn events(&self) -> pb::events_client::EventsClient<Channel> {
        pb::events_client::EventsClient::new(self.channel.clone())
    }
    pub fn containers(&self) -> pb::containers_client::ContainersClient<Channel> {
        pb::containers_client::ContainersClient::new(self.channel.clone())
            .max_decoding_message_size(64 << 20)
    }
    /// Every container of the namespace without its spec (a listing's
    /// summary instead: a thousand full specs are megabytes).
    pub async fn list_containers(&self) -> Result<Vec<pb::Container>, tonic::Status> {
        let req = pb::ListContainersRequest {
            filters: vec![],
            brief: true,
        };
        Ok(self
            .containers()
            .list(self.req(req))
            .await?
            .into_inner()
            .containers)
    }
    pub fn files(&self) -> pb::container_files_client::ContainerFilesClient<Channel> {
        pb::container_files_client::ContainerFilesClient::new(self.channel.clone())
    }
    pub fn build(&self) -> pb::build_client::BuildClient<Channel> {
        pb::build_client::BuildClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }
    pub fn tasks(&self) -> pb::tasks_client::TasksClient<Channel> {
        pb::tasks_client::TasksClient::new(self.channel.clone())
    }
}

/// The connection to hulld, written with MSG_NOSIGNAL: hull keeps SIGPIPE's
/// default (so `hull … | head` ends quietly), and a write to a hulld that
/// died must be an error the CLI reports, not a SIGPIPE that kills it.
struct NoSigPipe(tokio::net::UnixStream);

impl tokio::io::AsyncRead for NoSigPipe {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for NoSigPipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use nix::sys::socket::{send, MsgFlags};
        use std::os::fd::AsRawFd;
        use std::task::Poll;
        let s = &self.0;
        loop {
            if let Err(e) = std::task::ready!(s.poll_write_ready(cx)) {
                return Poll::Ready(Err(e));
            }
            let sent = s.try_io(tokio::io::Interest::WRITABLE, || {
                send(s.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL).map_err(std::io::Error::from)
            });
            match sent {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
