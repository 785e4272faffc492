//! The command side of every aggregate of every context: load the aggregate's stream, fold it with `evolve`,
//! `decide`, append the decision with the stream's exact version, and, when another writer got there first,
//! start over (a bounded number of times). Rules live in `decide`; facts a decision needs from other streams come
//! in through the command.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::{Aggregate, DomainEvent};
use events::{AppendError, Expected, NewEvent, RecordedEvent, Store, StoreError};

/// Attempts of one command against writers of the same stream before it is answered "contended".
pub const MAX_ATTEMPTS: u32 = 5;
/// Events read per round trip while loading a stream.
const READ_PAGE_EVENTS: usize = 1000;
/// Longest stream an aggregate may have: loading more would be a runaway, not a ledger. A longer stream is an
/// error, never silently cut short.
pub const MAX_STREAM_EVENTS: i64 = 1_000_000;

/// Why a command did not append: refused by the rules, or the log could not take it.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E> {
    #[error(transparent)]
    Refused(E),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// The log's side of a failed command; every context answers these the same way.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("stream {stream_id} kept changing under {MAX_ATTEMPTS} attempts; try again")]
    Contended { stream_id: String },
    #[error("stream {stream_id} is longer than the {MAX_STREAM_EVENTS} events an aggregate may have")]
    TooLong { stream_id: String },
    #[error("event at position {position} is not a {expected}: {reason}")]
    Corrupt { position: i64, expected: &'static str, reason: String },
    #[error(transparent)]
    Append(AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A view a command consulted (the lift run's graph) could not be read.
    #[error(transparent)]
    Views(#[from] projections::ViewError),
}

impl LogError {
    /// A failure a retry of the same command may get past (the database, or a busy stream).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LogError::Contended { .. }
                | LogError::Store(_)
                | LogError::Views(projections::ViewError::Database(_) | projections::ViewError::Pool(_))
                | LogError::Append(AppendError::Unavailable(_))
        )
    }
}

impl<E> From<StoreError> for CommandError<E> {
    fn from(err: StoreError) -> Self {
        CommandError::Log(LogError::Store(err))
    }
}

impl<E> CommandError<E> {
    /// The same failure with the refusal mapped (one context's command used inside another's).
    pub fn map_refusal<F>(self, map: impl FnOnce(E) -> F) -> CommandError<F> {
        match self {
            CommandError::Refused(err) => CommandError::Refused(map(err)),
            CommandError::Log(err) => CommandError::Log(err),
        }
    }
}

/// An aggregate as the command side knows it: its state and its stream's version (0: no stream yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded<S> {
    pub state: S,
    pub version: i64,
}

impl<S> Loaded<S> {
    /// What an append of the next decision expects.
    pub fn expected(&self) -> Expected {
        if self.version == 0 {
            Expected::NoStream
        } else {
            Expected::Exact(self.version)
        }
    }
}

/// What a command appended: the events and the stream's version after them (none and the same version when the
/// decision was to change nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed<E> {
    pub events: Vec<E>,
    pub version: i64,
    pub last_position: Option<i64>,
}

/// The aggregate `id` as its stream has it now.
pub async fn load<A: Aggregate>(store: &Store, id: &A::Id) -> Result<Loaded<A::State>, LogError> {
    load_stream::<A>(store, &A::stream_id(id)).await
}

async fn load_stream<A: Aggregate>(store: &Store, stream_id: &str) -> Result<Loaded<A::State>, LogError> {
    if A::STATE_IS_LAST_EVENT {
        return Ok(match store.read_stream_last(stream_id).await? {
            Some(last) => {
                Loaded { state: A::evolve(A::State::default(), &decode(&last)?), version: last.stream_version }
            }
            None => Loaded { state: A::State::default(), version: 0 },
        });
    }
    let mut loaded = Loaded { state: A::State::default(), version: 0 };
    loop {
        let page = store.read_stream(stream_id, loaded.version + 1, READ_PAGE_EVENTS).await?;
        for recorded in &page {
            debug_assert_eq!(recorded.stream_version, loaded.version + 1, "stream versions are dense");
            loaded.state = A::evolve(loaded.state, &decode(recorded)?);
            loaded.version = recorded.stream_version;
        }
        if page.len() < READ_PAGE_EVENTS {
            return Ok(loaded);
        }
        if loaded.version >= MAX_STREAM_EVENTS {
            return Err(LogError::TooLong { stream_id: stream_id.to_owned() });
        }
    }
}

/// Every event of `stream_id` with its log position, in stream order (for upgrades that need the positions).
pub async fn read_events<E: DomainEvent>(store: &Store, stream_id: &str) -> Result<Vec<(i64, E)>, LogError> {
    let mut events = Vec::new();
    loop {
        let page = store.read_stream(stream_id, events.len() as i64 + 1, READ_PAGE_EVENTS).await?;
        for recorded in &page {
            events.push((recorded.position, decode(recorded)?));
        }
        if page.len() < READ_PAGE_EVENTS {
            return Ok(events);
        }
        if events.len() as i64 >= MAX_STREAM_EVENTS {
            return Err(LogError::TooLong { stream_id: stream_id.to_owned() });
        }
    }
}

/// Loads the aggregate, decides `command`, appends; on a version conflict, loads again and decides again.
pub async fn execute<A>(
    store: &Store,
    id: &A::Id,
    command: A::Command,
) -> Result<Executed<A::Event>, CommandError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone,
{
    execute_from::<A>(store, &A::stream_id(id), None, command).await.map(|(executed, _)| executed)
}

/// [`execute`], starting from a state the caller already holds (a cache of stream heads): it is trusted only as
/// far as the append's expected version, so a stale one costs a conflict and a reload, never a wrong decision.
/// Returns the state after the decision as well, for the caller's cache.
pub async fn execute_from<A>(
    store: &Store,
    stream_id: &str,
    mut start: Option<Loaded<A::State>>,
    command: A::Command,
) -> Result<(Executed<A::Event>, Loaded<A::State>), CommandError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone,
{
    for _ in 0..MAX_ATTEMPTS {
        let loaded = match start.take() {
            Some(cached) => cached,
            None => load_stream::<A>(store, stream_id).await?,
        };
        let events = A::decide(&loaded.state, command.clone()).map_err(CommandError::Refused)?;
        if events.is_empty() {
            let executed = Executed { events, version: loaded.version, last_position: None };
            return Ok((executed, loaded));
        }
        match store.append(stream_id, loaded.expected(), events.iter().map(encode).collect()).await {
            Ok(appended) => {
                debug_assert_eq!(appended.stream_version, loaded.version + events.len() as i64);
                let state = events.iter().fold(loaded.state, A::evolve);
                let after = Loaded { state, version: appended.stream_version };
                let executed =
                    Executed { events, version: appended.stream_version, last_position: Some(appended.last_position) };
                return Ok((executed, after));
            }
            Err(AppendError::WrongExpectedVersion { .. }) => continue,
            Err(err) => return Err(LogError::Append(err).into()),
        }
    }
    Err(LogError::Contended { stream_id: stream_id.to_owned() }.into())
}

/// The event as the log stores it: its type name and its serde form (whose tag `type` is that name).
pub fn encode<E: DomainEvent>(event: &E) -> NewEvent {
    let payload = serde_json::to_value(event).expect("domain events serialize to JSON");
    debug_assert_eq!(payload.get("type").and_then(|t| t.as_str()), Some(event.event_type()), "tag = event type");
    NewEvent::from_json(event.event_type(), payload)
}

/// A stored event back as its domain type. The log's event type is the serde tag; payloads written before the tag
/// was part of every payload (MAM messages) get it from the event type column.
pub fn decode<E: DomainEvent>(recorded: &RecordedEvent) -> Result<E, LogError> {
    decode_event(recorded).map_err(|(expected, reason)| LogError::Corrupt {
        position: recorded.position,
        expected,
        reason,
    })
}

fn decode_event<E: DomainEvent>(recorded: &RecordedEvent) -> Result<E, (&'static str, String)> {
    let expected = std::any::type_name::<E>().rsplit("::").next().unwrap_or("event");
    let mut payload = recorded.payload.clone();
    let serde_json::Value::Object(fields) = &mut payload else {
        return Err((expected, "the payload is not an object".into()));
    };
    match fields.get("type").and_then(|t| t.as_str()) {
        Some(tag) if tag != recorded.event_type => {
            return Err((expected, format!("tagged {tag} but stored as {}", recorded.event_type)));
        }
        Some(_) => {}
        None => {
            fields.insert("type".into(), recorded.event_type.clone().into());
        }
    }
    serde_json::from_value(payload).map_err(|err| (expected, err.to_string()))
}

/// The last known state of each of a bounded number of streams, for commands that come in quick succession to
/// one stream (a device publishing its channel): a hit saves the load. Wrong entries are harmless (see
/// [`execute_from`]); beyond the bound the cache starts over.
pub struct HeadCache<S> {
    heads: Mutex<HashMap<String, Loaded<S>>>,
    max_streams: usize,
}

impl<S: Clone> HeadCache<S> {
    pub fn new(max_streams: usize) -> HeadCache<S> {
        assert!(max_streams > 0, "a cache holds at least one stream");
        HeadCache { heads: Mutex::new(HashMap::new()), max_streams }
    }

    pub fn get(&self, stream_id: &str) -> Option<Loaded<S>> {
        self.heads.lock().expect("the cache lock is never poisoned").get(stream_id).cloned()
    }

    /// Remembers `head` for `stream_id`, or forgets the stream (`None`: its head is unknown after a failure).
    pub fn set(&self, stream_id: &str, head: Option<Loaded<S>>) {
        let mut heads = self.heads.lock().expect("the cache lock is never poisoned");
        match head {
            Some(head) => {
                if heads.len() >= self.max_streams && !heads.contains_key(stream_id) {
                    heads.clear();
                }
                heads.insert(stream_id.to_owned(), head);
            }
            None => {
                heads.remove(stream_id);
            }
        }
    }
}

/// Commands to streams that many writers hit at once (every device granting a provider writes to its one inbox),
/// run one at a time per stream in this process, each from the head the last one left: the writers never make
/// each other retry (unserialised, hundreds at once exhaust `MAX_ATTEMPTS` and are answered `contended`) and a
/// command costs no reload of its stream. Another process writing the same stream still costs only a retry.
pub struct Serialised<S> {
    stripes: Vec<tokio::sync::Mutex<()>>,
    heads: HeadCache<S>,
}

impl<S: Clone> Serialised<S> {
    /// `stripes` locks shared by hash of the stream id; the heads of at most `cached_streams` streams kept.
    pub fn new(stripes: usize, cached_streams: usize) -> Serialised<S> {
        assert!(stripes > 0, "at least one stripe");
        Serialised {
            stripes: (0..stripes).map(|_| tokio::sync::Mutex::new(())).collect(),
            heads: HeadCache::new(cached_streams),
        }
    }

    /// [`execute_from`] on `stream_id` under its stripe's lock, from the cached head.
    pub async fn execute<A>(
        &self,
        store: &Store,
        stream_id: &str,
        command: A::Command,
    ) -> Result<Executed<A::Event>, CommandError<A::Error>>
    where
        A: Aggregate<State = S>,
        A::Command: Clone,
    {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        stream_id.hash(&mut hasher);
        let _one_at_a_time = self.stripes[hasher.finish() as usize % self.stripes.len()].lock().await;
        match execute_from::<A>(store, stream_id, self.heads.get(stream_id), command).await {
            Ok((executed, after)) => {
                self.heads.set(stream_id, Some(after));
                Ok(executed)
            }
            Err(err) => {
                self.heads.set(stream_id, None);
                Err(err)
            }
        }
    }
}
