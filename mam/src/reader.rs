//! The reading side: follows a channel from a root, verifying and decrypting each message and
//! following key rotations addressed to it.

use crate::grant::Grant;
use crate::keys::{Address, ProviderKeyPair, SideKey};
use crate::message::{Kind, SealedMessage};
use crate::rotation::decode_rotation;
use crate::MamError;

pub struct Reader {
    channel: [u8; 32],
    next_index: u64,
    epoch: u32,
    side_key: SideKey,
    provider: Option<ProviderKeyPair>,
    revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub index: u64,
    pub epoch: u32,
    pub kind: Kind,
    /// The plaintext; for a KEY_ROTATION the rotation record.
    pub payload: Vec<u8>,
}

/// The result of [`Reader::walk`]: what was opened, and why the walk stopped if not simply
/// because no message exists yet at the next address.
#[derive(Debug)]
pub struct Walk {
    pub opened: Vec<Opened>,
    pub stopped: Option<MamError>,
}

impl Reader {
    /// A provider's reader: checks the grant's signature and that it names `channel`, and
    /// unwraps the side key with the provider's secret.
    pub fn from_grant(channel: &[u8; 32], grant: &Grant, provider: ProviderKeyPair) -> Result<Reader, MamError> {
        if &grant.channel != channel {
            return Err(MamError::ForeignChannel);
        }
        grant.verify()?;
        if grant.provider() != provider.public {
            return Err(MamError::Hpke("grant is for another provider".into()));
        }
        let side_key = grant.wrapped.unwrap(&provider, channel, grant.epoch)?;
        Ok(Reader {
            channel: *channel,
            next_index: grant.next_index,
            epoch: grant.epoch,
            side_key,
            provider: Some(provider),
            revoked: false,
        })
    }

    /// A reader that holds a side key directly (the owner). It cannot follow rotations.
    pub fn with_side_key(channel: [u8; 32], next_index: u64, epoch: u32, side_key: SideKey) -> Reader {
        Reader { channel, next_index, epoch, side_key, provider: None, revoked: false }
    }

    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Where the next message is, or `None` once a rotation left this reader out.
    pub fn next_address(&self) -> Option<Address> {
        (!self.revoked).then(|| self.side_key.address(&self.channel, self.next_index))
    }

    /// Verifies and decrypts the next message of the chain.
    pub fn open(&mut self, message: &SealedMessage) -> Result<Opened, MamError> {
        if self.revoked {
            return Err(MamError::Revoked);
        }
        if message.channel != self.channel {
            return Err(MamError::ForeignChannel);
        }
        message.verify_signature()?;
        if message.index != self.next_index {
            return Err(MamError::OutOfOrder { expected: self.next_index, got: message.index });
        }
        if message.epoch != self.epoch {
            return Err(MamError::WrongEpoch { expected: self.epoch, got: message.epoch });
        }
        if Some(message.address) != self.next_address() {
            return Err(MamError::WrongAddress);
        }
        let payload = message.decrypt(&self.side_key)?;
        if message.kind == Kind::KeyRotation {
            self.follow_rotation(&payload)?;
        }
        self.next_index += 1;
        Ok(Opened { index: message.index, epoch: message.epoch, kind: message.kind, payload })
    }

    fn follow_rotation(&mut self, payload: &[u8]) -> Result<(), MamError> {
        let (new_epoch, wrapped) = decode_rotation(payload)?;
        if Some(new_epoch) != self.epoch.checked_add(1) {
            return Err(MamError::Malformed("rotation does not start the next epoch"));
        }
        let mine = self.provider.as_ref().and_then(|p| wrapped.iter().find(|w| w.provider == p.public).map(|w| (p, w)));
        let Some((pair, wrapped)) = mine else {
            self.revoked = true;
            return Err(MamError::Revoked);
        };
        self.side_key = wrapped.unwrap(pair, &self.channel, new_epoch)?;
        self.epoch = new_epoch;
        Ok(())
    }

    /// Follows the chain: fetches the message at the next address, opens it, repeats, at most
    /// `limit` times. Stops at the first address with nothing there, or at the first error.
    pub fn walk(&mut self, mut fetch: impl FnMut(&Address) -> Option<SealedMessage>, limit: usize) -> Walk {
        let mut opened = Vec::new();
        for _ in 0..limit {
            let Some(address) = self.next_address() else {
                return Walk { opened, stopped: Some(MamError::Revoked) };
            };
            let Some(message) = fetch(&address) else {
                break;
            };
            match self.open(&message) {
                Ok(o) => opened.push(o),
                Err(e) => return Walk { opened, stopped: Some(e) },
            }
        }
        Walk { opened, stopped: None }
    }
}
