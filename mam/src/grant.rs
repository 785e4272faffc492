//! Handing a provider access: the channel's next index and the current side key wrapped to the
//! provider, signed by the channel key.
//!
//! ```text
//! signed = "NMAMGRNT" | version 0x01 | channel public key (32) | next index (u64 BE)
//!        | epoch (u32 BE) | wrapped key (112: provider key | encapped key | wrapped side key)
//! bytes  = signed | Ed25519 signature (64)
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::rotation::{WrappedKey, WRAPPED_KEY_LEN};
use crate::{MamError, ProviderPublicKey};

const MAGIC: &[u8; 8] = b"NMAMGRNT";
const VERSION: u8 = 1;
const SIGNED_LEN: usize = 8 + 1 + 32 + 8 + 4 + WRAPPED_KEY_LEN;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub channel: [u8; 32],
    /// Where the provider starts reading. This is where its walk begins, not a cryptographic
    /// barrier: the side key also opens the earlier messages of the same epoch, so an owner who
    /// wants to keep history from a new provider rotates first and then grants.
    pub next_index: u64,
    pub epoch: u32,
    pub(crate) wrapped: WrappedKey,
    pub signature: [u8; 64],
}

impl Grant {
    pub(crate) fn new(signing: &SigningKey, next_index: u64, epoch: u32, wrapped: WrappedKey) -> Grant {
        let mut grant =
            Grant { channel: signing.verifying_key().to_bytes(), next_index, epoch, wrapped, signature: [0; 64] };
        grant.signature = signing.sign(&grant.signed_bytes()).to_bytes();
        grant
    }

    pub fn provider(&self) -> ProviderPublicKey {
        self.wrapped.provider
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIGNED_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.channel);
        out.extend_from_slice(&self.next_index.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        self.wrapped.write(&mut out);
        out
    }

    pub fn verify(&self) -> Result<(), MamError> {
        let key = VerifyingKey::from_bytes(&self.channel).map_err(|_| MamError::BadSignature)?;
        key.verify_strict(&self.signed_bytes(), &Signature::from_bytes(&self.signature))
            .map_err(|_| MamError::BadSignature)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Grant, MamError> {
        if bytes.len() != SIGNED_LEN + 64 || &bytes[..8] != MAGIC || bytes[8] != VERSION {
            return Err(MamError::Malformed("not a grant"));
        }
        let at = |from: usize, len: usize| &bytes[from..from + len];
        Ok(Grant {
            channel: at(9, 32).try_into().expect("32 bytes"),
            next_index: u64::from_be_bytes(at(41, 8).try_into().expect("8 bytes")),
            epoch: u32::from_be_bytes(at(49, 4).try_into().expect("4 bytes")),
            wrapped: WrappedKey::read(at(53, WRAPPED_KEY_LEN))?,
            signature: at(SIGNED_LEN, 64).try_into().expect("64 bytes"),
        })
    }
}
