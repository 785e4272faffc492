//! Where a policy's reading stands: its channel, the next message it expects, whether access ended.

use uuid::Uuid;

use super::events::PolicyReadingsEvent;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyReadingsState {
    pub policy_id: Option<Uuid>,
    pub device_id: String,
    /// The channel open now (the last opened).
    pub channel: Option<String>,
    /// Channels opened so far (a device that starts over hands over a new one).
    pub channels: Vec<String>,
    /// Messages below this are stored or passed.
    pub next_index: u64,
    pub closed: bool,
}

impl PolicyReadingsState {
    pub fn evolve(mut self, event: &PolicyReadingsEvent) -> PolicyReadingsState {
        match event {
            PolicyReadingsEvent::ChannelOpened { policy_id, device_id, channel, from_index, .. } => {
                self.policy_id = Some(*policy_id);
                self.device_id = device_id.clone();
                self.channel = Some(channel.clone());
                self.channels.push(channel.clone());
                self.next_index = *from_index;
                self.closed = false;
            }
            PolicyReadingsEvent::ReadingStored { index, .. } => self.next_index = index + 1,
            PolicyReadingsEvent::ChannelClosed { index, .. } => {
                self.next_index = index + 1;
                self.closed = true;
            }
        }
        self
    }
}
