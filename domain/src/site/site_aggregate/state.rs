//! The Site aggregate's state, folded from its events.

use crate::crypto::PublicKey;
use crate::site::config::SiteConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteState {
    pub site: Option<SiteIdentity>,
    pub config: SiteConfig,
    pub locked: bool,
    /// Whether the upgrade adopted the lift chits of the log's old layout (`legacy.rs`).
    pub legacy_lifts_adopted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SiteIdentity {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Public half of the site key (ed25519). The private half never enters the log.
    pub site_key: PublicKey,
}

impl SiteIdentity {
    /// `cid:agent@host:port`, agent = the site public key in base64url.
    pub fn chip_address(&self, cid: &str) -> String {
        format!("{cid}:{}@{}:{}", self.site_key, self.host, self.port)
    }
}
