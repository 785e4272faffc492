//! The byte constructions every context's signed documents share: one key type and one signature type (valid by
//! construction), one error, RFC 8785 canonical JSON, BLAKE2b-256, and one scheme of purpose tags:
//!
//! ```text
//! signed bytes = purpose || 0x00 || JCS(document)        purpose = "notch/<context>/<document>/v1"
//! ```
//!
//! The tag keeps a signature made for one kind of document from being accepted as another. A document a party
//! signed elsewhere (an app, a device) is verified over the canonical form of the JSON object *as received*
//! ([`Received`]), never over this service's re-serialisation of a parsed copy: an app that leaves out an optional
//! field or writes a time as `+00:00` signs what it sends, and that is what is checked and kept.
//!
//! Keys and signatures are base64url without padding in JSON by default; documents of the charging context keep
//! their original hex form through [`hex_key`] and [`hex_signature`].

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Why a key, a signature or a signed document was not accepted. Deliberately coarse: callers must not learn more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("malformed public key")]
    MalformedKey,
    #[error("malformed signature")]
    MalformedSignature,
    #[error("signature does not verify")]
    BadSignature,
    #[error("the document cannot be put in canonical JSON: {0}")]
    NotCanonical(String),
    /// A charging uid: 64 lowercase hex digits, BLAKE2b-256 of a public key.
    #[error("a uid is 64 lowercase hex digits (BLAKE2b-256 of the public key)")]
    MalformedId,
}

/// What a signature is for: `notch/<context>/<document>/v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose(pub &'static str);

/// The exact bytes signed for `purpose` over the canonical JSON `canonical`.
pub fn signing_bytes(purpose: Purpose, canonical: &[u8]) -> Vec<u8> {
    debug_assert!(purpose.0.starts_with("notch/") && purpose.0.ends_with("/v1"), "one scheme of tags");
    let mut bytes = Vec::with_capacity(purpose.0.len() + 1 + canonical.len());
    bytes.extend_from_slice(purpose.0.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(canonical);
    bytes
}

/// RFC 8785 canonical JSON of any serialisable value.
pub fn canonical_json(value: &impl Serialize) -> Result<Vec<u8>, CryptoError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| CryptoError::NotCanonical(e.to_string()))
}

/// BLAKE2b with a 256-bit output.
pub fn blake2b(bytes: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(bytes).into()
}

/// [`blake2b`], lower-case hex.
pub fn blake2b_hex(bytes: &[u8]) -> String {
    hex::encode(blake2b(bytes))
}

/// An ed25519 public key as its 32 bytes. Whether they are a valid point is checked where a key enters from
/// outside ([`PublicKey::check`]: a registration, a contact card) and by every verification, not each time a key
/// is read back from the log or a view: decompressing a point costs as much as hashing a kilobyte, and a lift run
/// reads hundreds of thousands of tallies, each with two keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn of(key: &SigningKey) -> PublicKey {
        PublicKey(key.verifying_key().to_bytes())
    }

    /// The key as a curve point; `MalformedKey` when the bytes are not one.
    pub fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| CryptoError::MalformedKey)
    }

    /// Refuses bytes that are not a valid point: for keys that enter from outside, before they are kept.
    pub fn check(&self) -> Result<(), CryptoError> {
        self.verifying_key().map(drop)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 32 bytes; whether they are a point is [`PublicKey::check`]'s question.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, CryptoError> {
        bytes.try_into().map(PublicKey).map_err(|_| CryptoError::MalformedKey)
    }

    /// Unpadded base64url of the 32 bytes (a MyCHIPs agent id, a site's device key).
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_base64url(text: &str) -> Result<PublicKey, CryptoError> {
        PublicKey::from_bytes(&URL_SAFE_NO_PAD.decode(text).map_err(|_| CryptoError::MalformedKey)?)
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Result<PublicKey, CryptoError> {
        PublicKey::from_bytes(&hex::decode(text).map_err(|_| CryptoError::MalformedKey)?)
    }

    /// Checks `signature` for `purpose` over the canonical JSON `canonical`. Strict: no small-order keys, no
    /// malleable signatures, so a signature cannot be reshaped.
    pub fn verify_canonical(
        &self,
        purpose: Purpose,
        canonical: &[u8],
        signature: &Signature,
    ) -> Result<(), CryptoError> {
        let key = self.verifying_key()?;
        key.verify_strict(&signing_bytes(purpose, canonical), &signature.0).map_err(|_| CryptoError::BadSignature)
    }

    /// [`PublicKey::verify_canonical`] over `document`'s canonical JSON.
    pub fn verify(
        &self,
        purpose: Purpose,
        document: &impl Serialize,
        signature: &Signature,
    ) -> Result<(), CryptoError> {
        self.verify_canonical(purpose, &canonical_json(document)?, signature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64url())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64url())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PublicKey::from_base64url(&text)
            .map_err(|_| serde::de::Error::custom("a public key is 43 characters of base64url (32 bytes, no padding)"))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for PublicKey {
    fn schema_name() -> String {
        "PublicKey".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(gen)
    }
}

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    /// `key`'s signature for `purpose` over the canonical JSON `canonical`.
    pub fn sign_canonical(key: &SigningKey, purpose: Purpose, canonical: &[u8]) -> Signature {
        Signature(key.sign(&signing_bytes(purpose, canonical)))
    }

    /// `key`'s signature for `purpose` over `document`'s canonical JSON (what an app does with its key).
    pub fn sign(key: &SigningKey, purpose: Purpose, document: &impl Serialize) -> Result<Signature, CryptoError> {
        Ok(Signature::sign_canonical(key, purpose, &canonical_json(document)?))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, CryptoError> {
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| CryptoError::MalformedSignature)?;
        Ok(Signature(ed25519_dalek::Signature::from_bytes(&bytes)))
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes()
    }

    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_bytes())
    }

    pub fn from_base64url(text: &str) -> Result<Signature, CryptoError> {
        Signature::from_bytes(&URL_SAFE_NO_PAD.decode(text).map_err(|_| CryptoError::MalformedSignature)?)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn from_hex(text: &str) -> Result<Signature, CryptoError> {
        Signature::from_bytes(&hex::decode(text).map_err(|_| CryptoError::MalformedSignature)?)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64url())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Signature::from_base64url(&text)
            .map_err(|_| serde::de::Error::custom("a signature is 86 characters of base64url (64 bytes, no padding)"))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Signature {
    fn schema_name() -> String {
        "Signature".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(gen)
    }
}

/// A key as 64 hex digits in JSON: `#[serde(with = "crate::crypto::hex_key")]`.
pub mod hex_key {
    use super::PublicKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &PublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        let text = String::deserialize(d)?;
        PublicKey::from_hex(&text).map_err(|_| serde::de::Error::custom("a public key is 64 hex digits (32 bytes)"))
    }
}

/// A signature as 128 hex digits in JSON: `#[serde(with = "crate::crypto::hex_signature")]`.
pub mod hex_signature {
    use super::Signature;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(signature: &Signature, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&signature.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Signature, D::Error> {
        let text = String::deserialize(d)?;
        Signature::from_hex(&text).map_err(|_| serde::de::Error::custom("a signature is 128 hex digits"))
    }
}

/// A document as a party sent it: its canonical JSON (what the party signed and what the log keeps) and its
/// parsed form. It serialises as the JSON it was received as, and dereferences to the parsed form.
#[derive(Clone)]
pub struct Received<T> {
    json: Value,
    /// Made on first use: a document read back from a view for a decision is never hashed or verified again.
    canonical: std::sync::OnceLock<Vec<u8>>,
    /// Boxed so a document in a command or event variant costs a pointer, not its whole body.
    parsed: Box<T>,
}

impl<T: Serialize> Received<T> {
    /// A document this service makes itself: its JSON is its serde form.
    pub fn of(parsed: T) -> Result<Received<T>, CryptoError> {
        let json = serde_json::to_value(&parsed).map_err(|e| CryptoError::NotCanonical(e.to_string()))?;
        let canonical = canonical_json(&json)?.into();
        Ok(Received { json, canonical, parsed: Box::new(parsed) })
    }
}

#[cfg(test)]
impl<T: Serialize + Clone> Received<T> {
    /// A copy with `edit` applied, its JSON made anew: how a test tampers with a signed document.
    pub(crate) fn edited(&self, edit: impl FnOnce(&mut T)) -> Result<Received<T>, CryptoError> {
        let mut parsed = (*self.parsed).clone();
        edit(&mut parsed);
        Received::of(parsed)
    }
}

impl<T> Received<T> {
    /// The RFC 8785 bytes of the document as received: what its signature covers and its hash is taken over.
    pub fn canonical(&self) -> &[u8] {
        // RFC 8785 of a parsed JSON value cannot fail: it has no non-finite numbers, and its keys are strings.
        self.canonical.get_or_init(|| canonical_json(&self.json).expect("a parsed JSON value has a canonical form"))
    }

    pub fn into_parsed(self) -> T {
        *self.parsed
    }

    /// Whether `key` signed this document for `purpose`.
    pub fn verify(&self, key: &PublicKey, purpose: Purpose, signature: &Signature) -> Result<(), CryptoError> {
        key.verify_canonical(purpose, self.canonical(), signature)
    }

    /// BLAKE2b-256 of the canonical bytes, hex.
    pub fn hash(&self) -> String {
        blake2b_hex(self.canonical())
    }
}

impl<T> std::ops::Deref for Received<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.parsed
    }
}

impl<T: fmt::Debug> fmt::Debug for Received<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parsed.fmt(f)
    }
}

/// Two documents are the same when their canonical bytes are.
impl<T> PartialEq for Received<T> {
    fn eq(&self, other: &Self) -> bool {
        self.canonical() == other.canonical()
    }
}

impl<T> Eq for Received<T> {}

impl<T> Serialize for Received<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Received<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(d)?;
        let parsed = T::deserialize(&json).map_err(serde::de::Error::custom)?;
        Ok(Received { json, canonical: std::sync::OnceLock::new(), parsed: Box::new(parsed) })
    }
}

#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Received<T> {
    fn schema_name() -> String {
        T::schema_name()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
}

/// A document of kind `T` with its signer's signature, sent as `{"document": {...}, "signature": "<128 hex>"}`:
/// Ed25519 over `T::PURPOSE ‖ 0x00 ‖ JCS(document as received)`. Who must have signed depends on the document
/// (its own key, or a key the reader knows), so [`Signed::verify`] takes the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "", deserialize = "T: DeserializeOwned"), deny_unknown_fields)]
pub struct Signed<T> {
    pub document: Received<T>,
    #[serde(with = "hex_signature")]
    pub signature: Signature,
}

/// A kind of signed document: its purpose tag, the one place it is named.
pub trait SignedDocument: Serialize {
    const PURPOSE: Purpose;
}

impl<T: SignedDocument> Signed<T> {
    pub fn sign(key: &SigningKey, document: T) -> Result<Signed<T>, CryptoError> {
        let document = Received::of(document)?;
        let signature = Signature::sign_canonical(key, T::PURPOSE, document.canonical());
        Ok(Signed { document, signature })
    }

    /// Whether `key` signed this document for `T::PURPOSE`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), CryptoError> {
        self.document.verify(key, T::PURPOSE, &self.signature)
    }

    /// BLAKE2b-256 (hex) of the document's canonical bytes.
    pub fn hash(&self) -> String {
        self.document.hash()
    }
}

#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Signed<T> {
    fn schema_name() -> String {
        format!("Signed{}", T::schema_name())
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{InstanceType, ObjectValidation, Schema, SchemaObject};
        let mut object = ObjectValidation::default();
        object.properties.insert("document".into(), gen.subschema_for::<T>());
        object.properties.insert("signature".into(), gen.subschema_for::<String>());
        object.required = ["document".to_owned(), "signature".to_owned()].into();
        object.additional_properties = Some(Box::new(Schema::Bool(false)));
        Schema::Object(SchemaObject {
            instance_type: Some(InstanceType::Object.into()),
            object: Some(Box::new(object)),
            ..Default::default()
        })
    }
}

/// Splits a signed JSON object as received into the canonical bytes of everything but its `field` (what was signed)
/// and the signature in that field.
pub fn detach_signature(object: &Value, field: &str) -> Result<(Vec<u8>, Signature), CryptoError> {
    let Value::Object(fields) = object else { return Err(CryptoError::MalformedSignature) };
    let signature = fields.get(field).and_then(Value::as_str).ok_or(CryptoError::MalformedSignature)?;
    let signature = Signature::from_base64url(signature)?;
    let mut signed = fields.clone();
    signed.remove(field);
    Ok((canonical_json(&signed)?, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Purpose = Purpose("notch/test/document/v1");
    const OTHER: Purpose = Purpose("notch/test/other/v1");

    #[test]
    fn a_signature_binds_its_purpose_and_the_canonical_document() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = PublicKey::of(&key);
        let document = serde_json::json!({"b": 1, "a": [true]});
        let signature = Signature::sign(&key, TEST, &document).unwrap();
        assert_eq!(public.verify(TEST, &document, &signature), Ok(()));
        assert_eq!(public.verify(OTHER, &document, &signature), Err(CryptoError::BadSignature));
        assert_eq!(
            public.verify(TEST, &serde_json::json!({"b": 2, "a": [true]}), &signature),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            signing_bytes(TEST, br#"{"a":[true],"b":1}"#),
            b"notch/test/document/v1\0{\"a\":[true],\"b\":1}".to_vec()
        );
    }

    #[test]
    fn keys_and_signatures_round_trip_in_both_encodings_and_refuse_garbage() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let public = PublicKey::of(&key);
        assert_eq!(PublicKey::from_base64url(&public.to_base64url()), Ok(public));
        assert_eq!(PublicKey::from_hex(&public.to_hex()), Ok(public));
        assert_eq!(PublicKey::from_base64url("AAAA"), Err(CryptoError::MalformedKey));
        let signature = Signature::sign(&key, TEST, &1).unwrap();
        assert_eq!(Signature::from_base64url(&signature.to_base64url()), Ok(signature));
        assert_eq!(Signature::from_hex("00"), Err(CryptoError::MalformedSignature));
        let json = serde_json::to_string(&public).unwrap();
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), public);
        assert!(serde_json::from_str::<PublicKey>("\"not a key\"").is_err());
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct Note {
        text: String,
    }

    impl SignedDocument for Note {
        const PURPOSE: Purpose = TEST;
    }

    #[test]
    fn a_signed_document_travels_as_document_and_signature_and_verifies_as_received() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let signed = Signed::sign(&key, Note { text: "hi".into() }).unwrap();
        let wire = serde_json::to_value(&signed).unwrap();
        assert_eq!(wire["document"], serde_json::json!({ "text": "hi" }));
        assert_eq!(wire["signature"].as_str().map(str::len), Some(128));
        let back: Signed<Note> = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(back.verify(&PublicKey::of(&key)), Ok(()));
        assert_eq!(back.verify(&PublicKey::of(&SigningKey::from_bytes(&[6; 32]))), Err(CryptoError::BadSignature));
        let mut extra = wire;
        extra["by"] = serde_json::json!("someone");
        assert!(serde_json::from_value::<Signed<Note>>(extra).is_err(), "no unknown fields beside the two");
    }

    #[test]
    fn thirty_two_bytes_off_the_curve_are_refused_by_check_and_by_verify() {
        let off_curve = (0..=255u8)
            .map(|b| PublicKey::from_bytes(&[&[b][..], &[0; 31]].concat()).unwrap())
            .find(|key| key.check().is_err())
            .expect("some y in 0..256 is not on the curve");
        assert_eq!(off_curve.check(), Err(CryptoError::MalformedKey));
        let signature = Signature::sign(&SigningKey::from_bytes(&[9; 32]), TEST, &1).unwrap();
        assert_eq!(off_curve.verify(TEST, &1, &signature), Err(CryptoError::MalformedKey));
        assert_eq!(PublicKey::of(&SigningKey::from_bytes(&[9; 32])).check(), Ok(()));
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Doc {
        at: chrono::DateTime<chrono::Utc>,
        #[serde(default)]
        margin: i64,
    }

    #[test]
    fn a_received_document_is_verified_and_kept_as_sent_not_as_reserialised() {
        let key = SigningKey::from_bytes(&[3; 32]);
        // Python's isoformat and no optional field: the re-serialised form would differ.
        let sent = serde_json::json!({"at": "2026-12-01T10:00:00+00:00"});
        let signature = Signature::sign(&key, TEST, &sent).unwrap();
        let received: Received<Doc> = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(received.verify(&PublicKey::of(&key), TEST, &signature), Ok(()));
        assert_eq!(received.margin, 0);
        assert_eq!(serde_json::to_value(&received).unwrap(), sent, "kept as received");
        let reserialised = Received::of(Doc { at: received.at, margin: 0 }).unwrap();
        assert_eq!(reserialised.verify(&PublicKey::of(&key), TEST, &signature), Err(CryptoError::BadSignature));
    }

    #[test]
    fn a_detached_signature_covers_the_rest_of_the_object_as_received() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let body = serde_json::json!({"nonce": "n-000001", "when": "2026-12-01T10:00:00.000Z"});
        let signature = Signature::sign(&key, TEST, &body).unwrap();
        let mut envelope = body.clone();
        envelope["signature"] = signature.to_base64url().into();
        let (signed, found) = detach_signature(&envelope, "signature").unwrap();
        assert_eq!(found, signature);
        assert_eq!(PublicKey::of(&key).verify_canonical(TEST, &signed, &found), Ok(()));
        assert_eq!(detach_signature(&body, "signature"), Err(CryptoError::MalformedSignature));
    }
}
