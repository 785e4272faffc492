//! Certificates the registration authority issues, and the two documents a user's app signs with its own
//! key: the certificate request (proof of key possession) and the socket request (certificate presentation).

use super::crypto::{self, CryptoError, PublicKey, Signature, Uid};
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const CERTIFICATE_PURPOSE: &str = "notch.charging.certificate.v1";
pub const CERTIFICATE_REQUEST_PURPOSE: &str = "notch.charging.certificate-request.v1";
pub const SOCKET_REQUEST_PURPOSE: &str = "notch.charging.socket-request.v1";
/// How far a signed request's time may be from the receiver's clock: bounds replays of a captured request.
pub const REQUEST_FRESHNESS: Duration = Duration::minutes(5);
pub const MAX_SERIAL_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateBody {
    pub serial: String,
    pub subject_uid: Uid,
    pub subject_public_key: PublicKey,
    pub issuer_uid: Uid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub certificate: CertificateBody,
    /// ed25519 by the issuer over `CERTIFICATE_PURPOSE` + "\n" + JCS(certificate).
    pub signature: Signature,
}

impl Certificate {
    pub fn issue(issuer: &SigningKey, body: CertificateBody) -> Result<Certificate, CryptoError> {
        let signature = crypto::sign(issuer, CERTIFICATE_PURPOSE, &body)?;
        Ok(Certificate { certificate: body, signature })
    }

    pub fn verify_issuer_signature(&self, issuer_key: &PublicKey) -> Result<(), CryptoError> {
        crypto::verify(issuer_key, CERTIFICATE_PURPOSE, &self.certificate, &self.signature)
    }
}

/// What the app signs to ask for a certificate: which identity, and when (the billing details travel beside
/// it, over TLS, and are never part of anything kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequestProof {
    pub uid: Uid,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedCertificateRequest {
    pub proof: CertificateRequestProof,
    /// ed25519 by the uid's key over `CERTIFICATE_REQUEST_PURPOSE` + "\n" + JCS(proof).
    pub signature: Signature,
}

impl SignedCertificateRequest {
    pub fn sign(key: &SigningKey, requested_at: DateTime<Utc>) -> Result<Self, CryptoError> {
        let proof = CertificateRequestProof { uid: Uid::of(&PublicKey::of(key)), requested_at };
        let signature = crypto::sign(key, CERTIFICATE_REQUEST_PURPOSE, &proof)?;
        Ok(SignedCertificateRequest { proof, signature })
    }
}

/// What the app signs to use a socket: the certificate, the socket (from the socket's contact card meta),
/// and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SocketRequestBody {
    pub certificate: Certificate,
    pub charge_point_id: String,
    pub connector_id: u32,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SocketRequest {
    pub request: SocketRequestBody,
    pub signer_public_key: PublicKey,
    /// ed25519 by `signer_public_key` over `SOCKET_REQUEST_PURPOSE` + "\n" + JCS(request).
    pub signature: Signature,
}

impl SocketRequest {
    pub fn sign(key: &SigningKey, request: SocketRequestBody) -> Result<SocketRequest, CryptoError> {
        let signature = crypto::sign(key, SOCKET_REQUEST_PURPOSE, &request)?;
        Ok(SocketRequest { request, signer_public_key: PublicKey::of(key), signature })
    }

    pub fn verify_signer(&self) -> Result<(), CryptoError> {
        crypto::verify(&self.signer_public_key, SOCKET_REQUEST_PURPOSE, &self.request, &self.signature)
    }
}

/// Whether a signed request's time is close enough to `now`.
pub fn is_fresh(requested_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - requested_at).abs() <= REQUEST_FRESHNESS
}
