//! Who this site is on the link, and where a peer is.

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// This site on the link: its agent id, the address it tells peers, and its Noise static secret.
pub struct SiteIdentity {
    pub agent: String,
    pub host: String,
    pub port: u16,
    noise_secret: Zeroizing<[u8; 32]>,
}

impl SiteIdentity {
    pub fn new(site_key: &SigningKey, host: impl Into<String>, port: u16) -> SiteIdentity {
        SiteIdentity {
            agent: peers::agent_id(&site_key.verifying_key()),
            host: host.into(),
            port,
            noise_secret: Zeroizing::new(peers::noise_secret_key(site_key)),
        }
    }

    pub fn noise_secret(&self) -> &[u8; 32] {
        &self.noise_secret
    }

    pub fn address(&self) -> PeerAddress {
        PeerAddress { agent: self.agent.clone(), host: self.host.clone(), port: self.port }
    }
}

/// A site as MyCHIPs addresses it (`to` and `from` of a message, without the user's `cuid`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeerAddress {
    pub agent: String,
    pub host: String,
    pub port: u16,
}

impl PeerAddress {
    /// The peer's Noise static key, computed from its agent id (never looked up).
    pub fn noise_key(&self) -> Result<[u8; 32], String> {
        noise_key_of(&self.agent)
    }
}

pub fn noise_key_of(agent: &str) -> Result<[u8; 32], String> {
    peers::parse_agent_id(agent).map(|key| peers::noise_public_key(&key)).map_err(|err| err.to_string())
}
