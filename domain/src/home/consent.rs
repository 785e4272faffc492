//! The documents of the consent dialogues that more than one aggregate reads: what data a provider may have (a
//! [`Scope`]), who the provider is (its signed [`ProviderCard`]) and what it asks for (its signed
//! [`ConsentRequest`]). Every signed document is checked over the canonical form of the JSON as received, under
//! its own purpose tag (see `domain::crypto`). Field by field in docs/consent.md.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::{hex_key, PublicKey, Purpose, Signed, SignedDocument};
use crate::home::error::HomeError;

pub const PROVIDER_CARD_PURPOSE: Purpose = Purpose("notch/home/provider-card/v1");
pub const CONSENT_REQUEST_PURPOSE: Purpose = Purpose("notch/home/consent-request/v1");

/// Bounds on what a provider may write: everything here is shown to the owner and kept in the owner's log.
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_PURPOSES: usize = 8;
pub const MAX_PURPOSE_CHARS: usize = 200;
pub const MAX_RETURN_URLS: usize = 8;
pub const MAX_URL_CHARS: usize = 500;
/// A consent lasts at most this long; renewing it is a new consent.
pub const MAX_VALIDITY_DAYS: i64 = 2 * 366;

/// A reading field a provider may be granted (the names of `notch-p1`'s reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// 1-0:1.7.0, the power taken from the grid now.
    PowerImportW,
    /// 1-0:2.7.0, the power delivered to the grid now.
    PowerExportW,
    /// 1-0:1.8.1 and 1-0:1.8.2, the import registers (and their total).
    EnergyImportWh,
    /// 1-0:2.8.1 and 1-0:2.8.2, the export registers.
    EnergyExportWh,
    /// The gas meter's register on the M-Bus.
    GasDm3,
    /// Per-phase voltage, current and power.
    Phases,
}

/// How often the provider sees a value: every telegram, or one aggregate per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Telegram,
    #[serde(rename = "1min")]
    OneMinute,
    #[serde(rename = "15min")]
    FifteenMinutes,
}

/// Which fields at which granularity. A device publishes one channel per distinct scope in use, so a provider
/// reads exactly its scope and nothing finer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Sorted, each once.
    pub fields: Vec<Field>,
    pub granularity: Granularity,
}

impl Scope {
    pub fn check(&self) -> Result<(), HomeError> {
        let sorted_once = self.fields.windows(2).all(|w| w[0] < w[1]);
        if self.fields.is_empty() || !sorted_once {
            return Err(HomeError::BadRequest("a scope names at least one field, sorted, each once".into()));
        }
        Ok(())
    }
}

/// Who a provider is: what the owner is shown, the keys it is reached by, where it may send the owner back to
/// and the purposes it declares. Signed by its own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderCard {
    pub name: String,
    /// Ed25519: signs the provider's documents; its inbox is named by it.
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub provider_key: PublicKey,
    /// X25519 (hex), the HPKE key that grants and key rotations are wrapped to.
    pub hpke_key: String,
    pub return_urls: Vec<String>,
    pub purposes: Vec<String>,
    pub issued_at: DateTime<Utc>,
}

impl SignedDocument for ProviderCard {
    const PURPOSE: Purpose = PROVIDER_CARD_PURPOSE;
}

/// A provider card signed by its own `provider_key`.
pub type SignedProviderCard = Signed<ProviderCard>;

impl Signed<ProviderCard> {
    /// The card's signature by its own key, and its bounds.
    pub fn check(&self) -> Result<(), HomeError> {
        let card = &self.document;
        self.verify(&card.provider_key).map_err(|e| HomeError::BadSignature(format!("provider card: {e}")))?;
        let hpke_key = hex::decode(&card.hpke_key).ok().filter(|k| k.len() == 32);
        let bounded = |items: &[String], most: usize, chars: usize| {
            !items.is_empty() && items.len() <= most && items.iter().all(|s| !s.is_empty() && s.len() <= chars)
        };
        if card.name.trim().is_empty() || card.name.chars().count() > MAX_NAME_CHARS || hpke_key.is_none() {
            return Err(HomeError::BadRequest("a provider card has a name and a 32-byte HPKE key (hex)".into()));
        }
        if !bounded(&card.purposes, MAX_PURPOSES, MAX_PURPOSE_CHARS)
            || !bounded(&card.return_urls, MAX_RETURN_URLS, MAX_URL_CHARS)
            || !card.return_urls.iter().all(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(HomeError::BadRequest(format!(
                "a provider card declares 1..={MAX_PURPOSES} purposes and 1..={MAX_RETURN_URLS} http(s) return URLs"
            )));
        }
        Ok(())
    }
}

/// What a provider asks the owner for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub request_id: Uuid,
    pub provider: SignedProviderCard,
    /// One of the card's purposes.
    pub purpose: String,
    pub scope: Scope,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// One of the card's return URLs: where My Home sends the owner once the answer is committed.
    pub return_url: String,
}

impl SignedDocument for ConsentRequest {
    const PURPOSE: Purpose = CONSENT_REQUEST_PURPOSE;
}

/// A consent request signed by its card's provider key.
pub type SignedConsentRequest = Signed<ConsentRequest>;

impl Signed<ConsentRequest> {
    pub fn provider_key(&self) -> &PublicKey {
        &self.document.provider.document.provider_key
    }

    /// Whether the request is the card's provider's, within the card, and answerable at `now`. Its hash
    /// ([`Signed::hash`]) is what an answer names.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), HomeError> {
        let request = &self.document;
        request.provider.check()?;
        self.verify(self.provider_key()).map_err(|e| HomeError::BadSignature(format!("consent request: {e}")))?;
        let card = &request.provider.document;
        if !card.purposes.contains(&request.purpose) {
            return Err(HomeError::BadRequest("the request's purpose is not one its card declares".into()));
        }
        if !card.return_urls.contains(&request.return_url) {
            return Err(HomeError::BadRequest("the request's return URL is not one its card registers".into()));
        }
        request.scope.check()?;
        if request.valid_until <= request.valid_from
            || request.valid_until - request.valid_from > Duration::days(MAX_VALIDITY_DAYS)
        {
            return Err(HomeError::BadRequest(format!(
                "a consent is valid for a positive time of at most {MAX_VALIDITY_DAYS} days"
            )));
        }
        if request.valid_until <= now {
            return Err(HomeError::Expired(format!(
                "consent request {} ended at {}",
                request.request_id, request.valid_until
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod testkit {
    //! Signed providers and requests for the home context's tests.

    use super::*;
    use ed25519_dalek::SigningKey;

    pub fn provider(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    pub fn card(key: &SigningKey, at: DateTime<Utc>) -> SignedProviderCard {
        Signed::sign(
            key,
            ProviderCard {
                name: "Wattt Insights".into(),
                provider_key: PublicKey::of(key),
                hpke_key: hex::encode([9u8; 32]),
                return_urls: vec!["https://wattt.example/back".into()],
                purposes: vec!["graph your energy use".into()],
                issued_at: at,
            },
        )
        .expect("a card has a canonical form")
    }

    pub fn scope(granularity: Granularity) -> Scope {
        Scope { fields: vec![Field::PowerImportW, Field::EnergyImportWh], granularity }
    }

    pub fn request(key: &SigningKey, scope: Scope, at: DateTime<Utc>, days: i64) -> SignedConsentRequest {
        Signed::sign(
            key,
            ConsentRequest {
                request_id: Uuid::new_v4(),
                provider: card(key, at),
                purpose: "graph your energy use".into(),
                scope,
                valid_from: at,
                valid_until: at + Duration::days(days),
                return_url: "https://wattt.example/back".into(),
            },
        )
        .expect("a request has a canonical form")
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;
    use crate::crypto::Received;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_request_within_its_card_checks() {
        let key = provider(1);
        request(&key, scope(Granularity::FifteenMinutes), now(), 30).check(now()).unwrap();
    }

    #[test]
    fn a_request_signed_by_another_key_is_refused() {
        let signed = request(&provider(1), scope(Granularity::Telegram), now(), 30);
        let forged = Signed::sign(&provider(2), (*signed.document).clone()).unwrap();
        assert!(matches!(forged.check(now()), Err(HomeError::BadSignature(_))));
    }

    #[test]
    fn a_return_url_or_purpose_not_on_the_card_is_refused() {
        let key = provider(1);
        let signed = request(&key, scope(Granularity::Telegram), now(), 30);
        let mut elsewhere = (*signed.document).clone();
        elsewhere.return_url = "https://evil.example/".into();
        let err = Signed::sign(&key, elsewhere).unwrap().check(now()).unwrap_err();
        assert!(err.to_string().contains("return URL"), "{err}");
        let mut other_purpose = (*signed.document).clone();
        other_purpose.purpose = "sell your data".into();
        let err = Signed::sign(&key, other_purpose).unwrap().check(now()).unwrap_err();
        assert!(err.to_string().contains("purpose"), "{err}");
    }

    #[test]
    fn a_tampered_card_is_refused_even_inside_a_validly_signed_request() {
        let key = provider(1);
        let signed = request(&key, scope(Granularity::Telegram), now(), 30);
        let mut request = (*signed.document).clone();
        let mut card = (*request.provider.document).clone();
        card.return_urls.push("https://evil.example/".into());
        request.provider.document = Received::of(card).unwrap();
        request.return_url = "https://evil.example/".into();
        assert!(matches!(Signed::sign(&key, request).unwrap().check(now()), Err(HomeError::BadSignature(_))));
    }

    #[test]
    fn scopes_and_validity_are_bounded() {
        let key = provider(1);
        let unsorted =
            Scope { fields: vec![Field::PowerExportW, Field::PowerImportW], granularity: Granularity::Telegram };
        assert!(request(&key, unsorted, now(), 30).check(now()).is_err());
        let empty = Scope { fields: vec![], granularity: Granularity::Telegram };
        assert!(request(&key, empty, now(), 30).check(now()).is_err());
        assert!(request(&key, scope(Granularity::Telegram), now(), MAX_VALIDITY_DAYS + 1).check(now()).is_err());
        let ended = request(&key, scope(Granularity::Telegram), now() - Duration::days(40), 30);
        assert!(matches!(ended.check(now()), Err(HomeError::Expired(_))));
    }

    #[test]
    fn granularities_have_their_wire_names() {
        let names: Vec<String> = [Granularity::Telegram, Granularity::OneMinute, Granularity::FifteenMinutes]
            .iter()
            .map(|g| serde_json::to_string(g).unwrap())
            .collect();
        assert_eq!(names, ["\"telegram\"", "\"1min\"", "\"15min\""]);
    }
}
