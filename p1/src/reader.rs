//! The meter reading loop: open the port, frame and parse what arrives, hand readings on; reopen
//! with backoff when the port goes away; say so when the meter falls silent.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::drop_log::DropLog;
use crate::frame::{Frame, Framer, RawTelegram};
use crate::parse::parse_telegram;
use crate::reading::Reading;
use crate::serial::{open_port, LineSettings, OpenError};

#[derive(Debug, Clone)]
pub struct ReaderConfig {
    pub path: PathBuf,
    pub line: LineSettings,
    /// Warn when no telegram arrived for this long (and again every such period).
    pub silence_warning: Duration,
    pub reopen_initial: Duration,
    pub reopen_max: Duration,
    pub max_telegram_bytes: usize,
    pub drop_log_interval: Duration,
}

impl ReaderConfig {
    pub fn new(path: PathBuf, line: LineSettings) -> ReaderConfig {
        ReaderConfig {
            path,
            line,
            silence_warning: Duration::from_secs(30),
            reopen_initial: Duration::from_millis(500),
            reopen_max: Duration::from_secs(30),
            max_telegram_bytes: crate::frame::DEFAULT_MAX_TELEGRAM_BYTES,
            drop_log_interval: Duration::from_secs(60),
        }
    }
}

/// One telegram as read from the meter.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: RawTelegram,
    pub reading: Reading,
    pub received_at: DateTime<Utc>,
}

/// Counters of the reading loop, readable while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    pub telegrams: AtomicU64,
    pub opens: AtomicU64,
    pub open_failures: AtomicU64,
    pub port_lost: AtomicU64,
    pub silences: AtomicU64,
    pub dropped_bad_crc: AtomicU64,
    pub dropped_partial: AtomicU64,
    pub dropped_too_long: AtomicU64,
    pub dropped_bad_trailer: AtomicU64,
    pub dropped_unparsable: AtomicU64,
    pub garbage_bytes: AtomicU64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub telegrams: u64,
    pub opens: u64,
    pub open_failures: u64,
    pub port_lost: u64,
    pub silences: u64,
    pub dropped_bad_crc: u64,
    pub dropped_partial: u64,
    pub dropped_too_long: u64,
    pub dropped_bad_trailer: u64,
    pub dropped_unparsable: u64,
    pub garbage_bytes: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            telegrams: get(&self.telegrams),
            opens: get(&self.opens),
            open_failures: get(&self.open_failures),
            port_lost: get(&self.port_lost),
            silences: get(&self.silences),
            dropped_bad_crc: get(&self.dropped_bad_crc),
            dropped_partial: get(&self.dropped_partial),
            dropped_too_long: get(&self.dropped_too_long),
            dropped_bad_trailer: get(&self.dropped_bad_trailer),
            dropped_unparsable: get(&self.dropped_unparsable),
            garbage_bytes: get(&self.garbage_bytes),
        }
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// Reads until the receiving side of `out` is dropped. Never gives up on the port: a meter
/// service must come back by itself when the cable is replugged; the wait between attempts is
/// bounded by `reopen_max`.
pub async fn run(config: ReaderConfig, out: mpsc::Sender<Received>, stats: Arc<Stats>) {
    let mut backoff = Backoff::new(config.reopen_initial, config.reopen_max);
    let mut drop_log = DropLog::new(config.drop_log_interval);
    let mut open_log = DropLog::new(config.drop_log_interval);
    while !out.is_closed() {
        let port = match open_port(&config.path, config.line) {
            Ok(port) => port,
            Err(e) => {
                bump(&stats.open_failures, 1);
                let kind = match e {
                    OpenError::Busy(_) => "busy",
                    OpenError::Missing(_) => "missing",
                    OpenError::Other { .. } => "error",
                };
                if let Some(line) = open_log.record(Instant::now(), kind, &e.to_string()) {
                    tracing::error!("{line}");
                }
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        bump(&stats.opens, 1);
        tracing::info!(port = %config.path.display(), "serial port open");
        backoff.reset();
        match read_port(port, &config, &out, &stats, &mut drop_log).await {
            PortEnd::ReceiverGone => return,
            PortEnd::Lost(why) => {
                bump(&stats.port_lost, 1);
                tracing::warn!(port = %config.path.display(), "serial port lost ({why}); reopening");
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

enum PortEnd {
    ReceiverGone,
    Lost(String),
}

async fn read_port(
    mut port: tokio_serial::SerialStream,
    config: &ReaderConfig,
    out: &mpsc::Sender<Received>,
    stats: &Stats,
    drop_log: &mut DropLog,
) -> PortEnd {
    let mut framer = Framer::new(config.max_telegram_bytes);
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut last_telegram = Instant::now();
    let mut silence_deadline = last_telegram + config.silence_warning;
    loop {
        let read = tokio::time::timeout_at(silence_deadline.into(), port.read(&mut buf)).await;
        let n = match read {
            Err(_) => {
                bump(&stats.silences, 1);
                tracing::warn!(
                    port = %config.path.display(),
                    "no telegram for {} s",
                    last_telegram.elapsed().as_secs()
                );
                silence_deadline += config.silence_warning;
                continue;
            }
            Ok(Ok(0)) => return PortEnd::Lost("end of file".into()),
            Ok(Err(e)) => return PortEnd::Lost(e.to_string()),
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n], &mut frames);
        for frame in frames.drain(..) {
            let dropped = match frame {
                Frame::Telegram(raw) => match parse_telegram(&raw.bytes) {
                    Ok(reading) => {
                        bump(&stats.telegrams, 1);
                        last_telegram = Instant::now();
                        silence_deadline = last_telegram + config.silence_warning;
                        let received = Received { raw, reading, received_at: Utc::now() };
                        if out.send(received).await.is_err() {
                            return PortEnd::ReceiverGone;
                        }
                        continue;
                    }
                    Err(e) => {
                        bump(&stats.dropped_unparsable, 1);
                        ("unparsable", format!("dropped telegram: {e}"))
                    }
                },
                Frame::Dropped(why) => {
                    let counter = match &why {
                        crate::Dropped::Garbage { bytes } => {
                            bump(&stats.garbage_bytes, *bytes as u64);
                            continue;
                        }
                        crate::Dropped::BadCrc { .. } => &stats.dropped_bad_crc,
                        crate::Dropped::Partial { .. } => &stats.dropped_partial,
                        crate::Dropped::TooLong { .. } => &stats.dropped_too_long,
                        crate::Dropped::BadTrailer { .. } => &stats.dropped_bad_trailer,
                    };
                    bump(counter, 1);
                    (why.kind(), format!("dropped telegram: {why:?}"))
                }
            };
            if let Some(line) = drop_log.record(Instant::now(), dropped.0, &dropped.1) {
                tracing::warn!(port = %config.path.display(), "{line}");
            }
        }
    }
}
