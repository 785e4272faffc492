//! The event envelope and the exact bytes that are signed and hashed (ARCHITECTURE.md, "Byte constructions").
//!
//! Two constructions, both RFC 8785 canonical JSON (JCS):
//! - the *content* an appender signs: event id, stream id, type, payload, time, signer. It does not depend on the
//!   position, so clients sign in parallel before the writer orders their events;
//! - the *link* that is hashed: every envelope field but the hash itself, so the hash binds the position, the
//!   stream version, the signature and the previous event's hash.
//!
//! The chain links are in turn signed in batches by [`crate::seal`], which is what stops someone with database
//! access from reordering events and recomputing the (unkeyed) hashes.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::ed25519::signature::{Keypair, Signer};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Domain separation for event-content signatures, so a signature over an event can never be replayed as a
/// signature over any other JSON the same key signs (seals, tallies, commands).
pub const EVENT_SIGNATURE_CONTEXT: &[u8] = b"notch/event/v1\0";

/// The hash before position 1.
pub const GENESIS_PREV_HASH: Hash = Hash([0u8; 32]);

/// Longest accepted event type and stream id, in bytes: names, not documents.
pub const MAX_NAME_BYTES: usize = 200;
/// Positions and stream versions stay below 2^53: RFC 8785 writes numbers as IEEE doubles, which hold every
/// integer only up to there. (At a million events a second the log reaches it in 285 years.)
pub const MAX_POSITION: i64 = (1 << 53) - 1;

/// Largest accepted payload, as canonical JSON, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// BLAKE2b-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub fn of(bytes: &[u8]) -> Hash {
        let mut hasher = Blake2b::<U32>::new();
        hasher.update(bytes);
        Hash(hasher.finalize().into())
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        Some(Hash(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// What a caller asks to append: the log adds everything else.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Chosen by the caller, so that a retried append is recognised and not stored twice.
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: Value,
}

impl NewEvent {
    /// A new event with a fresh time-ordered id.
    ///
    /// # Panics
    /// If the payload does not serialize to JSON, which for the project's own types is a programming error.
    pub fn new(event_type: impl Into<String>, payload: &impl Serialize) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            payload: serde_json::to_value(payload).expect("event payloads serialize to JSON"),
        }
    }

    /// [`NewEvent::new`] with a payload already in JSON form (no second copy of it).
    pub fn from_json(event_type: impl Into<String>, payload: Value) -> NewEvent {
        NewEvent { event_id: Uuid::now_v7(), event_type: event_type.into(), payload }
    }
}

/// An event signed by its appender, not yet placed in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedEvent {
    pub event_id: Uuid,
    pub stream_id: String,
    pub event_type: String,
    pub payload: Value,
    /// Microsecond precision, as PostgreSQL stores it, so the signed bytes survive the round trip.
    pub time: DateTime<Utc>,
    pub signer: VerifyingKey,
    pub signature: Signature,
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub position: i64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub payload: Value,
    pub time: DateTime<Utc>,
    pub signer: VerifyingKey,
    pub signature: Signature,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// The one textual form of a time in signed bytes: RFC 3339, UTC, exactly six fractional digits.
pub fn format_time(time: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    // On every event's signing and hashing path, twice: written field by field, which is several times faster
    // than interpreting the format string. Years outside 0..=9999 and leap seconds (rare or impossible for an
    // appended event, but a stored row may hold anything) take chrono's own formatting, which the fast path
    // matches exactly everywhere else (tested).
    let (year, nanos) = (time.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    let mut text = String::with_capacity(27);
    let _ = write!(
        text,
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        nanos / 1000
    );
    text
}

/// RFC 8785 canonical JSON of a payload.
///
/// Most payloads (all of notch's own) take a shortcut: when every object's keys are ASCII and already in order and
/// every number is an integer of magnitude at most 2^53, serde_json's compact writer produces exactly the RFC 8785
/// bytes (strings as for [`Field::Str`]; ASCII keys sort the same by UTF-16 code unit as by byte; such integers
/// are written the same), at a fraction of the general canonicaliser's cost, which was 5 % of `bench mam`'s CPU.
/// Everything else goes through the general canonicaliser. Both paths are tested against it.
pub fn canonical_payload(payload: &Value) -> Vec<u8> {
    if writes_canonically(payload) {
        serde_json::to_vec(payload).expect("a serde_json::Value always serializes")
    } else {
        serde_json_canonicalizer::to_vec(payload).expect("a serde_json::Value is always finite JSON")
    }
}

/// Whether serde_json's compact output of `value` is its RFC 8785 form (see [`canonical_payload`]).
fn writes_canonically(value: &Value) -> bool {
    const EXACT: u64 = 1 << 53;
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(n), _) => n <= EXACT,
            (None, Some(n)) => n.unsigned_abs() <= EXACT,
            (None, None) => false,
        },
        Value::Array(items) => items.iter().all(writes_canonically),
        Value::Object(map) => {
            let mut previous: Option<&str> = None;
            map.iter().all(|(key, value)| {
                let in_order = key.is_ascii() && previous.is_none_or(|p| p < key.as_str());
                previous = Some(key);
                in_order && writes_canonically(value)
            })
        }
    }
}

/// A value of the envelope's fixed-key objects.
enum Field<'a> {
    /// A JSON string. For strings RFC 8785 and serde_json agree: `"` and `\\` escaped, control characters as
    /// \b \t \n \f \r or lowercase \u00xx, everything else literal (tested against the full JCS).
    Str(&'a str),
    /// Binary, as a lowercase hex string.
    Hex(&'a [u8]),
    /// An integer below 2^53 (written the same by RFC 8785).
    Int(i64),
    /// Bytes that are already canonical JSON (the payload).
    Canonical(&'a [u8]),
}

/// The canonical JSON object of `fields`, which must come in RFC 8785 key order: the keys are fixed, so the
/// object is assembled around the canonical payload instead of re-canonicalising the whole envelope.
fn canonical_object(fields: &[(&str, Field)], capacity: usize) -> Vec<u8> {
    debug_assert!(fields.windows(2).all(|w| w[0].0 < w[1].0), "keys in canonical order");
    let mut out = Vec::with_capacity(capacity);
    out.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        match value {
            Field::Str(text) => serde_json::to_writer(&mut out, text).expect("writing to a Vec cannot fail"),
            Field::Hex(bytes) => {
                out.push(b'"');
                let start = out.len();
                out.resize(start + 2 * bytes.len(), 0);
                hex::encode_to_slice(bytes, &mut out[start..]).expect("the slice is twice the input's length");
                out.push(b'"');
            }
            Field::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Field::Canonical(bytes) => out.extend_from_slice(bytes),
        }
    }
    out.push(b'}');
    out
}

/// The bytes an appender signs (after [`EVENT_SIGNATURE_CONTEXT`]): the canonical JSON object
/// `{event_id, event_type, payload, signer, stream_id, time}`.
pub fn content_bytes(
    event_id: &Uuid,
    stream_id: &str,
    event_type: &str,
    payload_jcs: &[u8],
    time: &DateTime<Utc>,
    signer: &VerifyingKey,
) -> Vec<u8> {
    let (event_id, time) = (event_id.to_string(), format_time(time));
    canonical_object(
        &[
            ("event_id", Field::Str(&event_id)),
            ("event_type", Field::Str(event_type)),
            ("payload", Field::Canonical(payload_jcs)),
            ("signer", Field::Hex(signer.as_bytes())),
            ("stream_id", Field::Str(stream_id)),
            ("time", Field::Str(&time)),
        ],
        payload_jcs.len() + 256,
    )
}

/// The bytes that are hashed: the canonical JSON object of every envelope field but `hash`.
#[allow(clippy::too_many_arguments)] // one argument per envelope field: the construction, spelled out
fn link_bytes(
    event_id: &Uuid,
    stream_id: &str,
    event_type: &str,
    payload_jcs: &[u8],
    time: &DateTime<Utc>,
    signer: &VerifyingKey,
    signature: &Signature,
    position: i64,
    stream_version: i64,
    prev_hash: &Hash,
) -> Vec<u8> {
    let (event_id, time, signature) = (event_id.to_string(), format_time(time), signature.to_bytes());
    canonical_object(
        &[
            ("event_id", Field::Str(&event_id)),
            ("event_type", Field::Str(event_type)),
            ("payload", Field::Canonical(payload_jcs)),
            ("position", Field::Int(position)),
            ("prev_hash", Field::Hex(&prev_hash.0)),
            ("signature", Field::Hex(&signature)),
            ("signer", Field::Hex(signer.as_bytes())),
            ("stream_id", Field::Str(stream_id)),
            ("stream_version", Field::Int(stream_version)),
            ("time", Field::Str(&time)),
        ],
        payload_jcs.len() + 512,
    )
}

fn signed_message(content: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(EVENT_SIGNATURE_CONTEXT.len() + content.len());
    message.extend_from_slice(EVENT_SIGNATURE_CONTEXT);
    message.extend_from_slice(content);
    message
}

impl SignedEvent {
    /// Signs `event` for `stream_id` at `time` (truncated to microseconds), with an ed25519-dalek
    /// [`ed25519_dalek::SigningKey`] or the append path's [`crate::node_key::NodeKey`].
    pub fn sign<K>(key: &K, stream_id: &str, event: NewEvent, time: DateTime<Utc>) -> SignedEvent
    where
        K: Signer<Signature> + Keypair<VerifyingKey = VerifyingKey>,
    {
        let payload_jcs = canonical_payload(&event.payload);
        Self::sign_canonical(key, stream_id, event, payload_jcs, time).0
    }

    /// Signs given the payload's canonical JSON (which must be that of `event.payload`, as [`validate`] returns
    /// it), and hands it back beside the event, so the append path computes it once for the check, the
    /// signature, the hash and the stored row.
    pub(crate) fn sign_canonical<K>(
        key: &K,
        stream_id: &str,
        event: NewEvent,
        payload_jcs: Vec<u8>,
        time: DateTime<Utc>,
    ) -> (SignedEvent, Vec<u8>)
    where
        K: Signer<Signature> + Keypair<VerifyingKey = VerifyingKey>,
    {
        debug_assert_eq!(payload_jcs, canonical_payload(&event.payload));
        let time = time.trunc_subsecs(6);
        let signer = key.verifying_key();
        let content = content_bytes(&event.event_id, stream_id, &event.event_type, &payload_jcs, &time, &signer);
        let signature = key.sign(&signed_message(&content));
        let signed = SignedEvent {
            event_id: event.event_id,
            stream_id: stream_id.to_owned(),
            event_type: event.event_type,
            payload: event.payload,
            time,
            signer,
            signature,
        };
        (signed, payload_jcs)
    }

    /// The exact message the signature covers: context prefix + canonical content.
    pub fn signed_message(&self) -> Vec<u8> {
        self.signed_message_canonical(&canonical_payload(&self.payload))
    }

    /// [`SignedEvent::signed_message`] given the payload's canonical JSON.
    pub(crate) fn signed_message_canonical(&self, payload_jcs: &[u8]) -> Vec<u8> {
        signed_message(&content_bytes(
            &self.event_id,
            &self.stream_id,
            &self.event_type,
            payload_jcs,
            &self.time,
            &self.signer,
        ))
    }

    /// Places the event in the log after `prev_hash`, computing its hash.
    ///
    /// # Panics
    /// If `position` or `stream_version` is outside 1..=[`MAX_POSITION`]; the writer never hands those out.
    pub fn link(self, position: i64, stream_version: i64, prev_hash: Hash) -> RecordedEvent {
        let hash = self.link_hash(&canonical_payload(&self.payload), position, stream_version, prev_hash);
        RecordedEvent {
            position,
            event_id: self.event_id,
            stream_id: self.stream_id,
            stream_version,
            event_type: self.event_type,
            payload: self.payload,
            time: self.time,
            signer: self.signer,
            signature: self.signature,
            prev_hash,
            hash,
        }
    }

    /// The hash the event has at `position`, stream version `stream_version`, after `prev_hash`, given its payload's
    /// canonical JSON: what [`SignedEvent::link`] computes, without building the recorded event (the writer links
    /// every appended event this way, and needs only the hash).
    ///
    /// # Panics
    /// If `position` or `stream_version` is outside 1..=[`MAX_POSITION`].
    pub(crate) fn link_hash(&self, payload_jcs: &[u8], position: i64, stream_version: i64, prev_hash: Hash) -> Hash {
        assert!((1..=MAX_POSITION).contains(&position) && (1..=MAX_POSITION).contains(&stream_version));
        Hash::of(&link_bytes(
            &self.event_id,
            &self.stream_id,
            &self.event_type,
            payload_jcs,
            &self.time,
            &self.signer,
            &self.signature,
            position,
            stream_version,
            &prev_hash,
        ))
    }
}

impl RecordedEvent {
    /// The hash this event's fields give, to compare with the stored [`RecordedEvent::hash`].
    pub fn computed_hash(&self) -> Hash {
        self.digests().1
    }

    /// The exact message the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        self.digests().0
    }

    /// The signed message and the computed hash, canonicalising the payload once for both (the audit's path).
    pub fn digests(&self) -> (Vec<u8>, Hash) {
        let payload_jcs = canonical_payload(&self.payload);
        let message = signed_message(&content_bytes(
            &self.event_id,
            &self.stream_id,
            &self.event_type,
            &payload_jcs,
            &self.time,
            &self.signer,
        ));
        let hash = Hash::of(&link_bytes(
            &self.event_id,
            &self.stream_id,
            &self.event_type,
            &payload_jcs,
            &self.time,
            &self.signer,
            &self.signature,
            self.position,
            self.stream_version,
            &self.prev_hash,
        ));
        (message, hash)
    }

    /// The envelope as JSON for HTTP readers and auditors (binary fields in lowercase hex).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "position": self.position,
            "event_id": self.event_id,
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "event_type": self.event_type,
            "payload": self.payload,
            "time": format_time(&self.time),
            "signer": hex::encode(self.signer.as_bytes()),
            "signature": hex::encode(self.signature.to_bytes()),
            "prev_hash": self.prev_hash.to_hex(),
            "hash": self.hash.to_hex(),
        })
    }
}

/// Why an event is refused before it reaches the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvent {
    #[error("stream id must be 1 to {MAX_NAME_BYTES} bytes of printable text")]
    StreamId,
    #[error("event type must be 1 to {MAX_NAME_BYTES} bytes of printable text")]
    EventType,
    #[error("payload is {0} bytes of canonical JSON; the limit is {MAX_PAYLOAD_BYTES}")]
    PayloadTooLarge(usize),
    #[error("payload contains a NUL character (\\u0000), which PostgreSQL's jsonb cannot store")]
    PayloadNul,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_BYTES && !name.chars().any(char::is_control)
}

/// Checks the limits every stored event obeys.
pub fn validate(stream_id: &str, event_type: &str, payload: &Value) -> Result<Vec<u8>, InvalidEvent> {
    if !valid_name(stream_id) {
        return Err(InvalidEvent::StreamId);
    }
    if !valid_name(event_type) {
        return Err(InvalidEvent::EventType);
    }
    let bytes = canonical_payload(payload);
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(InvalidEvent::PayloadTooLarge(bytes.len()));
    }
    if contains_nul(payload) {
        return Err(InvalidEvent::PayloadNul);
    }
    Ok(bytes)
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ed25519_dalek::SigningKey;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn sample() -> SignedEvent {
        let event = NewEvent {
            event_id: Uuid::parse_str("018f0000-0000-7000-8000-000000000001").unwrap(),
            event_type: "Opened".into(),
            payload: serde_json::json!({"b": 2, "a": [1, "x"], "n": 1.0}),
        };
        SignedEvent::sign(&key(), "acct-1", event, Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap())
    }

    #[test]
    fn content_bytes_are_canonical_json_with_sorted_keys_and_micro_time() {
        let event = sample();
        let content = content_bytes(
            &event.event_id,
            &event.stream_id,
            &event.event_type,
            &canonical_payload(&event.payload),
            &event.time,
            &event.signer,
        );
        let expected = format!(
            concat!(
                r#"{{"event_id":"018f0000-0000-7000-8000-000000000001","event_type":"Opened","#,
                r#""payload":{{"a":[1,"x"],"b":2,"n":1}},"signer":"{}","stream_id":"acct-1","#,
                r#""time":"2023-11-14T22:13:20.123456Z"}}"#
            ),
            hex::encode(key().verifying_key().as_bytes())
        );
        assert_eq!(String::from_utf8(content).unwrap(), expected);
    }

    #[test]
    fn signature_verifies_and_breaks_when_the_payload_changes() {
        let event = sample();
        event.signer.verify_strict(&event.signed_message(), &event.signature).unwrap();
        let mut tampered = event.clone();
        tampered.payload = serde_json::json!({"b": 3});
        assert!(tampered.signer.verify_strict(&tampered.signed_message(), &tampered.signature).is_err());
    }

    #[test]
    fn link_hash_binds_position_version_and_previous_hash() {
        let recorded = sample().link(5, 2, Hash([1; 32]));
        assert_eq!(recorded.computed_hash(), recorded.hash);
        let mut moved = recorded.clone();
        moved.position = 6;
        assert_ne!(moved.computed_hash(), recorded.hash);
        let mut relinked = recorded.clone();
        relinked.prev_hash = Hash([2; 32]);
        assert_ne!(relinked.computed_hash(), recorded.hash);
        let mut reversioned = recorded;
        reversioned.stream_version = 3;
        assert_ne!(reversioned.computed_hash(), moved.hash);
    }

    fn canonical(value: &impl Serialize) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(value).expect("finite JSON")
    }

    /// The envelope as a plain struct, canonicalised whole by the JCS crate: the reference the assembled bytes
    /// must equal.
    #[derive(Serialize)]
    struct Reference<'a> {
        event_id: &'a Uuid,
        event_type: &'a str,
        payload: &'a Value,
        position: i64,
        prev_hash: String,
        signature: String,
        signer: String,
        stream_id: &'a str,
        stream_version: i64,
        time: String,
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".*".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(".*", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Payloads shaped like notch's own (ASCII keys, integers within 2^53), with any strings, and now and then a
    /// float or a key beyond ASCII so that the general path is taken too.
    fn payload_like_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        const EXACT: i64 = 1 << 53;
        let leaf = prop_oneof![
            4 => (-EXACT..=EXACT).prop_map(Value::from),
            1 => prop_oneof![Just(EXACT + 1), Just(-EXACT - 1), Just(i64::MAX), Just(i64::MIN)].prop_map(Value::from),
            1 => Just(Value::from(u64::MAX)),
            1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            4 => ".*".prop_map(Value::from),
            1 => "[\\x00-\\x1f\\x7f\"\\\\/\u{2028}\u{fffd}\u{1f600}]{0,8}".prop_map(Value::from),
            1 => any::<bool>().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                proptest::collection::btree_map("[ -~]{0,6}", inner.clone(), 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                proptest::collection::btree_map("[a-z\u{e9}\u{ff5e}\u{1f600}]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn canonical_payloads_are_rfc_8785(payload in payload_like_value(), other in json_value()) {
            proptest::prop_assert_eq!(canonical_payload(&payload), canonical(&payload));
            proptest::prop_assert_eq!(canonical_payload(&other), canonical(&other));
        }

        #[test]
        fn the_fast_time_format_is_chronos_format(micros in -70_000_000_000_000_000i64..=300_000_000_000_000_000i64) {
            let time = DateTime::<Utc>::from_timestamp_micros(micros).expect("in chrono's range");
            proptest::prop_assert_eq!(format_time(&time), time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        }

        #[test]
        fn assembled_bytes_equal_the_whole_envelope_canonicalised(
            stream_id in ".*", event_type in ".*", payload in json_value(),
            position in 1..=MAX_POSITION, version in 1..=MAX_POSITION,
        ) {
            let event = SignedEvent::sign(&key(), &stream_id, NewEvent {
                event_id: Uuid::from_u128(position as u128),
                event_type: event_type.clone(),
                payload: payload.clone(),
            }, Utc::now()).link(position, version, Hash([5; 32]));
            let reference = Reference {
                event_id: &event.event_id,
                event_type: &event_type,
                payload: &payload,
                position,
                prev_hash: Hash([5; 32]).to_hex(),
                signature: hex::encode(event.signature.to_bytes()),
                signer: hex::encode(event.signer.as_bytes()),
                stream_id: &stream_id,
                stream_version: version,
                time: format_time(&event.time),
            };
            proptest::prop_assert_eq!(event.hash, Hash::of(&canonical(&reference)));
            let content = serde_json::json!({
                "event_id": event.event_id, "event_type": event_type, "payload": payload,
                "signer": reference.signer, "stream_id": stream_id, "time": reference.time,
            });
            let mut message = EVENT_SIGNATURE_CONTEXT.to_vec();
            message.extend(canonical(&content));
            proptest::prop_assert_eq!(event.signed_message(), message);
        }
    }

    #[test]
    fn plain_payloads_take_the_shortcut() {
        assert!(writes_canonically(&serde_json::json!({"a": [1, -2, null, true], "b": {"c": "x\u{1}y"}})));
        assert!(writes_canonically(&serde_json::json!({"n": 9_007_199_254_740_992u64})));
        assert!(!writes_canonically(&serde_json::json!({"n": 9_007_199_254_740_993u64})));
        assert!(!writes_canonically(&serde_json::json!({"f": 1.5})));
        assert!(!writes_canonically(&serde_json::json!({"\u{e9}": 1})));
    }

    #[test]
    fn validation_names_the_problem() {
        let ok = serde_json::json!({"x": 1});
        assert_eq!(validate("", "T", &ok), Err(InvalidEvent::StreamId));
        assert_eq!(validate("s", "bad\ntype", &ok), Err(InvalidEvent::EventType));
        assert_eq!(validate("s", "T", &serde_json::json!({"x": "a\u{0}b"})), Err(InvalidEvent::PayloadNul));
        let big = serde_json::json!({"x": "y".repeat(MAX_PAYLOAD_BYTES)});
        assert!(matches!(validate("s", "T", &big), Err(InvalidEvent::PayloadTooLarge(_))));
        assert_eq!(validate("s", "T", &ok), Ok(canonical_payload(&ok)));
    }
}
