//! Frames on the TCP socket (docs/federation.md, "Framing"):
//!
//! ```text
//! length (u32 big-endian) = 1 + body length | header (1 ASCII byte: I N K A T) | body
//! ```
//!
//! The body is a Noise handshake message or a transport ciphertext. Unlike MyCHIPs, which reads any length and
//! drops unknown headers silently, a length above the bound is refused before its body is read, and an unknown
//! header is an error: the peer server closes the connection on either.

/// Bytes of the length prefix.
pub const LENGTH_BYTES: usize = 4;
/// The default bound on a frame's body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// The largest bound an operator may configure.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Ticket request, first contact: Noise IK message 1.
    Ticket,
    /// Identity announcement: Noise N message (the sender's agent id).
    Identity,
    /// Key request: Noise KK message 1.
    Key,
    /// Acknowledge: Noise IK or KK message 2.
    Ack,
    /// Transport: a message under the handshake's keys.
    Transport,
}

impl Header {
    pub fn byte(self) -> u8 {
        match self {
            Header::Ticket => b'I',
            Header::Identity => b'N',
            Header::Key => b'K',
            Header::Ack => b'A',
            Header::Transport => b'T',
        }
    }

    pub fn from_byte(byte: u8) -> Result<Header, FrameError> {
        Ok(match byte {
            b'I' => Header::Ticket,
            b'N' => Header::Identity,
            b'K' => Header::Key,
            b'A' => Header::Ack,
            b'T' => Header::Transport,
            other => return Err(FrameError::UnknownHeader(other)),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: Header,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame declares {declared} bytes; at most {most} are read")]
    TooLong { declared: u64, most: usize },
    #[error("a frame declares no header byte")]
    Empty,
    #[error("unknown frame header 0x{0:02x} (MyCHIPs' headers are I, N, K, A, T)")]
    UnknownHeader(u8),
}

impl Frame {
    pub fn new(header: Header, body: Vec<u8>) -> Frame {
        Frame { header, body }
    }

    /// Whether this is MyCHIPs' unencrypted "raw" mode, which notch never speaks: an `A` with no body, or a body
    /// that is plain JSON text (a Noise message starts with a random ephemeral key and is never valid UTF-8 JSON
    /// in practice).
    pub fn is_raw(&self) -> bool {
        if self.header == Header::Ack {
            return self.body.is_empty();
        }
        let Ok(text) = std::str::from_utf8(&self.body) else { return false };
        let text = text.trim();
        (text.starts_with('{') && text.ends_with('}')) || (text.starts_with('"') && text.ends_with('"'))
    }

    /// The frame's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let length = u32::try_from(1 + self.body.len()).expect("a frame body is bounded far below 4 GiB");
        let mut out = Vec::with_capacity(LENGTH_BYTES + 1 + self.body.len());
        out.extend_from_slice(&length.to_be_bytes());
        out.push(self.header.byte());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Frames from a byte stream as it arrives, each body at most `max_body` bytes: a longer declared length is an
/// error as soon as its prefix is read, before any of its body is buffered.
#[derive(Debug)]
pub struct FrameDecoder {
    max_body: usize,
    buffer: Vec<u8>,
    /// Where the next frame starts in `buffer`: frames are taken without moving the rest, which is moved down
    /// once per `push`.
    start: usize,
}

impl FrameDecoder {
    pub fn new(max_body: usize) -> FrameDecoder {
        assert!(max_body <= MAX_BODY_BYTES, "the frame bound is at most {MAX_BODY_BYTES} bytes");
        FrameDecoder { max_body, buffer: Vec::new(), start: 0 }
    }

    /// Adds bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, `None` until one has arrived, or the error that must close the connection.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let buffer = &self.buffer[self.start..];
        let Some(prefix) = buffer.get(..LENGTH_BYTES) else { return Ok(None) };
        let declared = u32::from_be_bytes(prefix.try_into().expect("4 bytes")) as usize;
        if declared == 0 {
            return Err(FrameError::Empty);
        }
        if declared - 1 > self.max_body {
            return Err(FrameError::TooLong { declared: declared as u64, most: self.max_body + 1 });
        }
        if let Some(&header) = buffer.get(LENGTH_BYTES) {
            Header::from_byte(header)?;
        }
        if buffer.len() < LENGTH_BYTES + declared {
            return Ok(None);
        }
        let header = Header::from_byte(buffer[LENGTH_BYTES])?;
        let body = buffer[LENGTH_BYTES + 1..LENGTH_BYTES + declared].to_vec();
        self.start += LENGTH_BYTES + declared;
        Ok(Some(Frame { header, body }))
    }

    /// Bytes held that are not a whole frame yet (at most a prefix, a header and `max_body`, plus the last read).
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_mode_frames_are_recognised_and_noise_frames_are_not() {
        assert!(Frame::new(Header::Ack, Vec::new()).is_raw(), "raw mode's A is the header alone");
        assert!(Frame::new(Header::Identity, br#""c2l0ZQ""#.to_vec()).is_raw());
        assert!(Frame::new(Header::Ticket, br#"{"target":"tally","action":"ticket"}"#.to_vec()).is_raw());
        let noise = crate::noise::identity_announcement(&[9; 32], br#""c2l0ZQ""#).unwrap();
        assert!(!Frame::new(Header::Identity, noise).is_raw());
        assert!(!Frame::new(Header::Ack, vec![0; 48]).is_raw());
    }

    #[test]
    fn a_frame_is_its_length_its_header_and_its_body() {
        let frame = Frame::new(Header::Ack, vec![7; 48]);
        let bytes = frame.encode();
        assert_eq!(&bytes[..5], &[0, 0, 0, 49, b'A'], "the length covers the header and the body (MyCHIPs' A: 49)");
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_BODY_BYTES);
        decoder.push(&bytes);
        assert_eq!(decoder.next_frame().unwrap(), Some(frame));
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn frames_arrive_in_any_pieces() {
        let frames: Vec<Frame> = [Header::Identity, Header::Key, Header::Transport]
            .into_iter()
            .enumerate()
            .map(|(i, header)| Frame::new(header, vec![i as u8; 10 + i * 100]))
            .collect();
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_BODY_BYTES);
        let mut got = Vec::new();
        for piece in bytes.chunks(3) {
            decoder.push(piece);
            while let Some(frame) = decoder.next_frame().unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn a_declared_length_above_the_bound_is_refused_before_its_body() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&u32::MAX.to_be_bytes());
        assert_eq!(decoder.next_frame(), Err(FrameError::TooLong { declared: u32::MAX as u64, most: 1025 }));
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&1026u32.to_be_bytes());
        assert!(matches!(decoder.next_frame(), Err(FrameError::TooLong { .. })));
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&1025u32.to_be_bytes());
        decoder.push(b"T");
        assert_eq!(decoder.next_frame(), Ok(None), "exactly the bound waits for its body");
    }

    #[test]
    fn an_empty_frame_or_an_unknown_header_is_an_error_at_once() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&0u32.to_be_bytes());
        assert_eq!(decoder.next_frame(), Err(FrameError::Empty));
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&[0, 0, 0, 100, b'X']);
        assert_eq!(decoder.next_frame(), Err(FrameError::UnknownHeader(b'X')), "before the body arrives");
    }
}
