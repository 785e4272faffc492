//! The Site aggregate (stream `site`): identity, site key, configuration defaults and lockdown.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::SiteConfig;
use super::error::{SiteError, SiteResult};
use crate::crypto::PublicKey;
use crate::{Aggregate, Decider};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteState {
    pub site: Option<SiteIdentity>,
    pub config: SiteConfig,
    pub locked: bool,
    /// Whether the upgrade adopted the lift chits of the log's old layout (`legacy.rs`).
    pub legacy_lifts_adopted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SiteIdentity {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Public half of the site key (ed25519). The private half never enters the log.
    pub site_key: PublicKey,
}

impl SiteIdentity {
    /// `cid:agent@host:port`, agent = the site public key in base64url.
    pub fn chip_address(&self, cid: &str) -> String {
        format!("{cid}:{}@{}:{}", self.site_key, self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum SiteCommand {
    InitSite {
        identity: SiteIdentity,
        at: DateTime<Utc>,
    },
    RotateSiteKey {
        site_key: PublicKey,
        at: DateTime<Utc>,
    },
    LockSite {
        at: DateTime<Utc>,
    },
    UnlockSite {
        at: DateTime<Utc>,
    },
    SetConfig {
        key: String,
        value: i64,
        at: DateTime<Utc>,
    },
    /// The upgrade rebased every tally with old-layout lift chits (`legacy.rs`).
    RecordLegacyLiftsAdopted {
        tallies: u64,
        through_position: i64,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum SiteEvent {
    SiteInitialised { identity: SiteIdentity, config: SiteConfig, at: DateTime<Utc> },
    SiteKeyRotated { site_key: PublicKey, at: DateTime<Utc> },
    SiteLocked { at: DateTime<Utc> },
    SiteUnlocked { at: DateTime<Utc> },
    SiteConfigChanged { key: String, value: i64, at: DateTime<Utc> },
    LegacyLiftsAdopted { tallies: u64, through_position: i64, at: DateTime<Utc> },
}

pub struct Site;

impl Site {
    /// Whether `InitSite` with `identity` would be accepted, before anything (such as a key file) is written.
    pub fn check_init(state: &SiteState, identity: &SiteIdentity) -> SiteResult<()> {
        if state.site.is_some() {
            return Err(SiteError::SiteExists);
        }
        check_identity(identity)
    }
}

/// Host names go into CHIP addresses and links: keep them to the characters a URL authority allows.
fn check_identity(identity: &SiteIdentity) -> SiteResult<()> {
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

/// The one stream of this aggregate.
const STREAM: &str = "site";

impl Aggregate for Site {
    /// A node runs one site.
    type Id = ();

    fn stream_id(_: &()) -> String {
        STREAM.to_owned()
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id == STREAM
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn identity() -> SiteIdentity {
        SiteIdentity {
            name: "Test site".into(),
            host: "chips.example".into(),
            port: 65430,
            site_key: PublicKey::of(&SigningKey::from_bytes(&[1; 32])),
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn run(state: SiteState, command: SiteCommand) -> SiteResult<SiteState> {
        let events = Site::decide(&state, command)?;
        Ok(events.iter().fold(state, Site::evolve))
    }

    #[test]
    fn init_once_then_lock_config_rotate() {
        let state = run(SiteState::default(), SiteCommand::InitSite { identity: identity(), at: at() }).unwrap();
        assert_eq!(
            Site::decide(&state, SiteCommand::InitSite { identity: identity(), at: at() }),
            Err(SiteError::SiteExists)
        );
        let state = run(state, SiteCommand::LockSite { at: at() }).unwrap();
        assert!(state.locked);
        assert_eq!(Site::decide(&state, SiteCommand::LockSite { at: at() }), Ok(vec![]));
        let state = run(state, SiteCommand::UnlockSite { at: at() }).unwrap();
        assert!(!state.locked);
        let state = run(state, SiteCommand::SetConfig { key: "lift_max_len".into(), value: 6, at: at() }).unwrap();
        assert_eq!(state.config.lift_max_len, 6);
        let new_key = PublicKey::of(&SigningKey::from_bytes(&[2; 32]));
        let state = run(state, SiteCommand::RotateSiteKey { site_key: new_key, at: at() }).unwrap();
        assert_eq!(state.site.as_ref().unwrap().site_key, new_key);
        assert_eq!(state.site.unwrap().chip_address("alice"), format!("alice:{}@chips.example:65430", new_key));
    }

    #[test]
    fn commands_before_init_and_bad_identity_are_refused() {
        assert_eq!(
            Site::decide(&SiteState::default(), SiteCommand::LockSite { at: at() }),
            Err(SiteError::SiteMissing)
        );
        let bad = SiteIdentity { host: "bad host/".into(), ..identity() };
        assert!(matches!(
            Site::decide(&SiteState::default(), SiteCommand::InitSite { identity: bad, at: at() }),
            Err(SiteError::Invalid(_))
        ));
        // A malformed key cannot even be a `PublicKey`: it is refused where it is read.
        assert!(serde_json::from_value::<PublicKey>(serde_json::json!("short")).is_err());
    }
}
