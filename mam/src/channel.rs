//! The publishing side: the channel key, the running index, the epoch and its side key.

use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::grant::Grant;
use crate::keys::{Address, ProviderPublicKey, SideKey};
use crate::message::{Kind, SealedMessage, Unsealed};
use crate::rotation::{encode_rotation, WrappedKey, MAX_PROVIDERS};
use crate::MamError;

pub struct Channel {
    signing: SigningKey,
    next_index: u64,
    epoch: u32,
    side_key: SideKey,
}

/// Everything a device must keep to go on publishing after a restart (secret: store it 0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    /// Hex of the 32-byte Ed25519 seed.
    pub signing_seed: String,
    pub next_index: u64,
    pub epoch: u32,
    /// Hex of the 32-byte side key of `epoch`.
    pub side_key: String,
}

impl Channel {
    pub fn create(rng: &mut (impl RngCore + CryptoRng)) -> Channel {
        Channel { signing: SigningKey::generate(rng), next_index: 0, epoch: 0, side_key: SideKey::generate(rng) }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The address the next message will have.
    pub fn next_address(&self) -> Address {
        self.side_key.address(&self.public_key(), self.next_index)
    }

    /// Seals `payload` as the next message.
    pub fn publish(&mut self, payload: &[u8], rng: &mut (impl RngCore + CryptoRng)) -> SealedMessage {
        let channel = self.public_key();
        let next_address = self.side_key.address(&channel, self.next_index + 1);
        self.seal(Kind::Data, payload, next_address, rng)
    }

    fn seal(
        &mut self,
        kind: Kind,
        payload: &[u8],
        next_address: Address,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> SealedMessage {
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let message = SealedMessage::seal(
            &self.signing,
            &self.side_key,
            Unsealed {
                kind,
                index: self.next_index,
                epoch: self.epoch,
                address: self.next_address(),
                next_address,
                nonce,
                payload,
            },
        );
        self.next_index += 1;
        message
    }

    /// Gives `provider` the current side key, to read from the next message on.
    pub fn grant(&self, provider: &ProviderPublicKey, rng: &mut (impl RngCore + CryptoRng)) -> Result<Grant, MamError> {
        let wrapped = WrappedKey::wrap(provider, &self.public_key(), self.epoch, &self.side_key, rng)?;
        Ok(Grant::new(&self.signing, self.next_index, self.epoch, wrapped))
    }

    /// Starts a new epoch with a fresh side key and returns the KEY_ROTATION message (sealed under
    /// the old key) that hands the new key to each of `remaining`. Anyone not in `remaining` can
    /// neither find nor read what follows.
    pub fn rotate(
        &mut self,
        remaining: &[ProviderPublicKey],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<SealedMessage, MamError> {
        if remaining.len() > MAX_PROVIDERS {
            return Err(MamError::Malformed("too many providers for one rotation"));
        }
        let channel = self.public_key();
        let new_epoch = self.epoch.checked_add(1).ok_or(MamError::Malformed("epoch counter exhausted"))?;
        let new_key = SideKey::generate(rng);
        let wrapped = remaining
            .iter()
            .map(|p| WrappedKey::wrap(p, &channel, new_epoch, &new_key, rng))
            .collect::<Result<Vec<_>, _>>()?;
        let message = self.seal(Kind::KeyRotation, &encode_rotation(new_epoch, &wrapped), Address::UNDER_NEW_KEY, rng);
        self.epoch = new_epoch;
        self.side_key = new_key;
        Ok(message)
    }

    pub fn state(&self) -> ChannelState {
        ChannelState {
            signing_seed: hex::encode(self.signing.to_bytes()),
            next_index: self.next_index,
            epoch: self.epoch,
            side_key: hex::encode(self.side_key.to_bytes()),
        }
    }

    pub fn from_state(state: &ChannelState) -> Result<Channel, MamError> {
        let bytes32 = |s: &str| -> Result<[u8; 32], MamError> {
            hex::decode(s)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or(MamError::Malformed("channel state key is not 32 hex bytes"))
        };
        Ok(Channel {
            signing: SigningKey::from_bytes(&bytes32(&state.signing_seed)?),
            next_index: state.next_index,
            epoch: state.epoch,
            side_key: SideKey::from_bytes(bytes32(&state.side_key)?),
        })
    }
}
