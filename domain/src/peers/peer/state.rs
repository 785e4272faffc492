//! The correspondence's state, folded from its events.

use std::collections::BTreeMap;

use serde_json::Value;

use super::events::PeerEvent;

/// Messages that may wait for the other site's acknowledgement: beyond this the sender is refused (the business
/// backs off) rather than the log growing without bound while the other site is away.
pub const MAX_PENDING: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerState {
    /// Sequence numbers given so far (the last queued message's).
    pub sent: u64,
    /// Every message up to this one was acknowledged.
    pub acknowledged_through: u64,
    /// The unacknowledged messages, by sequence number: what the link sends, in order.
    pub pending: BTreeMap<u64, Value>,
    /// Every message of the other site up to this one was taken.
    pub accepted_through: u64,
}

impl PeerState {
    pub fn evolve(mut self, event: &PeerEvent) -> PeerState {
        match event {
            PeerEvent::PeerMessageQueued { seq, message, .. } => {
                self.sent = *seq;
                self.pending.insert(*seq, message.clone());
            }
            PeerEvent::PeerMessagesAcknowledged { through, .. } => {
                self.acknowledged_through = *through;
                self.pending = self.pending.split_off(&(through + 1));
            }
            PeerEvent::PeerMessageAccepted { seq, .. } => self.accepted_through = *seq,
        }
        self
    }
}
