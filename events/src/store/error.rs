//! Typed errors of the log: each names what was asked and what was found.

use std::fmt;

use uuid::Uuid;

use crate::envelope::InvalidEvent;

/// The stream version an append expects, checked atomically with the append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version (versions count from 1).
    Exact(i64),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Any => write!(f, "any version"),
            Expected::NoStream => write!(f, "no stream"),
            Expected::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// Most events one append may carry; a transaction of the log stays bounded.
pub const MAX_EVENTS_PER_APPEND: usize = 1000;
/// Most streams one atomic append may name: a site's lift touches one stream per hop and its own.
pub const MAX_STREAMS_PER_APPEND: usize = 64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    #[error("stream {stream_id}: expected {expected}, but the stream is at version {actual}")]
    WrongExpectedVersion { stream_id: String, expected: Expected, actual: i64 },
    #[error("event {event_id}: the signature does not verify")]
    BadSignature { event_id: Uuid },
    #[error("event {event_id}: signed by {signer}, which is not this log's pinned node key")]
    UntrustedSigner { event_id: Uuid, signer: String },
    #[error("event {event_id} is already stored (at position {position}) as part of another append")]
    DuplicateEventId { event_id: Uuid, position: i64 },
    #[error("event {event_id}: {reason}")]
    Invalid { event_id: Uuid, reason: InvalidEvent },
    #[error("event {event_id} names stream {found}, but the append is for stream {stream_id}")]
    StreamMismatch { event_id: Uuid, stream_id: String, found: String },
    #[error("event id {event_id} appears twice in one append")]
    RepeatedEventId { event_id: Uuid },
    #[error("an append carries 1 to {MAX_EVENTS_PER_APPEND} events, not {0}")]
    BatchSize(usize),
    #[error("an atomic append names 1 to {MAX_STREAMS_PER_APPEND} streams, not {0}")]
    StreamCount(usize),
    #[error("stream {stream_id} appears twice in one atomic append")]
    RepeatedStream { stream_id: String },
    #[error("stream {stream_id} has no events in an atomic append")]
    EmptyStream { stream_id: String },
    /// The database failed; the append may or may not have committed. Retrying with the same event ids is
    /// safe: a stored event id is never stored twice.
    #[error("the log is unavailable ({0}); retry with the same event ids")]
    Unavailable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("corrupt row at position {position}: {reason}")]
    Corrupt { position: i64, reason: String },
    #[error("subscription expected position {expected} but read {found}: the log has a gap")]
    Gap { expected: i64, found: i64 },
    #[error("the log's genesis event names node key {found}, but this node's pinned key is {pinned}")]
    ForeignLog { found: String, pinned: String },
    #[error("the log is shut down")]
    Closed,
}
