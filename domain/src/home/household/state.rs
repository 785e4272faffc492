//! What a household holds: its owner, its devices and every policy it ever granted.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::HouseholdEvent;
use crate::crypto::PublicKey;
use crate::home::consent::Scope;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HouseholdState {
    /// Set by the first decision.
    pub owner: Option<PublicKey>,
    /// The time of the last decision recorded: the next must be later (no replays).
    pub last_decision_at: Option<DateTime<Utc>>,
    pub devices: BTreeMap<String, Device>,
    pub policies: BTreeMap<Uuid, Policy>,
    /// Requests granted or denied: each is answered once.
    pub answered: BTreeSet<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub device_key: PublicKey,
    pub added_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub device_id: String,
    pub provider_key: PublicKey,
    pub scope: Scope,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub granted_at: DateTime<Utc>,
    /// Revoked or terminated, and when; `None` while granted.
    pub ended: Option<(PolicyStatus, DateTime<Utc>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyStatus {
    Active,
    Expired,
    Revoked,
    Terminated,
}

impl PolicyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Active => "active",
            PolicyStatus::Expired => "expired",
            PolicyStatus::Revoked => "revoked",
            PolicyStatus::Terminated => "terminated",
        }
    }
}

impl Policy {
    /// Expiry needs no event: a policy is expired once its validity has passed.
    pub fn status_at(&self, now: DateTime<Utc>) -> PolicyStatus {
        match self.ended {
            Some((status, _)) => status,
            None if now >= self.valid_until => PolicyStatus::Expired,
            None => PolicyStatus::Active,
        }
    }
}

impl HouseholdState {
    /// The policies of `device_id` active at `now`.
    pub fn active_policies_of<'a>(
        &'a self,
        device_id: &'a str,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = (&'a Uuid, &'a Policy)> + 'a {
        self.policies.iter().filter(move |(_, p)| p.device_id == device_id && p.status_at(now) == PolicyStatus::Active)
    }

    /// The state after `event`. Every event was decided against the state before it, so one that does not fit
    /// (a policy of a device the home never had) means a corrupt stream, and this panics.
    pub(super) fn evolve(mut self, event: &HouseholdEvent) -> HouseholdState {
        let at = event.at();
        match event {
            HouseholdEvent::DeviceAdded { device_id, device_key, decision, .. } => {
                self.owner.get_or_insert(decision.document.home);
                let previous = self.devices.insert(device_id.clone(), Device { device_key: *device_key, added_at: at });
                assert!(previous.is_none(), "device {device_id} is added once");
            }
            HouseholdEvent::ConsentAuthorized {
                policy_id,
                request_id,
                device_id,
                provider_key,
                scope,
                valid_from,
                valid_until,
                decision,
                ..
            } => {
                self.owner.get_or_insert(decision.document.home);
                assert!(self.devices.contains_key(device_id), "a policy is for a device of the home");
                assert!(self.answered.insert(*request_id), "a request is answered once");
                let policy = Policy {
                    device_id: device_id.clone(),
                    provider_key: *provider_key,
                    scope: scope.clone(),
                    valid_from: *valid_from,
                    valid_until: *valid_until,
                    granted_at: at,
                    ended: None,
                };
                assert!(self.policies.insert(*policy_id, policy).is_none(), "policy {policy_id} is granted once");
            }
            HouseholdEvent::ConsentDenied { request_id, decision, .. } => {
                self.owner.get_or_insert(decision.document.home);
                assert!(self.answered.insert(*request_id), "a request is answered once");
            }
            HouseholdEvent::AuthorizationRevoked { policy_id, .. } => self.end(policy_id, PolicyStatus::Revoked, at),
            HouseholdEvent::PolicyTerminated { policy_id, .. } => self.end(policy_id, PolicyStatus::Terminated, at),
            HouseholdEvent::DeviceDeleted { device_id, .. } => {
                assert!(self.devices.remove(device_id).is_some(), "only a paired device is deleted");
            }
        }
        if !matches!(event, HouseholdEvent::PolicyTerminated { .. }) {
            self.last_decision_at = Some(at);
        }
        self
    }

    fn end(&mut self, policy_id: &Uuid, status: PolicyStatus, at: DateTime<Utc>) {
        let policy = self.policies.get_mut(policy_id).expect("only a granted policy ends");
        assert!(policy.ended.is_none(), "policy {policy_id} ends once");
        policy.ended = Some((status, at));
    }
}
