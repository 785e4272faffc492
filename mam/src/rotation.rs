//! Wrapping a side key to a provider with HPKE (RFC 9180), and the KEY_ROTATION payload.
//!
//! HPKE mode Base, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305;
//! info = "notch-mam side key v1" | channel public key (32) | epoch of the key (u32 BE);
//! aad = the provider's X25519 public key (32); plaintext = the 32-byte side key.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};

use crate::keys::{HpkeKem, ProviderKeyPair, ProviderPublicKey, SideKey};
use crate::MamError;

const INFO_PREFIX: &[u8] = b"notch-mam side key v1";
/// 32-byte side key plus the 16-byte Poly1305 tag.
const WRAPPED_LEN: usize = 48;
/// Provider key, encapsulated key, wrapped side key.
pub(crate) const WRAPPED_KEY_LEN: usize = 32 + 32 + WRAPPED_LEN;
/// A rotation addresses at most this many providers (bounds the message size to ~110 KiB).
pub const MAX_PROVIDERS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrappedKey {
    pub provider: ProviderPublicKey,
    pub encapped: [u8; 32],
    pub ciphertext: [u8; WRAPPED_LEN],
}

fn info(channel: &[u8; 32], epoch: u32) -> Vec<u8> {
    [INFO_PREFIX, channel, &epoch.to_be_bytes()].concat()
}

impl WrappedKey {
    pub fn wrap(
        provider: &ProviderPublicKey,
        channel: &[u8; 32],
        epoch: u32,
        key: &SideKey,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<WrappedKey, MamError> {
        let (encapped, ciphertext) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, HpkeKem, _>(
            &OpModeS::Base,
            &provider.hpke()?,
            &info(channel, epoch),
            &key.0,
            &provider.0,
            rng,
        )
        .map_err(|e| MamError::Hpke(e.to_string()))?;
        Ok(WrappedKey {
            provider: *provider,
            encapped: encapped.to_bytes().into(),
            ciphertext: ciphertext.try_into().map_err(|_| MamError::Hpke("unexpected ciphertext length".into()))?,
        })
    }

    pub fn unwrap(&self, pair: &ProviderKeyPair, channel: &[u8; 32], epoch: u32) -> Result<SideKey, MamError> {
        let encapped = <HpkeKem as hpke::Kem>::EncappedKey::from_bytes(&self.encapped)
            .map_err(|e| MamError::Hpke(e.to_string()))?;
        let key = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, HpkeKem>(
            &OpModeR::Base,
            &pair.secret,
            &encapped,
            &info(channel, epoch),
            &self.ciphertext,
            &pair.public.0,
        )
        .map_err(|e| MamError::Hpke(e.to_string()))?;
        Ok(SideKey(key.try_into().map_err(|_| MamError::Hpke("side key is not 32 bytes".into()))?))
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.provider.0);
        out.extend_from_slice(&self.encapped);
        out.extend_from_slice(&self.ciphertext);
    }

    pub fn read(bytes: &[u8]) -> Result<WrappedKey, MamError> {
        if bytes.len() != WRAPPED_KEY_LEN {
            return Err(MamError::Malformed("wrapped key has the wrong length"));
        }
        Ok(WrappedKey {
            provider: ProviderPublicKey(bytes[..32].try_into().expect("32 bytes")),
            encapped: bytes[32..64].try_into().expect("32 bytes"),
            ciphertext: bytes[64..].try_into().expect("48 bytes"),
        })
    }
}

/// KEY_ROTATION plaintext: new epoch (u32 BE) | count (u16 BE) | count wrapped keys (112 each:
/// provider public key | HPKE encapsulated key | wrapped side key).
pub(crate) fn encode_rotation(new_epoch: u32, wrapped: &[WrappedKey]) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + wrapped.len() * WRAPPED_KEY_LEN);
    out.extend_from_slice(&new_epoch.to_be_bytes());
    out.extend_from_slice(&(wrapped.len() as u16).to_be_bytes());
    for w in wrapped {
        w.write(&mut out);
    }
    out
}

pub(crate) fn decode_rotation(payload: &[u8]) -> Result<(u32, Vec<WrappedKey>), MamError> {
    if payload.len() < 6 {
        return Err(MamError::Malformed("rotation payload truncated"));
    }
    let epoch = u32::from_be_bytes(payload[..4].try_into().expect("4 bytes"));
    let count = u16::from_be_bytes(payload[4..6].try_into().expect("2 bytes")) as usize;
    let body = &payload[6..];
    if count > MAX_PROVIDERS || body.len() != count * WRAPPED_KEY_LEN {
        return Err(MamError::Malformed("rotation payload has the wrong length"));
    }
    let keys = body.chunks_exact(WRAPPED_KEY_LEN).map(WrappedKey::read).collect::<Result<_, _>>()?;
    Ok((epoch, keys))
}
