//! The Site aggregate's rules.

use super::commands::SiteCommand;
use super::events::SiteEvent;
use super::state::{SiteIdentity, SiteState};
use super::Site;
use crate::site::config::SiteConfig;
use crate::site::error::{SiteError, SiteResult};
use crate::Decider;

/// Host names go into CHIP addresses and links: keep them to the characters a URL authority allows.
pub(super) fn check_identity(identity: &SiteIdentity) -> SiteResult<()> {
    if identity.name.trim().is_empty() || identity.name.len() > 200 {
        return Err(SiteError::Invalid("site name must be 1..200 characters".into()));
    }
    let host_ok = !identity.host.is_empty()
        && identity.host.len() <= 253
        && identity.host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !host_ok {
        return Err(SiteError::Invalid(format!("bad host name {:?}", identity.host)));
    }
    if identity.port == 0 {
        return Err(SiteError::Invalid("port must not be 0".into()));
    }
    Ok(())
}

impl Decider for Site {
    type State = SiteState;
    type Command = SiteCommand;
    type Event = SiteEvent;
    type Error = SiteError;

    fn decide(state: &SiteState, command: SiteCommand) -> SiteResult<Vec<SiteEvent>> {
        if let SiteCommand::InitSite { identity, at } = command {
            Site::check_init(state, &identity)?;
            return Ok(vec![SiteEvent::SiteInitialised { identity, config: SiteConfig::default(), at }]);
        }
        let identity = state.site.as_ref().ok_or(SiteError::SiteMissing)?;
        Ok(match command {
            SiteCommand::InitSite { .. } => unreachable!("handled above"),
            SiteCommand::RotateSiteKey { site_key, at } => {
                check_identity(&SiteIdentity { site_key, ..identity.clone() })?;
                vec![SiteEvent::SiteKeyRotated { site_key, at }]
            }
            SiteCommand::LockSite { at } if !state.locked => vec![SiteEvent::SiteLocked { at }],
            SiteCommand::UnlockSite { at } if state.locked => vec![SiteEvent::SiteUnlocked { at }],
            // Locking a locked site is not an error: the admin's intent already holds.
            SiteCommand::LockSite { .. } | SiteCommand::UnlockSite { .. } => vec![],
            SiteCommand::SetConfig { key, value, at } => {
                state.config.with(&key, value)?;
                vec![SiteEvent::SiteConfigChanged { key, value, at }]
            }
            SiteCommand::RecordLegacyLiftsAdopted { .. } if state.legacy_lifts_adopted => vec![],
            SiteCommand::RecordLegacyLiftsAdopted { tallies, through_position, at } => {
                vec![SiteEvent::LegacyLiftsAdopted { tallies, through_position, at }]
            }
        })
    }

    fn evolve(mut state: SiteState, event: &SiteEvent) -> SiteState {
        match event {
            SiteEvent::SiteInitialised { identity, config, .. } => {
                state.site = Some(identity.clone());
                state.config = config.clone();
            }
            SiteEvent::SiteKeyRotated { site_key, .. } => {
                state.site.as_mut().expect("a key is rotated on an initialised site").site_key = *site_key;
            }
            SiteEvent::SiteLocked { .. } => state.locked = true,
            SiteEvent::SiteUnlocked { .. } => state.locked = false,
            SiteEvent::SiteConfigChanged { key, value, .. } => {
                state.config = state.config.with(key, *value).unwrap_or_else(|e| panic!("decide validated {key}: {e}"));
            }
            SiteEvent::LegacyLiftsAdopted { .. } => state.legacy_lifts_adopted = true,
        }
        state
    }
}
