//! The link's Noise handshakes and transport, as MyCHIPs runs them (docs/federation.md, "Handshakes"):
//! `Noise_IK_25519_ChaChaPoly_BLAKE2b` for a first contact with a ticket (`I`, answered by `A`), and a one-way
//! `Noise_N_…` announcing the sender (`N`) followed by `Noise_KK_…` (`K`, answered by `A`) later. Empty prologue,
//! no PSK; snow runs the handshakes.
//!
//! The transport is not snow's. MyCHIPs' library gives the party that writes the last handshake message (the
//! responder, `A`) the spec's initiator-to-responder key for sending, so after `Split() = (c1, c2)` a MyCHIPs
//! responder sends with c1 and receives with c2, and its initiator the reverse: the opposite of the Noise spec.
//! notch takes the two raw split keys from snow and orients them as MyCHIPs does; its cipher states are
//! ChaCha20-Poly1305 (IETF) with nonce = 4 zero bytes ‖ the 64-bit little-endian counter, empty associated data,
//! no rekey, exactly as the spec's CipherState.

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

pub const IK: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
pub const N: &str = "Noise_N_25519_ChaChaPoly_BLAKE2b";
pub const KK: &str = "Noise_KK_25519_ChaChaPoly_BLAKE2b";
/// Largest Noise handshake message (the spec's bound, which snow enforces).
pub const MAX_HANDSHAKE_BYTES: usize = 65_535;
/// Bytes the AEAD tag adds to every sealed message.
pub const TAG_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum NoiseError {
    #[error("the Noise handshake failed: {0}")]
    Handshake(#[from] snow::Error),
    #[error("a transport message does not decrypt under this connection's key")]
    Decrypt,
    #[error("this direction's nonce is exhausted; the connection must end")]
    NonceExhausted,
}

/// A handshake this side started, waiting for the peer's `A`.
pub struct Pending(snow::HandshakeState);

/// The keys of an open connection, one cipher state per direction.
pub struct Transport {
    send: CipherState,
    receive: CipherState,
}

struct CipherState {
    cipher: ChaCha20Poly1305,
    nonce: u64,
}

fn handshake(
    pattern: &str,
    local: Option<&[u8; 32]>,
    remote: Option<&[u8; 32]>,
    initiator: bool,
) -> Result<snow::HandshakeState, NoiseError> {
    let mut builder = snow::Builder::new(pattern.parse()?);
    if let Some(local) = local {
        builder = builder.local_private_key(local)?;
    }
    if let Some(remote) = remote {
        builder = builder.remote_public_key(remote)?;
    }
    Ok(if initiator { builder.build_initiator()? } else { builder.build_responder()? })
}

fn write(state: &mut snow::HandshakeState, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
    let mut message = vec![0u8; MAX_HANDSHAKE_BYTES];
    let len = state.write_message(payload, &mut message)?;
    message.truncate(len);
    Ok(message)
}

fn read(state: &mut snow::HandshakeState, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
    let mut payload = vec![0u8; message.len()];
    let len = state.read_message(message, &mut payload)?;
    payload.truncate(len);
    Ok(payload)
}

/// `I`: the first message of IK from `local` (X25519 secret) to the responder's static key, carrying `payload`.
pub fn ticket_request(
    local: &[u8; 32],
    responder: &[u8; 32],
    payload: &[u8],
) -> Result<(Pending, Vec<u8>), NoiseError> {
    let mut state = handshake(IK, Some(local), Some(responder), true)?;
    let message = write(&mut state, payload)?;
    Ok((Pending(state), message))
}

/// `N`: the one-way message announcing the sender (its payload: the JSON string of its agent id).
pub fn identity_announcement(responder: &[u8; 32], payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
    write(&mut handshake(N, None, Some(responder), true)?, payload)
}

/// `K`: the first message of KK between two sites that know each other's static keys.
pub fn key_request(local: &[u8; 32], responder: &[u8; 32], payload: &[u8]) -> Result<(Pending, Vec<u8>), NoiseError> {
    let mut state = handshake(KK, Some(local), Some(responder), true)?;
    let message = write(&mut state, payload)?;
    Ok((Pending(state), message))
}

impl Pending {
    /// The responder's `A`: the connection is open.
    pub fn read_ack(mut self, message: &[u8]) -> Result<(Vec<u8>, Transport), NoiseError> {
        let payload = read(&mut self.0, message)?;
        let (c1, c2) = self.0.dangerously_get_raw_split();
        // MyCHIPs' initiator sends with c2 and receives with c1 (see the module's comment).
        Ok((payload, Transport::new(c2, c1)))
    }
}

/// What a responder learned from an `I` or `K`, and its answer.
pub struct Accepted {
    pub payload: Vec<u8>,
    /// The initiator's X25519 static key, as its handshake proved it.
    pub remote_static: [u8; 32],
    /// The `A` message to send back (empty payload).
    pub ack: Vec<u8>,
    pub transport: Transport,
}

/// Reads an `I` with this site's static secret and answers it.
pub fn accept_ticket(local: &[u8; 32], message: &[u8]) -> Result<Accepted, NoiseError> {
    accept(handshake(IK, Some(local), None, false)?, message)
}

/// Reads an `N`: the payload the sender announced itself with.
pub fn read_identity(local: &[u8; 32], message: &[u8]) -> Result<Vec<u8>, NoiseError> {
    read(&mut handshake(N, Some(local), None, false)?, message)
}

/// Reads a `K` from the site whose static key is `initiator` (known from its `N`) and answers it.
pub fn accept_key(local: &[u8; 32], initiator: &[u8; 32], message: &[u8]) -> Result<Accepted, NoiseError> {
    accept(handshake(KK, Some(local), Some(initiator), false)?, message)
}

fn accept(mut state: snow::HandshakeState, message: &[u8]) -> Result<Accepted, NoiseError> {
    let payload = read(&mut state, message)?;
    let remote_static: [u8; 32] =
        state.get_remote_static().and_then(|k| k.try_into().ok()).ok_or(snow::Error::Input)?;
    let ack = write(&mut state, &[])?;
    let (c1, c2) = state.dangerously_get_raw_split();
    // MyCHIPs' responder sends with c1 and receives with c2.
    Ok(Accepted { payload, remote_static, ack, transport: Transport::new(c1, c2) })
}

impl Transport {
    fn new(send: [u8; 32], receive: [u8; 32]) -> Transport {
        Transport { send: CipherState::new(send), receive: CipherState::new(receive) }
    }

    /// A `T` body: `plaintext` sealed under the next sending nonce.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.send.seal(plaintext)
    }

    /// A `T` body opened under the next receiving nonce; a failure leaves the nonce where it was.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.receive.open(ciphertext)
    }

    /// The two directions apart, for a connection whose reading and writing run separately.
    pub fn split(self) -> (Sealer, Opener) {
        (Sealer(self.send), Opener(self.receive))
    }
}

/// The sending half of a [`Transport`].
pub struct Sealer(CipherState);

/// The receiving half of a [`Transport`].
pub struct Opener(CipherState);

impl Sealer {
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.0.seal(plaintext)
    }

    /// Appends a whole `T` frame carrying `plaintext` to `out` (length, header, ciphertext, tag), sealed in
    /// place: a batch of frames is one buffer and one write.
    pub fn seal_frame_into(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), NoiseError> {
        let length = u32::try_from(1 + plaintext.len() + TAG_BYTES).expect("a frame body is bounded far below 4 GiB");
        let nonce = self.0.next_nonce()?;
        out.extend_from_slice(&length.to_be_bytes());
        out.push(crate::Header::Transport.byte());
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .cipher
            .encrypt_in_place_detached(&nonce, &[], &mut out[start..])
            .expect("ChaCha20-Poly1305 seals any length here");
        out.extend_from_slice(&tag);
        self.0.nonce += 1;
        Ok(())
    }
}

impl Opener {
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.0.open(ciphertext)
    }

    /// [`Self::open`] without a copy: the `T` body becomes its plaintext.
    pub fn open_in_place(&mut self, mut body: Vec<u8>) -> Result<Vec<u8>, NoiseError> {
        let Some(text_len) = body.len().checked_sub(TAG_BYTES) else { return Err(NoiseError::Decrypt) };
        let nonce = self.0.next_nonce()?;
        let (text, tag) = body.split_at_mut(text_len);
        self.0
            .cipher
            .decrypt_in_place_detached(&nonce, &[], text, chacha20poly1305::Tag::from_slice(tag))
            .map_err(|_| NoiseError::Decrypt)?;
        self.0.nonce += 1;
        body.truncate(text_len);
        Ok(body)
    }
}

impl CipherState {
    fn new(key: [u8; 32]) -> CipherState {
        CipherState { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)), nonce: 0 }
    }

    fn next_nonce(&self) -> Result<Nonce, NoiseError> {
        // 2^64 - 1 is reserved by the spec.
        if self.nonce == u64::MAX {
            return Err(NoiseError::NonceExhausted);
        }
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&self.nonce.to_le_bytes());
        Ok(Nonce::from(nonce))
    }

    fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let nonce = self.next_nonce()?;
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: &[] })
            .expect("ChaCha20-Poly1305 seals any length here");
        self.nonce += 1;
        Ok(sealed)
    }

    fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if ciphertext.len() < TAG_BYTES {
            return Err(NoiseError::Decrypt);
        }
        let nonce = self.next_nonce()?;
        let opened =
            self.cipher.decrypt(&nonce, Payload { msg: ciphertext, aad: &[] }).map_err(|_| NoiseError::Decrypt)?;
        self.nonce += 1;
        Ok(opened)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::keys::{noise_public_key, noise_secret_key};

    fn site(seed: u8) -> ([u8; 32], [u8; 32]) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        (noise_secret_key(&key), noise_public_key(&key.verifying_key()))
    }

    #[test]
    fn a_sealed_frame_in_place_is_the_frame_of_the_sealed_bytes_and_opens_in_place() {
        let (mut a, mut b) = (Transport::new([1; 32], [2; 32]), Transport::new([1; 32], [2; 32]));
        let mut out = Vec::new();
        let (mut sealer, _) = Transport::new([1; 32], [2; 32]).split();
        sealer.seal_frame_into(b"{\"n\":1}", &mut out).unwrap();
        sealer.seal_frame_into(b"{\"n\":2}", &mut out).unwrap();
        let mut expected = crate::Frame::new(crate::Header::Transport, a.seal(b"{\"n\":1}").unwrap()).encode();
        expected.extend(crate::Frame::new(crate::Header::Transport, a.seal(b"{\"n\":2}").unwrap()).encode());
        assert_eq!(out, expected);
        let (_, mut opener) = Transport::new([2; 32], [1; 32]).split();
        let body = b.seal(b"{}").unwrap();
        assert_eq!(opener.open_in_place(body.clone()).unwrap(), b"{}");
        let mut tampered = b.seal(b"{}").unwrap();
        tampered[0] ^= 1;
        assert!(matches!(opener.open_in_place(tampered.clone()), Err(NoiseError::Decrypt)));
        tampered[0] ^= 1;
        assert_eq!(opener.open_in_place(tampered).unwrap(), b"{}", "the failure left the nonce where it was");
    }

    fn talk(initiator: &mut Transport, responder: &mut Transport) {
        for n in 0..3 {
            let sealed = initiator.seal(format!("{{\"n\":{n}}}").as_bytes()).unwrap();
            assert_eq!(responder.open(&sealed).unwrap(), format!("{{\"n\":{n}}}").as_bytes());
            let back = responder.seal(b"{}").unwrap();
            assert_eq!(back.len(), 2 + TAG_BYTES);
            assert_eq!(initiator.open(&back).unwrap(), b"{}");
        }
    }

    #[test]
    fn a_ticket_request_opens_a_connection_and_proves_the_initiators_key() {
        let ((a_secret, a_public), (b_secret, b_public)) = (site(1), site(2));
        let (pending, i) = ticket_request(&a_secret, &b_public, br#"{"target":"tally"}"#).unwrap();
        assert_eq!(i.len(), 96 + 18, "IK message 1: e, s and the payload, each sealed (MyCHIPs: 96 + L)");
        let mut accepted = accept_ticket(&b_secret, &i).unwrap();
        assert_eq!((accepted.payload.as_slice(), accepted.remote_static), (&br#"{"target":"tally"}"#[..], a_public));
        assert_eq!(accepted.ack.len(), 48, "A: e and an empty sealed payload");
        let (payload, mut transport) = pending.read_ack(&accepted.ack).unwrap();
        assert!(payload.is_empty());
        talk(&mut transport, &mut accepted.transport);
    }

    #[test]
    fn an_announcement_then_a_key_request_opens_a_later_connection() {
        let ((a_secret, a_public), (b_secret, b_public)) = (site(1), site(2));
        let n = identity_announcement(&b_public, br#""agent-a""#).unwrap();
        assert_eq!(n.len(), 48 + 9, "N: e and the sealed payload");
        assert_eq!(read_identity(&b_secret, &n).unwrap(), br#""agent-a""#);
        let (pending, k) = key_request(&a_secret, &b_public, b"{}").unwrap();
        let mut accepted = accept_key(&b_secret, &a_public, &k).unwrap();
        let (_, mut transport) = pending.read_ack(&accepted.ack).unwrap();
        talk(&mut transport, &mut accepted.transport);
    }

    #[test]
    fn a_key_request_from_another_key_than_announced_fails() {
        let ((_, a_public), (b_secret, b_public), (c_secret, _)) = (site(1), site(2), site(3));
        let (_, k) = key_request(&c_secret, &b_public, b"{}").unwrap();
        assert!(accept_key(&b_secret, &a_public, &k).is_err(), "MyCHIPs opens the connection anyway; notch refuses");
    }

    #[test]
    fn the_transport_is_oriented_as_mychips_not_as_the_spec() {
        let ((a_secret, _), (b_secret, b_public)) = (site(1), site(2));
        let (pending, i) = ticket_request(&a_secret, &b_public, b"{}").unwrap();
        let mut accepted = accept_ticket(&b_secret, &i).unwrap();
        let mut spec_initiator = pending.0;
        spec_initiator.read_message(&accepted.ack, &mut [0u8; 64]).unwrap();
        let mut spec = spec_initiator.into_transport_mode().unwrap();
        // snow's initiator, oriented as the spec says, sends with c1; a MyCHIPs responder receives with c2.
        let mut sealed = vec![0u8; 64];
        let len = spec.write_message(b"{}", &mut sealed).unwrap();
        assert!(accepted.transport.open(&sealed[..len]).is_err(), "the spec's orientation does not talk to MyCHIPs'");
        // And what this responder sends, a spec initiator cannot read either.
        let ours = accepted.transport.seal(b"{}").unwrap();
        assert!(spec.read_message(&ours, &mut [0u8; 64]).is_err(), "it sends with c1, where the spec receives with c2");
    }

    #[test]
    fn a_message_that_does_not_decrypt_leaves_the_nonce_alone() {
        let ((a_secret, _), (b_secret, b_public)) = (site(1), site(2));
        let (pending, i) = ticket_request(&a_secret, &b_public, b"{}").unwrap();
        let mut accepted = accept_ticket(&b_secret, &i).unwrap();
        let (_, mut transport) = pending.read_ack(&accepted.ack).unwrap();
        let mut sealed = transport.seal(b"{\"a\":1}").unwrap();
        sealed[0] ^= 1;
        assert!(matches!(accepted.transport.open(&sealed), Err(NoiseError::Decrypt)));
        sealed[0] ^= 1;
        assert_eq!(accepted.transport.open(&sealed).unwrap(), b"{\"a\":1}");
        assert!(matches!(accepted.transport.open(&[0u8; 3]), Err(NoiseError::Decrypt)));
    }
}
