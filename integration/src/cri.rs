//! A gRPC channel to a CRI endpoint on a unix socket (tonic with a tower
//! `service_fn` connector), for the cri_* suites and `cri-call`.

use std::path::Path;

use tonic::transport::{Channel, Endpoint};

/// Connect to the CRI socket at `socket`.
pub async fn connect(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let path = socket.to_path_buf();
    // The URI is unused: every connection is the unix socket.
    Endpoint::from_static("http://cri.invalid")
        .connect_with_connector(tower::service_fn(move |_| {
            let p = path.clone();
            async move {
                let s = tokio::net::UnixStream::connect(p).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
            }
        }))
        .await
}
