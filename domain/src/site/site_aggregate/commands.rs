//! What is asked of the Site aggregate.

use super::state::SiteIdentity;
use crate::crypto::PublicKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum SiteCommand {
    InitSite {
        identity: SiteIdentity,
        at: DateTime<Utc>,
    },
    RotateSiteKey {
        site_key: PublicKey,
        at: DateTime<Utc>,
    },
    LockSite {
        at: DateTime<Utc>,
    },
    UnlockSite {
        at: DateTime<Utc>,
    },
    SetConfig {
        key: String,
        value: i64,
        at: DateTime<Utc>,
    },
    /// The upgrade rebased every tally with old-layout lift chits (`legacy.rs`).
    RecordLegacyLiftsAdopted {
        tallies: u64,
        through_position: i64,
        at: DateTime<Utc>,
    },
}
