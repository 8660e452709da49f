//! Blocking `Read`/`Write` ends of tokio channels: a tar builder or reader
//! on a thread of its own, fed from or feeding a gRPC stream (`hull cp`
//! on both sides).

use std::io::{self, Read, Write};

use tokio::sync::mpsc;

/// Bytes per message.
pub const CHUNK: usize = 256 << 10;

/// Writes into a channel in chunks of [`CHUNK`] bytes, each wrapped into a
/// message by `wrap` (a tar builder's sink). Must not run on a tokio
/// worker: sending blocks.
pub struct ChunkWriter<T, E> {
    tx: mpsc::Sender<Result<T, E>>,
    buf: Vec<u8>,
    wrap: fn(Vec<u8>) -> T,
}

impl<T, E> ChunkWriter<T, E> {
    pub fn new(tx: mpsc::Sender<Result<T, E>>, wrap: fn(Vec<u8>) -> T) -> Self {
        ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            wrap,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok((self.wrap)(data)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "copy cancelled"))
    }
}

impl<T, E> Write for ChunkWriter<T, E> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = b.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Reads what a channel carries (a tar reader's source); an error in the
/// channel is the read's error, a closed channel its end.
pub struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    pub fn new(rx: mpsc::Receiver<io::Result<Vec<u8>>>) -> Self {
        ChunkReader {
            rx,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_in_chunks_and_errors_arrive() {
        let (tx, mut rx) = mpsc::channel::<Result<Vec<u8>, ()>>(8);
        let writer = std::thread::spawn(move || {
            let mut w = ChunkWriter::new(tx, |d| d);
            w.write_all(&vec![7u8; CHUNK + 10]).unwrap();
            w.flush().unwrap();
        });
        let mut sizes = Vec::new();
        while let Some(Ok(c)) = rx.blocking_recv() {
            sizes.push(c.len());
        }
        writer.join().unwrap();
        assert_eq!(sizes, vec![CHUNK, 10]);

        let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(4);
        tx.blocking_send(Ok(b"ab".to_vec())).unwrap();
        tx.blocking_send(Ok(b"c".to_vec())).unwrap();
        tx.blocking_send(Err(io::Error::other("broke"))).unwrap();
        drop(tx);
        let mut r = ChunkReader::new(rx);
        let mut got = [0u8; 3];
        r.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"abc");
        assert_eq!(r.read(&mut got).unwrap_err().to_string(), "broke");
    }
}
