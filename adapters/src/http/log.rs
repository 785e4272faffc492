//! The log's own resources: health, the global feed, streams, and appends of node-signed events.

use std::sync::Arc;
use std::time::Duration;

use super::stream_waiters::StreamWaiters;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use events::{AppendError, Expected, SignedEvent, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

use super::{with, ApiError, MAX_BODY_BYTES};

/// Events returned per page when the client does not say.
const DEFAULT_PAGE: usize = 100;
/// Most events one page returns.
const MAX_PAGE: usize = 1000;
/// Longest a stream read waits for its first event (`wait_ms`).
const MAX_WAIT_MS: u64 = 30_000;
/// Stream reads waiting at once; a read beyond these answers at once instead of waiting.
const MAX_WAITING_READS: usize = 10_000;

#[derive(Deserialize)]
struct Page {
    from: Option<i64>,
    limit: Option<usize>,
    /// For a stream read: wait up to this long (≤ 30 s) for an event at `from` or later before answering empty.
    wait_ms: Option<u64>,
}

pub fn routes(
    store: Store,
    draining: super::Draining,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let health = warp::path!("health").and(warp::get()).and(with(store.clone())).then(health);
    let feed = warp::path!("events").and(warp::get()).and(warp::query::<Page>()).and(with(store.clone())).then(feed);
    let read_stream = warp::path!("streams" / String)
        .and(warp::get())
        .and(warp::query::<Page>())
        .and(with(store.clone()))
        .and(with(StreamWaiters::start(store.clone(), MAX_WAITING_READS)))
        .and(with(draining))
        .then(read_stream);
    let append = warp::path!("streams" / String)
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with(store))
        .then(append);
    health.or(feed).unify().or(read_stream).unify().or(append).unify()
}

async fn health(store: Store) -> Response {
    let node = hex::encode(store.node_key().as_bytes());
    match store.head().await {
        Ok(head) => warp::reply::json(&json!({
            "status": "ok",
            "database": "up",
            "head_position": head.map(|(p, _)| p).unwrap_or(0),
            "head_hash": head.map(|(_, h)| h.to_hex()),
            "node_public_key": node,
        }))
        .into_response(),
        Err(err) => warp::reply::with_status(
            warp::reply::json(&json!({
                "status": "degraded",
                "database": "down",
                "error": err.to_string(),
                "node_public_key": node,
            })),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .into_response(),
    }
}

async fn feed(page: Page, store: Store) -> Response {
    let from = page.from.unwrap_or(1).max(1);
    let limit = page.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    match store.read_all(from, limit).await {
        Ok(events) => {
            let next = events.last().map(|e| e.position + 1).unwrap_or(from);
            let events: Vec<Value> = events.iter().map(|e| e.to_json()).collect();
            warp::reply::json(&json!({ "events": events, "next": next })).into_response()
        }
        Err(err) => ApiError::unavailable(err).into_response(),
    }
}

async fn read_stream(
    raw_id: String,
    page: Page,
    store: Store,
    waiters: Arc<StreamWaiters>,
    draining: super::Draining,
) -> Response {
    let stream_id = match decode_segment(&raw_id) {
        Ok(id) => id,
        Err(err) => return err.into_response(),
    };
    let from = page.from.unwrap_or(1).max(1);
    let limit = page.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let read = match page.wait_ms {
        Some(wait_ms) => {
            let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
            read_stream_waiting(&store, &stream_id, from, limit, wait, &waiters, draining).await
        }
        None => store.read_stream(&stream_id, from, limit).await,
    };
    match read {
        Ok(events) if events.is_empty() && from == 1 && page.wait_ms.is_none() => {
            ApiError::new("not_found", format!("no stream {stream_id}")).into_response()
        }
        Ok(events) => {
            let version = events.last().map(|e| e.stream_version);
            let events: Vec<Value> = events.iter().map(|e| e.to_json()).collect();
            warp::reply::json(&json!({ "stream_id": stream_id, "events": events, "last_version": version }))
                .into_response()
        }
        Err(err) => ApiError::unavailable(err).into_response(),
    }
}

/// The stream's events from `from`, waiting up to `wait` for the first of them: a follower (a device following
/// its inbox) catches up and then hears of each new event within moments, without polling. The wait is on the
/// stream's own writes (`StreamWaiters`), holds no database connection, and ends when the server starts to drain.
async fn read_stream_waiting(
    store: &Store,
    stream_id: &str,
    from: i64,
    limit: usize,
    wait: Duration,
    waiters: &StreamWaiters,
    mut draining: super::Draining,
) -> Result<Vec<events::RecordedEvent>, events::StoreError> {
    let deadline = tokio::time::Instant::now() + wait;
    let Some(waiting_on) = waiters.wait_on(stream_id) else { return store.read_stream(stream_id, from, limit).await };
    loop {
        // Listening before the read: a write between the read and the wait still wakes it.
        let written = waiting_on.notify.notified();
        tokio::pin!(written);
        written.as_mut().enable();
        let events = store.read_stream(stream_id, from, limit).await?;
        if !events.is_empty() {
            return Ok(events);
        }
        tokio::select! {
            woken = tokio::time::timeout_at(deadline, written) => match woken {
                Ok(()) => continue,
                Err(_) => return Ok(events),
            },
            _ = draining.wait_for(|draining| *draining) => return Ok(events),
        }
    }
}

/// The body of `POST /streams/{id}`: events already signed with the node key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendBody {
    expected: WireExpected,
    events: Vec<WireEvent>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireExpected {
    Version(i64),
    Word(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent {
    event_id: Uuid,
    event_type: String,
    payload: Value,
    time: DateTime<Utc>,
    signer: String,
    signature: String,
}

async fn append(raw_id: String, body: bytes::Bytes, store: Store) -> Response {
    match append_inner(raw_id, body, store).await {
        Ok(reply) => reply,
        Err(err) => err.into_response(),
    }
}

async fn append_inner(raw_id: String, body: bytes::Bytes, store: Store) -> Result<Response, ApiError> {
    let stream_id = decode_segment(&raw_id)?;
    let body: AppendBody =
        serde_json::from_slice(&body).map_err(|err| ApiError::new("malformed_json", format!("request body: {err}")))?;
    let expected = match body.expected {
        WireExpected::Version(v) if v >= 1 => Expected::Exact(v),
        WireExpected::Word(w) if w == "any" => Expected::Any,
        WireExpected::Word(w) if w == "no_stream" => Expected::NoStream,
        _ => return Err(ApiError::new("bad_expected_version", "expected is \"any\", \"no_stream\" or a version >= 1")),
    };
    let events = body.events.into_iter().map(|e| wire_event(&stream_id, e)).collect::<Result<Vec<_>, _>>()?;
    match store.append_signed(&stream_id, expected, events).await {
        Ok(appended) => Ok(warp::reply::with_status(
            warp::reply::json(&json!({
                "first_position": appended.first_position,
                "last_position": appended.last_position,
                "stream_version": appended.stream_version,
            })),
            StatusCode::CREATED,
        )
        .into_response()),
        Err(err) => Err(append_error(err)),
    }
}

fn wire_event(stream_id: &str, event: WireEvent) -> Result<SignedEvent, ApiError> {
    let bad = |what: &str| ApiError::new("malformed_event", format!("event {}: {what}", event.event_id));
    let signer: [u8; 32] = hex::decode(&event.signer)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("signer is not 32 bytes of hex"))?;
    let signer = VerifyingKey::from_bytes(&signer).map_err(|_| bad("signer is not an ed25519 public key"))?;
    let signature = hex::decode(&event.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| bad("signature is not 64 bytes of hex"))?;
    Ok(SignedEvent {
        event_id: event.event_id,
        stream_id: stream_id.to_owned(),
        event_type: event.event_type,
        payload: event.payload,
        time: event.time,
        signer,
        signature,
    })
}

fn append_error(err: AppendError) -> ApiError {
    let code = match &err {
        AppendError::WrongExpectedVersion { .. } => "wrong_expected_version",
        AppendError::DuplicateEventId { .. } => "duplicate_event_id",
        AppendError::BadSignature { .. } => "bad_signature",
        AppendError::UntrustedSigner { .. } => "untrusted_signer",
        AppendError::Invalid { .. } => "invalid_event",
        AppendError::StreamMismatch { .. }
        | AppendError::RepeatedEventId { .. }
        | AppendError::BatchSize(_)
        | AppendError::StreamCount(_)
        | AppendError::RepeatedStream { .. }
        | AppendError::EmptyStream { .. } => "bad_append",
        AppendError::Unavailable(_) => "unavailable",
    };
    ApiError::new(code, err.to_string())
}

fn decode_segment(raw: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::new("bad_stream_id", "the stream id is not UTF-8"))
}
