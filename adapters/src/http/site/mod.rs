//! `POST /site/commands`: the users' command interpreter. Every request is a signed envelope
//! ([`SignedRequest`]); the answer is JSON `{"status": "ok", ...}` or an error `{"code", "message"}`.

use chrono::{DateTime, Duration, Utc};
mod wire;

use domain::site::caller::Caller;
use domain::site::freshness::{check_fresh, REPLAY_WINDOW_S};
use domain::site::SiteError;
use events::Store;
use projections::Views;
use serde_json::{json, Value};
use warp::reply::{Reply, Response};
use warp::Filter;

use super::{with, ApiError, MAX_BODY_BYTES};
use crate::command::{CommandError, LogError};
use crate::site::{admin, tallies, AppError};
use wire::{MalformedRequest, ReceivedRequest};
pub use wire::{RequestBody, SignedRequest, UserRequest, REQUEST_PURPOSE};

pub fn routes(store: Store) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("site" / "commands")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with(store))
        .then(handle)
}

async fn handle(body: bytes::Bytes, store: Store) -> Response {
    let received = match SignedRequest::receive(&body) {
        Ok(received) => received,
        Err(MalformedRequest::Json(err)) => return ApiError::new("malformed_json", err.to_string()).into_response(),
        Err(MalformedRequest::Signature(err)) => {
            return ApiError::new("bad_signature", err.to_string()).into_response()
        }
    };
    let now = Utc::now();
    let answer = match authenticate(&store, &received, now).await {
        Ok(()) => {
            let body = received.request.body;
            dispatch(&store, &body.cid, body.request, body.key, now).await
        }
        Err(err) => Err(err),
    };
    match answer {
        Ok(mut answer) => {
            answer["status"] = json!("ok");
            warp::reply::json(&answer).into_response()
        }
        Err(err) => error_reply(err).into_response(),
    }
}

fn error_reply(err: AppError) -> ApiError {
    let refusal = match err {
        CommandError::Refused(refusal) => refusal,
        CommandError::Log(err) => return ApiError::from(err),
    };
    let code = match &refusal {
        SiteError::TicketInvalid => "invalid_ticket",
        SiteError::SiteLocked => "site_locked",
        SiteError::UserNotActive(_) => "user_not_active",
        SiteError::Signature(_) => "bad_signature",
        SiteError::StaleRequest { .. } => "stale_request",
        SiteError::OverLimit => "over_limit",
        SiteError::UserMissing | SiteError::TallyMissing => "not_found",
        SiteError::NotParty => "not_party",
        SiteError::TallyState(_) => "tally_state",
        SiteError::Replayed => "replayed",
        _ => "refused",
    };
    ApiError::new(code, refusal.to_string())
}

/// Authentication failures all read the same to the caller; the reason goes to the service log.
fn unauthorized(message: &str) -> AppError {
    tracing::info!("refused a site command: {message}");
    AppError::Refused(SiteError::Signature(domain::crypto::CryptoError::BadSignature))
}

/// Checks freshness, the signature, the key's owner and the nonce.
async fn authenticate(store: &Store, received: &ReceivedRequest, now: DateTime<Utc>) -> Result<(), AppError> {
    let body = &received.request.body;
    check_fresh(body.timestamp, &body.nonce, now)?;
    received.verify().map_err(|_| unauthorized("signature does not verify"))?;
    if !matches!(body.request, UserRequest::RedeemConnectionTicket { .. }) {
        let user = admin::user(store, &body.cid).await.map_err(|_| unauthorized("unknown user"))?;
        if !user.device_keys.contains(&body.key) {
            return Err(unauthorized("key not registered for this user"));
        }
    }
    let horizon = now - Duration::seconds(2 * REPLAY_WINDOW_S);
    let fresh = Views::of(store)
        .remember_nonce(&body.key.to_base64url(), &body.nonce, now, horizon)
        .await
        .map_err(LogError::from)?;
    if !fresh {
        return Err(SiteError::Replayed.into());
    }
    Ok(())
}

/// Runs an authenticated request for `cid`; commands answer `{}` or what they made, reads their rows.
async fn dispatch(
    store: &Store,
    cid: &str,
    request: UserRequest,
    key: domain::crypto::PublicKey,
    now: DateTime<Utc>,
) -> Result<Value, AppError> {
    Ok(match request {
        UserRequest::RedeemConnectionTicket { token } => {
            admin::redeem_connection_ticket(store, &token, cid, key, now).await?;
            json!({})
        }
        UserRequest::IssueTallyTicket { counterpart, lifetime_s } => {
            let ticket =
                tallies::issue_tally_ticket(store, cid, counterpart, lifetime_s.map(Duration::seconds), now).await?;
            json!({ "ticket": ticket })
        }
        UserRequest::RedeemTallyTicket { token } => {
            json!({ "tally_id": tallies::redeem_tally_ticket(store, cid, &token, now).await? })
        }
        UserRequest::ProposeTally { body, signature } => {
            tallies::propose_tally(store, cid, body, signature, now).await?;
            json!({})
        }
        UserRequest::SignTally { tally_id, signature } => {
            tallies::sign_tally(store, cid, tally_id, signature, now).await?;
            json!({})
        }
        UserRequest::RefuseTally { tally_id, reason } => {
            tallies::refuse_tally(store, cid, tally_id, reason, now).await?;
            json!({})
        }
        UserRequest::CloseTally { tally_id } => {
            tallies::close_tally(store, cid, tally_id, now).await?;
            json!({})
        }
        UserRequest::IssueChit { chit, signature } => {
            tallies::issue_chit(store, cid, chit, signature, now).await?;
            json!({})
        }
        read => read_for(store, &admin::caller(store, cid).await?, read).await?,
    })
}

/// The reads: the caller's own tallies, chits, balances and lifts, from the site views (which may trail the log
/// by moments), or one tally from its stream.
async fn read_for(store: &Store, caller: &Caller, read: UserRequest) -> Result<Value, AppError> {
    caller.require_active()?;
    let views = Views::of(store);
    let rows = |rows: Result<Vec<Value>, projections::ViewError>| rows.map_err(LogError::from);
    Ok(match read {
        UserRequest::GetTally { tally_id } => {
            let state = tallies::tally_for(store, caller, tally_id).await?;
            json!({
                "tally_id": state.id,
                "state": state.status,
                "body": state.body,
                "balance_milli": state.balance_milli,
                "chit_count": state.chit_count,
                "head_hash": state.head_hash,
                "stock_signature": state.stock_signature,
                "foil_signature": state.foil_signature,
            })
        }
        UserRequest::ListTallies => json!({ "tallies": rows(views.tallies_of(&caller.cid).await)? }),
        UserRequest::ListChits { tally_id } => {
            tallies::tally_for(store, caller, tally_id).await?;
            json!({ "chits": rows(views.chits_of(tally_id).await)? })
        }
        UserRequest::GetBalances => json!({ "balances": rows(views.balances_of(&caller.cid).await)? }),
        UserRequest::ListLifts => json!({ "lifts": rows(views.lifts_of(&caller.cid).await)? }),
        command => unreachable!("{command:?} is a command, dispatched before the reads"),
    })
}
