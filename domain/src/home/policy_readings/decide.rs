//! A policy's readings' rules: a channel is opened once, readings come in channel order and only while it is
//! open, and a rotation that leaves the provider out closes it.

use super::commands::{Opening, PolicyReadingsCommand, ReadingValues};
use super::events::PolicyReadingsEvent;
use super::state::PolicyReadingsState;
use super::PolicyReadings;
use crate::home::error::HomeError;
use crate::Decider;

/// Channels one policy may be read on, as many as it may be handed over on.
pub const MAX_CHANNELS_PER_POLICY: usize = crate::home::provider_inbox::MAX_HANDOVERS_PER_POLICY;
/// Bytes of a reading's per-phase values as JSON.
pub const MAX_PHASES_BYTES: usize = 2048;

impl Decider for PolicyReadings {
    type State = PolicyReadingsState;
    type Command = PolicyReadingsCommand;
    type Event = PolicyReadingsEvent;
    type Error = HomeError;

    fn decide(
        state: &PolicyReadingsState,
        command: PolicyReadingsCommand,
    ) -> Result<Vec<PolicyReadingsEvent>, HomeError> {
        match command {
            PolicyReadingsCommand::Open(opening) => open(state, opening),
            PolicyReadingsCommand::Store { index, epoch, values, at } => store(state, index, epoch, values, at),
            PolicyReadingsCommand::Close { index, because, at } => {
                let (policy_id, channel) = open_channel(state, index)?;
                Ok(vec![PolicyReadingsEvent::ChannelClosed { policy_id, channel, index, because, at }])
            }
        }
    }

    fn evolve(state: PolicyReadingsState, event: &PolicyReadingsEvent) -> PolicyReadingsState {
        state.evolve(event)
    }
}

/// A channel not opened before, within the bound.
fn open(state: &PolicyReadingsState, opening: Opening) -> Result<Vec<PolicyReadingsEvent>, HomeError> {
    let Opening { policy_id, device_id, home, channel, from_index, epoch, at } = opening;
    if state.channels.contains(&channel) {
        return Err(HomeError::HandedOver(policy_id));
    }
    if state.channels.len() >= MAX_CHANNELS_PER_POLICY {
        return Err(HomeError::TooMany { what: "channels per policy", most: MAX_CHANNELS_PER_POLICY });
    }
    Ok(vec![PolicyReadingsEvent::ChannelOpened { policy_id, device_id, home, channel, from_index, epoch, at }])
}

/// A reading of the open channel, newer than the last stored, with sane values.
fn store(
    state: &PolicyReadingsState,
    index: u64,
    epoch: u32,
    values: ReadingValues,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<PolicyReadingsEvent>, HomeError> {
    let (policy_id, channel) = open_channel(state, index)?;
    check_values(&values)?;
    let device_id = state.device_id.clone();
    Ok(vec![PolicyReadingsEvent::ReadingStored { policy_id, device_id, channel, index, epoch, values, at }])
}

/// The policy and its open channel, if message `index` is news on it.
fn open_channel(state: &PolicyReadingsState, index: u64) -> Result<(uuid::Uuid, String), HomeError> {
    let (Some(policy_id), Some(channel)) = (state.policy_id, state.channel.clone()) else {
        return Err(HomeError::BadRequest("no channel is open for this policy".into()));
    };
    if state.closed {
        return Err(HomeError::PolicyEnded { policy_id, status: "rotated_out" });
    }
    if index < state.next_index {
        return Err(HomeError::AlreadyStored { index });
    }
    Ok((policy_id, channel))
}

fn check_values(values: &ReadingValues) -> Result<(), HomeError> {
    let phases_bytes = values.phases.as_ref().map_or(0, |p| p.to_string().len());
    if values.until < values.from || phases_bytes > MAX_PHASES_BYTES {
        return Err(HomeError::BadRequest(format!(
            "a reading ends after it starts, with at most {MAX_PHASES_BYTES} bytes of phases"
        )));
    }
    Ok(())
}
