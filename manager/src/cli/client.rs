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
/// and no response metadata), and hulld's socket takes no connection now.
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
    let m = e.message().to_ascii_lowercase();
    let transport = std::error::Error::source(e).is_some()
        || [
            "h2 protocol error",
            "transport error",
            "error reading a body from connection",
            "connection reset",
            "broken pipe",
        ]
        .iter()
        .any(|w| m.contains(w));
    transport
        && DAEMON
            .get()
            .is_some_and(|d| std::os::unix::net::UnixStream::connect(socket_path(d)).is_err())
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
                    Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(p).await?))
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
    pub fn content(&self) -> pb::content_client::ContentClient<Channel> {
        pb::content_client::ContentClient::new(self.channel.clone())
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
    pub fn tasks(&self) -> pb::tasks_client::TasksClient<Channel> {
        pb::tasks_client::TasksClient::new(self.channel.clone())
    }
}
