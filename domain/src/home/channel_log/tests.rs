//! The ChannelLog aggregate's rules, command by command.

use super::*;
use crate::home::HomeError;
use crate::Decider;

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
    let events: Vec<ChannelLogEvent> = messages.iter().map(|m| ChannelLogEvent::MamMessageStored(stored(m))).collect();
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
    assert!(matches!(ChannelLog::decide(&before, message(1, 1, MessageKind::Data)), Err(HomeError::WrongEpoch { .. })));
    let rotated = history(&[message(0, 0, MessageKind::Data), message(1, 0, MessageKind::KeyRotation)]);
    assert!(ChannelLog::decide(&rotated, message(2, 1, MessageKind::Data)).is_ok());
    assert!(ChannelLog::decide(&rotated, message(2, 0, MessageKind::Data)).is_err());
}

#[test]
fn the_state_after_the_last_event_equals_the_state_after_all() {
    let all =
        [message(0, 0, MessageKind::Data), message(1, 0, MessageKind::KeyRotation), message(2, 1, MessageKind::Data)];
    assert_eq!(history(&all), history(&all[2..]));
}

#[test]
fn the_event_has_its_past_tense_type_tag() {
    let event = ChannelLogEvent::MamMessageStored(stored(&message(0, 0, MessageKind::Data)));
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["type"], "MamMessageStored");
    assert_eq!(json["kind"], "data");
}
