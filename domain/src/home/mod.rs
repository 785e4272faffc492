//! The home context (smart-meter data consent): the ledger's record of each device's MAM channel, each
//! household's devices and consents, and the documents of the consent dialogues. Same layout as every context:
//! one folder per aggregate (commands, events, state, decide) and one refusal type (`error.rs`).

pub mod channel_log;
pub mod consent;
pub mod device_inbox;
mod error;
pub mod household;
pub mod policy_readings;
pub mod provider_inbox;
mod rules;

pub use channel_log::{ChannelLog, ChannelLogCommand, ChannelLogEvent, ChannelLogState, MessageKind, StoredMessage};
pub use device_inbox::{DeviceInbox, DeviceInboxCommand, DeviceInboxEvent, DeviceInboxState};
pub use error::HomeError;
pub use household::{Household, HouseholdCommand, HouseholdEvent, HouseholdState};
pub use policy_readings::{PolicyReadings, PolicyReadingsCommand, PolicyReadingsEvent, PolicyReadingsState};
pub use provider_inbox::{ProviderInbox, ProviderInboxCommand, ProviderInboxEvent, ProviderInboxState};
