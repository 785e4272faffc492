//! The ConnectionTicket aggregate's rules.

use super::commands::ConnectionTicketCommand;
use super::events::ConnectionTicketEvent;
use super::state::ConnectionTicketState;
use super::ConnectionTicket;
use crate::crypto::blake2b_hex;
use crate::site::error::{SiteError, SiteResult};
use crate::Decider;

/// The stream and the log know a ticket only by the hash of its token, so reading the log does not
/// reveal redeemable tokens.
pub fn token_hash(token: &str) -> String {
    blake2b_hex(token.as_bytes())
}

impl Decider for ConnectionTicket {
    type State = ConnectionTicketState;
    type Command = ConnectionTicketCommand;
    type Event = ConnectionTicketEvent;
    type Error = SiteError;

    /// A redemption of an issued ticket always yields an event (redeemed or refused), so the token is spent
    /// either way; the command side answers "invalid ticket" for both a refusal and an error.
    fn decide(
        state: &ConnectionTicketState,
        command: ConnectionTicketCommand,
    ) -> SiteResult<Vec<ConnectionTicketEvent>> {
        match (state, command) {
            (
                ConnectionTicketState::Missing,
                ConnectionTicketCommand::IssueConnectionTicket { token_hash, cid, expires_at, at },
            ) => {
                if expires_at <= at {
                    return Err(SiteError::Invalid("ticket expiry must be in the future".into()));
                }
                Ok(vec![ConnectionTicketEvent::ConnectionTicketIssued { token_hash, cid, expires_at, at }])
            }
            (_, ConnectionTicketCommand::IssueConnectionTicket { .. }) => Err(SiteError::TicketExists),
            (
                ConnectionTicketState::Issued { cid, expires_at },
                ConnectionTicketCommand::RedeemConnectionTicket { caller, device_key, at },
            ) => {
                if caller.site_locked {
                    return Err(SiteError::SiteLocked); // the token stays unspent until the site opens again
                }
                let claimed = caller.cid.clone();
                let reason = if at >= *expires_at {
                    Some("expired")
                } else if claimed != *cid {
                    Some("wrong CID")
                } else if caller.require_active().is_err() {
                    Some("user not active")
                } else {
                    None
                };
                Ok(vec![match reason {
                    Some(reason) => ConnectionTicketEvent::ConnectionTicketRefused { reason: reason.into(), at },
                    None => ConnectionTicketEvent::ConnectionTicketRedeemed { cid: claimed, device_key, at },
                }])
            }
            (_, ConnectionTicketCommand::RedeemConnectionTicket { caller, .. }) if caller.site_locked => {
                Err(SiteError::SiteLocked)
            }
            (_, ConnectionTicketCommand::RedeemConnectionTicket { .. }) => Err(SiteError::TicketInvalid),
        }
    }

    fn evolve(_: ConnectionTicketState, event: &ConnectionTicketEvent) -> ConnectionTicketState {
        match event {
            ConnectionTicketEvent::ConnectionTicketIssued { cid, expires_at, .. } => {
                ConnectionTicketState::Issued { cid: cid.clone(), expires_at: *expires_at }
            }
            ConnectionTicketEvent::ConnectionTicketRedeemed { .. }
            | ConnectionTicketEvent::ConnectionTicketRefused { .. } => ConnectionTicketState::Spent,
        }
    }
}
