//! SPDY/3 header blocks: `count, (name length, name, value length,
//! value)*` with 32-bit big-endian lengths, compressed with zlib over the
//! whole connection (one stream of each direction, a sync flush after each
//! block) with SPDY/3's preset dictionary.
//!
//! Inflating with a preset dictionary is inflating with the dictionary as
//! the window's past output: the decoder's ring buffer starts with it at
//! its end, so the first back-references find it. Our own blocks are
//! compressed without the dictionary (the zlib header says so, and every
//! peer's inflater accepts that).

use flate2::{Compress, Compression, FlushCompress};
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::SpdyError;

/// Header names (lower case, as SPDY/3 sends them) and values.
pub type Headers = Vec<(String, String)>;

/// The first value of header `name`.
pub fn get<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Header names SPDY/3's dictionary starts with, each after its 32-bit
/// length.
const DICTIONARY_WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The text the dictionary ends with: status codes and phrases, dates,
/// content types.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,",
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=",
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

/// SPDY/3's zlib dictionary (1423 bytes, Adler-32 0xe3c6a7c2).
pub fn dictionary() -> Vec<u8> {
    let mut d = Vec::with_capacity(1423);
    for w in DICTIONARY_WORDS {
        d.extend_from_slice(&(w.len() as u32).to_be_bytes());
        d.extend_from_slice(w.as_bytes());
    }
    d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    d
}

/// An uncompressed header block.
pub fn pack(h: &Headers) -> Vec<u8> {
    let mut out = (h.len() as u32).to_be_bytes().to_vec();
    for (k, v) in h {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.to_ascii_lowercase().as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// The pairs of an uncompressed header block (values holding NULs are
/// several values of one name).
pub fn unpack(b: &[u8]) -> Result<Headers, SpdyError> {
    let bad = || SpdyError::Protocol("malformed header block".into());
    let mut at = 0usize;
    let word = |at: &mut usize| -> Result<usize, SpdyError> {
        let s = b.get(*at..*at + 4).ok_or_else(bad)?;
        *at += 4;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let n = word(&mut at)?;
    let mut out = Vec::new();
    let text = |at: &mut usize, len: usize| -> Result<String, SpdyError> {
        let s = b.get(*at..*at + len).ok_or_else(bad)?;
        *at += len;
        Ok(String::from_utf8_lossy(s).into_owned())
    };
    for _ in 0..n {
        let kl = word(&mut at)?;
        let k = text(&mut at, kl)?.to_ascii_lowercase();
        let vl = word(&mut at)?;
        let v = text(&mut at, vl)?;
        for one in v.split('\0') {
            out.push((k.clone(), one.to_string()));
        }
    }
    Ok(out)
}

/// Our direction's compression state.
pub struct Deflater(Compress);

impl Default for Deflater {
    fn default() -> Self {
        Deflater(Compress::new(Compression::default(), true))
    }
}

impl Deflater {
    /// `h` compressed, flushed to a byte boundary.
    pub fn block(&mut self, h: &Headers) -> Result<Vec<u8>, SpdyError> {
        let input = pack(h);
        let mut out = Vec::with_capacity(input.len() + 64);
        let mut at = 0usize;
        loop {
            out.reserve(256);
            let before = self.0.total_in();
            self.0
                .compress_vec(&input[at..], &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Protocol(format!("compress headers: {e}")))?;
            at += (self.0.total_in() - before) as usize;
            // Done when all is in and the flush left room to spare.
            if at == input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

const RING: usize = 1 << 15;

/// The peer's direction's decompression state.
pub struct Inflater {
    state: Box<DecompressorOxide>,
    ring: Vec<u8>,
    pos: usize,
    /// The zlib header's bytes until it is whole.
    header: Vec<u8>,
    header_done: bool,
}

impl Default for Inflater {
    fn default() -> Self {
        let mut ring = vec![0u8; RING];
        let d = dictionary();
        ring[RING - d.len()..].copy_from_slice(&d);
        Inflater {
            state: Box::default(),
            ring,
            pos: 0,
            header: Vec::new(),
            header_done: false,
        }
    }
}

impl Inflater {
    /// The headers of one compressed block.
    pub fn block(&mut self, mut input: &[u8]) -> Result<Headers, SpdyError> {
        let bad = |m: String| SpdyError::Protocol(format!("header block: {m}"));
        if !self.header_done {
            while self.header.len() < 2 && !input.is_empty() {
                self.header.push(input[0]);
                input = &input[1..];
            }
            let need = match self.header.as_slice() {
                [a, b] if (u16::from(*a) << 8 | u16::from(*b)) % 31 != 0 || a & 0x0f != 8 => {
                    return Err(bad("not a zlib stream".into()))
                }
                [_, b] if b & 0x20 != 0 => 6,
                _ => 2,
            };
            while self.header.len() < need && !input.is_empty() {
                self.header.push(input[0]);
                input = &input[1..];
            }
            if self.header.len() < need {
                return Err(bad("truncated zlib header".into()));
            }
            if need == 6 && self.header[2..6] != 0xe3c6a7c2u32.to_be_bytes() {
                return Err(bad("an unknown preset dictionary".into()));
            }
            self.header_done = true;
        }
        let mut out = Vec::new();
        loop {
            let (status, used, written) = decompress(
                &mut self.state,
                input,
                &mut self.ring,
                self.pos,
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT,
            );
            out.extend_from_slice(&self.ring[self.pos..self.pos + written]);
            self.pos = (self.pos + written) & (RING - 1);
            input = &input[used..];
            match status {
                TINFLStatus::HasMoreOutput => continue,
                TINFLStatus::NeedsMoreInput | TINFLStatus::Done if input.is_empty() => break,
                TINFLStatus::NeedsMoreInput | TINFLStatus::Done => {
                    if used == 0 && written == 0 {
                        return Err(bad("trailing bytes".into()));
                    }
                }
                other => return Err(bad(format!("inflate: {other:?}"))),
            }
        }
        unpack(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dictionary_is_spdy3s() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        // Adler-32, as the zlib header names the dictionary.
        let (mut a, mut b) = (1u32, 0u32);
        for x in &d {
            a = (a + u32::from(*x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!((b << 16) | a, 0xe3c6a7c2);
    }

    #[test]
    fn blocks_compressed_with_the_dictionary_inflate() {
        // Two blocks of one stream, compressed by zlib with SPDY/3's
        // dictionary (as Go's spdystream does), each sync-flushed.
        let a =
            hex::decode("78f9e3c6a7c202a62346703a2b294a4dcc851625aca9a08006000000ffff").unwrap();
        let b = hex::decode("02651c0c2960624ec90797d1e8e50f17c2e100000000ffff").unwrap();
        let mut inf = Inflater::default();
        assert_eq!(inf.block(&a).unwrap(), h(&[("streamtype", "error")]));
        assert_eq!(
            inf.block(&b).unwrap(),
            h(&[("streamtype", "stdout"), ("content-type", "text/plain")])
        );
    }

    #[test]
    fn our_blocks_round_trip() {
        let mut def = Deflater::default();
        let mut inf = Inflater::default();
        for i in 0..50 {
            let x = h(&[
                ("streamtype", "data"),
                ("port", &i.to_string()),
                ("requestid", "7"),
            ]);
            let block = def.block(&x).unwrap();
            assert_eq!(inf.block(&block).unwrap(), x);
        }
        assert_eq!(inf.block(&def.block(&vec![]).unwrap()).unwrap(), vec![]);
    }

    #[test]
    fn multiple_values_and_bad_blocks() {
        let got = unpack(&pack(&h(&[("x", "a\0c")]))).unwrap();
        assert_eq!(got, h(&[("x", "a"), ("x", "c")]));
        assert!(unpack(&[0, 0, 0, 5, 0]).is_err());
        assert!(Inflater::default().block(b"garbage").is_err());
    }
}
