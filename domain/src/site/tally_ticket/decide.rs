//! The TallyTicket aggregate's rules.

use super::commands::TallyTicketCommand;
use super::events::TallyTicketEvent;
use super::state::TallyTicketState;
use super::TallyTicket;
use crate::site::error::{SiteError, SiteResult};
use crate::Decider;

impl Decider for TallyTicket {
    type State = TallyTicketState;
    type Command = TallyTicketCommand;
    type Event = TallyTicketEvent;
    type Error = SiteError;

    fn decide(state: &TallyTicketState, command: TallyTicketCommand) -> SiteResult<Vec<TallyTicketEvent>> {
        match (state, command) {
            (
                TallyTicketState::Missing,
                TallyTicketCommand::IssueTallyTicket { caller, token_hash, counterpart, expires_at, at },
            ) => {
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
            (_, TallyTicketCommand::IssueTallyTicket { .. }) => Err(SiteError::TicketExists),
            (
                TallyTicketState::Issued { issuer, counterpart, expires_at },
                TallyTicketCommand::RedeemTallyTicket { caller, tally_id, at },
            ) => {
                caller.require_active()?;
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
                Ok(vec![match reason {
                    Some(reason) => TallyTicketEvent::TallyTicketRefused { reason: reason.into(), at },
                    None => TallyTicketEvent::TallyTicketRedeemed {
                        issuer: issuer.clone(),
                        redeemer,
                        redeemer_site: None,
                        tally_id,
                        at,
                    },
                }])
            }
            (_, TallyTicketCommand::RedeemTallyTicket { caller, .. }) => {
                caller.require_active()?;
                Err(SiteError::TicketInvalid)
            }
            (_, TallyTicketCommand::RedeemTallyTicketFromSite { site_locked: true, .. }) => Err(SiteError::SiteLocked),
            (
                TallyTicketState::Issued { issuer, counterpart, expires_at },
                TallyTicketCommand::RedeemTallyTicketFromSite { redeemer, key_proved, tally_id, at, .. },
            ) => {
                let reason = if !key_proved {
                    Some("the ticket request's Noise key is not the key of the site it names")
                } else if at >= *expires_at {
                    Some("expired")
                } else if counterpart.as_ref().is_some_and(|c| *c != redeemer.address()) {
                    Some("ticket is for another counterpart")
                } else {
                    None
                };
                Ok(vec![match reason {
                    Some(reason) => TallyTicketEvent::TallyTicketRefused { reason: reason.into(), at },
                    None => TallyTicketEvent::TallyTicketRedeemed {
                        issuer: issuer.clone(),
                        redeemer: redeemer.cid,
                        redeemer_site: Some(redeemer.agent),
                        tally_id,
                        at,
                    },
                }])
            }
            // An unknown or spent token writes nothing: a peer cannot grow the log with made-up tickets.
            (_, TallyTicketCommand::RedeemTallyTicketFromSite { .. }) => Err(SiteError::TicketInvalid),
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
