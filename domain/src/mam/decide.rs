use crate::mam::events::{MamEvent, MessageKind, StoredMessage};
use crate::{Aggregate, Decider};

/// What the stream knows: where the chain stands. It depends only on the last message, so the
/// command side may rebuild it from the last event alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStream {
    pub next_index: u64,
    pub epoch: u32,
    pub last_kind: Option<MessageKind>,
}

/// Store a message whose signature the adapter has verified against `message.channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreMessage {
    pub message: StoredMessage,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MamError {
    /// The index is taken; the caller compares the bytes to tell a repeat from a conflict.
    #[error("message {index} is already stored")]
    AlreadyStored { index: u64 },
    #[error("message {got} arrived but the channel is at {expected}: earlier messages are missing")]
    Gap { expected: u64, got: u64 },
    #[error("message {index} is in epoch {got}; the channel is in epoch {expected}")]
    WrongEpoch { index: u64, expected: u32, got: u32 },
}

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "mam-";

impl Aggregate for ChannelStream {
    /// Hex of the channel's Ed25519 public key.
    type Id = str;

    fn stream_id(channel_hex: &str) -> String {
        format!("{STREAM_PREFIX}{channel_hex}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    /// `evolve` takes everything from the message: the state is the head.
    const STATE_IS_LAST_EVENT: bool = true;
}

impl Decider for ChannelStream {
    type State = ChannelStream;
    type Command = StoreMessage;
    type Event = MamEvent;
    type Error = MamError;

    fn decide(state: &ChannelStream, command: StoreMessage) -> Result<Vec<MamEvent>, MamError> {
        let m = command.message;
        if m.index < state.next_index {
            return Err(MamError::AlreadyStored { index: m.index });
        }
        if m.index > state.next_index {
            return Err(MamError::Gap { expected: state.next_index, got: m.index });
        }
        // The epoch moves on only right after a key rotation, and then by exactly one.
        let expected = match state.last_kind {
            Some(MessageKind::KeyRotation) => state.epoch + 1,
            Some(MessageKind::Data) => state.epoch,
            None => m.epoch,
        };
        if m.epoch != expected {
            return Err(MamError::WrongEpoch { index: m.index, expected, got: m.epoch });
        }
        Ok(vec![MamEvent::MamMessageStored(m)])
    }

    fn evolve(_: ChannelStream, event: &MamEvent) -> ChannelStream {
        match event {
            MamEvent::MamMessageStored(m) => {
                ChannelStream { next_index: m.index + 1, epoch: m.epoch, last_kind: Some(m.kind) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(index: u64, epoch: u32, kind: MessageKind) -> StoreMessage {
        StoreMessage {
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

    fn history(messages: &[StoreMessage]) -> ChannelStream {
        let events: Vec<MamEvent> = messages.iter().map(|m| MamEvent::MamMessageStored(m.message.clone())).collect();
        ChannelStream::replay(&events)
    }

    #[test]
    fn messages_are_stored_in_index_order_once() {
        let state = history(&[message(0, 0, MessageKind::Data)]);
        assert_eq!(state.next_index, 1);
        assert_eq!(ChannelStream::decide(&state, message(1, 0, MessageKind::Data)).unwrap().len(), 1);
        assert_eq!(
            ChannelStream::decide(&state, message(0, 0, MessageKind::Data)),
            Err(MamError::AlreadyStored { index: 0 })
        );
        assert_eq!(
            ChannelStream::decide(&state, message(3, 0, MessageKind::Data)),
            Err(MamError::Gap { expected: 1, got: 3 })
        );
    }

    #[test]
    fn the_epoch_advances_only_after_a_rotation() {
        let before = history(&[message(0, 0, MessageKind::Data)]);
        assert!(matches!(
            ChannelStream::decide(&before, message(1, 1, MessageKind::Data)),
            Err(MamError::WrongEpoch { .. })
        ));
        let rotated = history(&[message(0, 0, MessageKind::Data), message(1, 0, MessageKind::KeyRotation)]);
        assert!(ChannelStream::decide(&rotated, message(2, 1, MessageKind::Data)).is_ok());
        assert!(ChannelStream::decide(&rotated, message(2, 0, MessageKind::Data)).is_err());
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
        let event = MamEvent::MamMessageStored(message(0, 0, MessageKind::Data).message);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "MamMessageStored");
        assert_eq!(json["kind"], "data");
    }
}
