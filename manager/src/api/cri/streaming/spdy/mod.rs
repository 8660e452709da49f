//! SPDY/3.1, as far as Kubernetes' streaming protocols use it (the
//! `SPDY/3.1` HTTP upgrade of kubelet's and crictl's client library):
//! `frame` the frames on the wire, `headers` the compressed header blocks,
//! `conn` a server side connection handing out the streams its client
//! opens. No flow control: windows are not enforced by either side of
//! these protocols.

pub mod conn;
pub mod frame;
pub mod headers;

pub use conn::{serve, Incoming, SpdyStream, StreamWriter};

/// What ends a SPDY connection.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    #[error("SPDY protocol error: {0}")]
    Protocol(String),
    #[error("SPDY connection: {0}")]
    Io(#[from] std::io::Error),
}
