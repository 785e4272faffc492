//! The sealed message and its exact bytes.
//!
//! ```text
//! header (138 bytes) = "NMAM" | version 0x01 | kind (0x00 data, 0x01 key rotation)
//!                    | channel public key (32) | index (u64 BE) | epoch (u32 BE)
//!                    | address (32) | next address (32) | nonce (24)
//! ciphertext         = XChaCha20-Poly1305(epoch encryption key, nonce, payload, aad = header)
//! signature          = Ed25519(channel key, header | ciphertext)
//! wire               = header | ciphertext length (u32 BE) | ciphertext | signature (64)
//! ```

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::batch::{self, ChannelKey};
use crate::keys::{Address, SideKey};
use crate::MamError;

const MAGIC: &[u8; 4] = b"NMAM";
const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 4 + 1 + 1 + 32 + 8 + 4 + 32 + 32 + 24;
/// Payloads above this are refused: a telegram is a few KiB, a rotation a few hundred bytes.
pub const MAX_CIPHERTEXT_LEN: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Data,
    KeyRotation,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Data => 0,
            Kind::KeyRotation => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedMessage {
    pub kind: Kind,
    pub channel: [u8; 32],
    pub index: u64,
    pub epoch: u32,
    pub address: Address,
    pub next_address: Address,
    pub nonce: [u8; 24],
    pub ciphertext: Vec<u8>,
    pub signature: [u8; 64],
}

pub(crate) struct Unsealed<'a> {
    pub kind: Kind,
    pub index: u64,
    pub epoch: u32,
    pub address: Address,
    pub next_address: Address,
    pub nonce: [u8; 24],
    pub payload: &'a [u8],
}

impl SealedMessage {
    pub(crate) fn seal(signing: &SigningKey, side_key: &SideKey, m: Unsealed<'_>) -> SealedMessage {
        let channel = signing.verifying_key().to_bytes();
        let mut message = SealedMessage {
            kind: m.kind,
            channel,
            index: m.index,
            epoch: m.epoch,
            address: m.address,
            next_address: m.next_address,
            nonce: m.nonce,
            ciphertext: Vec::new(),
            signature: [0; 64],
        };
        let header = message.header();
        let cipher = XChaCha20Poly1305::new(&side_key.encryption_key(&channel, m.epoch).into());
        message.ciphertext = cipher
            .encrypt(XNonce::from_slice(&m.nonce), Payload { msg: m.payload, aad: &header })
            .expect("XChaCha20-Poly1305 encrypts any payload below 256 GiB");
        message.signature = signing.sign(&message.signed_bytes()).to_bytes();
        message
    }

    pub fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let mut at = 0;
        for part in [
            &MAGIC[..],
            &[VERSION, self.kind.byte()],
            &self.channel,
            &self.index.to_be_bytes(),
            &self.epoch.to_be_bytes(),
            &self.address.0,
            &self.next_address.0,
            &self.nonce,
        ] {
            h[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        h
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_LEN + self.ciphertext.len());
        bytes.extend_from_slice(&self.header());
        bytes.extend_from_slice(&self.ciphertext);
        bytes
    }

    /// Checks the Ed25519 signature against the channel key the message names. Anyone can do
    /// this (the ledger does, before storing); it needs no side key.
    pub fn verify_signature(&self) -> Result<(), MamError> {
        let key = VerifyingKey::from_bytes(&self.channel).map_err(|_| MamError::BadSignature)?;
        // Strict: also refuses small-order keys and non-canonical signatures.
        key.verify_strict(&self.signed_bytes(), &Signature::from_bytes(&self.signature))
            .map_err(|_| MamError::BadSignature)
    }

    /// Checks the signatures of many messages at once (the ledger, for the posts that arrived
    /// together): one Ed25519 batch equation costs about half as much per signature as checking
    /// each alone. Small-order (weak) channel keys and non-canonical signatures are refused as in
    /// [`Self::verify_signature`]; the batch equation is the cofactored one of RFC 8032, so only a
    /// signature its own key holder built with a small-order component could pass here and fail a
    /// reader's strict check (and then only in that key holder's own channel). When the batch
    /// fails, every message is checked alone with the strict check, which decides each verdict.
    pub fn verify_signatures(messages: &[&SealedMessage]) -> Vec<Result<(), MamError>> {
        let keys: Option<Vec<ChannelKey>> = messages.iter().map(|m| m.channel_key()).collect();
        match keys {
            Some(keys) => Self::verify_signatures_under(messages, &keys),
            None => messages.iter().map(|m| m.verify_signature()).collect(),
        }
    }

    /// [`Self::verify_signatures`] with the channel keys already decoded (decoding one costs about
    /// a fifth of a batched check, so the ledger keeps them): `keys[i]` is `messages[i]`'s channel
    /// key; a key that is not that channel's fails the batch, and the strict check decides.
    pub fn verify_signatures_under(messages: &[&SealedMessage], keys: &[ChannelKey]) -> Vec<Result<(), MamError>> {
        if messages.len() > 1 && batch_verifies(messages, keys) {
            return vec![Ok(()); messages.len()];
        }
        messages.iter().map(|m| m.verify_signature()).collect()
    }

    /// The channel's public key, unless it is not a curve point or is weak (small order): such a
    /// key can never pass [`Self::verify_signature`].
    pub fn channel_key(&self) -> Option<ChannelKey> {
        ChannelKey::decode(&self.channel)
    }

    /// Decrypts under `side_key` (checks nothing else: use [`crate::Reader::open`] to follow a chain).
    pub fn decrypt(&self, side_key: &SideKey) -> Result<Vec<u8>, MamError> {
        let cipher = XChaCha20Poly1305::new(&side_key.encryption_key(&self.channel, self.epoch).into());
        cipher
            .decrypt(XNonce::from_slice(&self.nonce), Payload { msg: &self.ciphertext, aad: &self.header() })
            .map_err(|_| MamError::Decrypt)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_LEN + 4 + self.ciphertext.len() + 64);
        bytes.extend_from_slice(&self.header());
        bytes.extend_from_slice(&(self.ciphertext.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&self.ciphertext);
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SealedMessage, MamError> {
        let mut r = Cursor(bytes);
        if r.take(4)? != MAGIC {
            return Err(MamError::Malformed("not a MAM message"));
        }
        if r.take(1)?[0] != VERSION {
            return Err(MamError::Malformed("unknown version"));
        }
        let kind = match r.take(1)?[0] {
            0 => Kind::Data,
            1 => Kind::KeyRotation,
            _ => return Err(MamError::Malformed("unknown kind")),
        };
        let channel = r.array::<32>()?;
        let index = u64::from_be_bytes(r.array()?);
        let epoch = u32::from_be_bytes(r.array()?);
        let address = Address(r.array()?);
        let next_address = Address(r.array()?);
        let nonce = r.array::<24>()?;
        let len = u32::from_be_bytes(r.array()?) as usize;
        if len > MAX_CIPHERTEXT_LEN {
            return Err(MamError::Malformed("ciphertext too long"));
        }
        let ciphertext = r.take(len)?.to_vec();
        let signature = r.array::<64>()?;
        if !r.0.is_empty() {
            return Err(MamError::Malformed("trailing bytes"));
        }
        Ok(SealedMessage { kind, channel, index, epoch, address, next_address, nonce, ciphertext, signature })
    }

    /// The JSON form sent to the ledger.
    pub fn to_envelope(&self) -> Envelope {
        Envelope {
            channel: hex::encode(self.channel),
            index: self.index,
            address: self.address.to_hex(),
            message: base64::engine::general_purpose::STANDARD.encode(self.to_bytes()),
        }
    }
}

/// What travels over HTTP: the message bytes in base64 plus, for routing and idempotency, the
/// channel, index and address they contain (checked against the bytes on receipt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub channel: String,
    pub index: u64,
    pub address: String,
    pub message: String,
}

impl Envelope {
    pub fn open(&self) -> Result<SealedMessage, MamError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.message)
            .map_err(|_| MamError::Malformed("message is not base64"))?;
        let message = SealedMessage::from_bytes(&bytes)?;
        if hex::encode(message.channel) != self.channel
            || message.index != self.index
            || message.address.to_hex() != self.address
        {
            return Err(MamError::Malformed("envelope fields differ from the message"));
        }
        Ok(message)
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MamError> {
        if self.0.len() < n {
            return Err(MamError::Malformed("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MamError> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }
}

/// Whether every message's signature holds under its key, by one batch equation (see
/// [`SealedMessage::verify_signatures`]).
fn batch_verifies(messages: &[&SealedMessage], keys: &[ChannelKey]) -> bool {
    if keys.len() != messages.len() || messages.iter().zip(keys).any(|(m, key)| key.as_bytes() != &m.channel) {
        return false;
    }
    let headers: Vec<[u8; HEADER_LEN]> = messages.iter().map(|m| m.header()).collect();
    let batch: Vec<batch::Signed> = messages
        .iter()
        .zip(keys)
        .zip(&headers)
        .map(|((m, key), header)| batch::Signed {
            key,
            message: [header.as_slice(), m.ciphertext.as_slice()],
            signature: &m.signature,
        })
        .collect();
    batch::verify(&batch)
}
