//! The User aggregate's rules, command by command.

use super::*;
use crate::crypto::PublicKey;
use crate::site::error::{SiteError, SiteResult};
use crate::Decider;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;

#[test]
#[should_panic(expected = "before UserRegistered")]
fn an_event_before_the_registration_is_a_corrupt_stream() {
    User::evolve(UserState::default(), &UserEvent::UserLocked { at: at() });
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn run(state: UserState, command: UserCommand) -> SiteResult<UserState> {
    let events = User::decide(&state, command)?;
    Ok(events.iter().fold(state, User::evolve))
}

fn alice() -> UserState {
    let contact = Contact::from([("email".to_string(), "alice@example.org".to_string())]);
    run(
        UserState::default(),
        UserCommand::RegisterUser { cid: "alice".into(), name: "Alice".into(), contact, at: at() },
    )
    .unwrap()
}

#[test]
fn register_edit_lock_unlock_close() {
    let state = alice();
    assert_eq!(state.require_active(), Ok(()));
    let again = UserCommand::RegisterUser { cid: "alice".into(), name: "A".into(), contact: Contact::new(), at: at() };
    assert_eq!(User::decide(&state, again), Err(SiteError::UserExists));
    let state = run(state, UserCommand::EditUser { name: Some("Alice B".into()), contact: None, at: at() }).unwrap();
    assert_eq!(state.name, "Alice B");
    assert_eq!(state.contact["email"], "alice@example.org");
    let state = run(state, UserCommand::LockUser { at: at() }).unwrap();
    assert_eq!(state.require_active(), Err(SiteError::UserNotActive("locked")));
    let state = run(state, UserCommand::UnlockUser { at: at() }).unwrap();
    assert_eq!(state.status, UserStatus::Active);
    let state = run(state, UserCommand::CloseUser { at: at() }).unwrap();
    assert_eq!(User::decide(&state, UserCommand::UnlockUser { at: at() }), Err(SiteError::UserNotActive("closed")));
}

#[test]
fn bad_cids_are_refused() {
    for cid in ["", "Alice", "a b", "a:b", &"x".repeat(65)] {
        let cmd = UserCommand::RegisterUser { cid: cid.into(), name: "X".into(), contact: Contact::new(), at: at() };
        assert!(matches!(User::decide(&UserState::default(), cmd), Err(SiteError::Invalid(_))), "{cid}");
    }
}

#[test]
fn device_keys_are_unique() {
    let key = PublicKey::of(&SigningKey::from_bytes(&[3; 32]));
    let cmd = || UserCommand::RegisterDeviceKey { key, ticket: None, at: at() };
    let state = run(alice(), cmd()).unwrap();
    assert!(state.device_keys.contains(&key));
    assert_eq!(User::decide(&state, cmd()), Err(SiteError::KeyExists));
    assert_eq!(User::decide(&UserState::default(), cmd()), Err(SiteError::UserMissing));
}
