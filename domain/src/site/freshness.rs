//! The replay rules of users' signed requests: a request carries a timestamp and a nonce; the service refuses one
//! from outside the window around its clock, and remembers nonces long enough that none is accepted twice.

use chrono::{DateTime, Utc};

use super::error::{SiteError, SiteResult};

/// How far a request's timestamp may be from the service's clock; the service remembers nonces twice as long,
/// so a request can never be replayed within its window.
pub const REPLAY_WINDOW_S: i64 = 300;
/// Bounds on a nonce's length in bytes: enough for 64 random bits in any encoding, short enough to store.
pub const NONCE_BYTES: std::ops::RangeInclusive<usize> = 8..=128;

/// Refuses a request whose `timestamp` is outside the replay window around `now`, or whose nonce is out of
/// bounds. Checked before the signature: a stale request says so, not "bad signature".
pub fn check_fresh(timestamp: DateTime<Utc>, nonce: &str, now: DateTime<Utc>) -> SiteResult<()> {
    let skew_s = (now - timestamp).num_seconds();
    if skew_s.abs() > REPLAY_WINDOW_S {
        return Err(SiteError::StaleRequest { skew_s });
    }
    if !NONCE_BYTES.contains(&nonce.len()) {
        return Err(SiteError::Invalid(format!("a nonce has {} to {} bytes", NONCE_BYTES.start(), NONCE_BYTES.end())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_outside_the_window_or_with_a_short_nonce_is_refused_as_such() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let seconds = chrono::Duration::seconds;
        assert_eq!(check_fresh(at, "nonce-0001", at + seconds(REPLAY_WINDOW_S)), Ok(()));
        let late = at + seconds(REPLAY_WINDOW_S + 1);
        assert_eq!(check_fresh(at, "nonce-0001", late), Err(SiteError::StaleRequest { skew_s: REPLAY_WINDOW_S + 1 }));
        let early = at - seconds(REPLAY_WINDOW_S + 5);
        assert_eq!(check_fresh(at, "nonce-0001", early), Err(SiteError::StaleRequest { skew_s: -REPLAY_WINDOW_S - 5 }));
        assert!(matches!(check_fresh(at, "n-1", at), Err(SiteError::Invalid(_))));
    }
}
