//! An open connection: one task writes the queued messages as `T` frames, the other reads `T` frames and hands
//! each message to the business, in order. Either ending ends the connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use peers::noise::{Opener, Sealer, Transport};
use peers::Header;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::handler::PeerHandler;
use super::refusal::Refusal;
use super::respond::object;
use super::wire::FrameReader;

/// Frames waiting in the queue are sealed into one buffer of about this size and written at once.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// What the status shows of one connection.
pub struct ConnectionInfo {
    pub id: u64,
    pub agent: String,
    pub remote: String,
    pub direction: Direction,
    pub started_at: DateTime<Utc>,
    pub open: AtomicBool,
    pub sent: AtomicU64,
    pub received: AtomicU64,
}

impl ConnectionInfo {
    pub fn new(id: u64, agent: String, remote: String, direction: Direction) -> ConnectionInfo {
        ConnectionInfo {
            id,
            agent,
            remote,
            direction,
            started_at: Utc::now(),
            open: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        }
    }
}

/// An open connection's parts once its handshake is done.
pub struct Open {
    pub reader: FrameReader,
    pub writer: OwnedWriteHalf,
    pub transport: Transport,
    /// A `K` payload to deliver before any `T`.
    pub first: Option<Value>,
}

pub async fn run(
    open: Open,
    queue: mpsc::Receiver<Vec<u8>>,
    info: &ConnectionInfo,
    handler: &dyn PeerHandler,
    idle_timeout: Duration,
) -> Result<(), Refusal> {
    info.open.store(true, Ordering::Release);
    let (sealer, opener) = open.transport.split();
    tokio::select! {
        written = write_queued(open.writer, sealer, queue, info) => written,
        read = read_messages(open.reader, opener, open.first, info, handler, idle_timeout) => read,
    }
}

/// Writes each queued message (its JSON bytes) as a `T`, batching what has queued up meanwhile.
async fn write_queued(
    mut writer: OwnedWriteHalf,
    mut sealer: Sealer,
    mut queue: mpsc::Receiver<Vec<u8>>,
    info: &ConnectionInfo,
) -> Result<(), Refusal> {
    let mut batch = Vec::with_capacity(2 * WRITE_BATCH_BYTES);
    while let Some(message) = queue.recv().await {
        batch.clear();
        sealer.seal_frame_into(&message, &mut batch)?;
        let mut count = 1;
        while batch.len() < WRITE_BATCH_BYTES {
            let Ok(message) = queue.try_recv() else { break };
            sealer.seal_frame_into(&message, &mut batch)?;
            count += 1;
        }
        writer.write_all(&batch).await?;
        info.sent.fetch_add(count, Ordering::Relaxed);
    }
    // The link let go of this connection (it is stopping).
    Err(Refusal::Closed)
}

async fn read_messages(
    mut reader: FrameReader,
    mut opener: Opener,
    first: Option<Value>,
    info: &ConnectionInfo,
    handler: &dyn PeerHandler,
    idle_timeout: Duration,
) -> Result<(), Refusal> {
    if let Some(first) = first {
        info.received.fetch_add(1, Ordering::Relaxed);
        handler.receive(&info.agent, first).await;
    }
    let mut sent_before = info.sent.load(Ordering::Relaxed);
    loop {
        let Ok(frame) = tokio::time::timeout(idle_timeout, reader.next()).await else {
            // Idle is neither side saying anything: a connection busy sending one way stays open.
            let sent = info.sent.load(Ordering::Relaxed);
            if sent == sent_before {
                return Err(Refusal::Idle);
            }
            sent_before = sent;
            continue;
        };
        let frame = frame?;
        if frame.header != Header::Transport {
            return Err(Refusal::Unexpected(frame.header));
        }
        let message = object(&opener.open_in_place(frame.body)?)?;
        info.received.fetch_add(1, Ordering::Relaxed);
        handler.receive(&info.agent, message).await;
    }
}
