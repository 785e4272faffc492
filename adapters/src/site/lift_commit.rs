//! Committing the lifts the clearing loop finds, many at a time. Each lift is decided by `decide_lift` against
//! the current state of its tallies and appended on its own, atomically: one lift chit in each tally's own stream,
//! each with the tally stream's exact version, and the lift's record in its own stream. Lifts are signed
//! concurrently and handed to the writer in decision order, so the store's group commit puts many into each
//! transaction, and a lift whose chit continues an earlier lift's chit on a tally rides right behind it (in the
//! same commit or the next) instead of waiting for it to land; if the earlier one is refused, so is it.
//!
//! No lock keeps other writers out. A party's chit that lands on a tally between the read of its state and the
//! lift's append makes the append's expected version wrong: the log refuses the whole lift, which is then dropped
//! with every lift decided after it on its tallies, and those tallies are read again from their streams.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::site::finder::{FoundLift, LiftGraph};
use domain::site::lift::{decide_lift, CommitLift, Lift, LiftEvent};
use domain::site::tally::{Tally, TallyState};
use domain::{Aggregate, Decider};
use events::{AppendError, Expected, SignedAppend, Store, StreamAppend};
use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, FuturesUnordered};
use projections::Views;
use tokio::task::{JoinError, JoinHandle};
use uuid::Uuid;

use super::AppResult;
use crate::command::{encode, load, LogError};

/// Lifts decided but not yet committed (being signed, or with the writer), at most; the finder waits beyond that.
/// Enough to keep every commit of the store full, small enough to bound memory.
pub const MAX_UNFINISHED: usize = 2048;

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

/// What a decided lift settles once the log answers: its tallies (graph indexes), chits and amount.
struct Decided {
    tallies: Vec<u32>,
    chits: usize,
    units_milli: i64,
}

type Signing = JoinHandle<(Decided, Result<SignedAppend, AppendError>)>;
type Answer = BoxFuture<'static, (Decided, Result<(), AppendError>)>;

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
    /// Lifts being signed, in decision order: they reach the writer in that order.
    signing: FuturesOrdered<Signing>,
    /// Lifts the writer holds.
    in_flight: FuturesUnordered<Answer>,
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
            signing: FuturesOrdered::new(),
            in_flight: FuturesUnordered::new(),
            run: LiftRun::default(),
            error: None,
        }
    }

    /// Whether more lifts may be added now: nothing failed, and fewer than [`MAX_UNFINISHED`] are unfinished.
    pub fn wants_more(&self) -> bool {
        self.error.is_none() && self.signing.len() + self.in_flight.len() < MAX_UNFINISHED
    }

    pub fn has_in_flight(&self) -> bool {
        !self.signing.is_empty() || !self.in_flight.is_empty()
    }

    /// Decides `lifts` (in order) and starts signing each.
    pub async fn add(&mut self, lifts: Vec<FoundLift>) {
        if let Err(err) = self.fetch_states(&lifts).await {
            self.error.get_or_insert(err);
            return;
        }
        for lift in lifts {
            match self.decide(lift) {
                Some((decided, parts)) => {
                    let store = self.store.clone();
                    self.signing.push_back(tokio::spawn(async move { (decided, store.sign_streams(parts)) }));
                }
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
    fn decide(&mut self, lift: FoundLift) -> Option<(Decided, Vec<StreamAppend>)> {
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
        let chits = parts.len() - 1;
        Some((Decided { tallies, chits, units_milli }, parts))
    }

    /// Hands the next signed lift to the writer, or settles the next answer.
    pub async fn settle_next(&mut self) {
        use futures::StreamExt;
        tokio::select! {
            biased;
            Some(signed) = self.signing.next(), if !self.signing.is_empty() => self.hand_over(signed).await,
            Some((decided, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                self.settle(decided, result)
            }
        }
    }

    async fn hand_over(&mut self, signed: Result<(Decided, Result<SignedAppend, AppendError>), JoinError>) {
        let (decided, signed) = signed.unwrap_or_else(|err| panic!("a lift's signing task failed: {err}"));
        if self.error.is_some() {
            return; // the run stops: what is not with the writer yet is not appended
        }
        let answer = match signed {
            Ok(signed) => self.store.enqueue(signed).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok(answer) => self.in_flight.push(Box::pin(async move { (decided, answer.await.map(drop)) })),
            Err(err) => {
                self.error.get_or_insert(LogError::Append(err));
            }
        }
    }

    /// Counts a committed lift; a refused one marks its tallies to be read again from their streams (lifts
    /// handed over behind it on those tallies are refused by the log in turn).
    fn settle(&mut self, decided: Decided, result: Result<(), AppendError>) {
        match result {
            Ok(()) => {
                self.run.lifts += 1;
                self.run.chits += decided.chits;
                self.run.cleared_milli += decided.units_milli * decided.chits as i64;
            }
            Err(AppendError::WrongExpectedVersion { stream_id, .. }) => {
                tracing::debug!("a lift was refused: {stream_id} changed under it");
                self.run.dropped += 1;
                for t in decided.tallies {
                    if let Some(known) = self.tallies.remove(&t) {
                        self.stale.insert(t, known.id);
                    }
                }
            }
            Err(err) => {
                self.error.get_or_insert(LogError::Append(err));
            }
        }
    }

    /// What was committed, once nothing is in flight any more; the first error if anything failed.
    pub fn finish(self) -> AppResult<LiftRun> {
        assert!(!self.has_in_flight(), "a run finishes once its appends have landed");
        match self.error {
            Some(err) => Err(err.into()),
            None => Ok(self.run),
        }
    }
}
