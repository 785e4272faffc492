//! Where a channel's chain stands. It depends only on the last message, so the command side may rebuild it from
//! the last event alone (`Aggregate::STATE_IS_LAST_EVENT`).

use super::events::{ChannelLogEvent, MessageKind};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelLogState {
    pub next_index: u64,
    pub epoch: u32,
    pub last_kind: Option<MessageKind>,
}

impl ChannelLogState {
    pub(super) fn evolve(self, event: &ChannelLogEvent) -> ChannelLogState {
        match event {
            ChannelLogEvent::MamMessageStored(m) => {
                ChannelLogState { next_index: m.index + 1, epoch: m.epoch, last_kind: Some(m.kind) }
            }
        }
    }
}
