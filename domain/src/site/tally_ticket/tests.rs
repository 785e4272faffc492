//! The TallyTicket aggregate's rules, command by command.

use super::*;
use crate::site::caller::Caller;
use crate::site::error::SiteError;
use crate::site::user::UserStatus;
use crate::Decider;
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
}

fn caller(cid: &str) -> Caller {
    Caller { cid: cid.into(), site_locked: false, status: Some(UserStatus::Active) }
}

fn issued(counterpart: Option<&str>) -> TallyTicketState {
    let cmd = TallyTicketCommand::IssueTallyTicket {
        caller: caller("alice"),
        token_hash: "h".into(),
        counterpart: counterpart.map(str::to_string),
        expires_at: t(100),
        at: t(0),
    };
    TallyTicket::decide(&Default::default(), cmd).unwrap().iter().fold(Default::default(), TallyTicket::evolve)
}

fn redeem(state: &TallyTicketState, who: &str, at: i64) -> Result<bool, SiteError> {
    let cmd = TallyTicketCommand::RedeemTallyTicket { caller: caller(who), tally_id: Uuid::nil(), at: t(at) };
    let events = TallyTicket::decide(state, cmd)?;
    assert_eq!(events.iter().fold(state.clone(), TallyTicket::evolve), TallyTicketState::Spent);
    Ok(matches!(events[..], [TallyTicketEvent::TallyTicketRedeemed { .. }]))
}

#[test]
fn a_ticket_is_redeemed_by_its_counterpart_in_time_and_never_by_its_issuer() {
    assert_eq!(redeem(&issued(None), "bob", 10), Ok(true));
    assert_eq!(redeem(&issued(Some("bob")), "bob", 10), Ok(true));
    assert_eq!(redeem(&issued(Some("bob")), "carol", 10), Ok(false));
    assert_eq!(redeem(&issued(None), "alice", 10), Ok(false));
    assert_eq!(redeem(&issued(None), "bob", 100), Ok(false));
    assert_eq!(redeem(&TallyTicketState::Spent, "bob", 10), Err(SiteError::TicketInvalid));
}

#[test]
fn only_an_active_user_of_an_open_site_issues_or_redeems() {
    let locked = Caller { site_locked: true, ..caller("bob") };
    let cmd = TallyTicketCommand::RedeemTallyTicket { caller: locked, tally_id: Uuid::nil(), at: t(10) };
    assert_eq!(TallyTicket::decide(&issued(None), cmd), Err(SiteError::SiteLocked));
    let closed = Caller { status: Some(UserStatus::Closed), ..caller("alice") };
    let cmd = TallyTicketCommand::IssueTallyTicket {
        caller: closed,
        token_hash: "h".into(),
        counterpart: None,
        expires_at: t(100),
        at: t(0),
    };
    assert_eq!(TallyTicket::decide(&Default::default(), cmd), Err(SiteError::UserNotActive("closed")));
}

fn redeem_from_site(state: &TallyTicketState, cid: &str, key_proved: bool, at: i64) -> Result<bool, SiteError> {
    let redeemer = ForeignParty { cid: cid.into(), agent: "c2l0ZUI".into() };
    let cmd = TallyTicketCommand::RedeemTallyTicketFromSite {
        redeemer,
        key_proved,
        site_locked: false,
        tally_id: Uuid::nil(),
        at: t(at),
    };
    let events = TallyTicket::decide(state, cmd)?;
    assert_eq!(events.iter().fold(state.clone(), TallyTicket::evolve), TallyTicketState::Spent, "spent either way");
    Ok(match &events[..] {
        [TallyTicketEvent::TallyTicketRedeemed { redeemer, redeemer_site, .. }] => {
            assert_eq!((redeemer.as_str(), redeemer_site.as_deref()), (cid, Some("c2l0ZUI")));
            true
        }
        _ => false,
    })
}

#[test]
fn a_user_of_another_site_redeems_through_a_proved_site_key_in_time() {
    assert_eq!(redeem_from_site(&issued(None), "bob", true, 10), Ok(true));
    assert_eq!(redeem_from_site(&issued(Some("bob:c2l0ZUI")), "bob", true, 10), Ok(true));
    assert_eq!(redeem_from_site(&issued(Some("bob")), "bob", true, 10), Ok(false), "a local CID is not bob there");
    assert_eq!(redeem_from_site(&issued(None), "bob", false, 10), Ok(false), "an unproved key spends the ticket");
    assert_eq!(redeem_from_site(&issued(None), "bob", true, 100), Ok(false));
}

#[test]
fn an_unknown_or_spent_ticket_from_another_site_writes_nothing() {
    for state in [TallyTicketState::Missing, TallyTicketState::Spent] {
        assert_eq!(redeem_from_site(&state, "bob", true, 10), Err(SiteError::TicketInvalid));
    }
    let locked = TallyTicketCommand::RedeemTallyTicketFromSite {
        redeemer: ForeignParty { cid: "bob".into(), agent: "c2l0ZUI".into() },
        key_proved: true,
        site_locked: true,
        tally_id: Uuid::nil(),
        at: t(10),
    };
    assert_eq!(TallyTicket::decide(&issued(None), locked), Err(SiteError::SiteLocked));
}
