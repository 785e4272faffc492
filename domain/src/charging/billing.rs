//! Billing details as the app sends them, and their validation into what the authority may keep: a keyed
//! token of the card number and its last four digits. The CVC is checked and then dropped; nothing here can
//! print or serialize the card number or the CVC (no `Serialize`, a redacting `Debug`, zeroized on drop).

use blake2::digest::consts::U32;
use blake2::digest::Mac;
use blake2::Blake2bMac;
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Exactly what the app posts. Deliberately not `Serialize`.
#[derive(Clone, Deserialize, Zeroize, ZeroizeOnDrop)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BillingDetails {
    /// 12 to 19 digits; spaces and dashes are ignored.
    pub cc_number: String,
    /// "MM/YY" or "MM/YYYY"; the card is valid through the end of that month (UTC).
    pub expiry: String,
    /// 3 or 4 digits; checked, never stored.
    pub cvc: String,
}

impl fmt::Debug for BillingDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingDetails")
            .field("cc_number", &"<redacted>")
            .field("expiry", &self.expiry)
            .field("cvc", &"<redacted>")
            .finish()
    }
}

/// The authority's secret for card tokens (32 bytes). Held by the authority, passed in by the command.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CardTokenKey(pub [u8; 32]);

impl fmt::Debug for CardTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardTokenKey(<redacted>)")
    }
}

/// What survives validation: nothing that could charge the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedCard {
    /// Lowercase hex of keyed BLAKE2b-256 (key = `CardTokenKey`) over the card's digits.
    pub card_token: String,
    pub card_last4: String,
    /// Normalized "MM/YYYY".
    pub card_expiry: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("the card number must be 12 to 19 digits")]
    MalformedCardNumber,
    #[error("the card number fails the Luhn check")]
    LuhnCheckFailed,
    #[error("the expiry must be MM/YY or MM/YYYY")]
    MalformedExpiry,
    #[error("the card expired at the end of {0}")]
    CardExpired(String),
    #[error("the CVC must be 3 or 4 digits")]
    MalformedCvc,
}

impl BillingDetails {
    pub fn accept(&self, key: &CardTokenKey, now: DateTime<Utc>) -> Result<AcceptedCard, BillingError> {
        let mut digits: String = self.cc_number.chars().filter(|c| *c != ' ' && *c != '-').collect();
        let result = accept_digits(&digits, &self.expiry, &self.cvc, key, now);
        digits.zeroize();
        result
    }
}

fn accept_digits(
    digits: &str,
    expiry: &str,
    cvc: &str,
    key: &CardTokenKey,
    now: DateTime<Utc>,
) -> Result<AcceptedCard, BillingError> {
    if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BillingError::MalformedCardNumber);
    }
    if !luhn_valid(digits) {
        return Err(BillingError::LuhnCheckFailed);
    }
    let (month, year) = parse_expiry(expiry)?;
    let card_expiry = format!("{month:02}/{year:04}");
    if now >= first_instant_after(month, year) {
        return Err(BillingError::CardExpired(card_expiry));
    }
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BillingError::MalformedCvc);
    }
    let mut mac = <Blake2bMac<U32> as Mac>::new_from_slice(&key.0).expect("32 bytes is a valid BLAKE2b key length");
    mac.update(digits.as_bytes());
    Ok(AcceptedCard {
        card_token: hex::encode(mac.finalize().into_bytes()),
        card_last4: digits[digits.len() - 4..].to_owned(),
        card_expiry,
    })
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn parse_expiry(text: &str) -> Result<(u32, i32), BillingError> {
    let (month, year) = text.trim().split_once('/').ok_or(BillingError::MalformedExpiry)?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(month) || !all_digits(year) || month.len() > 2 || !(year.len() == 2 || year.len() == 4) {
        return Err(BillingError::MalformedExpiry);
    }
    let month: u32 = month.parse().map_err(|_| BillingError::MalformedExpiry)?;
    let year: i32 = year.parse().map_err(|_| BillingError::MalformedExpiry)?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) {
        return Err(BillingError::MalformedExpiry);
    }
    Ok((month, year))
}

fn first_instant_after(month: u32, year: i32) -> DateTime<Utc> {
    let (next_month, next_year) = if month == 12 { (1, year + 1) } else { (month + 1, year) };
    Utc.with_ymd_and_hms(next_year, next_month, 1, 0, 0, 0)
        .single()
        .expect("the first of a month at midnight UTC exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VISA_TEST: &str = "4111 1111 1111 1111";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn details(number: &str, expiry: &str, cvc: &str) -> BillingDetails {
        BillingDetails { cc_number: number.into(), expiry: expiry.into(), cvc: cvc.into() }
    }

    #[test]
    fn a_valid_card_becomes_a_token_and_last_four() {
        let accepted = details(VISA_TEST, "12/28", "123").accept(&CardTokenKey([9; 32]), now()).unwrap();
        assert_eq!(accepted.card_last4, "1111");
        assert_eq!(accepted.card_expiry, "12/2028");
        assert_eq!(accepted.card_token.len(), 64);
        assert!(!accepted.card_token.contains("4111111111111111"));
        let other_key = details(VISA_TEST, "12/28", "123").accept(&CardTokenKey([8; 32]), now()).unwrap();
        assert_ne!(accepted.card_token, other_key.card_token, "the token depends on the authority's secret");
    }

    #[test]
    fn luhn_failure_is_refused() {
        let result = details("4111 1111 1111 1112", "12/28", "123").accept(&CardTokenKey([9; 32]), now());
        assert_eq!(result, Err(BillingError::LuhnCheckFailed));
    }

    #[test]
    fn an_expired_card_is_refused_but_this_month_is_fine() {
        let key = CardTokenKey([9; 32]);
        assert_eq!(
            details(VISA_TEST, "10/2026", "123").accept(&key, now()),
            Err(BillingError::CardExpired("10/2026".into()))
        );
        assert!(details(VISA_TEST, "11/26", "123").accept(&key, now()).is_ok());
    }

    #[test]
    fn malformed_fields_are_refused_with_their_own_error() {
        let key = CardTokenKey([9; 32]);
        assert_eq!(details("4111", "12/28", "123").accept(&key, now()), Err(BillingError::MalformedCardNumber));
        assert_eq!(details(VISA_TEST, "13/28", "123").accept(&key, now()), Err(BillingError::MalformedExpiry));
        assert_eq!(details(VISA_TEST, "1228", "123").accept(&key, now()), Err(BillingError::MalformedExpiry));
        assert_eq!(details(VISA_TEST, "12/28", "12").accept(&key, now()), Err(BillingError::MalformedCvc));
        assert_eq!(details(VISA_TEST, "12/28", "12345").accept(&key, now()), Err(BillingError::MalformedCvc));
        assert_eq!(details(VISA_TEST, "12/28", "12a").accept(&key, now()), Err(BillingError::MalformedCvc));
        assert!(details(VISA_TEST, "12/28", "1234").accept(&key, now()).is_ok());
    }

    #[test]
    fn debug_never_shows_the_card_number_or_cvc() {
        let printed = format!("{:?} {:#?}", details(VISA_TEST, "12/28", "987"), details(VISA_TEST, "12/28", "987"));
        assert!(!printed.contains("4111"), "{printed}");
        assert!(!printed.contains("987"), "{printed}");
        assert!(!format!("{:?}", CardTokenKey([7; 32])).contains('7'));
    }
}
