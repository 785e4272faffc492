//! The Site aggregate's rules, command by command.

use super::*;
use crate::crypto::PublicKey;
use crate::site::error::{SiteError, SiteResult};
use crate::Decider;
use chrono::{DateTime, Utc};
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
    assert_eq!(Site::decide(&SiteState::default(), SiteCommand::LockSite { at: at() }), Err(SiteError::SiteMissing));
    let bad = SiteIdentity { host: "bad host/".into(), ..identity() };
    assert!(matches!(
        Site::decide(&SiteState::default(), SiteCommand::InitSite { identity: bad, at: at() }),
        Err(SiteError::Invalid(_))
    ));
    // A malformed key cannot even be a `PublicKey`: it is refused where it is read.
    assert!(serde_json::from_value::<PublicKey>(serde_json::json!("short")).is_err());
}
