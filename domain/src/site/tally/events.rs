//! What the tally stream records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::body::{Side, SignedTerms};
use crate::crypto::Signature;
use crate::site::chit::Chit;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum TallyEvent {
    TallyDrafted {
        tally_id: Uuid,
        parties: [String; 2],
        at: DateTime<Utc>,
    },
    TallyOffered {
        body: SignedTerms,
        by: Side,
        signature: Signature,
        at: DateTime<Utc>,
    },
    TallyOpened {
        by: Side,
        signature: Signature,
        at: DateTime<Utc>,
    },
    TallyVoided {
        by: Side,
        reason: String,
        at: DateTime<Utc>,
    },
    TallyClosing {
        by: Side,
        at: DateTime<Utc>,
    },
    TallyClosed {
        at: DateTime<Utc>,
    },
    /// A party chit (signed by its issuer) or a lift chit (no party signature: the `LiftCommitted` event
    /// named in `chit.reference` authorises it, appended in the same atomic append).
    ChitIssued {
        chit: Chit,
        signature: Option<Signature>,
        hash: String,
        at: DateTime<Utc>,
    },
    /// The chain's state once the lift chits that the log's old layout kept in the shared `lifts` stream are
    /// counted (`legacy.rs`): appended once per such tally by the upgrade, after which the stream alone is whole.
    TallyRebased {
        balance_milli: i64,
        chit_count: u64,
        head_hash: String,
        /// How many lift chits of the `lifts` stream it adopts, and the position of the last one.
        legacy_chits: u64,
        through_position: i64,
        at: DateTime<Utc>,
    },
}
