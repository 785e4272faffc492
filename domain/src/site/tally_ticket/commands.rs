//! What is asked of the TallyTicket aggregate.

use crate::site::caller::Caller;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// A user of another site presents the ticket through its site's peer link (an IK ticket request).
    /// `key_proved` says whether the request's Noise static key is the key of the site it names: when it is not,
    /// the ticket is spent all the same and refused.
    RedeemTallyTicketFromSite {
        redeemer: ForeignParty,
        key_proved: bool,
        /// A locked site accepts nothing but admin work.
        site_locked: bool,
        tally_id: Uuid,
        at: DateTime<Utc>,
    },
}

/// A user of another site: its CID there and that site's agent id (base64url of its site key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ForeignParty {
    pub cid: String,
    pub agent: String,
}

impl ForeignParty {
    /// How a ticket's `counterpart` names this party: `cid:agent`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.cid, self.agent)
    }
}
