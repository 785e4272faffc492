//! The device's own record of the policies its owner granted it, read from its home stream but believed only
//! from the signed documents inside each event: the owner's decision (signed by the owner key the device is
//! paired with, naming this device) and, in it, the provider's signed request; a termination signed by the
//! policy's provider. A ledger can withhold events, never make the device grant what the owner did not sign.
//! What a policy change means for the device's channels (a grant wrapped to the provider, a key rotation) is the
//! caller's; this module says which policies are active, for which scope and which provider.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::crypto::PublicKey;
use domain::home::consent::Scope;
use domain::home::household::{Act, SignedDecision};
use domain::home::HouseholdEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What one home event did to the device's policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A provider may now read the policy's scope.
    Granted(Uuid),
    /// The policy ended (revoked, its device deleted, or terminated by its provider).
    Ended(Uuid),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePolicies {
    pub policies: BTreeMap<Uuid, DevicePolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePolicy {
    pub provider_key: String,
    /// The provider's X25519 key (hex), which grants and rotations are wrapped to.
    pub provider_hpke_key: String,
    pub scope: Scope,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl DevicePolicy {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && self.valid_from <= now && now < self.valid_until
    }
}

impl DevicePolicies {
    /// Applies a home event for device `device_id` paired with `owner`; `None` when the event changes none of
    /// this device's policies or its documents do not check out (logged).
    pub fn apply(&mut self, device_id: &str, owner: &PublicKey, event: &HouseholdEvent) -> Option<Change> {
        match event {
            HouseholdEvent::ConsentAuthorized { decision, .. } => self.granted(device_id, owner, decision),
            HouseholdEvent::AuthorizationRevoked { policy_id, decision, .. } => {
                let ends = match &decision.document.act {
                    Act::Revoke { policy_id: revoked, .. } => revoked == policy_id,
                    Act::DeleteDevice { device_id: deleted } => deleted == device_id,
                    _ => false,
                };
                if !ends || !signed_by(decision, owner) {
                    return None;
                }
                self.end(policy_id, decision.document.at)
            }
            HouseholdEvent::PolicyTerminated { policy_id, termination, .. } => {
                let provider = PublicKey::from_hex(&self.policies.get(policy_id)?.provider_key).ok()?;
                let signed = termination.verify(&provider).is_ok() && termination.document.policy_id == *policy_id;
                if !signed {
                    tracing::warn!(%policy_id, "ignored a termination its provider did not sign");
                    return None;
                }
                self.end(policy_id, termination.document.at)
            }
            _ => None,
        }
    }

    fn granted(&mut self, device_id: &str, owner: &PublicKey, decision: &SignedDecision) -> Option<Change> {
        let Act::Authorize { policy_id, device_id: granted_to, request } = &decision.document.act else { return None };
        if granted_to != device_id || !signed_by(decision, owner) || self.policies.contains_key(policy_id) {
            return None;
        }
        let provider = &request.document.provider.document;
        if request.verify(&provider.provider_key).is_err() || request.document.provider.check().is_err() {
            tracing::warn!(%policy_id, "ignored a grant whose request its provider did not sign");
            return None;
        }
        let policy = DevicePolicy {
            provider_key: provider.provider_key.to_hex(),
            provider_hpke_key: provider.hpke_key.clone(),
            scope: request.document.scope.clone(),
            valid_from: request.document.valid_from,
            valid_until: request.document.valid_until,
            ended_at: None,
        };
        self.policies.insert(*policy_id, policy);
        Some(Change::Granted(*policy_id))
    }

    fn end(&mut self, policy_id: &Uuid, at: DateTime<Utc>) -> Option<Change> {
        let policy = self.policies.get_mut(policy_id).filter(|p| p.ended_at.is_none())?;
        policy.ended_at = Some(at);
        Some(Change::Ended(*policy_id))
    }

    /// The policies active at `now`, by scope: the channels the device publishes and who reads each.
    pub fn active_by_scope(&self, now: DateTime<Utc>) -> BTreeMap<Scope, BTreeMap<Uuid, &DevicePolicy>> {
        let mut scopes: BTreeMap<Scope, BTreeMap<Uuid, &DevicePolicy>> = BTreeMap::new();
        for (id, policy) in self.policies.iter().filter(|(_, p)| p.is_active(now)) {
            scopes.entry(policy.scope.clone()).or_default().insert(*id, policy);
        }
        scopes
    }

    /// The next time after `now` at which a policy starts or expires by itself: when the device must look again.
    pub fn next_boundary(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let open = self.policies.values().filter(|p| p.ended_at.is_none());
        open.flat_map(|p| [p.valid_from, p.valid_until]).filter(|t| *t > now).min()
    }
}

fn signed_by(decision: &SignedDecision, owner: &PublicKey) -> bool {
    let signed = decision.document.home == *owner && decision.verify(owner).is_ok();
    if !signed {
        tracing::warn!("ignored a home event whose decision the owner did not sign");
    }
    signed
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use domain::crypto::Signed;
    use domain::home::consent::{ConsentRequest, Field, Granularity, ProviderCard, SignedConsentRequest};
    use domain::home::household::{OwnerDecision, RevocationReason, Termination};
    use ed25519_dalek::SigningKey;

    const DEVICE: &str = "abcdefghijklmnop";

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn request(provider: &SigningKey, fields: Vec<Field>, days: i64) -> SignedConsentRequest {
        let card = ProviderCard {
            name: "Wattt".into(),
            provider_key: PublicKey::of(provider),
            hpke_key: hex::encode([provider.to_bytes()[0]; 32]),
            return_urls: vec!["https://wattt.example/back".into()],
            purposes: vec!["graphs".into()],
            issued_at: now(),
        };
        let document = ConsentRequest {
            request_id: Uuid::now_v7(),
            provider: Signed::sign(provider, card).unwrap(),
            purpose: "graphs".into(),
            scope: Scope { fields, granularity: Granularity::FifteenMinutes },
            valid_from: now(),
            valid_until: now() + Duration::days(days),
            return_url: "https://wattt.example/back".into(),
        };
        Signed::sign(provider, document).unwrap()
    }

    fn decision(signer: &SigningKey, owner: &SigningKey, act: Act) -> SignedDecision {
        Signed::sign(signer, OwnerDecision { home: PublicKey::of(owner), at: now(), act }).unwrap()
    }

    /// The event as the ledger records it: its fields from the request (a lying ledger could change them).
    fn authorized(policy_id: Uuid, request: &SignedConsentRequest, decision: SignedDecision) -> HouseholdEvent {
        let card = &request.document.provider.document;
        HouseholdEvent::ConsentAuthorized {
            policy_id,
            request_id: request.document.request_id,
            request_hash: request.hash(),
            device_id: DEVICE.into(),
            provider_key: card.provider_key,
            provider_hpke_key: card.hpke_key.clone(),
            scope: request.document.scope.clone(),
            valid_from: request.document.valid_from,
            valid_until: request.document.valid_until,
            decision,
        }
    }

    fn grant(owner: &SigningKey, provider: &SigningKey, fields: Vec<Field>) -> (Uuid, HouseholdEvent) {
        let (policy_id, request) = (Uuid::now_v7(), request(provider, fields, 30));
        let act = Act::Authorize { policy_id, device_id: DEVICE.into(), request: request.clone() };
        (policy_id, authorized(policy_id, &request, decision(owner, owner, act)))
    }

    #[test]
    fn grants_signed_by_the_owner_make_scopes_and_readers() {
        let (owner, a, b) = (key(1), key(2), key(3));
        let mut policies = DevicePolicies::default();
        let (pa, event) = grant(&owner, &a, vec![Field::EnergyImportWh]);
        assert_eq!(policies.apply(DEVICE, &PublicKey::of(&owner), &event), Some(Change::Granted(pa)));
        let (_, event) = grant(&owner, &b, vec![Field::EnergyImportWh]);
        assert!(policies.apply(DEVICE, &PublicKey::of(&owner), &event).is_some());
        let (_, event) = grant(&owner, &b, vec![Field::PowerImportW]);
        assert!(policies.apply(DEVICE, &PublicKey::of(&owner), &event).is_some());
        let scopes = policies.active_by_scope(now());
        assert_eq!(scopes.len(), 2);
        let energy = Scope { fields: vec![Field::EnergyImportWh], granularity: Granularity::FifteenMinutes };
        assert_eq!(scopes[&energy].len(), 2, "two providers read energy");
        // Expiry without any event, at the boundary the device waits for.
        assert_eq!(policies.next_boundary(now()), Some(now() + Duration::days(30)));
        assert!(policies.active_by_scope(now() + Duration::days(31)).is_empty());
        assert_eq!(policies.next_boundary(now() + Duration::days(31)), None);
    }

    #[test]
    fn what_the_owner_did_not_sign_changes_nothing() {
        let (owner, provider, stranger) = (key(1), key(2), key(9));
        let mut policies = DevicePolicies::default();
        // Signed by another key than the owner's.
        let (policy_id, request) = (Uuid::now_v7(), request(&provider, vec![Field::GasDm3], 30));
        let act = Act::Authorize { policy_id, device_id: DEVICE.into(), request: request.clone() };
        let forged = authorized(policy_id, &request, decision(&stranger, &owner, act.clone()));
        assert_eq!(policies.apply(DEVICE, &PublicKey::of(&owner), &forged), None);
        // For another device.
        let other = Act::Authorize { policy_id, device_id: "qqqqqqqqqqqqqqqq".into(), request: request.clone() };
        let elsewhere = authorized(policy_id, &request, decision(&owner, &owner, other));
        assert_eq!(policies.apply(DEVICE, &PublicKey::of(&owner), &elsewhere), None);
        // A request changed after its provider signed it: the scope the owner saw is the signed one.
        let mut widened = request.clone();
        let mut document = (*widened.document).clone();
        document.scope.fields = vec![Field::GasDm3, Field::Phases];
        widened.document = domain::crypto::Received::of(document).unwrap();
        let act = Act::Authorize { policy_id, device_id: DEVICE.into(), request: widened.clone() };
        let tampered = authorized(policy_id, &widened, decision(&owner, &owner, act));
        assert_eq!(policies.apply(DEVICE, &PublicKey::of(&owner), &tampered), None);
        assert!(policies.policies.is_empty());
    }

    #[test]
    fn revocation_deletion_and_termination_end_a_policy_once() {
        let (owner, provider) = (key(1), key(2));
        let owner_key = PublicKey::of(&owner);
        let mut policies = DevicePolicies::default();
        let (p1, event) = grant(&owner, &provider, vec![Field::EnergyImportWh]);
        policies.apply(DEVICE, &owner_key, &event);
        let (p2, event) = grant(&owner, &provider, vec![Field::PowerImportW]);
        policies.apply(DEVICE, &owner_key, &event);
        let (p3, event) = grant(&owner, &provider, vec![Field::GasDm3]);
        policies.apply(DEVICE, &owner_key, &event);

        let revoke = decision(&owner, &owner, Act::Revoke { policy_id: p1, reason: String::new() });
        let reason = RevocationReason::Owner { reason: String::new() };
        let revoked =
            HouseholdEvent::AuthorizationRevoked { policy_id: p1, device_id: DEVICE.into(), reason, decision: revoke };
        assert_eq!(policies.apply(DEVICE, &owner_key, &revoked), Some(Change::Ended(p1)));
        assert_eq!(policies.apply(DEVICE, &owner_key, &revoked), None, "once");

        let termination = Termination { home: owner_key, policy_id: p2, reason: "done".into(), at: now() };
        let by_stranger = Signed::sign(&key(9), termination.clone()).unwrap();
        let forged =
            HouseholdEvent::PolicyTerminated { policy_id: p2, device_id: DEVICE.into(), termination: by_stranger };
        assert_eq!(policies.apply(DEVICE, &owner_key, &forged), None);
        let signed = Signed::sign(&provider, termination).unwrap();
        let terminated =
            HouseholdEvent::PolicyTerminated { policy_id: p2, device_id: DEVICE.into(), termination: signed };
        assert_eq!(policies.apply(DEVICE, &owner_key, &terminated), Some(Change::Ended(p2)));

        let delete = decision(&owner, &owner, Act::DeleteDevice { device_id: DEVICE.into() });
        let reason = RevocationReason::DeviceDeleted;
        let deleted =
            HouseholdEvent::AuthorizationRevoked { policy_id: p3, device_id: DEVICE.into(), reason, decision: delete };
        assert_eq!(policies.apply(DEVICE, &owner_key, &deleted), Some(Change::Ended(p3)));
        assert!(policies.active_by_scope(now()).is_empty());
    }
}
