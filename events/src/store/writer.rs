//! The single writer: group commit of appends into the hash chain.
//!
//! Every commit extends the chain under an advisory lock that every writer of the database (in any process)
//! takes, so commits land in position order and no reader can see position N+1 before N. Two ways to commit:
//!
//! - **Speculative** (the steady state, one round trip): the writer links the batch onto the tail and stream
//!   versions it believes in (its own last commit, even one still in flight) and sends BEGIN, the inserts, the
//!   seal, the chain lock, the tail check, the NOTIFY and COMMIT together. The inserts run before the lock, so
//!   they overlap the WAL flush of the commit ahead. The table's unique keys refuse a wrong belief about a stream
//!   or an event id, and the tail check (after the lock, so the commit ahead has ended) refuses a commit whose
//!   predecessor is not committed, as it is when that predecessor rolled back.
//! - **Careful** (the first commit, after a refusal, or when a request's stream is unknown): lock first, read the
//!   tail, the versions and the stored event ids, decide every request against them, insert, commit. Only when
//!   nothing is in flight.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use deadpool_postgres::{Client, Object};
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;
use uuid::Uuid;

use super::plan::{plan, Decision, Known, Plan};
use super::rows::{
    Columns, SealRow, EXPECT_TAIL, EXPECT_VERSIONS, INSERT_EVENTS, INSERT_SEAL, LOCK_CHAIN, NOTIFY, TAIL_MOVED,
    VERSION_MOVED,
};
use super::{gather, AppendRequest};
use crate::envelope::{Hash, GENESIS_PREV_HASH};
use crate::node_key::NodeKey;
use crate::seal::Seal;

/// The advisory lock every writer of a notch database holds while it extends the chain.
pub const CHAIN_LOCK_KEY: i64 = 0x6e6f_7463_685f_6368; // "notch_ch"
/// Most events one commit carries: bounds the transaction and the latency of the appends waiting behind it.
pub const MAX_EVENTS_PER_COMMIT: usize = 2000;
/// The channel on which the writer announces each new head position.
pub const NOTIFY_CHANNEL: &str = "notch_events";
/// Most speculative commits in flight at once ([`crate::StoreOptions::commits_in_flight`]): while one waits for
/// its WAL flush, the next inserts its rows.
pub const MAX_COMMITS_IN_FLIGHT: usize = 4;
/// [`crate::StoreOptions::commits_in_flight`] unless set.
pub const DEFAULT_COMMITS_IN_FLIGHT: usize = 2;
/// Turn locks (only with more than one commit in flight): speculative commit number k holds turn lock `k % TURNS`
/// from its first statement to its end, and waits for turn lock `(k - 1) % TURNS` (its predecessor's) before the
/// chain lock. So commits take the chain lock in the order they were sent, and none starts on a turn lock whose
/// previous holder is still in flight. The turn locks are this writer's own (a random base per writer): two
/// processes never wait on each other's.
const TURNS: u64 = MAX_COMMITS_IN_FLIGHT as u64 + 1;

pub struct Writer {
    pool: deadpool_postgres::Pool,
    key: Arc<NodeKey>,
    head: watch::Sender<i64>,
    /// The chain as it will be once every commit in flight has landed.
    known: Known,
    /// Speculative commits sent so far.
    sent: u64,
    /// This writer's first turn lock key.
    turn_lock_base: i64,
    /// Speculative commits it keeps in flight, 1..=[`MAX_COMMITS_IN_FLIGHT`].
    in_flight: usize,
    /// Fires once the last speculative commit sent holds its turn lock: the next one waits for it before sending
    /// anything, so it cannot ask for that turn lock first (each connection is its own task, so statements sent
    /// later on another connection may otherwise reach the server first).
    last_turn_taken: Option<oneshot::Receiver<()>>,
}

/// A speculative commit on its way, and what it answers when it lands.
type Flight = Pin<Box<dyn Future<Output = Box<Landing>> + Send>>;

struct Landing {
    outcome: Result<(), Speculation>,
    client: Object,
    /// The requests the commit carried, to be answered (or decided again the careful way).
    batch: Vec<AppendRequest>,
    plan: Plan,
}

enum Speculation {
    /// A unique key or the tail check refused the commit; nothing was written.
    Refused,
    /// The database failed; the connection's state is unknown.
    Failed(anyhow::Error),
}

impl Writer {
    pub fn new(pool: deadpool_postgres::Pool, key: Arc<NodeKey>, head: watch::Sender<i64>, in_flight: usize) -> Writer {
        Writer {
            pool,
            key,
            head,
            known: Known::default(),
            sent: 0,
            turn_lock_base: random_turn_lock_base(),
            in_flight: in_flight.clamp(1, MAX_COMMITS_IN_FLIGHT),
            last_turn_taken: None,
        }
    }

    pub async fn run(mut self, mut ready: mpsc::Receiver<AppendRequest>) {
        let mut flights: FuturesOrdered<Flight> = FuturesOrdered::new();
        // Batches to decide the careful way, once nothing is in flight.
        let mut careful: VecDeque<Vec<AppendRequest>> = VecDeque::new();
        // Requests a careful commit put off (a retry racing its own original in the same batch).
        let mut carried: Vec<AppendRequest> = Vec::new();
        let mut closed = false;
        loop {
            if flights.is_empty() {
                if let Some(batch) = careful.pop_front() {
                    carried.extend(self.commit_careful(batch).await);
                    continue;
                }
                if !carried.is_empty() {
                    let batch = gather(&mut ready, std::mem::take(&mut carried), MAX_EVENTS_PER_COMMIT);
                    self.launch(batch, &mut flights, &mut careful).await;
                    continue;
                }
            }
            let may_launch = flights.len() < self.in_flight && careful.is_empty() && !closed;
            let next = if flights.is_empty() {
                Next::Request(ready.recv().await)
            } else if may_launch {
                tokio::select! {
                    biased;
                    landing = flights.next() => Next::Landed(landing),
                    request = ready.recv() => Next::Request(request),
                }
            } else {
                Next::Landed(flights.next().await)
            };
            match next {
                Next::Request(None) if flights.is_empty() => return,
                Next::Request(None) => closed = true,
                Next::Request(Some(first)) => {
                    let batch = gather(&mut ready, vec![first], MAX_EVENTS_PER_COMMIT);
                    self.launch(batch, &mut flights, &mut careful).await;
                }
                Next::Landed(landing) => {
                    let Landing { outcome, client, batch, plan } = *landing.expect("a flight was in the air");
                    match outcome {
                        Ok(()) => {
                            let carried_now = self.settle(batch, plan);
                            debug_assert!(carried_now.is_empty(), "a speculative plan carries nothing");
                        }
                        Err(Speculation::Refused) => {
                            // Another writer moved the chain or a stream, an event id is a retry, or the commit
                            // ahead was refused: decide again under the lock.
                            tracing::debug!(events = plan.linked.len(), "speculative commit refused");
                            self.known.forget();
                            careful.push_back(batch);
                        }
                        Err(Speculation::Failed(err)) => {
                            drop(Object::take(client));
                            self.fail(batch, err);
                        }
                    }
                }
            }
        }
    }

    /// Sends the part of `batch` that what the writer knows decides as a speculative commit, and queues the rest
    /// for the careful way.
    async fn launch(
        &mut self,
        batch: Vec<AppendRequest>,
        flights: &mut FuturesOrdered<Flight>,
        careful: &mut VecDeque<Vec<AppendRequest>>,
    ) {
        let (batch, rest) = self.known.partition(batch);
        if !rest.is_empty() {
            careful.push_back(rest);
        }
        if batch.is_empty() {
            return;
        }
        let plan = self.known.link(&batch);
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(err) => return self.fail(batch, err.into()),
        };
        self.known.learn(&plan);
        let last = plan.linked.last().expect("a speculative plan links every event");
        let seal = Seal::sign(self.key.as_ref(), last.position, last.hash, Utc::now());
        let turn = (self.in_flight > 1).then(|| Turn::of(self.turn_lock_base, self.sent));
        self.sent += 1;
        let (turn_taken, next_may_start) = oneshot::channel();
        let after = self.last_turn_taken.replace(next_may_start);
        flights.push_back(Box::pin(async move {
            if let Some(predecessor_holds_its_turn) = after {
                // An error means the predecessor ended before taking its turn: nothing to wait for.
                let _ = predecessor_holds_its_turn.await;
            }
            let outcome = commit_speculative(&client, &batch, &plan, &seal, turn, turn_taken).await;
            Box::new(Landing { outcome, client, batch, plan })
        }));
    }

    /// Decides `batch` against what is committed, under the lock, and commits it; returns the requests that must
    /// wait for the next commit.
    async fn commit_careful(&mut self, batch: Vec<AppendRequest>) -> Vec<AppendRequest> {
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(err) => {
                self.fail(batch, err.into());
                return Vec::new();
            }
        };
        let mut attempt = 1;
        let outcome = loop {
            match careful_transaction(&client, &self.key, &batch).await {
                Err(err) if attempt < MAX_CAREFUL_ATTEMPTS && gave_way(&err) => {
                    tracing::debug!(attempt, "careful commit gave way: {err}");
                    attempt += 1;
                }
                outcome => break outcome,
            }
        };
        match outcome {
            Ok(plan) => {
                self.known.learn(&plan);
                self.settle(batch, plan)
            }
            Err(err) => {
                // The connection's transaction state is unknown: never give it back to the pool.
                drop(Object::take(client));
                self.fail(batch, err);
                Vec::new()
            }
        }
    }

    /// Answers every request the plan settled and announces the new head; returns the carried ones.
    fn settle(&self, batch: Vec<AppendRequest>, plan: Plan) -> Vec<AppendRequest> {
        if let Some(last) = plan.linked.last() {
            let head = last.position;
            self.head.send_if_modified(|known| std::mem::replace(known, (*known).max(head)) < head);
        }
        tracing::debug!(requests = batch.len(), events = plan.linked.len(), "committed batch");
        let mut carried = Vec::new();
        for (request, decision) in batch.into_iter().zip(plan.decisions) {
            match decision {
                Decision::Settled(outcome) => {
                    let _ = request.reply.send(outcome);
                }
                Decision::Carry => carried.push(request),
            }
        }
        carried
    }

    fn fail(&mut self, batch: Vec<AppendRequest>, err: anyhow::Error) {
        self.known.forget();
        tracing::warn!("append batch of {} requests failed: {err}", batch.len());
        for request in batch {
            let _ = request.reply.send(Err(super::AppendError::Unavailable(err.to_string())));
        }
    }
}

/// Attempts of a careful commit that keeps giving way to other processes' commits before its appends are
/// answered "unavailable".
const MAX_CAREFUL_ATTEMPTS: usize = 8;
const CAREFUL_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '50ms'";

/// The careful commit gave way (see [`CAREFUL_LOCK_TIMEOUT`]) or lost a deadlock: nothing was written.
fn gave_way(err: &anyhow::Error) -> bool {
    let code = err.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.code());
    code == Some(&SqlState::LOCK_NOT_AVAILABLE) || code == Some(&SqlState::T_R_DEADLOCK_DETECTED)
}

enum Next {
    Request(Option<AppendRequest>),
    Landed(Option<Box<Landing>>),
}

/// A key range no other writer uses (2^-62 odds of meeting another's), away from [`CHAIN_LOCK_KEY`].
fn random_turn_lock_base() -> i64 {
    loop {
        let base = (rand::random::<u64>() >> 2) as i64;
        if !(base..base + TURNS as i64).contains(&CHAIN_LOCK_KEY) {
            return base;
        }
    }
}

/// The turn locks of one speculative commit (see [`TURNS`]).
#[derive(Clone, Copy)]
struct Turn {
    mine: i64,
    predecessor: i64,
}

impl Turn {
    fn of(base: i64, sent: u64) -> Turn {
        let slot = |k: u64| base + (k % TURNS) as i64;
        Turn { mine: slot(sent), predecessor: slot(sent + TURNS - 1) }
    }
}

/// The statements of a speculative commit, prepared once per connection (the cache keeps them).
struct Speculative {
    insert_events: Statement,
    expect_versions: Statement,
    insert_seal: Statement,
    lock: Statement,
    expect_tail: Statement,
    notify: Statement,
}

impl Speculative {
    async fn prepare(client: &Client) -> Result<Speculative, tokio_postgres::Error> {
        let (insert_events, expect_versions, insert_seal, lock, expect_tail, notify) = futures::try_join!(
            client.prepare_cached(INSERT_EVENTS),
            client.prepare_cached(EXPECT_VERSIONS),
            client.prepare_cached(INSERT_SEAL),
            client.prepare_cached(LOCK_CHAIN),
            client.prepare_cached(EXPECT_TAIL),
            client.prepare_cached(NOTIFY),
        )?;
        Ok(Speculative { insert_events, expect_versions, insert_seal, lock, expect_tail, notify })
    }
}

/// One round trip. The statements run in order; the first that fails aborts the transaction and PostgreSQL
/// turns the COMMIT into a rollback, leaving the connection clean.
async fn commit_speculative(
    client: &Client,
    batch: &[AppendRequest],
    plan: &Plan,
    seal: &Seal,
    turn: Option<Turn>,
    turn_taken: oneshot::Sender<()>,
) -> Result<(), Speculation> {
    let failed = |err: tokio_postgres::Error| Speculation::Failed(err.into());
    let statements = Speculative::prepare(client).await.map_err(failed)?;
    let first = plan.linked.first().expect("a speculative plan links every event");
    let (tail_position, tail_hash) = (first.position - 1, first.prev_hash.0.as_slice());
    let head = plan.tail_after.0.to_string();
    let columns = Columns::of(batch, &plan.linked);
    let seal_row = SealRow::of(seal);
    let (event_params, seal_params) = (columns.params(), seal_row.params());
    let (guarded_streams, guarded_versions): (Vec<&str>, Vec<i64>) =
        plan.guards.iter().map(|(stream, version)| (stream.as_str(), *version)).unzip();
    let guard_params: [&(dyn ToSql + Sync); 2] = [&guarded_streams, &guarded_versions];
    let lock_params: [&(dyn ToSql + Sync); 1] = [&CHAIN_LOCK_KEY];
    let lock = |key: Option<i64>| {
        let lock = &statements.lock;
        async move {
            match key {
                Some(key) => client.execute(lock, &[&key]).await.map(|_| ()),
                None => Ok(()),
            }
        }
    };
    let tail_params: [&(dyn ToSql + Sync); 2] = [&tail_position, &tail_hash];
    let notify_params: [&(dyn ToSql + Sync); 2] = [&NOTIFY_CHANNEL, &head];
    let (begun, my_turn, inserted, guarded, sealed, predecessor_done, locked, checked, notified, committed) = tokio::join!(
        client.batch_execute("BEGIN"),
        async {
            let taken = lock(turn.map(|t| t.mine)).await;
            let _ = turn_taken.send(());
            taken
        },
        client.execute(&statements.insert_events, &event_params),
        async {
            match plan.guards.is_empty() {
                true => Ok(0),
                false => client.execute(&statements.expect_versions, &guard_params).await,
            }
        },
        client.execute(&statements.insert_seal, &seal_params),
        lock(turn.map(|t| t.predecessor)),
        client.execute(&statements.lock, &lock_params),
        client.execute(&statements.expect_tail, &tail_params),
        client.execute(&statements.notify, &notify_params),
        client.batch_execute("COMMIT"),
    );
    begun.map_err(failed)?;
    my_turn.map_err(failed)?;
    if let Ok(rows) = &inserted {
        assert_eq!(*rows, plan.linked.len() as u64, "the insert stores every linked event");
    }
    let statements = [
        inserted.map(drop),
        guarded.map(drop),
        sealed.map(drop),
        predecessor_done,
        locked.map(drop),
        checked.map(drop),
        notified.map(drop),
    ];
    outcome(statements, committed)
}

/// A speculative commit's outcome from its statements' results, taken in statement order so that the first failure
/// is the one reported: a refusal wrote nothing (PostgreSQL turned the COMMIT into a rollback).
fn outcome(
    statements: [Result<(), tokio_postgres::Error>; 7],
    committed: Result<(), tokio_postgres::Error>,
) -> Result<(), Speculation> {
    let failed = |err: tokio_postgres::Error| Speculation::Failed(err.into());
    for result in statements {
        match result {
            Ok(()) => {}
            Err(err) if refuses(&err) => {
                tracing::debug!(
                    "speculative commit refused: {:?}",
                    err.as_db_error().map(|e| (e.code().code(), e.message(), e.detail()))
                );
                committed.map_err(failed)?;
                return Err(Speculation::Refused);
            }
            Err(err) => return Err(failed(err)),
        }
    }
    committed.map_err(failed)
}

/// A unique key (the guess about a stream, an event id or the chain was wrong), the tail or version check, or a deadlock
/// with another process's careful commit (which waits on our uncommitted rows while holding the chain lock that
/// we wait for; PostgreSQL breaks it after `deadlock_timeout`). Nothing was written in any of these cases.
fn refuses(err: &tokio_postgres::Error) -> bool {
    err.code().is_some_and(|code| {
        *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || code.code() == TAIL_MOVED
            || code.code() == VERSION_MOVED
    })
}

/// Two round trips: BEGIN, the chain lock and the reads are sent together (the server runs them in order, so the
/// reads see the log as of after the lock); then the inserts, the NOTIFY and COMMIT.
async fn careful_transaction(client: &Client, key: &NodeKey, batch: &[AppendRequest]) -> anyhow::Result<Plan> {
    let (lock, tail, versions, existing) = futures::try_join!(
        client.prepare_cached(LOCK_CHAIN),
        client.prepare_cached("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"),
        client.prepare_cached(
            "SELECT s.id, (SELECT max(stream_version) FROM events e WHERE e.stream_id = s.id) \
             FROM unnest($1::text[]) AS s(id)"
        ),
        client.prepare_cached(
            "SELECT event_id, stream_id, position, stream_version FROM events WHERE event_id = ANY($1)"
        ),
    )?;
    let stream_ids: Vec<&str> =
        batch.iter().flat_map(|r| &r.parts).map(|p| p.stream_id.as_str()).collect::<HashSet<_>>().into_iter().collect();
    let event_ids: Vec<Uuid> = batch.iter().flat_map(|r| r.events.iter().map(|e| e.event_id)).collect();
    let lock_params: [&(dyn ToSql + Sync); 1] = [&CHAIN_LOCK_KEY];
    let version_params: [&(dyn ToSql + Sync); 1] = [&stream_ids];
    let existing_params: [&(dyn ToSql + Sync); 1] = [&event_ids];
    let (begun, locked, bounded, tail_row, version_rows, existing_rows) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.execute(&lock, &lock_params),
        // Holding the chain lock, never wait long on rows: another process's speculative commit may hold the rows
        // we would wait on while it waits for the chain lock. Giving up (and retrying) breaks that cycle at once
        // instead of after PostgreSQL's deadlock_timeout.
        client.batch_execute(CAREFUL_LOCK_TIMEOUT),
        client.query_opt(&tail, &[]),
        client.query(&versions, &version_params),
        client.query(&existing, &existing_params),
    );
    begun?;
    locked?;
    bounded?;
    let tail = match tail_row? {
        Some(row) => (
            row.get::<_, i64>(0),
            Hash::from_slice(row.get(1)).ok_or_else(|| anyhow::anyhow!("stored hash is not 32 bytes"))?,
        ),
        None => (0, GENESIS_PREV_HASH),
    };
    let versions: HashMap<String, i64> =
        version_rows?.iter().map(|row| (row.get(0), row.get::<_, Option<i64>>(1).unwrap_or(0))).collect();
    let existing: HashMap<Uuid, (String, i64, i64)> =
        existing_rows?.iter().map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3)))).collect();
    let plan = plan(tail, versions, &existing, batch);
    let Some(last) = plan.linked.last() else {
        client.batch_execute("ROLLBACK").await?;
        return Ok(plan);
    };
    let (insert_events, insert_seal, notify) = futures::try_join!(
        client.prepare_cached(INSERT_EVENTS),
        client.prepare_cached(INSERT_SEAL),
        client.prepare_cached(NOTIFY),
    )?;
    let seal = Seal::sign(key, last.position, last.hash, Utc::now());
    let seal_row = SealRow::of(&seal);
    let columns = Columns::of(batch, &plan.linked);
    let head = last.position.to_string();
    let notify_params: [&(dyn ToSql + Sync); 2] = [&NOTIFY_CHANNEL, &head];
    let (event_params, seal_params) = (columns.params(), seal_row.params());
    let (inserted, sealed, notified, committed) = tokio::join!(
        client.execute(&insert_events, &event_params),
        client.execute(&insert_seal, &seal_params),
        client.execute(&notify, &notify_params),
        client.batch_execute("COMMIT"),
    );
    inserted?;
    sealed?;
    notified?;
    committed?;
    Ok(plan)
}
