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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(index: u64, epoch: u32, kind: MessageKind) -> ChannelLogCommand {
        ChannelLogCommand::StoreMessage {
            message: StoredMessage {
                channel: "ab".repeat(32),
                index,
                epoch,
                kind,
                address: format!("{index:064x}"),
                message: "AAAA".into(),
            },
        }
    }

    fn stored(command: &ChannelLogCommand) -> StoredMessage {
        let ChannelLogCommand::StoreMessage { message } = command;
        message.clone()
    }

    fn history(messages: &[ChannelLogCommand]) -> ChannelLogState {
        let events: Vec<ChannelLogEvent> =
            messages.iter().map(|m| ChannelLogEvent::MamMessageStored(stored(m))).collect();
        ChannelLog::replay(&events)
    }

    #[test]
    fn messages_are_stored_in_index_order_once() {
        let state = history(&[message(0, 0, MessageKind::Data)]);
        assert_eq!(state.next_index, 1);
        assert_eq!(ChannelLog::decide(&state, message(1, 0, MessageKind::Data)).unwrap().len(), 1);
        assert_eq!(
            ChannelLog::decide(&state, message(0, 0, MessageKind::Data)),
            Err(HomeError::AlreadyStored { index: 0 })
        );
        assert_eq!(
            ChannelLog::decide(&state, message(3, 0, MessageKind::Data)),
            Err(HomeError::Gap { expected: 1, got: 3 })
        );
    }

    #[test]
    fn the_epoch_advances_only_after_a_rotation() {
        let before = history(&[message(0, 0, MessageKind::Data)]);
        assert!(matches!(
            ChannelLog::decide(&before, message(1, 1, MessageKind::Data)),
            Err(HomeError::WrongEpoch { .. })
        ));
        let rotated = history(&[message(0, 0, MessageKind::Data), message(1, 0, MessageKind::KeyRotation)]);
        assert!(ChannelLog::decide(&rotated, message(2, 1, MessageKind::Data)).is_ok());
        assert!(ChannelLog::decide(&rotated, message(2, 0, MessageKind::Data)).is_err());
    }

    #[test]
    fn the_state_after_the_last_event_equals_the_state_after_all() {
        let all = [
            message(0, 0, MessageKind::Data),
            message(1, 0, MessageKind::KeyRotation),
            message(2, 1, MessageKind::Data),
        ];
        assert_eq!(history(&all), history(&all[2..]));
    }

    #[test]
    fn the_event_has_its_past_tense_type_tag() {
        let event = ChannelLogEvent::MamMessageStored(stored(&message(0, 0, MessageKind::Data)));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "MamMessageStored");
        assert_eq!(json["kind"], "data");
    }
}
