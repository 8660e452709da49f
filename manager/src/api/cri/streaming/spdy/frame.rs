//! SPDY/3.1 frames on the wire: parsing a frame out of a buffer and
//! writing one. Header blocks stay compressed here (`headers.rs` packs
//! and unpacks them, with the connection's zlib state).
//!
//! A control frame: `1 | version (15) | type (16) | flags (8) | length
//! (24) | data`; a data frame: `0 | stream id (31) | flags (8) | length
//! (24) | data`.

use super::SpdyError;

/// The SPDY version kubelet's and crictl's library speaks.
pub const VERSION: u16 = 3;
/// The last frame of its sender on a stream.
pub const FLAG_FIN: u8 = 0x01;
/// Largest frame we accept (clients send stdin and forwarded bytes in
/// chunks of 32 KiB).
pub const MAX_FRAME: usize = 8 << 20;

/// RST_STREAM status codes we send.
pub const RST_PROTOCOL_ERROR: u32 = 1;
pub const RST_REFUSED_STREAM: u32 = 3;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// One frame; `block`s are compressed header blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Data {
        stream: u32,
        fin: bool,
        data: Vec<u8>,
    },
    SynStream {
        stream: u32,
        associated: u32,
        priority: u8,
        flags: u8,
        block: Vec<u8>,
    },
    SynReply {
        stream: u32,
        fin: bool,
        block: Vec<u8>,
    },
    RstStream {
        stream: u32,
        status: u32,
    },
    /// Its entries are read past: nothing here depends on them.
    Settings,
    Ping(u32),
    GoAway {
        last_stream: u32,
        status: u32,
    },
    Headers {
        stream: u32,
        fin: bool,
        block: Vec<u8>,
    },
    WindowUpdate {
        stream: u32,
        delta: u32,
    },
    /// A control frame of a type SPDY/3 does not have (ignored, as the
    /// spec asks).
    Unknown(u16),
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Take one whole frame off the front of `buf`; None while it is not all
/// there yet.
pub fn parse(buf: &mut Vec<u8>) -> Result<Option<Frame>, SpdyError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let first = be32(&buf[0..4]);
    let flags = buf[4];
    let len = (be32(&buf[4..8]) & 0x00ff_ffff) as usize;
    if len > MAX_FRAME {
        return Err(SpdyError::Protocol(format!("frame of {len} bytes")));
    }
    if buf.len() < 8 + len {
        return Ok(None);
    }
    let body: Vec<u8> = buf.drain(..8 + len).skip(8).collect();
    let fin = flags & FLAG_FIN != 0;
    if first & 0x8000_0000 == 0 {
        return Ok(Some(Frame::Data {
            stream: first,
            fin,
            data: body,
        }));
    }
    let version = ((first >> 16) & 0x7fff) as u16;
    if version != VERSION {
        return Err(SpdyError::Protocol(format!("SPDY version {version}")));
    }
    let kind = (first & 0xffff) as u16;
    let need = |n: usize| {
        if body.len() < n {
            Err(SpdyError::Protocol(format!(
                "control frame {kind} of {} bytes",
                body.len()
            )))
        } else {
            Ok(())
        }
    };
    let id = |at: usize| be32(&body[at..at + 4]) & 0x7fff_ffff;
    let frame = match kind {
        SYN_STREAM => {
            need(10)?;
            Frame::SynStream {
                stream: id(0),
                associated: id(4),
                priority: body[8] >> 5,
                flags,
                block: body[10..].to_vec(),
            }
        }
        SYN_REPLY => {
            need(4)?;
            Frame::SynReply {
                stream: id(0),
                fin,
                block: body[4..].to_vec(),
            }
        }
        RST_STREAM => {
            need(8)?;
            Frame::RstStream {
                stream: id(0),
                status: be32(&body[4..8]),
            }
        }
        SETTINGS => Frame::Settings,
        PING => {
            need(4)?;
            Frame::Ping(be32(&body[0..4]))
        }
        GOAWAY => {
            need(8)?;
            Frame::GoAway {
                last_stream: id(0),
                status: be32(&body[4..8]),
            }
        }
        HEADERS => {
            need(4)?;
            Frame::Headers {
                stream: id(0),
                fin,
                block: body[4..].to_vec(),
            }
        }
        WINDOW_UPDATE => {
            need(8)?;
            Frame::WindowUpdate {
                stream: id(0),
                delta: be32(&body[4..8]) & 0x7fff_ffff,
            }
        }
        other => Frame::Unknown(other),
    };
    Ok(Some(frame))
}

fn control(kind: u16, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(
        &(0x8000_0000 | (u32::from(VERSION) << 16) | u32::from(kind)).to_be_bytes(),
    );
    out.extend_from_slice(&((u32::from(flags) << 24) | body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

impl Frame {
    /// The frame's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let fin = |f: bool| if f { FLAG_FIN } else { 0 };
        match self {
            Frame::Data {
                stream,
                fin: f,
                data,
            } => {
                let mut out = Vec::with_capacity(8 + data.len());
                out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
                out.extend_from_slice(
                    &((u32::from(fin(*f)) << 24) | data.len() as u32).to_be_bytes(),
                );
                out.extend_from_slice(data);
                out
            }
            Frame::SynStream {
                stream,
                associated,
                priority,
                flags,
                block,
            } => control(
                SYN_STREAM,
                *flags,
                &cat(&[
                    &stream.to_be_bytes(),
                    &associated.to_be_bytes(),
                    &[priority << 5, 0],
                    block,
                ]),
            ),
            Frame::SynReply {
                stream,
                fin: f,
                block,
            } => control(SYN_REPLY, fin(*f), &cat(&[&stream.to_be_bytes(), block])),
            Frame::RstStream { stream, status } => control(
                RST_STREAM,
                0,
                &cat(&[&stream.to_be_bytes(), &status.to_be_bytes()]),
            ),
            Frame::Settings => control(SETTINGS, 0, &0u32.to_be_bytes()),
            Frame::Ping(id) => control(PING, 0, &id.to_be_bytes()),
            Frame::GoAway {
                last_stream,
                status,
            } => control(
                GOAWAY,
                0,
                &cat(&[&last_stream.to_be_bytes(), &status.to_be_bytes()]),
            ),
            Frame::Headers {
                stream,
                fin: f,
                block,
            } => control(HEADERS, fin(*f), &cat(&[&stream.to_be_bytes(), block])),
            Frame::WindowUpdate { stream, delta } => control(
                WINDOW_UPDATE,
                0,
                &cat(&[&stream.to_be_bytes(), &delta.to_be_bytes()]),
            ),
            Frame::Unknown(kind) => control(*kind, 0, &[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frames = [
            Frame::Data {
                stream: 5,
                fin: true,
                data: b"hello".to_vec(),
            },
            Frame::SynStream {
                stream: 1,
                associated: 0,
                priority: 2,
                flags: FLAG_FIN,
                block: vec![1, 2, 3],
            },
            Frame::SynReply {
                stream: 1,
                fin: false,
                block: vec![9],
            },
            Frame::RstStream {
                stream: 3,
                status: RST_REFUSED_STREAM,
            },
            Frame::Ping(7),
            Frame::GoAway {
                last_stream: 9,
                status: 0,
            },
            Frame::WindowUpdate {
                stream: 1,
                delta: 4096,
            },
            Frame::Settings,
        ];
        let mut buf = Vec::new();
        for f in &frames {
            buf.extend(f.encode());
        }
        // Fed one byte at a time: nothing comes out of a partial frame.
        let mut got = Vec::new();
        let mut pending = Vec::new();
        for b in buf {
            pending.push(b);
            while let Some(f) = parse(&mut pending).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        assert!(pending.is_empty());
    }

    #[test]
    fn bad_frames_are_refused() {
        // SPDY/2.
        let mut b = vec![0x80, 2, 0, 1, 0, 0, 0, 0];
        assert!(parse(&mut b).is_err());
        // A SYN_STREAM too short for its fields.
        let mut b = vec![0x80, 3, 0, 1, 0, 0, 0, 2, 0, 0];
        assert!(parse(&mut b).is_err());
        // Too large.
        let mut b = vec![0, 0, 0, 1, 0, 0xff, 0xff, 0xff];
        assert!(parse(&mut b).is_err());
    }
}
