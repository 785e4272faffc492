//! Certificates the registration authority issues, and the two documents a user's app signs with its own
//! key: the certificate request (proof of key possession) and the socket request (certificate presentation).
//! Every signed document is checked over the canonical JSON of the document as received (`Received`), for its
//! purpose in the one scheme of `crate::crypto`.

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use super::crypto::{hex_key, hex_signature, verify_legacy, CryptoError, PublicKey, Signature, Uid};
use crate::crypto::{Purpose, Received};

pub const CERTIFICATE_PURPOSE: Purpose = Purpose("notch/charging/certificate/v1");
/// Certificates issued before the one scheme were signed under this tag (`verify_legacy`).
pub const LEGACY_CERTIFICATE_TAG: &str = "notch.charging.certificate.v1";
pub const CERTIFICATE_REQUEST_PURPOSE: Purpose = Purpose("notch/charging/certificate-request/v1");
pub const SOCKET_REQUEST_PURPOSE: Purpose = Purpose("notch/charging/socket-request/v1");
/// How far a signed request's time may be from the receiver's clock: bounds replays of a captured request.
pub const REQUEST_FRESHNESS: Duration = Duration::minutes(5);
pub const MAX_SERIAL_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CertificateBody {
    pub serial: String,
    pub subject_uid: Uid,
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub subject_public_key: PublicKey,
    pub issuer_uid: Uid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub certificate: Received<CertificateBody>,
    /// ed25519 by the issuer for `CERTIFICATE_PURPOSE` over JCS(certificate).
    #[serde(with = "hex_signature")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub signature: Signature,
}

impl Certificate {
    pub fn issue(issuer: &SigningKey, body: CertificateBody) -> Result<Certificate, CryptoError> {
        let certificate = Received::of(body)?;
        let signature = Signature::sign_canonical(issuer, CERTIFICATE_PURPOSE, certificate.canonical());
        Ok(Certificate { certificate, signature })
    }

    /// The issuer's signature, in the one scheme or (for a certificate issued before it) the legacy one.
    pub fn verify_issuer_signature(&self, issuer_key: &PublicKey) -> Result<(), CryptoError> {
        let canonical = self.certificate.canonical();
        issuer_key
            .verify_canonical(CERTIFICATE_PURPOSE, canonical, &self.signature)
            .or_else(|_| verify_legacy(issuer_key, LEGACY_CERTIFICATE_TAG, canonical, &self.signature))
    }
}

/// What the app signs to ask for a certificate: which identity, and when (the billing details travel beside
/// it, over TLS, and are never part of anything kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CertificateRequestProof {
    pub uid: Uid,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedCertificateRequest {
    pub proof: Received<CertificateRequestProof>,
    /// ed25519 by the uid's key for `CERTIFICATE_REQUEST_PURPOSE` over JCS(proof).
    #[serde(with = "hex_signature")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub signature: Signature,
}

impl SignedCertificateRequest {
    pub fn sign(key: &SigningKey, requested_at: DateTime<Utc>) -> Result<Self, CryptoError> {
        let proof = Received::of(CertificateRequestProof { uid: Uid::of(&PublicKey::of(key)), requested_at })?;
        let signature = Signature::sign_canonical(key, CERTIFICATE_REQUEST_PURPOSE, proof.canonical());
        Ok(SignedCertificateRequest { proof, signature })
    }
}

/// What the app signs to use a socket: the certificate, the socket (from the socket's contact card meta),
/// and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SocketRequestBody {
    pub certificate: Certificate,
    pub charge_point_id: String,
    pub connector_id: u32,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SocketRequest {
    pub request: Received<SocketRequestBody>,
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub signer_public_key: PublicKey,
    /// ed25519 by `signer_public_key` for `SOCKET_REQUEST_PURPOSE` over JCS(request).
    #[serde(with = "hex_signature")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub signature: Signature,
}

impl SocketRequest {
    pub fn sign(key: &SigningKey, request: SocketRequestBody) -> Result<SocketRequest, CryptoError> {
        let request = Received::of(request)?;
        let signature = Signature::sign_canonical(key, SOCKET_REQUEST_PURPOSE, request.canonical());
        Ok(SocketRequest { request, signer_public_key: PublicKey::of(key), signature })
    }

    pub fn verify_signer(&self) -> Result<(), CryptoError> {
        self.request.verify(&self.signer_public_key, SOCKET_REQUEST_PURPOSE, &self.signature)
    }
}

/// Whether a signed request's time is close enough to `now`.
pub fn is_fresh(requested_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - requested_at).abs() <= REQUEST_FRESHNESS
}
