//! The tally ticket (stream `tallyticket-<token hash>`): a user invites someone to open a tally. It carries
//! the issuer's CHIP address, a one-time token, an expiry, the site public key and optionally the one CID
//! allowed to redeem it. Redeeming it opens tally negotiation (a draft tally); the token is spent either way.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::Caller;
use super::error::{SiteError, SiteResult};
use crate::{Aggregate, Decider};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TallyTicketState {
    #[default]
    Missing,
    Issued {
        issuer: String,
        counterpart: Option<String>,
        expires_at: DateTime<Utc>,
    },
    Spent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum TallyTicketCommand {
    /// The caller invites `counterpart` (or anyone) to open a tally with it.
    IssueTallyTicket {
        caller: Caller,
        token_hash: String,
        counterpart: Option<String>,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The caller accepts the invitation: tally `tally_id` is drafted between the two.
    RedeemTallyTicket { caller: Caller, tally_id: Uuid, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum TallyTicketEvent {
    TallyTicketIssued {
        token_hash: String,
        issuer: String,
        counterpart: Option<String>,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    TallyTicketRedeemed {
        issuer: String,
        redeemer: String,
        tally_id: Uuid,
        at: DateTime<Utc>,
    },
    TallyTicketRefused {
        reason: String,
        at: DateTime<Utc>,
    },
}

pub struct TallyTicket;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "tallyticket-";

impl Aggregate for TallyTicket {
    /// A tally ticket is named by the hash of its token.
    type Id = str;

    fn stream_id(token_hash: &str) -> String {
        format!("{STREAM_PREFIX}{token_hash}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}

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
                    None => TallyTicketEvent::TallyTicketRedeemed { issuer: issuer.clone(), redeemer, tally_id, at },
                }])
            }
            (_, TallyTicketCommand::RedeemTallyTicket { caller, .. }) => {
                caller.require_active()?;
                Err(SiteError::TicketInvalid)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::user::UserStatus;

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
}
