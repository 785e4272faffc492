use super::events::CustomerEvent;
use crate::charging::crypto::{PublicKey, Uid};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One user's relationship with the authority, rebuilt from `charging-user-<uid>`. Providers replay the same
/// stream to learn credentials and revocations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerState {
    pub relationship: Option<Relationship>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    pub uid: Uid,
    pub alias: String,
    pub public_key: PublicKey,
    pub trust: Trust,
    pub card_last4: Option<String>,
    /// provider uid -> id tag
    pub credentials: BTreeMap<Uid, String>,
    /// serial -> status
    pub certificates: BTreeMap<String, CertificateStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Untrusted,
    Trusted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateStatus {
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl CustomerState {
    /// The state after `event`; an event that cannot follow this state (decide would never have made it) panics.
    pub fn evolve(mut self, event: &CustomerEvent) -> CustomerState {
        match event {
            CustomerEvent::ConnectionRequested { uid, alias, public_key, .. } => {
                assert!(self.relationship.is_none(), "a customer connects once");
                self.relationship = Some(Relationship {
                    uid: uid.clone(),
                    alias: alias.clone(),
                    public_key: *public_key,
                    trust: Trust::Untrusted,
                    card_last4: None,
                    credentials: BTreeMap::new(),
                    certificates: BTreeMap::new(),
                });
            }
            CustomerEvent::BillingAccepted { card_last4, .. } => {
                let r = self.relationship_mut("BillingAccepted");
                r.card_last4 = Some(card_last4.clone());
            }
            CustomerEvent::RelationshipTrusted { .. } => {
                let r = self.relationship_mut("RelationshipTrusted");
                r.trust = Trust::Trusted;
            }
            CustomerEvent::CredentialRegistered { provider_uid, id_tag, .. } => {
                let r = self.relationship_mut("CredentialRegistered");
                r.credentials.insert(provider_uid.clone(), id_tag.clone());
            }
            CustomerEvent::CertificateIssued { certificate, .. } => {
                let status = CertificateStatus { expires_at: certificate.certificate.expires_at, revoked_at: None };
                self.relationship_mut("CertificateIssued")
                    .certificates
                    .insert(certificate.certificate.serial.clone(), status);
            }
            CustomerEvent::CertificateRevoked { serial, at, .. } => {
                let status = self.relationship_mut("CertificateRevoked").certificates.get_mut(serial);
                status.expect("a certificate is revoked after it was issued").revoked_at = Some(*at);
            }
        }
        self
    }

    /// Every event after the first was decided against a relationship: its absence means a corrupt stream.
    fn relationship_mut(&mut self, event: &str) -> &mut Relationship {
        self.relationship.as_mut().unwrap_or_else(|| panic!("{event} before ConnectionRequested"))
    }

    pub fn is_revoked(&self, serial: &str) -> bool {
        self.relationship.as_ref().and_then(|r| r.certificates.get(serial)).is_some_and(|s| s.revoked_at.is_some())
    }

    pub fn id_tag_for(&self, provider: &Uid) -> Option<&str> {
        self.relationship.as_ref()?.credentials.get(provider).map(String::as_str)
    }
}
