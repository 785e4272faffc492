//! The device's channel and spool together: every accepted telegram is sealed as the next
//! message of the channel and appended to the spool under its index.
//!
//! The spool is the authority on the index: after a crash the channel resumes above the last
//! spooled id, so no index is ever sealed twice with different contents. The channel state file
//! holds only the keys and the epoch and is written when they change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use mam::{Channel, ChannelState, Envelope, Grant, ProviderPublicKey};
use rand_core::{CryptoRng, RngCore};
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
        let mut state = match std::fs::read(state_path) {
            Ok(bytes) => serde_json::from_slice::<ChannelState>(&bytes)
                .with_context(|| format!("reading channel state {}", state_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let state = Channel::create(rng).state();
                write_state(state_path, &state)?;
                tracing::info!(path = %state_path.display(), "created a new channel");
                state
            }
            Err(e) => return Err(e).context(format!("reading {}", state_path.display())),
        };
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

    /// Rotates the side key, spools the KEY_ROTATION message and saves the new key.
    pub fn rotate(
        &mut self,
        remaining: &[ProviderPublicKey],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> anyhow::Result<u64> {
        let mut spool = self.spool.lock().expect("spool lock");
        let message = self.channel.rotate(remaining, rng)?;
        spool.append(message.index, &serde_json::to_vec(&message.to_envelope())?)?;
        drop(spool);
        write_state(&self.state_path, &self.channel.state())?;
        self.appended.notify_one();
        Ok(message.index)
    }
}

fn write_state(path: &Path, state: &ChannelState) -> anyhow::Result<()> {
    crate::state_file::write_private(path, state)
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
