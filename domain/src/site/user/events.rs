//! What the User aggregate records.

use super::state::Contact;
use crate::crypto::PublicKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum UserEvent {
    UserRegistered { cid: String, name: String, contact: Contact, at: DateTime<Utc> },
    UserEdited { name: String, contact: Contact, at: DateTime<Utc> },
    UserLocked { at: DateTime<Utc> },
    UserUnlocked { at: DateTime<Utc> },
    UserClosed { at: DateTime<Utc> },
    DeviceKeyRegistered { key: PublicKey, ticket: Option<String>, at: DateTime<Utc> },
}
