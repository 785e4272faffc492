//! Every error code any context answers over HTTP, and its one status. A handler names the code; the status comes
//! from here, so one code never means two statuses. ARCHITECTURE.md ("HTTP error codes") lists the same table, and
//! a test keeps the two equal.

use warp::http::StatusCode;

/// `(code, status, when)`, grouped by status.
pub const CODES: &[(&str, u16, &str)] = &[
    ("malformed_json", 400, "the body is not JSON of the expected shape"),
    ("stale_request", 400, "a signed request's timestamp is more than the replay window from the service's clock"),
    ("malformed_message", 400, "a MAM envelope does not open: bad encoding or lengths"),
    ("bad_address", 400, "a MAM address is not 32 bytes of hex"),
    ("bad_query", 400, "a query parameter is out of range"),
    ("bad_stream_id", 400, "a stream id is empty, too long or has characters a stream id may not"),
    ("malformed_event", 400, "an event to append is not a well-formed signed envelope"),
    ("bad_append", 400, "an append names no event, too many streams, or one stream twice"),
    ("invalid_contact_card", 400, "a contact card does not decode or verify"),
    ("bad_expected_version", 400, "an append's expected version is not \"any\", \"no_stream\" or a version"),
    ("bad_charge_point_id", 400, "an OCPP charge point id is empty, too long or not printable"),
    ("subprotocol_required", 400, "an OCPP client did not ask for the ocpp1.6 websocket subprotocol"),
    ("bad_signature", 401, "a signature does not verify for the key and purpose it claims"),
    ("wrong_home", 403, "a household document is signed for another home than this one"),
    ("locked_out", 403, "a claimant answered a device's challenges wrongly too often; a reset on the device lifts it"),
    ("invalid_ticket", 403, "a ticket is unknown, used or expired"),
    ("site_locked", 403, "the site is locked down"),
    ("user_not_active", 403, "the caller is locked or closed"),
    ("not_party", 403, "the caller is not a party of the tally"),
    ("untrusted_signer", 403, "an appended event is signed by a key this node does not trust"),
    ("wrong_key", 403, "a socket request is signed by another key than the certificate's subject"),
    ("unknown_authority", 403, "the certificate's issuer is not on the provider's trust list"),
    ("tampered_certificate", 403, "the certificate's signature does not verify"),
    ("certificate_expired", 403, "the certificate has expired"),
    ("certificate_not_yet_valid", 403, "the certificate is not valid yet"),
    ("unknown_certificate", 403, "the authority's log has no such certificate for the user"),
    ("certificate_revoked", 403, "the certificate was revoked"),
    ("no_credential", 403, "the user has no id tag with this provider"),
    ("socket_busy", 403, "the socket is enabled for someone else or charging"),
    ("not_found", 404, "no such stream, tally, user or message"),
    ("method_not_allowed", 405, "the route exists for another method"),
    ("contended", 409, "the stream kept changing under the command; try again"),
    ("replayed", 409, "a signed request's nonce was seen before"),
    ("over_limit", 409, "a chit would take the tally past its limit"),
    ("tally_state", 409, "the tally's state does not allow this (a draft has no sides yet)"),
    ("wrong_expected_version", 409, "an append's expected version is not the stream's"),
    ("duplicate_event_id", 409, "an appended event's id is in the log already"),
    ("index_taken", 409, "a different MAM message is stored at this index"),
    ("gap", 409, "a MAM message's index is past the channel's next one"),
    ("wrong_epoch", 409, "a MAM message's key epoch does not follow the channel's"),
    ("already_connected", 409, "the user is connected to the authority with another key"),
    ("already_revoked", 409, "the certificate was revoked before"),
    ("already_paired", 409, "the device is paired (with this home or another)"),
    ("claim_open", 409, "this claimant's claim of the device is under way"),
    ("no_such_challenge", 409, "no such challenge waits for this claimant"),
    ("already_answered", 409, "the challenge or the consent request was answered already"),
    ("already_handed_over", 409, "the policy was handed over on this channel already"),
    ("policy_taken", 409, "the policy id is taken"),
    ("policy_ended", 409, "the policy has expired, was revoked or terminated"),
    ("length_required", 411, "the body has no length"),
    ("payload_too_large", 413, "the body exceeds the size bound"),
    ("unsupported_media_type", 415, "the body is not application/json"),
    ("refused", 422, "the rules refuse the command; the message says which"),
    ("invalid_event", 422, "an appended event breaks a rule of the log"),
    ("expired", 422, "a consent request or a challenge has run out"),
    ("too_many", 422, "a bound of the home context is reached (devices, policies, scopes, open claims)"),
    ("stream_too_long", 422, "the stream has more events than a command may load"),
    ("trust_refused", 422, "the trust list refuses the change"),
    ("not_connected", 422, "the user asked for a certificate before connecting"),
    ("card_luhn_failed", 422, "the card number fails the Luhn check"),
    ("card_expired", 422, "the card has expired"),
    ("cvc_invalid", 422, "the CVC is not 3 or 4 digits"),
    ("billing_invalid", 422, "the billing details are refused"),
    ("internal", 500, "a bug or a corrupt stream; the service log says which"),
    ("unavailable", 503, "the database is unreachable; try again"),
];

/// The status of `code`. A code missing from [`CODES`] is a bug: debug builds stop, release builds answer 500.
pub fn status_of(code: &str) -> StatusCode {
    let found = CODES.iter().find(|(c, _, _)| *c == code);
    debug_assert!(found.is_some(), "error code {code} is not in http::codes::CODES");
    found.and_then(|(_, status, _)| StatusCode::from_u16(*status).ok()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_and_in_architecture_md() {
        let architecture = include_str!("../../../ARCHITECTURE.md");
        for (i, (code, status, _)) in CODES.iter().enumerate() {
            assert!(CODES[..i].iter().all(|(c, _, _)| c != code), "{code} is listed twice");
            let row = format!("| `{code}` | {status} |");
            assert!(architecture.contains(&row), "ARCHITECTURE.md lacks the row {row}");
        }
    }

    /// A code missing from the table answers 500 in release builds; every code a handler names must be listed.
    /// Codes are named as `ApiError::new("code"` or as `=> "code",` arms of the code mappings.
    #[test]
    fn every_code_a_handler_names_is_in_the_table() {
        let mut named = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    // The peer link's refusal kinds are counters of its status, not HTTP codes.
                    if !path.ends_with("peers") {
                        dirs.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("http/codes.rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    named.extend(codes_named(&text).into_iter().map(|c| (c, path.display().to_string())));
                }
            }
        }
        assert!(named.len() > 40, "the scan found the handlers' codes: {}", named.len());
        for (code, file) in named {
            assert!(CODES.iter().any(|(c, _, _)| *c == code), "{file} names {code}, which is not in CODES");
        }
    }

    fn codes_named(text: &str) -> Vec<String> {
        let compact: String = text.split_whitespace().collect();
        let after = |marker: &str| {
            compact
                .split(marker)
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .filter(|code| !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let mut codes = after("ApiError::new(\"");
        codes.extend(after("=>\"").into_iter().filter(|c| compact.contains(&format!("=>\"{c}\","))));
        codes
    }
}
