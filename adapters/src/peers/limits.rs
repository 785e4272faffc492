//! Every bound of the peer link (docs/federation.md, "Bounds"), with the defaults the issue names.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PeerLimits {
    /// Largest frame body read (default 64 KiB, at most [`peers::MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Time a peer has from its TCP connect to a finished handshake.
    pub handshake_timeout: Duration,
    /// A connection that has received no frame for this long is closed.
    pub idle_timeout: Duration,
    /// Handshakes running at once, over all addresses; one more is closed at accept.
    pub max_handshakes: usize,
    /// Connections (handshaking or open) from one remote IP address.
    pub max_connections_per_address: usize,
    /// Refused handshakes from one address before it cools off.
    pub failures_before_cool_off: u32,
    /// How long a cooling-off address is closed at accept, without reading a byte.
    pub cool_off: Duration,
    /// Messages queued for one peer while its connection is being made or is busy writing.
    pub max_queued_messages: usize,
    /// Open connections over all peers.
    pub max_connections: usize,
}

impl Default for PeerLimits {
    fn default() -> PeerLimits {
        PeerLimits {
            max_body_bytes: peers::DEFAULT_MAX_BODY_BYTES,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_handshakes: 64,
            max_connections_per_address: 8,
            failures_before_cool_off: 5,
            cool_off: Duration::from_secs(60),
            max_queued_messages: 1024,
            max_connections: 1024,
        }
    }
}

impl PeerLimits {
    /// Checks the bounds an operator may set; the error says which one is out of range.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_body_bytes < 1024 || self.max_body_bytes > peers::MAX_BODY_BYTES {
            return Err(format!("the frame bound must be from 1024 to {} bytes", peers::MAX_BODY_BYTES));
        }
        if self.handshake_timeout.is_zero() || self.idle_timeout.is_zero() {
            return Err("the handshake and idle timeouts must be above zero".into());
        }
        if self.max_handshakes == 0 || self.max_connections_per_address == 0 || self.max_queued_messages == 0 {
            return Err("the bounds on handshakes, connections and queues must be above zero".into());
        }
        Ok(())
    }
}
