//! The TallyTicket aggregate's rules. `decide` is the table of contents: one function per command.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::commands::{ForeignParty, TallyTicketCommand};
use super::events::TallyTicketEvent;
use super::state::TallyTicketState;
use super::TallyTicket;
use crate::site::caller::Caller;
use crate::site::error::{SiteError, SiteResult};
use crate::Decider;

impl Decider for TallyTicket {
    type State = TallyTicketState;
    type Command = TallyTicketCommand;
    type Event = TallyTicketEvent;
    type Error = SiteError;

    fn decide(state: &TallyTicketState, command: TallyTicketCommand) -> SiteResult<Vec<TallyTicketEvent>> {
        match command {
            TallyTicketCommand::IssueTallyTicket { caller, token_hash, counterpart, expires_at, at } => {
                issue(state, caller, token_hash, counterpart, expires_at, at)
            }
            TallyTicketCommand::RedeemTallyTicket { caller, tally_id, at } => redeem(state, caller, tally_id, at),
            TallyTicketCommand::RedeemTallyTicketFromSite { redeemer, key_proved, site_locked, tally_id, at } => {
                if site_locked {
                    return Err(SiteError::SiteLocked);
                }
                redeem_from_site(state, redeemer, key_proved, tally_id, at)
            }
        }
    }

    fn evolve(_: TallyTicketState, event: &TallyTicketEvent) -> TallyTicketState {
        match event {
            TallyTicketEvent::TallyTicketIssued { issuer, counterpart, expires_at, .. } => TallyTicketState::Issued {
                issuer: issuer.clone(),
                counterpart: counterpart.clone(),
                expires_at: *expires_at,
            },
            TallyTicketEvent::TallyTicketRedeemed { .. } | TallyTicketEvent::TallyTicketRefused { .. } => {
                TallyTicketState::Spent
            }
        }
    }
}

fn issue(
    state: &TallyTicketState,
    caller: Caller,
    token_hash: String,
    counterpart: Option<String>,
    expires_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> SiteResult<Vec<TallyTicketEvent>> {
    if *state != TallyTicketState::Missing {
        return Err(SiteError::TicketExists);
    }
    caller.require_active()?;
    let issuer = caller.cid;
    if expires_at <= at {
        return Err(SiteError::Invalid("ticket expiry must be in the future".into()));
    }
    if counterpart.as_deref() == Some(issuer.as_str()) {
        return Err(SiteError::Invalid("a tally needs two different users".into()));
    }
    Ok(vec![TallyTicketEvent::TallyTicketIssued { token_hash, issuer, counterpart, expires_at, at }])
}

fn redeem(
    state: &TallyTicketState,
    caller: Caller,
    tally_id: Uuid,
    at: DateTime<Utc>,
) -> SiteResult<Vec<TallyTicketEvent>> {
    caller.require_active()?;
    let TallyTicketState::Issued { issuer, counterpart, expires_at } = state else {
        return Err(SiteError::TicketInvalid);
    };
    let redeemer = caller.cid;
    let reason = if at >= *expires_at {
        Some("expired")
    } else if redeemer == *issuer {
        Some("issuer cannot redeem own ticket")
    } else if counterpart.as_ref().is_some_and(|c| *c != redeemer) {
        Some("ticket is for another counterpart")
    } else {
        None
    };
    Ok(vec![verdict(reason, issuer, redeemer, None, tally_id, at)])
}

/// An unknown or spent token writes nothing: a peer cannot grow the log with made-up tickets.
fn redeem_from_site(
    state: &TallyTicketState,
    redeemer: ForeignParty,
    key_proved: bool,
    tally_id: Uuid,
    at: DateTime<Utc>,
) -> SiteResult<Vec<TallyTicketEvent>> {
    let TallyTicketState::Issued { issuer, counterpart, expires_at } = state else {
        return Err(SiteError::TicketInvalid);
    };
    let reason = if !key_proved {
        Some("the ticket request's Noise key is not the key of the site it names")
    } else if at >= *expires_at {
        Some("expired")
    } else if counterpart.as_ref().is_some_and(|c| *c != redeemer.address()) {
        Some("ticket is for another counterpart")
    } else {
        None
    };
    Ok(vec![verdict(reason, issuer, redeemer.cid, Some(redeemer.agent), tally_id, at)])
}

/// Redeemed, or refused for `reason`: either spends the ticket.
fn verdict(
    reason: Option<&str>,
    issuer: &str,
    redeemer: String,
    redeemer_site: Option<String>,
    tally_id: Uuid,
    at: DateTime<Utc>,
) -> TallyTicketEvent {
    match reason {
        Some(reason) => TallyTicketEvent::TallyTicketRefused { reason: reason.into(), at },
        None => {
            TallyTicketEvent::TallyTicketRedeemed { issuer: issuer.to_owned(), redeemer, redeemer_site, tally_id, at }
        }
    }
}
