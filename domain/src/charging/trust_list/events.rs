//! What the TrustList aggregate records.

use crate::charging::crypto::{PublicKey, Uid};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// Events are serialized once, not held in bulk in memory, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum TrustListEvent {
    AuthorityTrusted {
        authority_uid: Uid,
        #[serde(with = "crate::crypto::hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        public_key: PublicKey,
        alias: String,
        at: DateTime<Utc>,
    },
    AuthorityDistrusted {
        authority_uid: Uid,
        at: DateTime<Utc>,
    },
}
