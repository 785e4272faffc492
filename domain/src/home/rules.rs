//! Checks every aggregate of the home context makes of a signed document the same way: its time against the
//! ledger's clock, a device id against the key it is made of, and hex of bounded length.

use chrono::{DateTime, Duration, Utc};

use crate::crypto::PublicKey;
use crate::home::device_inbox::device_id_of;
use crate::home::error::HomeError;

/// A signed document's time is within this many seconds of the ledger's clock.
pub const DECISION_WINDOW_SECONDS: i64 = 300;

pub(crate) fn in_window(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), HomeError> {
    if (at - now).abs() > Duration::seconds(DECISION_WINDOW_SECONDS) {
        return Err(HomeError::Stale { at, why: "more than five minutes from the ledger's clock" });
    }
    Ok(())
}

/// A device speaks only with the key its id is made of.
pub(crate) fn device_key_is_ids(device_id: &str, device_key: &PublicKey) -> Result<(), HomeError> {
    if device_id_of(device_key) != device_id {
        return Err(HomeError::BadRequest(format!("key {} is not device {device_id}'s", device_key.to_hex())));
    }
    Ok(())
}

/// Lowercase hex of exactly `bytes` bytes.
pub(crate) fn is_hex_bytes(text: &str, bytes: usize) -> bool {
    text.len() == 2 * bytes && is_hex(text)
}

/// Lowercase hex of 1 to `most` bytes.
pub(crate) fn is_hex_at_most(text: &str, most: usize) -> bool {
    !text.is_empty() && text.len().is_multiple_of(2) && text.len() <= 2 * most && is_hex(text)
}

fn is_hex(text: &str) -> bool {
    text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}
