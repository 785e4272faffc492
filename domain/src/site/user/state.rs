//! The User aggregate's state, folded from its events.

use crate::crypto::PublicKey;
use crate::site::error::{SiteError, SiteResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    #[default]
    Active,
    Locked,
    Closed,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Locked => "locked",
            UserStatus::Closed => "closed",
        }
    }
}

/// Contact data as the admin enters it (`email`, `phone`, ...): free-form but bounded.
pub type Contact = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UserState {
    pub cid: String,
    pub name: String,
    pub contact: Contact,
    pub status: UserStatus,
    pub device_keys: BTreeSet<PublicKey>,
    pub registered: bool,
}

impl UserState {
    /// Refuses anything but admin work for a user who is not active.
    pub fn require_active(&self) -> SiteResult<()> {
        if !self.registered {
            return Err(SiteError::UserMissing);
        }
        match self.status {
            UserStatus::Active => Ok(()),
            other => Err(SiteError::UserNotActive(other.as_str())),
        }
    }
}
