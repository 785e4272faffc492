//! The ConnectionTicket aggregate's rules, command by command.

use super::decide::*;
use super::*;
use crate::crypto::PublicKey;
use crate::site::caller::Caller;
use crate::site::error::SiteError;
use crate::site::user::UserStatus;
use crate::Decider;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
}

fn issued() -> ConnectionTicketState {
    let cmd = ConnectionTicketCommand::IssueConnectionTicket {
        token_hash: token_hash("tok"),
        cid: "alice".into(),
        expires_at: t(2700),
        at: t(0),
    };
    ConnectionTicket::decide(&Default::default(), cmd)
        .unwrap()
        .iter()
        .fold(Default::default(), ConnectionTicket::evolve)
}

fn redeem(cid: &str, at: i64) -> ConnectionTicketCommand {
    redeem_as(cid, at, true)
}

fn redeem_as(cid: &str, at: i64, user_active: bool) -> ConnectionTicketCommand {
    let device_key = PublicKey::of(&SigningKey::from_bytes(&[9; 32]));
    let status = Some(if user_active { UserStatus::Active } else { UserStatus::Locked });
    let caller = Caller { cid: cid.into(), site_locked: false, status };
    ConnectionTicketCommand::RedeemConnectionTicket { caller, device_key, at: t(at) }
}

fn outcome(state: &ConnectionTicketState, cmd: ConnectionTicketCommand) -> (&'static str, ConnectionTicketState) {
    let events = ConnectionTicket::decide(state, cmd).unwrap();
    let kind = match &events[..] {
        [ConnectionTicketEvent::ConnectionTicketRedeemed { .. }] => "redeemed",
        [ConnectionTicketEvent::ConnectionTicketRefused { .. }] => "refused",
        other => panic!("unexpected {other:?}"),
    };
    (kind, events.iter().fold(state.clone(), ConnectionTicket::evolve))
}

#[test]
fn good_ticket_redeems_once() {
    let (kind, spent) = outcome(&issued(), redeem("alice", 60));
    assert_eq!(kind, "redeemed");
    assert_eq!(ConnectionTicket::decide(&spent, redeem("alice", 61)), Err(SiteError::TicketInvalid));
}

#[test]
fn expired_or_wrong_cid_is_refused_and_spends_the_token() {
    for cmd in [redeem("alice", 2700), redeem("bob", 60), redeem_as("alice", 60, false)] {
        let (kind, spent) = outcome(&issued(), cmd);
        assert_eq!(kind, "refused");
        assert_eq!(spent, ConnectionTicketState::Spent);
    }
}

#[test]
fn a_locked_site_refuses_without_spending_the_token() {
    let device_key = PublicKey::of(&SigningKey::from_bytes(&[9; 32]));
    let caller = Caller { cid: "alice".into(), site_locked: true, status: Some(UserStatus::Active) };
    let cmd = ConnectionTicketCommand::RedeemConnectionTicket { caller, device_key, at: t(60) };
    assert_eq!(ConnectionTicket::decide(&issued(), cmd), Err(SiteError::SiteLocked));
    assert_eq!(outcome(&issued(), redeem("alice", 61)).0, "redeemed", "the token is still good");
}

#[test]
fn unknown_ticket_and_reissue_are_refused() {
    assert_eq!(ConnectionTicket::decide(&Default::default(), redeem("alice", 0)), Err(SiteError::TicketInvalid));
    let again = ConnectionTicketCommand::IssueConnectionTicket {
        token_hash: token_hash("tok"),
        cid: "alice".into(),
        expires_at: t(10),
        at: t(0),
    };
    assert_eq!(ConnectionTicket::decide(&issued(), again), Err(SiteError::TicketExists));
}
