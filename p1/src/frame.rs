//! Cutting a byte stream into DSMR P1 telegrams.
//!
//! A telegram runs from `/` through `!`, followed by four hex digits of CRC-16/ARC (DSMR 4.x and
//! 5.x) or nothing (DSMR 2.2/3), and a CRLF. Bytes arrive in arbitrary pieces; the framer keeps
//! at most `max_telegram_bytes` of them and reports everything it throws away, so a caller can
//! count and log it.

use crc::{Crc, CRC_16_ARC};

/// The CRC every DSMR 4.x/5.x telegram carries, over the bytes from `/` through `!`.
pub const DSMR_CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_ARC);

/// Big enough for every real telegram (a DSMR 5 telegram with four M-Bus devices and a full
/// power failure log stays below 3 KiB) and small enough for a Pi.
pub const DEFAULT_MAX_TELEGRAM_BYTES: usize = 16 * 1024;

/// One complete telegram: the bytes from `/` through the final CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTelegram {
    pub bytes: Vec<u8>,
    /// The CRC the telegram carried and that matched; `None` for DSMR 2.2/3 telegrams.
    pub crc: Option<u16>,
}

/// Why bytes were thrown away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Bytes before a `/` that start no telegram (noise, or the tail of a telegram whose start we
    /// missed).
    Garbage { bytes: usize },
    /// The CRC after `!` does not match the bytes.
    BadCrc { carried: u16, computed: u16 },
    /// A new telegram started (another `/`) before this one reached `!`.
    Partial { bytes: usize },
    /// No `!` within the size bound.
    TooLong { bytes: usize },
    /// What follows `!` is neither CRLF nor four hex digits and CRLF.
    BadTrailer { bytes: usize },
}

impl Dropped {
    /// A short name for counters and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Dropped::Garbage { .. } => "garbage",
            Dropped::BadCrc { .. } => "bad_crc",
            Dropped::Partial { .. } => "partial",
            Dropped::TooLong { .. } => "too_long",
            Dropped::BadTrailer { .. } => "bad_trailer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Telegram(RawTelegram),
    Dropped(Dropped),
}

/// Incremental framer: feed it pieces with [`Framer::push`], collect frames.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// How far into `buf` we already looked for `!` (so each byte is scanned once).
    scanned: usize,
    max_telegram_bytes: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(DEFAULT_MAX_TELEGRAM_BYTES)
    }
}

impl Framer {
    pub fn new(max_telegram_bytes: usize) -> Framer {
        Framer { buf: Vec::with_capacity(4096), scanned: 0, max_telegram_bytes }
    }

    /// Bytes held while waiting for the rest of a telegram (never above the bound plus a
    /// trailer).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feed one piece; complete telegrams and drops are appended to `out` in stream order.
    pub fn push(&mut self, piece: &[u8], out: &mut Vec<Frame>) {
        for chunk in piece.chunks(self.max_telegram_bytes) {
            self.buf.extend_from_slice(chunk);
            self.drain(out);
        }
    }

    fn drain(&mut self, out: &mut Vec<Frame>) {
        loop {
            if self.buf.is_empty() {
                return;
            }
            if self.buf[0] != b'/' {
                let skip = self.buf.iter().position(|&b| b == b'/').unwrap_or(self.buf.len());
                self.discard(skip);
                out.push(Frame::Dropped(Dropped::Garbage { bytes: skip }));
                continue;
            }
            match self.find_end() {
                Scan::NeedMore => {
                    if self.buf.len() > self.max_telegram_bytes {
                        let bytes = self.buf.len();
                        self.discard(bytes);
                        out.push(Frame::Dropped(Dropped::TooLong { bytes }));
                        continue;
                    }
                    return;
                }
                Scan::Restart(at) => {
                    self.discard(at);
                    out.push(Frame::Dropped(Dropped::Partial { bytes: at }));
                }
                Scan::Bang(bang) => match self.trailer(bang) {
                    Trailer::NeedMore => return,
                    Trailer::Bad(len) => {
                        self.discard(len);
                        out.push(Frame::Dropped(Dropped::BadTrailer { bytes: len }));
                    }
                    Trailer::Complete { len, carried } => {
                        let frame = match carried {
                            None => Frame::Telegram(RawTelegram { bytes: self.buf[..len].to_vec(), crc: None }),
                            Some(carried) => {
                                let computed = DSMR_CRC.checksum(&self.buf[..=bang]);
                                if computed == carried {
                                    Frame::Telegram(RawTelegram { bytes: self.buf[..len].to_vec(), crc: Some(carried) })
                                } else {
                                    Frame::Dropped(Dropped::BadCrc { carried, computed })
                                }
                            }
                        };
                        self.discard(len);
                        out.push(frame);
                    }
                },
            }
        }
    }

    fn discard(&mut self, n: usize) {
        self.buf.drain(..n);
        self.scanned = 0;
    }

    /// Looks for `!`, or for another `/` (the next telegram began: this one is partial; no
    /// DSMR value may contain `/`). Starts after what earlier calls already scanned.
    fn find_end(&mut self) -> Scan {
        let start = self.scanned.max(1);
        for i in start..self.buf.len() {
            match self.buf[i] {
                b'!' => return Scan::Bang(i),
                b'/' => return Scan::Restart(i),
                _ => {}
            }
        }
        self.scanned = self.buf.len();
        Scan::NeedMore
    }

    fn trailer(&self, bang: usize) -> Trailer {
        let rest = &self.buf[bang + 1..];
        if rest.len() >= 2 && &rest[..2] == b"\r\n" {
            return Trailer::Complete { len: bang + 3, carried: None };
        }
        let hex_len = rest.iter().take(4).take_while(|b| b.is_ascii_hexdigit()).count();
        if hex_len < rest.len().min(4) {
            return Trailer::Bad(bang + 1 + hex_len);
        }
        if rest.len() < 6 {
            return Trailer::NeedMore;
        }
        if &rest[4..6] != b"\r\n" {
            return Trailer::Bad(bang + 5);
        }
        let hex = std::str::from_utf8(&rest[..4]).expect("hex digits are ASCII");
        let carried = u16::from_str_radix(hex, 16).expect("four hex digits fit a u16");
        Trailer::Complete { len: bang + 7, carried: Some(carried) }
    }
}

enum Scan {
    NeedMore,
    Restart(usize),
    Bang(usize),
}

enum Trailer {
    NeedMore,
    Bad(usize),
    Complete { len: usize, carried: Option<u16> },
}

/// Appends `!`, the CRC of everything so far and CRLF: how a DSMR 4.x/5.x meter ends a telegram.
/// `body` runs from `/` through the CRLF of the last data line.
pub fn seal_with_crc(body: &str) -> String {
    let mut telegram = String::with_capacity(body.len() + 7);
    telegram.push_str(body);
    telegram.push('!');
    let crc = DSMR_CRC.checksum(telegram.as_bytes());
    telegram.push_str(&format!("{crc:04X}\r\n"));
    telegram
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telegram() -> String {
        seal_with_crc("/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.8.1(000123.456*kWh)\r\n")
    }

    fn frames(pieces: &[&[u8]]) -> Vec<Frame> {
        let mut framer = Framer::default();
        let mut out = Vec::new();
        for p in pieces {
            framer.push(p, &mut out);
        }
        out
    }

    #[test]
    fn the_crc_of_the_check_string_is_the_arc_one() {
        assert_eq!(DSMR_CRC.checksum(b"123456789"), 0xBB3D);
    }

    #[test]
    fn a_telegram_split_into_single_bytes_comes_out_whole() {
        let t = telegram();
        let mut framer = Framer::default();
        let mut out = Vec::new();
        for b in t.as_bytes() {
            framer.push(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out.len(), 1);
        match &out[0] {
            Frame::Telegram(raw) => assert_eq!(raw.bytes, t.as_bytes()),
            other => panic!("expected a telegram, got {other:?}"),
        }
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn garbage_before_the_start_is_skipped_and_reported() {
        let t = telegram();
        let out = frames(&[b"\x00\xffnoise", t.as_bytes()]);
        assert_eq!(out[0], Frame::Dropped(Dropped::Garbage { bytes: 7 }));
        assert!(matches!(out[1], Frame::Telegram(_)));
    }

    #[test]
    fn a_flipped_byte_is_a_crc_failure() {
        let t = telegram().replace("123.456", "123.457");
        let out = frames(&[t.as_bytes()]);
        assert!(matches!(out[0], Frame::Dropped(Dropped::BadCrc { .. })), "{out:?}");
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn a_telegram_cut_short_by_the_next_one_is_partial() {
        let t = telegram();
        let cut = &t.as_bytes()[..30];
        let out = frames(&[cut, t.as_bytes()]);
        assert_eq!(out[0], Frame::Dropped(Dropped::Partial { bytes: 30 }));
        assert!(matches!(out[1], Frame::Telegram(_)));
    }

    #[test]
    fn dsmr_2_2_telegrams_have_no_crc() {
        let t = "/ISk5\\2ME382-1003\r\n\r\n0-0:96.1.1(4B414C37303035313039)\r\n!\r\n";
        let out = frames(&[t.as_bytes()]);
        assert_eq!(out, vec![Frame::Telegram(RawTelegram { bytes: t.as_bytes().to_vec(), crc: None })]);
    }

    #[test]
    fn endless_input_without_a_bang_stays_bounded() {
        let mut framer = Framer::new(1024);
        let mut out = Vec::new();
        framer.push(b"/start\r\n", &mut out);
        for _ in 0..100 {
            framer.push(&[b'x'; 100], &mut out);
            assert!(framer.buffered() <= 1024 + 100);
        }
        assert!(out.iter().any(|f| matches!(f, Frame::Dropped(Dropped::TooLong { .. }))));
    }

    #[test]
    fn a_broken_trailer_is_dropped() {
        let out = frames(&[b"/X\r\n\r\n1-0:1.8.1(1*kWh)\r\n!zz\r\n"]);
        assert!(matches!(out[0], Frame::Dropped(Dropped::BadTrailer { .. })), "{out:?}");
    }
}
