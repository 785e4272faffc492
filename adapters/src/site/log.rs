//! Loading aggregates from the log and appending their decisions: load stream -> replay -> decide -> append
//! with `Expected::Exact`, retried a bounded number of times when another writer got there first.

use domain::site::tally::{TallyEvent, TallyState};
use domain::site::SiteError;
use domain::Decider;
use events::{AppendError, Expected, NewEvent, RecordedEvent, Store, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::streams;

/// Attempts of one command against concurrent writers of the same stream.
pub const MAX_ATTEMPTS: usize = 5;
/// Events read per page when loading a stream.
const PAGE: usize = 1000;
/// Longest stream an aggregate may have; loading more would be a runaway, not a ledger.
const MAX_STREAM_EVENTS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Refused(#[from] SiteError),
    #[error("the log is busy with concurrent changes to {0}; try again")]
    Contended(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("append: {0}")]
    Append(AppendError),
    #[error("database: {0}")]
    Database(String),
    #[error("corrupt event at position {position}: {reason}")]
    Corrupt { position: i64, reason: String },
}

pub type AppResult<T> = Result<T, AppError>;

impl From<tokio_postgres::Error> for AppError {
    fn from(err: tokio_postgres::Error) -> Self {
        AppError::Database(err.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        AppError::Database(err.to_string())
    }
}

/// Every domain event of the site carries its type in the serde tag `type`; the log's event type is the same.
pub fn to_new_event(event: &impl Serialize) -> NewEvent {
    let payload = serde_json::to_value(event).expect("site events serialize to JSON");
    let event_type = payload.get("type").and_then(|t| t.as_str()).unwrap_or("Unknown").to_owned();
    NewEvent { event_id: Uuid::now_v7(), event_type, payload }
}

pub fn decode<E: DeserializeOwned>(event: &RecordedEvent) -> AppResult<E> {
    serde_json::from_value(event.payload.clone())
        .map_err(|err| AppError::Corrupt { position: event.position, reason: err.to_string() })
}

/// All recorded events of a stream, in order.
pub async fn read_all_of(store: &Store, stream_id: &str) -> AppResult<Vec<RecordedEvent>> {
    let mut out = Vec::new();
    loop {
        let page = store.read_stream(stream_id, out.len() as i64 + 1, PAGE).await?;
        let done = page.len() < PAGE;
        out.extend(page);
        if done || out.len() >= MAX_STREAM_EVENTS {
            return Ok(out);
        }
    }
}

/// The aggregate's state and stream version (0 = no stream yet).
pub async fn load<D>(store: &Store, stream_id: &str) -> AppResult<(D::State, i64)>
where
    D: Decider,
    D::Event: DeserializeOwned,
{
    let recorded = read_all_of(store, stream_id).await?;
    let version = recorded.last().map(|e| e.stream_version).unwrap_or(0);
    let mut state = D::State::default();
    for event in &recorded {
        state = D::evolve(state, &decode::<D::Event>(event)?);
    }
    Ok((state, version))
}

pub fn expected(version: i64) -> Expected {
    if version == 0 {
        Expected::NoStream
    } else {
        Expected::Exact(version)
    }
}

/// Load, decide with `decide`, append; on a concurrent append, reload and decide again (bounded).
/// Returns the events appended (none if the decision was to change nothing).
pub async fn execute<D>(
    store: &Store,
    stream_id: &str,
    mut decide: impl FnMut(&D::State) -> Result<Vec<D::Event>, SiteError>,
) -> AppResult<Vec<D::Event>>
where
    D: Decider,
    D::Event: DeserializeOwned + Serialize,
{
    for _ in 0..MAX_ATTEMPTS {
        let (state, version) = load::<D>(store, stream_id).await?;
        let events = decide(&state)?;
        if events.is_empty() {
            return Ok(events);
        }
        let new_events = events.iter().map(to_new_event).collect();
        match store.append(stream_id, expected(version), new_events).await {
            Ok(_) => return Ok(events),
            Err(AppendError::WrongExpectedVersion { .. }) => continue,
            Err(err) => return Err(AppError::Append(err)),
        }
    }
    Err(AppError::Contended(stream_id.to_owned()))
}

/// A tally: its own stream plus the lift chits for it in the `lifts` stream, merged in log order.
/// Returns the state and the tally stream's version.
pub async fn load_tally(store: &Store, id: Uuid) -> AppResult<(TallyState, i64)> {
    let own = read_all_of(store, &streams::tally(id)).await?;
    let version = own.last().map(|e| e.stream_version).unwrap_or(0);
    let client = store.pool().get().await?;
    let rows = client
        .query(
            "SELECT position, payload FROM events \
             WHERE stream_id = 'lifts' AND payload #>> '{chit,tally_id}' = $1 ORDER BY position",
            &[&id.to_string()],
        )
        .await?;
    let mut merged: Vec<(i64, serde_json::Value)> = own.into_iter().map(|e| (e.position, e.payload)).collect();
    merged.extend(rows.iter().map(|r| (r.get::<_, i64>(0), r.get::<_, serde_json::Value>(1))));
    merged.sort_by_key(|(position, _)| *position);
    let mut state = TallyState::default();
    for (position, payload) in merged {
        let event: TallyEvent =
            serde_json::from_value(payload).map_err(|err| AppError::Corrupt { position, reason: err.to_string() })?;
        state = domain::site::tally::Tally::evolve(state, &event);
    }
    Ok((state, version))
}
