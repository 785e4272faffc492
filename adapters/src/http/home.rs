//! The home context's dialogues over HTTP. Each route takes one signed document and answers 201 with what it
//! became once the event is committed (`{stream_id, events, version, position}`), or a refusal with a stable code:
//!
//! - `POST /home/devices/{device_id}/claimant-messages`: a claimant's claim or answer (`SignedClaimantMessage`).
//! - `POST /home/devices/{device_id}/device-messages`: the device's challenge, verdict or release.
//! - `POST /home/homes/{owner hex}/decisions`: an owner decision (`SignedDecision`).
//! - `POST /home/homes/{owner hex}/terminations`: a provider ends its policy (`SignedTermination`).
//! - `POST /home/providers/{provider hex}/handovers`: a device hands a provider a policy's channel.
//!
//! The path names the stream; a document naming another device or home is refused, not redirected.

use bytes::Bytes;
use domain::home::HomeError;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

use super::{parse_body as parse, with, ApiError, MAX_BODY_BYTES};
use crate::command::CommandError;
use crate::home::{Accepted, HomeService};

pub fn routes(service: HomeService) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let body = || warp::post().and(warp::body::content_length_limit(MAX_BODY_BYTES)).and(warp::body::bytes());
    let claimant = warp::path!("home" / "devices" / String / "claimant-messages")
        .and(body())
        .and(with(service.clone()))
        .then(from_claimant);
    let device = warp::path!("home" / "devices" / String / "device-messages")
        .and(body())
        .and(with(service.clone()))
        .then(from_device);
    let decision =
        warp::path!("home" / "homes" / String / "decisions").and(body()).and(with(service.clone())).then(decide);
    let termination =
        warp::path!("home" / "homes" / String / "terminations").and(body()).and(with(service.clone())).then(terminate);
    let handover =
        warp::path!("home" / "providers" / String / "handovers").and(body()).and(with(service)).then(hand_over);
    claimant.or(device).unify().or(decision).unify().or(termination).unify().or(handover).unify()
}

async fn from_claimant(device_id: String, body: Bytes, service: HomeService) -> Response {
    let result = async {
        let message: domain::home::device_inbox::SignedClaimantMessage = parse(&body, "claimant message")?;
        same("device", &device_id, &message.document.device_id)?;
        Ok(service.claimant_says(message).await?)
    };
    reply(result.await)
}

async fn from_device(device_id: String, body: Bytes, service: HomeService) -> Response {
    let result = async {
        let message: domain::home::device_inbox::SignedDeviceMessage = parse(&body, "device message")?;
        same("device", &device_id, &message.document.device_id)?;
        Ok(service.device_says(message).await?)
    };
    reply(result.await)
}

async fn decide(home: String, body: Bytes, service: HomeService) -> Response {
    let result = async {
        let decision: domain::home::household::SignedDecision = parse(&body, "owner decision")?;
        same("home", &home, &decision.document.home.to_hex())?;
        Ok(service.decide(decision).await?)
    };
    reply(result.await)
}

async fn terminate(home: String, body: Bytes, service: HomeService) -> Response {
    let result = async {
        let termination: domain::home::household::SignedTermination = parse(&body, "termination")?;
        same("home", &home, &termination.document.home.to_hex())?;
        Ok(service.terminate(termination).await?)
    };
    reply(result.await)
}

async fn hand_over(provider: String, body: Bytes, service: HomeService) -> Response {
    let result = async {
        let handover: domain::home::provider_inbox::SignedHandover = parse(&body, "hand-over")?;
        same("provider", &provider, &handover.document.provider.to_hex())?;
        Ok(service.hand_over(handover).await?)
    };
    reply(result.await)
}

fn same(what: &str, in_path: &str, in_document: &str) -> Result<(), ApiError> {
    if in_path != in_document {
        return Err(ApiError::new("refused", format!("the path names {what} {in_path}, the document {in_document}")));
    }
    Ok(())
}

fn reply(result: Result<Accepted, ApiError>) -> Response {
    match result {
        Ok(accepted) => warp::reply::with_status(warp::reply::json(&accepted), StatusCode::CREATED).into_response(),
        Err(err) => err.into_response(),
    }
}

impl From<CommandError<HomeError>> for ApiError {
    fn from(err: CommandError<HomeError>) -> ApiError {
        match err {
            CommandError::Refused(refusal) => ApiError::new(refusal_code(&refusal), refusal.to_string()),
            CommandError::Log(err) => err.into(),
        }
    }
}

/// One stable code per kind of refusal, so a page or a script can say what happened.
fn refusal_code(err: &HomeError) -> &'static str {
    match err {
        HomeError::BadSignature(_) => "bad_signature",
        HomeError::Stale { .. } => "stale_request",
        HomeError::WrongHome { .. } => "wrong_home",
        HomeError::UnknownDevice(_) | HomeError::UnknownPolicy(_) => "not_found",
        HomeError::AlreadyPaired(_) | HomeError::DeviceAlreadyAdded(_) => "already_paired",
        HomeError::LockedOut { .. } => "locked_out",
        HomeError::ClaimOpen => "claim_open",
        HomeError::NoSuchChallenge => "no_such_challenge",
        HomeError::ChallengeAnswered | HomeError::AlreadyAnswered(_) => "already_answered",
        HomeError::HandedOver(_) => "already_handed_over",
        HomeError::PolicyTaken(_) => "policy_taken",
        HomeError::PolicyEnded { .. } => "policy_ended",
        HomeError::Expired(_) => "expired",
        HomeError::TooMany { .. } => "too_many",
        _ => "refused",
    }
}
