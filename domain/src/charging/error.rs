//! Why each charging aggregate refuses a command: one enum per aggregate, all here.

use chrono::{DateTime, Utc};

use crate::charging::billing::BillingError;
use crate::charging::certificate::MAX_SERIAL_CHARS;
use crate::charging::contact_card::ContactCardError;
use crate::charging::crypto::Uid;
use crate::charging::customer::{MAX_ID_TAG_CHARS, MAX_REASON_CHARS};
use crate::crypto::CryptoError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustListError {
    #[error("invalid contact card: {0}")]
    InvalidContactCard(#[from] ContactCardError),
    #[error("authority {0} is not trusted")]
    NotTrusted(Uid),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargePointError {
    #[error("the socket request is not signed by the key it names")]
    BadRequestSignature,
    #[error("the socket request is signed by a key that is not the certificate's subject")]
    WrongKey,
    #[error("the certificate's issuer {0} is not an authority this provider trusts")]
    UnknownAuthority(Uid),
    #[error("the certificate's signature does not verify: it was altered or not issued by {0}")]
    TamperedCertificate(Uid),
    #[error("the certificate expired at {0}")]
    CertificateExpired(DateTime<Utc>),
    #[error("the certificate is not valid before {0}")]
    CertificateNotYetValid(DateTime<Utc>),
    #[error("certificate {0} is not in the authority's log")]
    UnknownCertificate(String),
    #[error("certificate {0} is revoked")]
    CertificateRevoked(String),
    #[error("the signed request is older or newer than five minutes")]
    StaleRequest,
    #[error("the request is for charge point {0}, not this one")]
    WrongChargePoint(String),
    #[error("the authority registered no credential for this user with this provider")]
    NoCredential,
    #[error("connector {0} does not exist (connectors count from 1)")]
    InvalidConnector(u32),
    #[error("connector {0} is in use")]
    SocketBusy(u32),
    #[error("id tag {0} is not enabled on this charge point")]
    IdTagNotEnabled(String),
    #[error("id tag {id_tag} is enabled on connector {enabled}, not {requested}")]
    WrongConnector { id_tag: String, enabled: u32, requested: u32 },
    #[error("no running transaction {0}")]
    UnknownTransaction(i32),
    #[error("the meter reads {reading_wh} Wh, below the {previous_wh} Wh already recorded")]
    MeterWentBackwards { previous_wh: i64, reading_wh: i64 },
    #[error("a meter reading must not be negative")]
    NegativeMeter,
    #[error("the transaction stops at {stopped_at}, before it started at {started_at}")]
    StopBeforeStart { started_at: DateTime<Utc>, stopped_at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    #[error("invalid contact card: {0}")]
    InvalidContactCard(#[from] ContactCardError),
    #[error("this identity already asked to connect with a different contact card")]
    AlreadyConnected,
    #[error("no connection request from this identity yet")]
    NotConnected,
    #[error("the certificate request is not signed by the identity's key")]
    BadRequestSignature,
    #[error("the signed request is older or newer than five minutes")]
    StaleRequest,
    #[error("billing details refused: {0}")]
    Billing(#[from] BillingError),
    #[error("an id tag must be 1 to {MAX_ID_TAG_CHARS} printable ASCII characters")]
    InvalidIdTag,
    #[error("a serial must be 1 to {MAX_SERIAL_CHARS} characters and new for this user")]
    InvalidSerial,
    #[error("the validity must be positive")]
    InvalidValidity,
    #[error("no certificate with serial {0} for this user")]
    UnknownCertificate(String),
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("a revocation reason must be 1 to {MAX_REASON_CHARS} characters")]
    InvalidReason,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
