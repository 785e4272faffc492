//! The app's side of charging: contact cards, connection and certificate requests at the authority, and
//! presenting a certificate at a socket of the provider. Request bodies are never logged or echoed: the
//! certificate request carries a card number and a CVC.

use bytes::Bytes;
use chrono::Utc;
use domain::charging::billing::BillingDetails;
use domain::charging::certificate::{SignedCertificateRequest, SocketRequest};
use domain::charging::contact_card::ContactCard;
use domain::charging::ChargePointError;
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

use super::{parse_body as parse, with, ApiError, MAX_BODY_BYTES};
use crate::charging::{ChargingError, ChargingService};

/// POST /charging/authority/connections
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConnectionRequestBody {
    /// The app's exported contact card (base64).
    pub contact_card: String,
}

/// POST /charging/authority/certificates
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CertificateRequestBody {
    pub request: SignedCertificateRequest,
    pub billing: BillingDetails,
}

pub fn routes(service: ChargingService) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let authority_card = warp::path!("charging" / "authority" / "contact-card")
        .and(warp::get())
        .and(with(service.clone()))
        .map(|s: ChargingService| card_reply(s.authority_card()));
    let provider_card = warp::path!("charging" / "provider" / "contact-card")
        .and(warp::get())
        .and(with(service.clone()))
        .map(|s: ChargingService| card_reply(s.provider_card()));
    let connect = warp::path!("charging" / "authority" / "connections")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with(service.clone()))
        .then(request_connection);
    let certificate = warp::path!("charging" / "authority" / "certificates")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with(service.clone()))
        .then(request_certificate);
    let socket = warp::path!("charging" / "provider" / "sockets")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with(service))
        .then(enable_socket);
    authority_card.or(provider_card).unify().or(connect).unify().or(certificate).unify().or(socket).unify()
}

fn card_reply(card: Result<ContactCard, ChargingError>) -> Response {
    match card.and_then(|c| Ok((c.export()?, c))) {
        Ok((exported, card)) => warp::reply::json(&json!({ "contact_card": exported, "card": card })).into_response(),
        Err(err) => error_reply(err),
    }
}

async fn request_connection(body: Bytes, service: ChargingService) -> Response {
    let body: ConnectionRequestBody = match parse(&body, "connection request") {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let result = match ContactCard::import(&body.contact_card) {
        Ok(card) => service.request_connection(card, Utc::now()).await,
        Err(err) => Err(err.into()),
    };
    match result {
        Ok(uid) => warp::reply::with_status(
            warp::reply::json(&json!({ "uid": uid, "trust": "untrusted" })),
            StatusCode::CREATED,
        )
        .into_response(),
        Err(err) => error_reply(err),
    }
}

async fn request_certificate(body: Bytes, service: ChargingService) -> Response {
    let body: CertificateRequestBody = match parse(&body, "certificate request") {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    match service.request_certificate(body.request, body.billing, Utc::now()).await {
        Ok(certificate) => {
            warp::reply::with_status(warp::reply::json(&json!({ "certificate": certificate })), StatusCode::CREATED)
                .into_response()
        }
        Err(err) => error_reply(err),
    }
}

async fn enable_socket(body: Bytes, service: ChargingService) -> Response {
    let request: SocketRequest = match parse(&body, "socket request") {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    match service.enable_socket(request, Utc::now()).await {
        Ok(reply) => warp::reply::json(&reply).into_response(),
        Err(err) => error_reply(err),
    }
}

/// Refusals by the rules are 4xx with a stable code naming the rule; the log's failures are answered as every
/// context answers them.
fn error_reply(err: ChargingError) -> Response {
    let reply = match err {
        ChargingError::Log(err) => ApiError::from(err),
        ChargingError::ContactCard(e) => ApiError::new("invalid_contact_card", e.to_string()),
        ChargingError::Customer(e) => ApiError::new(authority_code(&e), e.to_string()),
        ChargingError::TrustList(e) => ApiError::new("trust_refused", e.to_string()),
        ChargingError::ChargePoint(e) => ApiError::new(charge_point_code(&e), e.to_string()),
    };
    reply.into_response()
}

fn authority_code(err: &domain::charging::CustomerError) -> &'static str {
    use domain::charging::billing::BillingError as B;
    use domain::charging::CustomerError as E;
    match err {
        E::InvalidContactCard(_) => "invalid_contact_card",
        E::AlreadyConnected => "already_connected",
        E::NotConnected => "not_connected",
        E::BadRequestSignature => "bad_signature",
        E::StaleRequest => "stale_request",
        E::Billing(B::LuhnCheckFailed) => "card_luhn_failed",
        E::Billing(B::CardExpired(_)) => "card_expired",
        E::Billing(B::MalformedCvc) => "cvc_invalid",
        E::Billing(_) => "billing_invalid",
        E::UnknownCertificate(_) => "unknown_certificate",
        E::AlreadyRevoked(_) => "already_revoked",
        _ => "refused",
    }
}

fn charge_point_code(err: &ChargePointError) -> &'static str {
    use ChargePointError as E;
    match err {
        E::BadRequestSignature => "bad_signature",
        E::WrongKey => "wrong_key",
        E::UnknownAuthority(_) => "unknown_authority",
        E::TamperedCertificate(_) => "tampered_certificate",
        E::CertificateExpired(_) => "certificate_expired",
        E::CertificateNotYetValid(_) => "certificate_not_yet_valid",
        E::UnknownCertificate(_) => "unknown_certificate",
        E::CertificateRevoked(_) => "certificate_revoked",
        E::StaleRequest => "stale_request",
        E::NoCredential => "no_credential",
        E::SocketBusy(_) => "socket_busy",
        _ => "refused",
    }
}
