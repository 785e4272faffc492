//! The correspondence's rules. `decide` is the table of contents: one function per command.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::commands::PeerCommand;
use super::events::PeerEvent;
use super::state::{PeerState, MAX_PENDING};
use super::Peer;
use crate::peers::error::{PeerError, PeerResult};
use crate::Decider;

impl Decider for Peer {
    type State = PeerState;
    type Command = PeerCommand;
    type Event = PeerEvent;
    type Error = PeerError;

    fn decide(state: &PeerState, command: PeerCommand) -> PeerResult<Vec<PeerEvent>> {
        match command {
            PeerCommand::Queue { message, at } => queue(state, message, at),
            PeerCommand::Acknowledge { through, at } => acknowledge(state, through, at),
            PeerCommand::Accept { seq, at } => accept(state, seq, at),
        }
    }

    fn evolve(state: PeerState, event: &PeerEvent) -> PeerState {
        state.evolve(event)
    }
}

fn queue(state: &PeerState, message: Value, at: DateTime<Utc>) -> PeerResult<Vec<PeerEvent>> {
    if !message.is_object() {
        return Err(PeerError::NotAnObject);
    }
    if state.pending.len() >= MAX_PENDING {
        return Err(PeerError::TooManyPending { pending: state.pending.len(), most: MAX_PENDING });
    }
    Ok(vec![PeerEvent::PeerMessageQueued { seq: state.sent + 1, message, at }])
}

/// Cumulative: an acknowledgement of what was acknowledged already changes nothing (acknowledgements repeat
/// when a connection is made again).
fn acknowledge(state: &PeerState, through: u64, at: DateTime<Utc>) -> PeerResult<Vec<PeerEvent>> {
    if through > state.sent {
        return Err(PeerError::AckBeyondSent { through, sent: state.sent });
    }
    if through <= state.acknowledged_through {
        return Ok(vec![]);
    }
    Ok(vec![PeerEvent::PeerMessagesAcknowledged { through, at }])
}

/// In the sender's order, each once: a repeat changes nothing (the caller acknowledges it again and skips what it
/// asks), one that skips ahead is refused until the ones before it are taken.
fn accept(state: &PeerState, seq: u64, at: DateTime<Utc>) -> PeerResult<Vec<PeerEvent>> {
    let expected = state.accepted_through + 1;
    if seq < expected {
        return Ok(vec![]);
    }
    if seq > expected {
        return Err(PeerError::OutOfOrder { seq, expected });
    }
    Ok(vec![PeerEvent::PeerMessageAccepted { seq, at }])
}
