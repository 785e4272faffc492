use crate::charging::billing::{BillingDetails, CardTokenKey};
use crate::charging::certificate::SignedCertificateRequest;
use crate::charging::contact_card::ContactCard;
use crate::charging::crypto::Uid;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;

#[derive(Debug, Clone)]
pub enum CustomerCommand {
    /// The app's connection request: its own self-signed contact card.
    RequestConnection {
        card: ContactCard,
        at: DateTime<Utc>,
    },
    RequestCertificate(Box<CertificateRequestCommand>),
    RevokeCertificate(RevokeCertificateCommand),
}

/// A certificate request with everything the pure rules need: the authority's secrets, the clock reading,
/// a fresh serial and fresh id tags come from the caller.
#[derive(Debug, Clone)]
pub struct CertificateRequestCommand {
    pub request: SignedCertificateRequest,
    pub billing: BillingDetails,
    pub card_token_key: CardTokenKey,
    pub authority_key: SigningKey,
    pub serial: String,
    pub validity: Duration,
    /// One fresh id tag per participating provider; used only for providers the user has none with yet.
    pub id_tags: Vec<ProviderIdTag>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ProviderIdTag {
    pub provider_uid: Uid,
    pub id_tag: String,
}

#[derive(Debug, Clone)]
pub struct RevokeCertificateCommand {
    pub serial: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}
