//! What the Site aggregate records.

use super::state::SiteIdentity;
use crate::crypto::PublicKey;
use crate::site::config::SiteConfig;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum SiteEvent {
    SiteInitialised { identity: SiteIdentity, config: SiteConfig, at: DateTime<Utc> },
    SiteKeyRotated { site_key: PublicKey, at: DateTime<Utc> },
    SiteLocked { at: DateTime<Utc> },
    SiteUnlocked { at: DateTime<Utc> },
    SiteConfigChanged { key: String, value: i64, at: DateTime<Utc> },
    LegacyLiftsAdopted { tallies: u64, through_position: i64, at: DateTime<Utc> },
}
