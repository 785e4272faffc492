//! MAM channel messages: devices post sealed messages, readers fetch them by address.
//!
//! `POST /mam/messages` with an envelope `{"channel", "index", "address", "message"}`: 201 when
//! stored, 200 when that exact message was already stored (a device retrying after a lost
//! answer), 409 when the index holds a different message, earlier ones are missing or the epoch is
//! wrong, 400/422 for malformed or badly signed messages. `GET /mam/messages/{address}` returns the
//! envelope at that address (404 if none; the view follows the log within moments).

mod signatures;

use std::sync::Arc;

use domain::home::{
    ChannelLog, ChannelLogCommand, ChannelLogEvent, ChannelLogState, HomeError, MessageKind, StoredMessage,
};
use events::Store;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

use super::{with, ApiError, MAX_BODY_BYTES};
use crate::command::{self, CommandError, HeadCache, Loaded};
use signatures::Signatures;

/// Channels whose head this node remembers, so the common case (the device's next message) needs no read before
/// the append; beyond this the memory starts over.
const MAX_CACHED_HEADS: usize = 100_000;

type Heads = Arc<HeadCache<ChannelLogState>>;

pub fn routes(store: Store) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let post =
        warp::path!("mam" / "messages")
            .and(warp::post())
            .and(warp::body::content_length_limit(MAX_BODY_BYTES))
            .and(warp::body::bytes())
            .and(with(store.clone()))
            .and(with(Arc::new(HeadCache::new(MAX_CACHED_HEADS))))
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
    let envelope: ::mam::Envelope =
        serde_json::from_slice(&body).map_err(|e| ApiError::new("malformed_json", format!("request body: {e}")))?;
    let message = Arc::new(envelope.open().map_err(|e| ApiError::new("malformed_message", e.to_string()))?);
    signatures.verify(message.clone()).await.map_err(|e| ApiError::new("bad_signature", e.to_string()))?;
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
    let stream = <ChannelLog as domain::Aggregate>::stream_id(&stored.channel);
    let index = stored.index;
    // The common cases need no read before the append: a channel's first message (its stream does not exist yet)
    // and the device's next message (its head is cached). The append's expected version checks both guesses.
    let start = if index == 0 {
        Some(Loaded { state: ChannelLogState::default(), version: 0 })
    } else {
        heads.get(&stream).filter(|head: &Loaded<ChannelLogState>| head.state.next_index == index)
    };
    let decided = command::execute_from::<ChannelLog>(
        &store,
        &stream,
        start,
        ChannelLogCommand::StoreMessage { message: stored.clone() },
    )
    .await;
    match decided {
        Ok((executed, head)) => {
            heads.set(&stream, Some(head));
            let position = executed.last_position.expect("a stored message is appended");
            Ok(warp::reply::with_status(
                warp::reply::json(&json!({ "position": position, "index": index })),
                StatusCode::CREATED,
            )
            .into_response())
        }
        Err(err) => {
            heads.set(&stream, None);
            refusal(&store, &stream, &stored, err).await
        }
    }
}

/// A refused message: a repeat of one already stored (the device retrying after a lost answer) is answered 200
/// as stored; everything else says what is wrong.
async fn refusal(
    store: &Store,
    stream: &str,
    stored: &StoredMessage,
    err: CommandError<HomeError>,
) -> Result<Response, ApiError> {
    match err {
        CommandError::Refused(HomeError::AlreadyStored { index }) => {
            let existing = store.read_stream(stream, index as i64 + 1, 1).await.map_err(ApiError::unavailable)?;
            match existing.first().map(parse).transpose()? {
                Some(ChannelLogEvent::MamMessageStored(m)) if m == *stored => Ok(warp::reply::with_status(
                    warp::reply::json(&json!({ "index": index, "already_stored": true })),
                    StatusCode::OK,
                )
                .into_response()),
                _ => Err(ApiError::new(
                    "index_taken",
                    format!("message {index} of this channel is already a different message"),
                )),
            }
        }
        CommandError::Refused(e @ HomeError::Gap { .. }) => Err(ApiError::new("gap", e.to_string())),
        CommandError::Refused(e @ HomeError::WrongEpoch { .. }) => Err(ApiError::new("wrong_epoch", e.to_string())),
        // The channel log refuses only as above; the home context's other refusals are consent's. Should one come
        // here it is a bug, answered as one rather than by ending the connection.
        CommandError::Refused(other) => Err(ApiError::new("internal", format!("unexpected refusal: {other}"))),
        CommandError::Log(err) => Err(err.into()),
    }
}

fn parse(event: &events::RecordedEvent) -> Result<ChannelLogEvent, ApiError> {
    command::decode::<ChannelLogEvent>(event)
        .map_err(|e| ApiError::new("internal", format!("corrupt stream: event {}: {e}", event.event_id)))
}

async fn fetch(address: String, store: Store) -> Result<Response, ApiError> {
    let bytes = hex::decode(&address)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| ApiError::new("bad_address", "an address is 32 bytes of hex"))?;
    let found = projections::Views::of(&store).mam_message_at(&bytes).await.map_err(ApiError::unavailable)?;
    let stored = found.ok_or_else(|| ApiError::new("not_found", "no message at this address"))?;
    let envelope =
        ::mam::Envelope { channel: hex::encode(stored.channel), index: stored.index, address, message: stored.message };
    Ok(warp::reply::json(&envelope).into_response())
}
