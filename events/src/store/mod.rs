//! The store: append with optimistic concurrency, ordered reads, and subscriptions.
//!
//! The append path is a pipeline of bounded stages:
//! - events signed elsewhere ([`Store::append_signed`]): `to_verify` channel → verifier (limits, pinned signer,
//!   batched ed25519 on all cores) → `ready` channel;
//! - events the node signs itself ([`Store::append`]): checked and signed in the caller's task → `ready` channel
//!   (their signature was made a moment ago with the pinned key in this process: verifying it again would only
//!   cost the ~15 µs of an ed25519 verification per event; debug builds still do, as an assertion);
//! - `ready` → writer (group commit into the chain). While the writer commits one batch, the next gathers.

mod error;
mod plan;
pub(crate) mod read;
mod rows;
mod subscribe;
mod verify;
mod writer;

use std::sync::Arc;

use chrono::Utc;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod};
use ed25519_dalek::{SigningKey, VerifyingKey};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::NoTls;

pub use error::{AppendError, Expected, StoreError, MAX_EVENTS_PER_APPEND, MAX_STREAMS_PER_APPEND};
pub use read::{read_from, MAX_READ_LIMIT};
pub use subscribe::Subscription;
pub use writer::{
    CHAIN_LOCK_KEY, DEFAULT_COMMITS_IN_FLIGHT, MAX_COMMITS_IN_FLIGHT, MAX_EVENTS_PER_COMMIT, NOTIFY_CHANNEL,
};

use crate::envelope::{validate, NewEvent, SignedEvent};
use crate::node_key::NodeKey;

/// Appends waiting to be verified, and appends waiting for the writer; callers wait (back-pressure) when full.
const REQUEST_QUEUE: usize = 4096;
/// Most events the verifier takes in one round.
const MAX_EVENTS_PER_VERIFY: usize = 2000;

/// The stream holding the genesis event.
pub const GENESIS_STREAM: &str = "$log";
pub const GENESIS_EVENT_TYPE: &str = "LogCreated";

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_position: i64,
    pub last_position: i64,
    pub stream_version: i64,
}

/// One stream's share of an atomic append of several streams ([`Store::append_streams`]).
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream_id: String,
    pub expected: Expected,
    pub events: Vec<NewEvent>,
}

/// Where an atomic append of several streams landed: one range of positions, the streams' events in the order the
/// streams were given, and each stream's version after it (in that order too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedStreams {
    pub first_position: i64,
    pub last_position: i64,
    pub stream_versions: Vec<i64>,
}

impl AppendedStreams {
    /// The answer of a one-stream append.
    fn single(self) -> Appended {
        debug_assert_eq!(self.stream_versions.len(), 1, "a one-stream append has one version");
        Appended {
            first_position: self.first_position,
            last_position: self.last_position,
            stream_version: self.stream_versions[0],
        }
    }
}

/// One stream of an append request: its id, what it expects, and how many of the request's events are its own
/// (they follow the previous part's).
pub(crate) struct Part {
    stream_id: String,
    expected: Expected,
    events: usize,
}

pub(crate) struct AppendRequest {
    /// One part per stream, at most [`MAX_STREAMS_PER_APPEND`], no stream twice; most appends have one.
    parts: Vec<Part>,
    /// Every part's events, part after part.
    events: Vec<SignedEvent>,
    /// The canonical JSON of each event's payload, once known: filled by [`Store::append`] as it signs, or by the
    /// verifier for events signed elsewhere, and used by the verifier and the writer alike.
    canonical: Vec<Vec<u8>>,
    reply: oneshot::Sender<Result<AppendedStreams, AppendError>>,
}

impl AppendRequest {
    /// Each part with the indexes of its events in `events`.
    fn parts(&self) -> impl Iterator<Item = (&Part, std::ops::Range<usize>)> {
        self.parts.iter().scan(0, |start, part| {
            let range = *start..*start + part.events;
            *start = range.end;
            Some((part, range))
        })
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in the pool shared by readers, subscribers, projections and the writer.
    pub pool_size: usize,
    /// With a URL: the role to SET after connecting (the service role).
    pub set_role: Option<String>,
    /// Speculative commits the writer keeps in flight, 1 to [`MAX_COMMITS_IN_FLIGHT`]. More than one overlaps a
    /// commit's inserts with the round trip and WAL flush of the one ahead, so PostgreSQL never waits for the
    /// writer. Default 2: on this 2-core machine it took `bench mam` (large rows) from 7.2k to 9.9k messages/s
    /// and left `bench append` (small rows) unchanged within noise (docs/benchmarks.md).
    pub commits_in_flight: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { pool_size: 16, set_role: None, commits_in_flight: DEFAULT_COMMITS_IN_FLIGHT }
    }
}

/// A handle on the log; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    key: Arc<NodeKey>,
    pinned: VerifyingKey,
    to_verify: mpsc::Sender<AppendRequest>,
    ready: mpsc::Sender<AppendRequest>,
    head: watch::Receiver<i64>,
}

impl Store {
    /// Opens the log of a migrated database as the service role, starting the append pipeline and the change
    /// listener, and writing (or checking) the genesis event that pins `key`'s public part.
    pub async fn open(
        pg_config: tokio_postgres::Config,
        key: SigningKey,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        // Prepared statements are planned per execution: a generic plan chosen while the log was small (sequential
        // scans) would otherwise stay cached for the connection's life and turn each commit into a scan of the log.
        let mut pg_config = pg_config;
        let settings = format!("{} -c plan_cache_mode=force_custom_plan", pg_config.get_options().unwrap_or_default());
        pg_config.options(settings.trim());
        let pool = build_pool(pg_config.clone(), &options);
        let pinned = key.verifying_key();
        let key = Arc::new(NodeKey::new(&key));
        let head_now = read::head_position(&pool).await?;
        let (head_tx, head_rx) = watch::channel(head_now);
        let (to_verify_tx, to_verify_rx) = mpsc::channel(REQUEST_QUEUE);
        let (ready_tx, ready_rx) = mpsc::channel(REQUEST_QUEUE);
        tokio::spawn(run_verifier(to_verify_rx, ready_tx.clone(), pinned));
        tokio::spawn(
            writer::Writer::new(pool.clone(), Arc::clone(&key), head_tx.clone(), options.commits_in_flight)
                .run(ready_rx),
        );
        tokio::spawn(subscribe::listen(pg_config, options.set_role.clone(), head_tx));
        let inner = Inner { pool, key, pinned, to_verify: to_verify_tx, ready: ready_tx, head: head_rx };
        let store = Store { inner: Arc::new(inner) };
        store.ensure_genesis().await?;
        Ok(store)
    }

    /// The node key every event of this log is signed with.
    pub fn node_key(&self) -> VerifyingKey {
        self.inner.pinned
    }

    /// The connection pool (service role), for projections and queries.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Wakes on every new head position: projections and subscribers sleep on it when caught up.
    pub fn head_watch(&self) -> watch::Receiver<i64> {
        self.inner.head.clone()
    }

    /// Signs `events` with the node key and appends them to `stream_id` in one transaction.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: Expected,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        let part = StreamAppend { stream_id: stream_id.to_owned(), expected, events };
        self.append_streams(vec![part]).await.map(AppendedStreams::single)
    }

    /// Signs the events of every part with the node key and appends them all in one transaction, each stream
    /// checked against its own expected version: all of them land, in one range of positions, or none does.
    pub async fn append_streams(&self, streams: Vec<StreamAppend>) -> Result<AppendedStreams, AppendError> {
        let signed = self.sign_streams(streams)?;
        self.enqueue(signed).await?.await
    }

    /// The first half of [`Store::append_streams`]: checks and signs an atomic append (CPU only, so callers may
    /// sign many at once on several threads).
    pub fn sign_streams(&self, streams: Vec<StreamAppend>) -> Result<SignedAppend, AppendError> {
        let events: Vec<&NewEvent> = streams.iter().flat_map(|s| &s.events).collect();
        check_size(&events, |e| e.event_id)?;
        check_parts(&streams)?;
        let now = Utc::now();
        let mut parts = Vec::with_capacity(streams.len());
        let mut signed = Vec::with_capacity(events.len());
        let mut canonical = Vec::with_capacity(events.len());
        for StreamAppend { stream_id, expected, events } in streams {
            parts.push(Part { stream_id: stream_id.clone(), expected, events: events.len() });
            for event in events {
                let payload = validate(&stream_id, &event.event_type, &event.payload)
                    .map_err(|reason| AppendError::Invalid { event_id: event.event_id, reason })?;
                let (event, payload) =
                    SignedEvent::sign_canonical(self.inner.key.as_ref(), &stream_id, event, payload, now);
                signed.push(event);
                canonical.push(payload);
            }
        }
        debug_assert!(
            signed
                .iter()
                .zip(&canonical)
                .all(|(e, c)| e.signer.verify_strict(&e.signed_message_canonical(c), &e.signature).is_ok()),
            "the node's own signature must verify"
        );
        Ok(SignedAppend { parts, events: signed, canonical })
    }

    /// The second half: hands `append` to the writer now, behind every append handed over before it, and returns
    /// the future of its answer. Appends enqueued in order are planned in that order, so one that continues
    /// another's streams may be enqueued before the other commits (it is refused if the other is).
    pub async fn enqueue(
        &self,
        append: SignedAppend,
    ) -> Result<impl std::future::Future<Output = Result<AppendedStreams, AppendError>>, AppendError> {
        hand_over(&self.inner.ready, append).await
    }

    /// Appends events signed elsewhere; each signature is verified and must be the pinned key's.
    pub async fn append_signed(
        &self,
        stream_id: &str,
        expected: Expected,
        events: Vec<SignedEvent>,
    ) -> Result<Appended, AppendError> {
        check_size(&events, |e| e.event_id)?;
        let parts = vec![Part { stream_id: stream_id.to_owned(), expected, events: events.len() }];
        let append = SignedAppend { parts, events, canonical: Vec::new() };
        hand_over(&self.inner.to_verify, append).await?.await.map(AppendedStreams::single)
    }

    async fn ensure_genesis(&self) -> Result<(), StoreError> {
        let pinned_hex = hex::encode(self.inner.pinned.as_bytes());
        if let Some(genesis) = self.read_all(1, 1).await?.into_iter().next() {
            let found = genesis.payload.get("node_public_key").and_then(|v| v.as_str()).unwrap_or_default();
            if genesis.event_type != GENESIS_EVENT_TYPE || found != pinned_hex {
                return Err(StoreError::ForeignLog { found: found.to_owned(), pinned: pinned_hex });
            }
            return Ok(());
        }
        let genesis = NewEvent::new(
            GENESIS_EVENT_TYPE,
            &serde_json::json!({ "node_public_key": pinned_hex, "notch_version": env!("CARGO_PKG_VERSION") }),
        );
        match self.append(GENESIS_STREAM, Expected::NoStream, vec![genesis]).await {
            Ok(_) => Ok(()),
            // Another process created the log at the same moment: check its genesis instead.
            Err(AppendError::WrongExpectedVersion { .. }) => Box::pin(self.ensure_genesis()).await,
            Err(err) => Err(StoreError::Corrupt { position: 1, reason: format!("writing the genesis event: {err}") }),
        }
    }
}

/// Puts `append` on the writer's `queue` (for the node's own events, or for events signed elsewhere, which it
/// verifies first) and returns the future of its answer.
async fn hand_over(
    queue: &mpsc::Sender<AppendRequest>,
    append: SignedAppend,
) -> Result<impl std::future::Future<Output = Result<AppendedStreams, AppendError>>, AppendError> {
    let SignedAppend { parts, events, canonical } = append;
    debug_assert_eq!(parts.iter().map(|p| p.events).sum::<usize>(), events.len(), "the parts hold every event");
    let (reply, answer) = oneshot::channel();
    let request = AppendRequest { parts, events, canonical, reply };
    queue.send(request).await.map_err(|_| AppendError::Unavailable("the log is shut down".into()))?;
    Ok(async move { answer.await.map_err(|_| AppendError::Unavailable("the writer stopped".into()))? })
}

/// An atomic append checked and signed by [`Store::sign_streams`], waiting for [`Store::enqueue`].
pub struct SignedAppend {
    parts: Vec<Part>,
    events: Vec<SignedEvent>,
    canonical: Vec<Vec<u8>>,
}

/// An atomic append names 1 to [`MAX_STREAMS_PER_APPEND`] distinct streams, each with at least one event.
fn check_parts(streams: &[StreamAppend]) -> Result<(), AppendError> {
    if streams.is_empty() || streams.len() > MAX_STREAMS_PER_APPEND {
        return Err(AppendError::StreamCount(streams.len()));
    }
    let mut seen = std::collections::HashSet::with_capacity(streams.len());
    for stream in streams {
        if stream.events.is_empty() {
            return Err(AppendError::EmptyStream { stream_id: stream.stream_id.clone() });
        }
        if !seen.insert(stream.stream_id.as_str()) {
            return Err(AppendError::RepeatedStream { stream_id: stream.stream_id.clone() });
        }
    }
    Ok(())
}

/// An append carries 1 to [`MAX_EVENTS_PER_APPEND`] events with distinct ids.
fn check_size<E>(events: &[E], id: impl Fn(&E) -> uuid::Uuid) -> Result<(), AppendError> {
    if events.is_empty() || events.len() > MAX_EVENTS_PER_APPEND {
        return Err(AppendError::BatchSize(events.len()));
    }
    let mut seen = std::collections::HashSet::with_capacity(events.len());
    match events.iter().map(&id).find(|event_id| !seen.insert(*event_id)) {
        Some(event_id) => Err(AppendError::RepeatedEventId { event_id }),
        None => Ok(()),
    }
}

fn build_pool(pg_config: tokio_postgres::Config, options: &StoreOptions) -> Pool {
    let manager = Manager::from_config(pg_config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let mut builder = Pool::builder(manager).max_size(options.pool_size);
    if let Some(role) = options.set_role.clone() {
        builder = builder.post_create(Hook::async_fn(move |client, _| {
            let role = role.clone();
            Box::pin(async move {
                client.batch_execute(&format!("SET ROLE \"{role}\"")).await.map_err(HookError::Backend)?;
                Ok(())
            })
        }));
    }
    builder.build().expect("a pool with a runtime and a manager builds")
}

/// `batch` plus every request already waiting on `rx`, until `max_events` events: a pipeline stage's next batch
/// (the verifier's, the writer's), never waiting for more to arrive.
fn gather(
    rx: &mut mpsc::Receiver<AppendRequest>,
    mut batch: Vec<AppendRequest>,
    max_events: usize,
) -> Vec<AppendRequest> {
    let mut events: usize = batch.iter().map(|r| r.events.len()).sum();
    while events < max_events {
        let Ok(request) = rx.try_recv() else { break };
        events += request.events.len();
        batch.push(request);
    }
    batch
}

async fn run_verifier(
    mut requests: mpsc::Receiver<AppendRequest>,
    ready: mpsc::Sender<AppendRequest>,
    pinned: VerifyingKey,
) {
    while let Some(first) = requests.recv().await {
        let batch = gather(&mut requests, vec![first], MAX_EVENTS_PER_VERIFY);
        let (done, result) = oneshot::channel();
        rayon::spawn(move || {
            let _ = done.send(verify::verify_requests(batch, &pinned));
        });
        let Ok((passed, failed)) = result.await else {
            break;
        };
        for (request, err) in failed {
            let _ = request.reply.send(Err(err));
        }
        for request in passed {
            if ready.send(request).await.is_err() {
                return;
            }
        }
    }
}
