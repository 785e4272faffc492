//! The channel log's rules: messages in index order, once each; the epoch moves only after a key rotation.

use super::commands::ChannelLogCommand;
use super::events::{ChannelLogEvent, MessageKind, StoredMessage};
use super::state::ChannelLogState;
use super::ChannelLog;
use crate::home::error::HomeError;
use crate::Decider;

impl Decider for ChannelLog {
    type State = ChannelLogState;
    type Command = ChannelLogCommand;
    type Event = ChannelLogEvent;
    type Error = HomeError;

    fn decide(state: &ChannelLogState, command: ChannelLogCommand) -> Result<Vec<ChannelLogEvent>, HomeError> {
        match command {
            ChannelLogCommand::StoreMessage { message } => store(state, message),
        }
    }

    /// The state is the last message's: the state given is not read (`STATE_IS_LAST_EVENT`).
    fn evolve(state: ChannelLogState, event: &ChannelLogEvent) -> ChannelLogState {
        state.evolve(event)
    }
}

fn store(state: &ChannelLogState, m: StoredMessage) -> Result<Vec<ChannelLogEvent>, HomeError> {
    if m.index < state.next_index {
        return Err(HomeError::AlreadyStored { index: m.index });
    }
    if m.index > state.next_index {
        return Err(HomeError::Gap { expected: state.next_index, got: m.index });
    }
    // The epoch moves on only right after a key rotation, and then by exactly one.
    let expected = match state.last_kind {
        Some(MessageKind::KeyRotation) => state.epoch + 1,
        Some(MessageKind::Data) => state.epoch,
        None => m.epoch,
    };
    if m.epoch != expected {
        return Err(HomeError::WrongEpoch { index: m.index, expected, got: m.epoch });
    }
    Ok(vec![ChannelLogEvent::MamMessageStored(m)])
}
