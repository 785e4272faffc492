//! The user connection ticket (stream `ticket-<token hash>`): the admin issues it for a CID; a device
//! redeems it once with token, CID and its own public key. The token is spent whatever the outcome, and a
//! refusal never says which check failed.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::error::{SiteError, SiteResult};
use crate::crypto::{blake2b_hex, PublicKey};
use crate::{Aggregate, Decider};

/// The stream and the log know a ticket only by the hash of its token, so reading the log does not
/// reveal redeemable tokens.
pub fn token_hash(token: &str) -> String {
    blake2b_hex(token.as_bytes())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConnectionTicketState {
    #[default]
    Missing,
    Issued {
        cid: String,
        expires_at: DateTime<Utc>,
    },
    Spent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum ConnectionTicketCommand {
    IssueConnectionTicket {
        token_hash: String,
        cid: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The caller claims the ticket for its CID and registers `device_key`.
    RedeemConnectionTicket {
        caller: Caller,
        device_key: PublicKey,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum ConnectionTicketEvent {
    ConnectionTicketIssued {
        token_hash: String,
        cid: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    ConnectionTicketRedeemed {
        cid: String,
        device_key: PublicKey,
        at: DateTime<Utc>,
    },
    /// Kept for the audit trail; `reason` is for the operator, the device only hears "invalid ticket".
    ConnectionTicketRefused {
        reason: String,
        at: DateTime<Utc>,
    },
}

pub struct ConnectionTicket;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "ticket-";

impl Aggregate for ConnectionTicket {
    /// A connection ticket is named by the hash of its token (the token itself is never stored).
    type Id = str;

    fn stream_id(token_hash: &str) -> String {
        format!("{STREAM_PREFIX}{token_hash}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::user::UserStatus;
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
}
