//! Committing the lifts the clearing loop finds, many at a time. Each lift is decided by `decide_lift` against
//! the current state of its tallies and appended on its own, atomically: one lift chit in each tally's own stream,
//! each with the tally stream's exact version, and the lift's record in its own stream. Lifts that share no tally
//! are independent, so they are appended concurrently and the store's group commit puts them into shared
//! transactions. A lift that shares a tally with an earlier lift still in flight waits for it: its chit continues
//! that lift's chit in the tally's chain.
//!
//! No lock keeps other writers out. A party's chit that lands on a tally between the read of its state and the
//! lift's append makes the append's expected version wrong: the log refuses the whole lift, which is then dropped
//! with every lift decided after it on its tallies, and those tallies are read again from their streams.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::site::finder::{FoundLift, LiftGraph};
use domain::site::lift::{decide_lift, CommitLift, Lift, LiftEvent};
use domain::site::tally::{Tally, TallyState};
use domain::{Aggregate, Decider};
use events::{AppendError, Expected, Store, StreamAppend};
use futures::stream::FuturesUnordered;
use projections::Views;
use tokio::task::{JoinError, JoinHandle};
use uuid::Uuid;

use super::AppResult;
use crate::command::{encode, load, LogError};

/// Lifts decided but not yet committed (waiting for an earlier lift, or in flight), at most; the finder waits
/// beyond that. Enough to keep every commit of the store full, small enough to bound memory.
pub const MAX_UNFINISHED: usize = 2048;
/// Attempts of one lift's append when the store answers `Unavailable` (a retry with the same event ids is
/// answered with the original result if the first attempt did commit).
const MAX_APPEND_ATTEMPTS: u32 = 4;
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// What a run committed, and what it gave up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiftRun {
    pub lifts: usize,
    pub chits: usize,
    /// Sum over lifts of amount x hops: how much debt the run cancelled.
    pub cleared_milli: i64,
    /// Lifts dropped because a tally changed under them (another writer's chit), or that no longer fitted their
    /// tallies when decided (the finder's graph is read once, at the start).
    pub dropped: usize,
}

/// A decided lift: its tallies (graph indexes) and its atomic append.
struct Prepared {
    seq: u64,
    tallies: Vec<u32>,
    parts: Vec<StreamAppend>,
    units_milli: i64,
}

struct Committed {
    seq: u64,
    tallies: Vec<u32>,
    chits: usize,
    units_milli: i64,
    result: Result<(), AppendError>,
}

/// A tally as the run knows it: its state and its stream's version once every lift decided on it lands.
struct Known {
    id: Uuid,
    state: TallyState,
    version: i64,
}

pub struct Committer {
    store: Store,
    views: Views,
    tally_ix: Vec<i32>,
    now: DateTime<Utc>,
    /// Every tally a lift of this run touched, as of the last lift decided on it.
    tallies: HashMap<u32, Known>,
    /// Tallies whose state must be read again from their own stream (a lift on them was refused).
    stale: HashMap<u32, Uuid>,
    /// Per tally, the unfinished lifts on it in decision order: a lift may be appended when it is first in the
    /// queue of each of its tallies.
    queues: HashMap<u32, VecDeque<u64>>,
    /// Lifts not yet appendable, with the number of their tallies on which they are not first.
    waiting: HashMap<u64, (usize, Prepared)>,
    in_flight: FuturesUnordered<JoinHandle<Committed>>,
    next_seq: u64,
    run: LiftRun,
    error: Option<LogError>,
}

impl Committer {
    /// `tally_ix` maps the graph's tallies (those of the lifts to come) to the views' tally indexes.
    pub fn new(store: Store, tally_ix: Vec<i32>, now: DateTime<Utc>) -> Committer {
        Committer {
            views: Views::of(&store),
            store,
            tally_ix,
            now,
            tallies: HashMap::new(),
            stale: HashMap::new(),
            queues: HashMap::new(),
            waiting: HashMap::new(),
            in_flight: FuturesUnordered::new(),
            next_seq: 0,
            run: LiftRun::default(),
            error: None,
        }
    }

    /// Whether more lifts may be added now: nothing failed, and fewer than [`MAX_UNFINISHED`] are unfinished.
    pub fn wants_more(&self) -> bool {
        self.error.is_none() && self.waiting.len() + self.in_flight.len() < MAX_UNFINISHED
    }

    pub fn has_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Decides `lifts` (in order) and appends those that depend on nothing unfinished.
    pub async fn add(&mut self, lifts: Vec<FoundLift>) {
        if let Err(err) = self.fetch_states(&lifts).await {
            self.error.get_or_insert(err);
            return;
        }
        for lift in lifts {
            match self.decide(lift) {
                Some(prepared) => self.schedule(prepared),
                None => self.run.dropped += 1,
            }
        }
    }

    /// The states of the lifts' tallies the run does not hold yet: from the site views, or, for a tally whose
    /// lift was refused, from its own stream.
    async fn fetch_states(&mut self, lifts: &[FoundLift]) -> Result<(), LogError> {
        let mut missing: Vec<u32> = lifts
            .iter()
            .flat_map(|l| l.edges.iter().map(|&e| LiftGraph::tally_of(e) as u32))
            .filter(|t| !self.tallies.contains_key(t))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let (stale, fresh): (Vec<u32>, Vec<u32>) = missing.into_iter().partition(|t| self.stale.contains_key(t));
        for t in stale {
            let id = self.stale.remove(&t).expect("partitioned on it");
            let loaded = load::<Tally>(&self.store, &id).await?;
            self.tallies.insert(t, Known { id, state: loaded.state, version: loaded.version });
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let ixs: Vec<i32> = fresh.iter().map(|&t| self.tally_ix[t as usize]).collect();
        let mut found = self.views.open_tally_states(&ixs).await?;
        for t in fresh {
            if let Some((state, version)) = found.remove(&self.tally_ix[t as usize]) {
                self.tallies.insert(t, Known { id: state.id, state, version });
            }
        }
        Ok(())
    }

    /// `decide_lift` against the tallies' current states, which then move on by the lift's chits; `None` when the
    /// lift no longer fits them.
    fn decide(&mut self, lift: FoundLift) -> Option<Prepared> {
        let tallies: Vec<u32> = lift.edges.iter().map(|&e| LiftGraph::tally_of(e) as u32).collect();
        let states = tallies.iter().map(|t| self.tallies.get(t).map(|k| &k.state)).collect::<Option<Vec<_>>>()?;
        let hops =
            states.iter().zip(&lift.edges).map(|(s, &e)| (s.id, LiftGraph::payer_side(e), Uuid::now_v7())).collect();
        let lift_id = Uuid::now_v7();
        let command = CommitLift { lift_id, hops, max_units_milli: Some(lift.units_milli), at: self.now };
        let (record, chits) = match decide_lift(&states, command) {
            Ok(decided) => decided,
            Err(err) => {
                tracing::debug!("a found lift no longer fits its tallies: {err}");
                return None;
            }
        };
        let LiftEvent::LiftCommitted { units_milli, .. } = &record;
        let units_milli = *units_milli;
        let mut parts = Vec::with_capacity(1 + chits.len());
        for (t, chit) in tallies.iter().zip(&chits) {
            let known = self.tallies.get_mut(t).expect("decided on it");
            parts.push(StreamAppend {
                stream_id: Tally::stream_id(&known.id),
                expected: Expected::Exact(known.version),
                events: vec![encode(chit)],
            });
            known.state = Tally::evolve(std::mem::take(&mut known.state), chit);
            known.version += 1;
        }
        parts.push(StreamAppend {
            stream_id: Lift::stream_id(&lift_id),
            expected: Expected::NoStream,
            events: vec![encode(&record)],
        });
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Prepared { seq, tallies, parts, units_milli })
    }

    fn schedule(&mut self, lift: Prepared) {
        let mut blockers = 0;
        for &t in &lift.tallies {
            let queue = self.queues.entry(t).or_default();
            if !queue.is_empty() {
                blockers += 1;
            }
            queue.push_back(lift.seq);
        }
        if blockers == 0 {
            self.submit(lift);
        } else {
            self.waiting.insert(lift.seq, (blockers, lift));
        }
    }

    fn submit(&mut self, lift: Prepared) {
        let store = self.store.clone();
        self.in_flight.push(tokio::spawn(async move {
            let chits = lift.parts.len() - 1;
            let result = append_lift(&store, lift.parts).await;
            Committed { seq: lift.seq, tallies: lift.tallies, chits, units_milli: lift.units_milli, result }
        }));
    }

    /// Waits for the next append in flight to finish and releases the lifts that waited only for it.
    pub async fn settle_next(&mut self) {
        use futures::StreamExt;
        if let Some(joined) = self.in_flight.next().await {
            self.settle(joined);
        }
    }

    fn settle(&mut self, joined: Result<Committed, JoinError>) {
        let done = match joined {
            Ok(done) => done,
            Err(err) => panic!("a lift's append task failed: {err}"),
        };
        match done.result {
            Ok(()) => {}
            Err(AppendError::WrongExpectedVersion { stream_id, .. }) => {
                tracing::debug!("a lift was refused: {stream_id} changed under it");
                self.drop_from(done.seq, &done.tallies);
                return;
            }
            Err(err) => {
                // Its tallies stay claimed: whatever waits on them can never be appended.
                self.error.get_or_insert(LogError::Append(err));
                return;
            }
        }
        self.run.lifts += 1;
        self.run.chits += done.chits;
        self.run.cleared_milli += done.units_milli * done.chits as i64;
        let mut ready = Vec::new();
        for t in &done.tallies {
            let queue = self.queues.get_mut(t).expect("a committed lift is queued on its tallies");
            assert_eq!(queue.pop_front(), Some(done.seq), "a lift is appended only when first on its tallies");
            match queue.front() {
                Some(next) => {
                    let (blockers, _) = self.waiting.get_mut(next).expect("queued lifts wait");
                    *blockers -= 1;
                    if *blockers == 0 {
                        ready.push(*next);
                    }
                }
                None => {
                    self.queues.remove(t);
                }
            }
        }
        for seq in ready {
            let (_, lift) = self.waiting.remove(&seq).expect("just found");
            if self.error.is_none() {
                self.submit(lift);
            }
        }
    }

    /// Drops the refused lift `seq` and every lift decided after it on any tally it touches (they continue its
    /// chits), transitively; their tallies are read again from their streams before the next lift on them.
    fn drop_from(&mut self, seq: u64, tallies: &[u32]) {
        let mut pending: Vec<(u64, Vec<u32>)> = vec![(seq, tallies.to_vec())];
        let mut dropped = HashSet::new();
        while let Some((seq, tallies)) = pending.pop() {
            if !dropped.insert(seq) {
                continue;
            }
            self.run.dropped += 1;
            for t in tallies {
                if let Some(known) = self.tallies.remove(&t) {
                    self.stale.insert(t, known.id);
                }
                let Some(queue) = self.queues.get_mut(&t) else { continue };
                if let Some(at) = queue.iter().position(|s| *s == seq) {
                    for later in queue.drain(at..).skip(1) {
                        if let Some((_, lift)) = self.waiting.remove(&later) {
                            pending.push((later, lift.tallies));
                        }
                    }
                }
                if queue.is_empty() {
                    self.queues.remove(&t);
                }
            }
        }
    }

    /// What was committed, once nothing is in flight any more; the first error if anything failed.
    pub fn finish(self) -> AppResult<LiftRun> {
        assert!(self.in_flight.is_empty(), "a run finishes once its appends have landed");
        if let Some(err) = self.error {
            return Err(err.into());
        }
        assert!(self.waiting.is_empty(), "every lift decided was appended or dropped");
        Ok(self.run)
    }
}

/// One lift in one atomic append, retried with the same event ids while the store is unavailable.
async fn append_lift(store: &Store, parts: Vec<StreamAppend>) -> Result<(), AppendError> {
    let mut attempt = 1;
    loop {
        match store.append_streams(parts.clone()).await {
            Ok(_) => return Ok(()),
            Err(AppendError::Unavailable(reason)) if attempt < MAX_APPEND_ATTEMPTS => {
                tracing::warn!("lift append unavailable ({reason}); retrying with the same event ids");
                tokio::time::sleep(RETRY_PAUSE * attempt).await;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}
