//! What a provider's inbox holds: which channel each policy was handed over on, and each device's last word.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::ProviderInboxEvent;
use crate::crypto::PublicKey;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderInboxState {
    /// Set by the first hand-over.
    pub provider: Option<PublicKey>,
    /// The channels each policy was handed over on (a new channel when the device starts over).
    pub handed_over: BTreeMap<Uuid, Vec<String>>,
    /// Each device's last hand-over's time: the next is later (no replays).
    pub last_at: BTreeMap<String, DateTime<Utc>>,
}

impl ProviderInboxState {
    pub fn evolve(mut self, event: &ProviderInboxEvent) -> ProviderInboxState {
        match event {
            ProviderInboxEvent::GrantHandedOver { handover } => {
                let handover = &handover.document;
                self.provider.get_or_insert(handover.provider);
                self.handed_over.entry(handover.policy_id).or_default().push(handover.channel.clone());
                self.last_at.insert(handover.device_id.clone(), handover.at);
            }
        }
        self
    }
}
