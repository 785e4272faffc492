//! What is asked of the User aggregate.

use super::state::Contact;
use crate::crypto::PublicKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum UserCommand {
    RegisterUser {
        cid: String,
        name: String,
        contact: Contact,
        at: DateTime<Utc>,
    },
    EditUser {
        name: Option<String>,
        contact: Option<Contact>,
        at: DateTime<Utc>,
    },
    LockUser {
        at: DateTime<Utc>,
    },
    UnlockUser {
        at: DateTime<Utc>,
    },
    CloseUser {
        at: DateTime<Utc>,
    },
    /// From a redeemed connection ticket (`ticket` = its token hash) or from a dump being loaded (`ticket` = None).
    RegisterDeviceKey {
        key: PublicKey,
        ticket: Option<String>,
        at: DateTime<Utc>,
    },
}
