//! The command side for the charging deciders: load a stream, replay, decide, append with the expected
//! version, and retry a bounded number of times when another writer got there first.

use domain::Decider;
use events::{AppendError, Expected, NewEvent, Store};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Attempts before giving up on a stream that keeps changing under us.
const MAX_ATTEMPTS: usize = 5;
/// Events read per page while replaying a stream.
const PAGE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E> {
    #[error(transparent)]
    Refused(E),
    #[error("stream {0} kept changing; try again")]
    Contended(String),
    #[error("the log failed: {0}")]
    Log(String),
}

/// The state of `stream` and its version (0 when it does not exist).
pub async fn load<D>(store: &Store, stream: &str) -> anyhow::Result<(D::State, i64)>
where
    D: Decider,
    D::Event: DeserializeOwned,
{
    let mut state = D::State::default();
    let mut version = 0;
    loop {
        let page = store.read_stream(stream, version + 1, PAGE).await?;
        for recorded in &page {
            let event: D::Event = serde_json::from_value(recorded.payload.clone()).map_err(|e| {
                anyhow::anyhow!("{stream} v{}: unreadable {}: {e}", recorded.stream_version, recorded.event_type)
            })?;
            state = D::evolve(state, &event);
            version = recorded.stream_version;
        }
        if page.len() < PAGE {
            return Ok((state, version));
        }
    }
}

/// Runs `command(state)` against `stream` and appends what it decides; returns those events.
pub async fn execute<D>(
    store: &Store,
    stream: &str,
    mut command: impl FnMut(&D::State) -> D::Command,
) -> Result<Vec<D::Event>, ExecuteError<D::Error>>
where
    D: Decider,
    D::Event: Serialize + DeserializeOwned,
{
    for _ in 0..MAX_ATTEMPTS {
        let (state, version) = load::<D>(store, stream).await.map_err(|e| ExecuteError::Log(e.to_string()))?;
        let events = D::decide(&state, command(&state)).map_err(ExecuteError::Refused)?;
        if events.is_empty() {
            return Ok(events);
        }
        let expected = if version == 0 { Expected::NoStream } else { Expected::Exact(version) };
        let new_events = events.iter().map(to_new_event).collect();
        match store.append(stream, expected, new_events).await {
            Ok(_) => return Ok(events),
            Err(AppendError::WrongExpectedVersion { .. }) => continue,
            Err(err) => return Err(ExecuteError::Log(err.to_string())),
        }
    }
    Err(ExecuteError::Contended(stream.to_owned()))
}

/// The event's serde tag is its type, so the stored payload deserializes back into the same variant.
fn to_new_event(event: &impl Serialize) -> NewEvent {
    let payload = serde_json::to_value(event).expect("charging events serialize to JSON");
    let event_type = payload.get("type").and_then(|t| t.as_str()).unwrap_or("Unknown").to_owned();
    NewEvent::new(event_type, &payload)
}
