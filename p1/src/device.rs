//! The device's channel and spool together: every accepted telegram is sealed as the next
//! message of the channel and appended to the spool under its index.
//!
//! The spool is the authority on the index: after a crash the channel resumes above the last
//! spooled id, so no index is ever sealed twice with different contents. The channel state file
//! holds the keys and the epoch and is written when they change; a rotation is written there
//! (with its sealed message) before it is spooled, so a crash between the two leaves neither a
//! new key without its KEY_ROTATION message nor a KEY_ROTATION message without its key.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use mam::{Channel, ChannelState, Envelope, Grant, ProviderPublicKey};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::drop_log::DropLog;
use crate::spool::{Spool, SpoolConfig, SpoolError};

pub struct Device {
    channel: Channel,
    state_path: PathBuf,
    pub spool: Arc<Mutex<Spool>>,
    /// Woken after every append, for the publisher.
    pub appended: Arc<Notify>,
    refused: u64,
    refuse_log: DropLog,
}

/// The channel state file: the channel's keys, and the last rotation until the spool has it.
#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    channel: ChannelState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation: Option<SpooledRotation>,
}

#[derive(Clone, Serialize, Deserialize)]
struct SpooledRotation {
    index: u64,
    envelope: Envelope,
}

/// What happened to one telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Spooled {
        index: u64,
        envelope: Envelope,
    },
    /// The spool is full; the telegram was not sealed (so the chain has no hole).
    Refused,
}

impl Device {
    /// Opens the channel state (creating a new channel on first start) and the spool.
    pub fn open(
        state_path: &Path,
        spool_config: SpoolConfig,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> anyhow::Result<Device> {
        let (spool, recovery) = Spool::open(spool_config).context("opening the spool")?;
        if recovery.truncated_bytes > 0 || !recovery.corrupt_segments.is_empty() {
            tracing::warn!(?recovery, "spool repaired on open");
        }
        let file = match crate::state_file::read::<StateFile>(state_path)? {
            Some(file) => file,
            None => {
                let file = StateFile { channel: Channel::create(rng).state(), rotation: None };
                crate::state_file::write_private(state_path, &file)?;
                tracing::info!(path = %state_path.display(), "created a new channel");
                file
            }
        };
        let mut spool = spool;
        if let Some(rotation) = file.rotation.filter(|r| spool.last_id().is_none_or(|last| last < r.index)) {
            spool
                .append(rotation.index, &serde_json::to_vec(&rotation.envelope)?)
                .context("spooling the rotation a crash interrupted")?;
        }
        let mut state = file.channel;
        if let Some(last) = spool.last_id() {
            state.next_index = state.next_index.max(last + 1);
        }
        Ok(Device {
            channel: Channel::from_state(&state)?,
            state_path: state_path.to_path_buf(),
            spool: Arc::new(Mutex::new(spool)),
            appended: Arc::new(Notify::new()),
            refused: 0,
            refuse_log: DropLog::new(std::time::Duration::from_secs(60)),
        })
    }

    pub fn epoch(&self) -> u32 {
        self.channel.epoch()
    }

    pub fn channel_public_key(&self) -> [u8; 32] {
        self.channel.public_key()
    }

    pub fn next_index(&self) -> u64 {
        self.channel.next_index()
    }

    /// Telegrams refused because the spool was full, since start.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Seals `telegram` as the next channel message and spools it.
    pub fn accept(&mut self, telegram: &[u8], rng: &mut (impl RngCore + CryptoRng)) -> anyhow::Result<Accepted> {
        // Base64 grows 4/3; the header, tag, signature and JSON fields add < 600 bytes.
        let envelope_estimate = telegram.len() * 4 / 3 + 600;
        let mut spool = self.spool.lock().expect("spool lock");
        if !spool.has_room(envelope_estimate) {
            self.refused += 1;
            let detail = format!(
                "spool full ({} bytes in use, {} messages waiting for the ledger); telegram not sealed",
                spool.used_bytes(),
                spool.pending()
            );
            if let Some(line) = self.refuse_log.record(Instant::now(), "spool_full", &detail) {
                tracing::error!("{line}");
            }
            return Ok(Accepted::Refused);
        }
        let message = self.channel.publish(telegram, rng);
        let envelope = message.to_envelope();
        match spool.append(message.index, &serde_json::to_vec(&envelope)?) {
            Ok(()) => {}
            Err(SpoolError::Full { .. }) => {
                self.refused += 1;
                return Ok(Accepted::Refused);
            }
            Err(e) => return Err(e.into()),
        }
        drop(spool);
        self.appended.notify_one();
        Ok(Accepted::Spooled { index: message.index, envelope })
    }

    pub fn grant(&self, provider: &ProviderPublicKey, rng: &mut (impl RngCore + CryptoRng)) -> anyhow::Result<Grant> {
        Ok(self.channel.grant(provider, rng)?)
    }

    /// Rotates the side key: saves the new key with the KEY_ROTATION message, then spools the message.
    pub fn rotate(
        &mut self,
        remaining: &[ProviderPublicKey],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> anyhow::Result<u64> {
        let mut spool = self.spool.lock().expect("spool lock");
        let message = self.channel.rotate(remaining, rng)?;
        let rotation = SpooledRotation { index: message.index, envelope: message.to_envelope() };
        let file = StateFile { channel: self.channel.state(), rotation: Some(rotation.clone()) };
        crate::state_file::write_private(&self.state_path, &file)?;
        spool.append(rotation.index, &serde_json::to_vec(&rotation.envelope)?)?;
        drop(spool);
        self.appended.notify_one();
        Ok(message.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn a_full_spool_refuses_before_sealing_so_the_chain_has_no_hole() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SpoolConfig::new(dir.path().join("spool"));
        config.max_bytes = 8 * 1024;
        let mut device = Device::open(&dir.path().join("channel.json"), config, &mut OsRng).unwrap();
        let telegram = crate::bench::sample_telegram();
        let mut spooled = 0;
        while let Accepted::Spooled { index, .. } = device.accept(telegram.as_bytes(), &mut OsRng).unwrap() {
            assert_eq!(index, spooled);
            spooled += 1;
        }
        assert!(spooled >= 3, "a few envelopes fit in 8 KiB");
        assert_eq!(device.accept(telegram.as_bytes(), &mut OsRng).unwrap(), Accepted::Refused);
        assert_eq!(device.refused(), 2);
        assert_eq!(device.next_index(), spooled, "refused telegrams took no index");

        // Once the ledger has acknowledged them, the next telegram gets the next index.
        device.spool.lock().unwrap().ack(spooled - 1).unwrap();
        assert!(matches!(
            device.accept(telegram.as_bytes(), &mut OsRng).unwrap(),
            Accepted::Spooled { index, .. } if index == spooled
        ));
    }
}
