//! `POST /site/commands`: the users' command interpreter. Every request is a signed envelope
//! ([`SignedRequest`]); the answer is JSON `{"status": "ok", ...}` or an error `{"code", "message"}`.

use chrono::{Duration, Utc};
use domain::site::requests::{SignedRequest, UserRequest};
use domain::site::SiteError;
use events::Store;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

use super::{with, ApiError, MAX_BODY_BYTES};
use crate::site::{admin, tallies, AppError};

/// How far a request's timestamp may be from the service's clock; nonces are remembered this long.
pub const REPLAY_WINDOW_S: i64 = 300;
/// Rows of a listing returned at most.
const MAX_ROWS: i64 = 1000;

pub fn routes(store: Store) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("site" / "commands")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with(store))
        .then(handle)
}

async fn handle(body: bytes::Bytes, store: Store) -> Response {
    let request: SignedRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return ApiError::new(StatusCode::BAD_REQUEST, "bad_request", err.to_string()).into_response(),
    };
    match run(&store, request).await {
        Ok(mut answer) => {
            answer["status"] = json!("ok");
            warp::reply::json(&answer).into_response()
        }
        Err(err) => error_reply(err).into_response(),
    }
}

fn error_reply(err: AppError) -> ApiError {
    match err {
        AppError::Refused(err) => {
            let (status, code) = match &err {
                SiteError::TicketInvalid => (StatusCode::FORBIDDEN, "invalid_ticket"),
                SiteError::SiteLocked => (StatusCode::FORBIDDEN, "site_locked"),
                SiteError::UserNotActive(_) => (StatusCode::FORBIDDEN, "user_not_active"),
                SiteError::Signature(_) => (StatusCode::UNAUTHORIZED, "bad_signature"),
                SiteError::OverLimit => (StatusCode::CONFLICT, "over_limit"),
                SiteError::UserMissing | SiteError::TallyMissing => (StatusCode::NOT_FOUND, "not_found"),
                SiteError::NotParty => (StatusCode::FORBIDDEN, "not_party"),
                SiteError::Replayed => (StatusCode::CONFLICT, "replayed"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            };
            ApiError::new(status, code, err.to_string())
        }
        AppError::Contended(_) => ApiError::new(StatusCode::CONFLICT, "contended", err.to_string()),
        other => {
            tracing::warn!("site command failed: {other}");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the ledger is unavailable; try again")
        }
    }
}

/// Authentication failures all read the same to the caller; the reason goes to the service log.
fn unauthorized(message: &str) -> AppError {
    tracing::info!("refused a site command: {message}");
    AppError::Refused(SiteError::Signature(domain::site::crypto::CryptoError::BadSignature))
}

/// Checks freshness, the signature, the key's owner and the nonce, then runs the request.
async fn run(store: &Store, signed: SignedRequest) -> Result<Value, AppError> {
    let now = Utc::now();
    let body = &signed.body;
    if (now - body.timestamp).num_seconds().abs() > REPLAY_WINDOW_S {
        return Err(unauthorized("timestamp outside the window"));
    }
    if !(8..=128).contains(&body.nonce.len()) {
        return Err(AppError::Refused(SiteError::Invalid("nonce must be 8..128 characters".into())));
    }
    signed.verify().map_err(|_| unauthorized("signature does not verify"))?;
    let redeeming = matches!(body.request, UserRequest::RedeemConnectionTicket { .. });
    if !redeeming {
        let user = admin::user(store, &body.cid).await.map_err(|_| unauthorized("unknown user"))?;
        if !user.device_keys.contains(&body.key) {
            return Err(unauthorized("key not registered for this user"));
        }
    }
    remember_nonce(store, &body.key.0, &body.nonce, now).await?;
    let cid = body.cid.as_str();
    Ok(match signed.body.request.clone() {
        UserRequest::RedeemConnectionTicket { token } => {
            admin::redeem_connection_ticket(store, &token, cid, body.key.clone(), now).await?;
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
        UserRequest::GetTally { tally_id } => {
            tallies::require_active(store, cid).await?;
            let state = tallies::tally_for(store, cid, tally_id).await?;
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
        UserRequest::ListTallies => {
            tallies::require_active(store, cid).await?;
            let sql = "SELECT to_jsonb(t) - 'body' FROM site.tallies t \
                WHERE stock_cid = $1 OR foil_cid = $1 ORDER BY created_at LIMIT $2";
            json!({ "tallies": query(store, sql, &[&cid, &MAX_ROWS]).await? })
        }
        UserRequest::ListChits { tally_id } => {
            tallies::require_active(store, cid).await?;
            tallies::tally_for(store, cid, tally_id).await?;
            let sql = "SELECT to_jsonb(c) FROM site.chits c WHERE tally_id = $1 ORDER BY chit_index LIMIT $2";
            json!({ "chits": query(store, sql, &[&tally_id, &MAX_ROWS]).await? })
        }
        UserRequest::GetBalances => {
            tallies::require_active(store, cid).await?;
            let sql = "SELECT to_jsonb(b) FROM site.balances b WHERE cid = $1 ORDER BY tally_id LIMIT $2";
            json!({ "balances": query(store, sql, &[&cid, &MAX_ROWS]).await? })
        }
        UserRequest::ListLifts => {
            tallies::require_active(store, cid).await?;
            let sql = "SELECT to_jsonb(l) FROM site.lifts l \
                WHERE hops @> jsonb_build_array(jsonb_build_object('payer_cid', $1::text)) ORDER BY position LIMIT $2";
            json!({ "lifts": query(store, sql, &[&cid, &MAX_ROWS]).await? })
        }
    })
}

/// Rows of the site views for `cid` (views are built by the projection and may trail the log slightly).
async fn query(
    store: &Store,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Value>, AppError> {
    let client = store.pool().get().await?;
    let rows = client.query(sql, params).await?;
    Ok(rows.iter().map(|r| r.get::<_, Value>(0)).collect())
}

/// Records the nonce; a nonce seen before for this key within the window is a replay.
async fn remember_nonce(store: &Store, key: &str, nonce: &str, now: chrono::DateTime<Utc>) -> Result<(), AppError> {
    let client = store.pool().get().await?;
    let horizon = now - Duration::seconds(2 * REPLAY_WINDOW_S);
    client.execute("DELETE FROM site.command_nonces WHERE seen_at < $1", &[&horizon]).await?;
    let inserted = client
        .execute(
            "INSERT INTO site.command_nonces (public_key, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&key, &nonce, &now],
        )
        .await?;
    if inserted == 0 {
        return Err(AppError::Refused(SiteError::Replayed));
    }
    Ok(())
}
