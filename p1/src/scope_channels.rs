//! The device's channels of its scopes in use (docs/consent.md, "Scope channels"): one MAM channel and spool per
//! distinct scope of its active policies (at most `MAX_SCOPES_PER_DEVICE` at once), each read by exactly the
//! providers whose policies name that scope.
//!
//! `reconcile` makes the channels match the policies, and is safe to repeat (after a crash, or on every round):
//! - a reader whose policies all ended is rotated away: KEY_ROTATION wrapped to the remaining readers only;
//! - a new policy gets a grant; when it brings a new reader to a channel with history, the channel is rotated
//!   first, so the grant's side key opens nothing published before it (rotate, then grant);
//! - a scope without readers is rotated to nobody and publishes nothing until a policy names it again.
//!
//! Each grant waits in the scope's record (`scope.json`, written with the grant) until the ledger has the
//! hand-over, so a crash loses none; a crash between a rotation and its record costs one more rotation, never a
//! grant to the wrong reader.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::home::consent::{Field, Scope};
use domain::home::household::MAX_SCOPES_PER_DEVICE;
use mam::ProviderPublicKey;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::device::Device;
use crate::policies::{DevicePolicies, DevicePolicy};
use crate::reading::Reading;
use crate::scope_values::ScopeAggregator;
use crate::spool::SpoolConfig;
use crate::state_file;

/// Scope directories kept (in use or idle): a bound on the device's disk, far above the four in use at once.
pub const MAX_SCOPE_DIRS: usize = 16;

/// Called with each scope channel's device once opened, to start its publisher.
pub type OnOpen = Box<dyn Fn(&Device) + Send>;

pub struct ScopeChannels {
    dir: PathBuf,
    spool_max_bytes: u64,
    channels: BTreeMap<Scope, ScopeChannel>,
    on_open: OnOpen,
}

pub struct ScopeChannel {
    pub device: Device,
    record: ScopeRecord,
    record_path: PathBuf,
    aggregator: ScopeAggregator,
}

/// What a scope's channel remembers beside its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRecord {
    pub scope: Scope,
    /// The HPKE keys (hex) the current epoch's side key was given to.
    pub readers: BTreeSet<String>,
    /// Policies whose grant was made: each is granted once.
    pub granted: BTreeSet<Uuid>,
    /// Grants not yet acknowledged by the ledger, oldest first.
    pub unsent: Vec<UnsentGrant>,
}

/// A grant for one policy, to be handed over through the provider's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsentGrant {
    pub policy_id: Uuid,
    /// The provider's Ed25519 key (hex): its inbox.
    pub provider_key: String,
    /// The channel's public key (hex).
    pub channel: String,
    /// `mam::Grant` bytes (hex).
    pub grant: String,
}

impl ScopeChannels {
    /// Opens every scope channel under `dir` (`<dir>/<scope name>/`).
    pub fn open(dir: &Path, spool_max_bytes: u64, on_open: OnOpen) -> anyhow::Result<ScopeChannels> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut channels =
            ScopeChannels { dir: dir.to_path_buf(), spool_max_bytes, channels: BTreeMap::new(), on_open };
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if let Some(record) = state_file::read::<ScopeRecord>(&path.join("scope.json"))? {
                channels.open_channel(record, &mut rand_core::OsRng)?;
            }
        }
        Ok(channels)
    }

    pub fn get(&self, scope: &Scope) -> Option<&ScopeChannel> {
        self.channels.get(scope)
    }

    /// Seals the reading's values on every channel that has readers (or the period it closes).
    pub fn publish(
        &mut self,
        reading: &Reading,
        at: DateTime<Utc>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> anyhow::Result<()> {
        for channel in self.channels.values_mut().filter(|c| !c.record.readers.is_empty()) {
            if let Some(values) = channel.aggregator.add(reading, at) {
                channel.device.accept(&serde_json::to_vec(&values)?, rng)?;
            }
        }
        Ok(())
    }

    /// Makes the channels match the policies active at `now` (see the module's comment).
    pub fn reconcile(
        &mut self,
        policies: &DevicePolicies,
        now: DateTime<Utc>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> anyhow::Result<()> {
        let wanted = policies.active_by_scope(now);
        for (scope, channel) in &mut self.channels {
            let readers = wanted.get(scope).map(|p| readers(p.values())).unwrap_or_default();
            channel.drop_readers(&readers, rng)?;
        }
        for (scope, policies) in &wanted {
            if !self.channels.contains_key(scope) {
                self.create(scope, rng)?;
            }
            let channel = self.channels.get_mut(scope).expect("opened above");
            channel.grant_new(policies, rng)?;
        }
        Ok(())
    }

    /// The grants waiting for the ledger, by scope.
    pub fn unsent(&self) -> Vec<(Scope, UnsentGrant)> {
        let each =
            self.channels.iter().flat_map(|(scope, c)| c.record.unsent.iter().map(|u| (scope.clone(), u.clone())));
        each.collect()
    }

    /// The ledger has the hand-over of `policy_id` (or refused it for good).
    pub fn sent(&mut self, scope: &Scope, policy_id: Uuid) -> anyhow::Result<()> {
        let Some(channel) = self.channels.get_mut(scope) else { return Ok(()) };
        channel.record.unsent.retain(|u| u.policy_id != policy_id);
        channel.save()
    }

    fn create(&mut self, scope: &Scope, rng: &mut (impl RngCore + CryptoRng)) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.channels.len() < MAX_SCOPE_DIRS,
            "this device keeps at most {MAX_SCOPE_DIRS} scope channels; remove an idle one under {}",
            self.dir.display()
        );
        let in_use = self.channels.values().filter(|c| !c.record.readers.is_empty()).count();
        anyhow::ensure!(
            in_use < MAX_SCOPES_PER_DEVICE,
            "a device publishes at most {MAX_SCOPES_PER_DEVICE} scopes at once"
        );
        let record =
            ScopeRecord { scope: scope.clone(), readers: BTreeSet::new(), granted: BTreeSet::new(), unsent: vec![] };
        self.open_channel(record, rng)?.save()?;
        tracing::info!(scope = scope_name(scope), "opened a channel for a new scope");
        Ok(())
    }

    fn open_channel(
        &mut self,
        record: ScopeRecord,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> anyhow::Result<&mut ScopeChannel> {
        let dir = self.dir.join(scope_name(&record.scope));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut spool = SpoolConfig::new(dir.join("spool"));
        spool.max_bytes = self.spool_max_bytes;
        let device = Device::open(&dir.join("channel.json"), spool, rng)?;
        (self.on_open)(&device);
        let scope = record.scope.clone();
        let aggregator = ScopeAggregator::new(scope.clone());
        let channel = ScopeChannel { device, record, record_path: dir.join("scope.json"), aggregator };
        Ok(self.channels.entry(scope).or_insert(channel))
    }
}

impl ScopeChannel {
    /// Rotates away every reader not in `readers`.
    fn drop_readers(&mut self, readers: &BTreeSet<String>, rng: &mut (impl RngCore + CryptoRng)) -> anyhow::Result<()> {
        if self.record.readers.is_subset(readers) {
            return Ok(());
        }
        let remaining: BTreeSet<String> = self.record.readers.intersection(readers).cloned().collect();
        self.device.rotate(&hpke_keys(&remaining)?, rng)?;
        tracing::info!(scope = scope_name(&self.record.scope), readers = remaining.len(), "rotated a reader away");
        self.record.readers = remaining;
        self.save()
    }

    /// Grants each policy not granted yet; rotates first when a new reader would see the channel's history.
    fn grant_new(
        &mut self,
        policies: &BTreeMap<Uuid, &DevicePolicy>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> anyhow::Result<()> {
        let new: Vec<(&Uuid, &&DevicePolicy)> =
            policies.iter().filter(|(id, _)| !self.record.granted.contains(*id)).collect();
        if new.is_empty() {
            return Ok(());
        }
        let brings_reader = new.iter().any(|(_, p)| !self.record.readers.contains(&p.provider_hpke_key));
        if brings_reader && self.device.next_index() > 0 {
            self.device.rotate(&hpke_keys(&self.record.readers)?, rng)?;
        }
        for (policy_id, policy) in new {
            let grant = self.device.grant(&ProviderPublicKey::from_hex(&policy.provider_hpke_key)?, rng)?;
            self.record.readers.insert(policy.provider_hpke_key.clone());
            self.record.granted.insert(*policy_id);
            self.record.unsent.push(UnsentGrant {
                policy_id: *policy_id,
                provider_key: policy.provider_key.clone(),
                channel: hex::encode(grant.channel),
                grant: hex::encode(grant.to_bytes()),
            });
        }
        self.save()
    }

    fn save(&self) -> anyhow::Result<()> {
        state_file::write_private(&self.record_path, &self.record)
    }
}

fn readers<'a>(policies: impl Iterator<Item = &'a &'a DevicePolicy>) -> BTreeSet<String> {
    policies.map(|p| p.provider_hpke_key.clone()).collect()
}

fn hpke_keys(readers: &BTreeSet<String>) -> anyhow::Result<Vec<ProviderPublicKey>> {
    Ok(readers.iter().map(|r| ProviderPublicKey::from_hex(r)).collect::<Result<_, _>>()?)
}

/// The scope's directory name: its fields and granularity, e.g. `energy_import_wh+power_import_w@15min`.
pub fn scope_name(scope: &Scope) -> String {
    let field =
        |f: &Field| serde_json::to_value(f).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let fields: Vec<String> = scope.fields.iter().map(field).collect();
    let granularity = serde_json::to_value(scope.granularity).ok().and_then(|v| v.as_str().map(str::to_owned));
    format!("{}@{}", fields.join("+"), granularity.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::Duration;
    use domain::home::consent::Granularity;
    use mam::{Address, Grant, Kind, MamError, ProviderKeyPair, Reader, SealedMessage};
    use rand_core::OsRng;

    use super::*;

    struct Provider {
        pair: ProviderKeyPair,
        key: String,
    }

    impl Provider {
        fn new(n: u8) -> Provider {
            Provider { pair: ProviderKeyPair::generate(&mut OsRng), key: hex::encode([n; 32]) }
        }

        fn pair(&self) -> ProviderKeyPair {
            self.pair.clone()
        }

        fn policy(&self, scope: &Scope, valid_until: DateTime<Utc>) -> DevicePolicy {
            DevicePolicy {
                provider_key: self.key.clone(),
                provider_hpke_key: self.pair().public.to_hex(),
                scope: scope.clone(),
                valid_from: now() - Duration::hours(1),
                valid_until,
                ended_at: None,
            }
        }

        /// A reader from the grant of `policy_id`.
        fn reader(&self, channels: &ScopeChannels, scope: &Scope, policy_id: Uuid) -> (Reader, Grant) {
            let unsent = channels.get(scope).unwrap().record.unsent.iter().find(|u| u.policy_id == policy_id).unwrap();
            let grant = Grant::from_bytes(&hex::decode(&unsent.grant).unwrap()).unwrap();
            (Reader::from_grant(&grant.channel, &grant, self.pair()).unwrap(), grant)
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn open(dir: &Path) -> ScopeChannels {
        ScopeChannels::open(dir, 1 << 20, Box::new(|_| {})).unwrap()
    }

    /// The channel's messages as the ledger would hold them, by address.
    fn published(channels: &ScopeChannels, scope: &Scope) -> HashMap<Address, SealedMessage> {
        let spool = channels.get(scope).unwrap().device.spool.lock().unwrap().peek(1000).unwrap();
        let open = |payload: &[u8]| serde_json::from_slice::<mam::Envelope>(payload).unwrap().open().unwrap();
        spool.iter().map(|record| open(&record.payload)).map(|m| (m.address, m)).collect()
    }

    fn data_read(reader: &mut Reader, channels: &ScopeChannels, scope: &Scope) -> (usize, Option<MamError>) {
        let messages = published(channels, scope);
        let walk = reader.walk(|address| messages.get(address).cloned(), 1000);
        (walk.opened.iter().filter(|o| o.kind == Kind::Data).count(), walk.stopped)
    }

    fn publish(channels: &mut ScopeChannels, n: usize) {
        let reading = Reading { power_import_w: Some(1_500), gas_dm3: Some(9), ..Reading::default() };
        for _ in 0..n {
            channels.publish(&reading, now(), &mut OsRng).unwrap();
        }
    }

    #[test]
    fn readers_come_and_go_by_rotation_and_a_new_reader_sees_no_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut channels = open(dir.path());
        let scope = Scope { fields: vec![Field::PowerImportW], granularity: Granularity::Telegram };
        let (a, b, c) = (Provider::new(1), Provider::new(2), Provider::new(3));
        let mut policies = DevicePolicies::default();
        let (pa, pb, pc) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        policies.policies.insert(pa, a.policy(&scope, now() + Duration::days(1)));
        policies.policies.insert(pb, b.policy(&scope, now() + Duration::seconds(10)));
        channels.reconcile(&policies, now(), &mut OsRng).unwrap();
        assert_eq!(channels.unsent().len(), 2, "one grant per policy");
        let (mut reader_a, _) = a.reader(&channels, &scope, pa);
        let (mut reader_b, _) = b.reader(&channels, &scope, pb);

        publish(&mut channels, 3);
        assert_eq!(data_read(&mut reader_a, &channels, &scope), (3, None));
        let messages = published(&channels, &scope);
        let first = messages.values().find(|m| m.index == 0).unwrap();
        let values: serde_json::Value =
            serde_json::from_slice(&Reader::open(&mut a.reader(&channels, &scope, pa).0, first).unwrap().payload)
                .unwrap();
        assert_eq!(values["power_import_w"], 1_500);
        assert!(values.get("gas_dm3").is_none(), "outside the scope: {values}");

        // A ends: the channel rotates to B only; A reads nothing after, B reads on.
        policies.policies.get_mut(&pa).unwrap().ended_at = Some(now());
        channels.reconcile(&policies, now(), &mut OsRng).unwrap();
        publish(&mut channels, 2);
        assert_eq!(data_read(&mut reader_a, &channels, &scope), (0, Some(MamError::Revoked)));
        assert_eq!(data_read(&mut reader_b, &channels, &scope), (5, None));

        // C joins: rotate, then grant, so C's key opens nothing published before.
        policies.policies.insert(pc, c.policy(&scope, now() + Duration::days(1)));
        let before = channels.get(&scope).unwrap().device.next_index();
        let history = published(&channels, &scope);
        channels.reconcile(&policies, now(), &mut OsRng).unwrap();
        let (mut reader_c, grant_c) = c.reader(&channels, &scope, pc);
        assert_eq!(grant_c.next_index, before + 1, "after the rotation");
        assert!(history.values().all(|m| m.epoch < grant_c.epoch), "every earlier message is of an older epoch");
        publish(&mut channels, 1);
        assert_eq!(data_read(&mut reader_c, &channels, &scope), (1, None));
        assert_eq!(data_read(&mut reader_b, &channels, &scope), (1, None), "B followed the rotation");

        // Nothing changed: nothing happens, however often.
        let next = channels.get(&scope).unwrap().device.next_index();
        channels.reconcile(&policies, now(), &mut OsRng).unwrap();
        assert_eq!((channels.get(&scope).unwrap().device.next_index(), channels.unsent().len()), (next, 3));

        // B expires without any event: rotated away at its end.
        drop(channels);
        let mut channels = open(dir.path());
        assert_eq!(channels.unsent().len(), 3, "grants waiting for the ledger survive a restart");
        channels.sent(&scope, pa).unwrap();
        channels.reconcile(&policies, now() + Duration::seconds(11), &mut OsRng).unwrap();
        publish(&mut channels, 1);
        assert_eq!(data_read(&mut reader_b, &channels, &scope), (0, Some(MamError::Revoked)));
        assert_eq!(data_read(&mut reader_c, &channels, &scope), (1, None));
        assert_eq!(channels.unsent().len(), 2);

        // Nobody left: rotated to nobody, and nothing more is published.
        policies.policies.get_mut(&pc).unwrap().ended_at = Some(now());
        channels.reconcile(&policies, now() + Duration::seconds(12), &mut OsRng).unwrap();
        let last = channels.get(&scope).unwrap().device.next_index();
        publish(&mut channels, 3);
        assert_eq!(channels.get(&scope).unwrap().device.next_index(), last);
        assert_eq!(data_read(&mut reader_c, &channels, &scope), (0, Some(MamError::Revoked)));
    }

    #[test]
    fn each_scope_has_its_own_channel_named_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut channels = open(dir.path());
        let provider = Provider::new(1);
        let fine = Scope { fields: vec![Field::PowerImportW], granularity: Granularity::Telegram };
        let coarse =
            Scope { fields: vec![Field::EnergyImportWh, Field::GasDm3], granularity: Granularity::FifteenMinutes };
        let mut policies = DevicePolicies::default();
        policies.policies.insert(Uuid::now_v7(), provider.policy(&fine, now() + Duration::days(1)));
        policies.policies.insert(Uuid::now_v7(), provider.policy(&coarse, now() + Duration::days(1)));
        channels.reconcile(&policies, now(), &mut OsRng).unwrap();
        let (fine_channel, coarse_channel) = (channels.get(&fine).unwrap(), channels.get(&coarse).unwrap());
        assert_ne!(fine_channel.device.channel_public_key(), coarse_channel.device.channel_public_key());
        assert!(dir.path().join("energy_import_wh+gas_dm3@15min/scope.json").exists());
        assert!(dir.path().join("power_import_w@telegram/channel.json").exists());
        publish(&mut channels, 2);
        assert_eq!(channels.get(&fine).unwrap().device.next_index(), 2);
        assert_eq!(channels.get(&coarse).unwrap().device.next_index(), 0, "the quarter hour has not closed");
    }
}
