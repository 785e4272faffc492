//! MAM channel messages: devices post sealed messages, readers fetch them by address.
//!
//! `POST /mam/messages` with an envelope `{"channel", "index", "address", "message"}`: 201 when
//! stored, 200 when that exact message was already stored (a device retrying after a lost
//! answer), 409 when the index holds a different message, earlier ones are missing or the epoch is
//! wrong, 400/422 for malformed or badly signed messages. `GET /mam/messages/{address}` returns the
//! envelope at that address (404 if none; the view follows the log within moments).

mod signatures;

use domain::mam::{self, ChannelStream, MamError, MamEvent, MessageKind, StoreMessage, StoredMessage};
use domain::Decider;
use events::{AppendError, Expected, NewEvent, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

use super::{with, ApiError, MAX_BODY_BYTES};
use signatures::Signatures;

/// Channels whose head this node remembers; beyond this the memory starts over.
const MAX_CACHED_HEADS: usize = 100_000;

/// The last known state of each channel stream this node appended to, so the common case (the
/// device's next message) needs no read before the append. A stale entry is harmless: the append
/// expects an exact version, and a mismatch drops the entry and takes the reading path.
#[derive(Clone, Default)]
struct Heads(Arc<Mutex<HashMap<String, ChannelStream>>>);

impl Heads {
    fn get(&self, stream: &str, index: u64) -> Option<ChannelStream> {
        let heads = self.0.lock().expect("heads lock");
        heads.get(stream).filter(|h| h.next_index == index).cloned()
    }

    fn set(&self, stream: &str, head: Option<ChannelStream>) {
        let mut heads = self.0.lock().expect("heads lock");
        match head {
            Some(head) => {
                if heads.len() >= MAX_CACHED_HEADS {
                    heads.clear();
                }
                heads.insert(stream.to_owned(), head);
            }
            None => {
                heads.remove(stream);
            }
        }
    }
}

pub fn routes(store: Store) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let post =
        warp::path!("mam" / "messages")
            .and(warp::post())
            .and(warp::body::content_length_limit(MAX_BODY_BYTES))
            .and(warp::body::bytes())
            .and(with(store.clone()))
            .and(with(Heads::default()))
            .and(with(Signatures::default()))
            .then(|body, store, heads, signatures| async move {
                respond(store_message(body, store, heads, signatures).await)
            });
    let get = warp::path!("mam" / "messages" / String)
        .and(warp::get())
        .and(with(store))
        .then(|address, store| async move { respond(fetch(address, store).await) });
    post.or(get).unify()
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|err| err.into_response())
}

async fn store_message(
    body: bytes::Bytes,
    store: Store,
    heads: Heads,
    signatures: Signatures,
) -> Result<Response, ApiError> {
    let bad = |code, message: String| ApiError::new(StatusCode::BAD_REQUEST, code, message);
    let envelope: ::mam::Envelope =
        serde_json::from_slice(&body).map_err(|e| bad("malformed_json", format!("request body: {e}")))?;
    let message = Arc::new(envelope.open().map_err(|e| bad("malformed_message", e.to_string()))?);
    signatures
        .verify(message.clone())
        .await
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_signature", e.to_string()))?;
    let stored = StoredMessage {
        channel: envelope.channel,
        index: message.index,
        epoch: message.epoch,
        kind: match message.kind {
            ::mam::Kind::Data => MessageKind::Data,
            ::mam::Kind::KeyRotation => MessageKind::KeyRotation,
        },
        address: envelope.address,
        message: envelope.message,
    };
    let stream = mam::stream_id(&stored.channel);
    let index = stored.index;
    let version = i64::try_from(index).map_err(|_| bad("bad_index", "index too large".into()))?;

    // The stream's state depends only on its last event: the one before this index.
    let state = if index == 0 {
        ChannelStream::default()
    } else if let Some(head) = heads.get(&stream, index) {
        head
    } else {
        match store.read_stream(&stream, version, 1).await.map_err(unavailable)?.first() {
            Some(previous) => ChannelStream::evolve(ChannelStream::default(), &parse(previous)?),
            None => {
                return Err(conflict("gap", format!("messages before {index} are missing")));
            }
        }
    };
    let new_events = match ChannelStream::decide(&state, StoreMessage { message: stored.clone() }) {
        Ok(events) => events,
        Err(e @ MamError::WrongEpoch { .. }) => return Err(conflict("wrong_epoch", e.to_string())),
        Err(e) => return Err(conflict("out_of_order", e.to_string())),
    };
    let next_state = new_events.iter().fold(state, ChannelStream::evolve);
    let new_events =
        new_events.into_iter().map(|MamEvent::MamMessageStored(m)| NewEvent::new("MamMessageStored", &m)).collect();
    // The stream version is the idempotency key: index i is version i + 1, so a second copy of
    // index i can never be appended, whatever its event id.
    let expected = if index == 0 { Expected::NoStream } else { Expected::Exact(version) };
    let appended = store.append(&stream, expected, new_events).await;
    heads.set(&stream, appended.as_ref().ok().map(|_| next_state));
    match appended {
        Ok(appended) => Ok(warp::reply::with_status(
            warp::reply::json(&json!({ "position": appended.last_position, "index": index })),
            StatusCode::CREATED,
        )
        .into_response()),
        Err(AppendError::WrongExpectedVersion { .. }) => {
            // Someone stored this index first (most likely this device, whose answer was lost).
            let existing = store.read_stream(&stream, version + 1, 1).await.map_err(unavailable)?;
            match existing.first().map(parse).transpose()? {
                Some(MamEvent::MamMessageStored(m)) if m == stored => Ok(warp::reply::with_status(
                    warp::reply::json(&json!({ "index": index, "already_stored": true })),
                    StatusCode::OK,
                )
                .into_response()),
                _ => Err(conflict(
                    "index_taken",
                    format!("message {index} of this channel is already a different message"),
                )),
            }
        }
        Err(AppendError::Unavailable(e)) => Err(unavailable(e)),
        Err(e) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", e.to_string())),
    }
}

fn parse(event: &events::RecordedEvent) -> Result<MamEvent, ApiError> {
    serde_json::from_value::<StoredMessage>(event.payload.clone()).map(MamEvent::MamMessageStored).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_stream",
            format!("event {} is not a stored MAM message: {e}", event.event_id),
        )
    })
}

async fn fetch(address: String, store: Store) -> Result<Response, ApiError> {
    let bytes = hex::decode(&address)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "bad_address", "an address is 32 bytes of hex"))?;
    let client = store.pool().get().await.map_err(unavailable)?;
    let row = client
        .query_opt("SELECT channel, message_index, message FROM home.mam_messages WHERE address = $1", &[&bytes])
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no_message", "no message at this address"))?;
    let channel: Vec<u8> = row.get(0);
    let index: i64 = row.get(1);
    let message: String = row.get(2);
    Ok(warp::reply::json(&::mam::Envelope { channel: hex::encode(channel), index: index as u64, address, message })
        .into_response())
}

fn conflict(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("the log is unavailable: {err}"))
}
