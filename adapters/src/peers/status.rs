//! What `notch admin peer status` shows: open connections, per-peer counters and refusals by kind.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::connection::{ConnectionInfo, Direction};

#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    pub agent: String,
    /// The peer server's address, when it listens.
    pub listening: Option<String>,
    pub connections: Vec<ConnectionStatus>,
    /// Refused or failed connections, by kind (`ticket_refused`, `key_mismatch`, `frame_too_long`, ...).
    pub refusals: BTreeMap<String, u64>,
    /// Totals of the connections that ended, by peer agent.
    pub peers: BTreeMap<String, PeerCounters>,
    /// Messages that were queued on a connection that ended before writing them.
    pub dropped_messages: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerCounters {
    pub connections_opened: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    pub id: u64,
    pub agent: String,
    pub remote: String,
    pub direction: Direction,
    /// False while the handshake runs.
    pub open: bool,
    pub started_at: DateTime<Utc>,
    pub messages_sent: u64,
    pub messages_received: u64,
}

impl ConnectionStatus {
    pub fn of(info: &ConnectionInfo) -> ConnectionStatus {
        ConnectionStatus {
            id: info.id,
            agent: info.agent.clone(),
            remote: info.remote.clone(),
            direction: info.direction,
            open: info.open.load(Ordering::Acquire),
            started_at: info.started_at,
            messages_sent: info.sent.load(Ordering::Relaxed),
            messages_received: info.received.load(Ordering::Relaxed),
        }
    }
}
