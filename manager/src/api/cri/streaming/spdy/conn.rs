//! The server side of a SPDY connection: a reader task that hands out the
//! streams the client opens (answering each SYN_STREAM with a SYN_REPLY,
//! as spdystream's clients wait for), routes data to them and answers
//! pings; a writer task that owns the socket's write half and the header
//! compression, so frames go out in the order they are queued.

use std::collections::HashMap;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::frame::{self, Frame};
use super::headers::{Deflater, Headers, Inflater};
use super::SpdyError;

/// What the writer task is asked to do.
enum Out {
    Frame(Frame),
    /// A SYN_REPLY with no headers (compressed by the writer).
    Reply(u32),
    /// Send GOAWAY, flush and shut the write side down.
    Close,
}

/// A stream the client opened: its headers, what the client sends on it
/// (ends at the client's FIN or reset), and its writer.
pub struct SpdyStream {
    pub id: u32,
    pub headers: Headers,
    pub data: mpsc::UnboundedReceiver<Vec<u8>>,
    pub writer: StreamWriter,
}

/// Writes to one stream (cheap to clone).
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    tx: mpsc::Sender<Out>,
}

impl StreamWriter {
    /// Send `data` on the stream (large writes are split); false once the
    /// connection is gone.
    pub async fn write(&self, data: &[u8]) -> bool {
        for chunk in data.chunks(32 << 10) {
            let f = Frame::Data {
                stream: self.id,
                fin: false,
                data: chunk.to_vec(),
            };
            if self.tx.send(Out::Frame(f)).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Our side of the stream is done (an empty data frame with FIN).
    pub async fn close(&self) {
        let f = Frame::Data {
            stream: self.id,
            fin: true,
            data: Vec::new(),
        };
        let _ = self.tx.send(Out::Frame(f)).await;
    }
}

/// The streams of a connection as the client opens them, and the handle
/// that ends it.
pub struct Incoming {
    pub streams: mpsc::Receiver<SpdyStream>,
    closer: mpsc::Sender<Out>,
}

impl Incoming {
    /// End the connection once everything queued before is written.
    pub async fn close(&self) {
        let _ = self.closer.send(Out::Close).await;
    }
}

/// Serve SPDY on `io` (an upgraded HTTP connection).
pub fn serve<IO>(io: IO) -> Incoming
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(io);
    let (out_tx, out_rx) = mpsc::channel(64);
    let (streams_tx, streams_rx) = mpsc::channel(16);
    tokio::spawn(write_loop(wr, out_rx));
    let tx = out_tx.clone();
    tokio::spawn(async move {
        if let Err(e) = read_loop(rd, tx, streams_tx).await {
            tracing::debug!("SPDY connection: {e}");
        }
    });
    Incoming {
        streams: streams_rx,
        closer: out_tx,
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::Receiver<Out>) {
    let mut deflater = Deflater::default();
    let mut last_stream = 0;
    while let Some(out) = rx.recv().await {
        let bytes = match out {
            Out::Frame(f) => f.encode(),
            Out::Reply(stream) => {
                last_stream = last_stream.max(stream);
                match deflater.block(&Vec::new()) {
                    Ok(block) => Frame::SynReply {
                        stream,
                        fin: false,
                        block,
                    }
                    .encode(),
                    Err(e) => {
                        tracing::debug!("{e}");
                        break;
                    }
                }
            }
            Out::Close => {
                let g = Frame::GoAway {
                    last_stream,
                    status: 0,
                };
                let _ = wr.write_all(&g.encode()).await;
                break;
            }
        };
        if wr.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut rd: R,
    tx: mpsc::Sender<Out>,
    streams: mpsc::Sender<SpdyStream>,
) -> Result<(), SpdyError> {
    let mut inflater = Inflater::default();
    let mut open: HashMap<u32, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut buf = Vec::with_capacity(64 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        while let Some(f) = frame::parse(&mut buf)? {
            match f {
                Frame::SynStream {
                    stream,
                    flags,
                    block,
                    ..
                } => {
                    let headers = inflater.block(&block)?;
                    if stream % 2 == 0 || open.contains_key(&stream) {
                        let rst = Frame::RstStream {
                            stream,
                            status: frame::RST_PROTOCOL_ERROR,
                        };
                        let _ = tx.send(Out::Frame(rst)).await;
                        continue;
                    }
                    let (dtx, drx) = mpsc::unbounded_channel();
                    if flags & frame::FLAG_FIN == 0 {
                        open.insert(stream, dtx);
                    }
                    let _ = tx.send(Out::Reply(stream)).await;
                    let s = SpdyStream {
                        id: stream,
                        headers,
                        data: drx,
                        writer: StreamWriter {
                            id: stream,
                            tx: tx.clone(),
                        },
                    };
                    if streams.send(s).await.is_err() {
                        let rst = Frame::RstStream {
                            stream,
                            status: frame::RST_REFUSED_STREAM,
                        };
                        let _ = tx.send(Out::Frame(rst)).await;
                    }
                }
                Frame::Data { stream, fin, data } => {
                    if let Some(d) = open.get(&stream) {
                        if !data.is_empty() {
                            let _ = d.send(data);
                        }
                    }
                    if fin {
                        open.remove(&stream);
                    }
                }
                Frame::RstStream { stream, .. } => {
                    open.remove(&stream);
                }
                Frame::Headers { block, .. } => {
                    // Keeps the zlib stream in step; nothing reads them.
                    inflater.block(&block)?;
                }
                Frame::Ping(id) => {
                    let _ = tx.send(Out::Frame(Frame::Ping(id))).await;
                }
                Frame::GoAway { .. } => return Ok(()),
                Frame::SynReply { .. }
                | Frame::Settings
                | Frame::WindowUpdate { .. }
                | Frame::Unknown(_) => {}
            }
        }
        let n = rd.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
