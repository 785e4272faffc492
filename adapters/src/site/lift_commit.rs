//! Committing the lifts the clearing loop finds, many at a time. Each lift is decided by `decide_lift` against
//! the current state of its tallies and appended on its own: the lift event and one lift chit per tally, in one
//! atomic append. Lifts that share no tally are independent, so they are appended concurrently and the store's
//! group commit puts them into shared transactions. A lift that shares a tally with an earlier lift still in
//! flight waits for it: its chits continue that lift's chits in the tally's chain, so it may only be appended once
//! the earlier one is committed. If an append fails, nothing that depends on it is appended.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::site::finder::{FoundLift, LiftGraph};
use domain::site::lift::{decide_lift, CommitLift, LiftEvent};
use domain::site::tally::{Tally, TallyBody, TallyState, TallyStatus};
use domain::site::SiteError;
use domain::Decider;
use events::{AppendError, Expected, NewEvent, Store};
use futures::stream::FuturesUnordered;
use tokio::task::{JoinError, JoinHandle};
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::log::{to_new_event, AppError, AppResult};
use super::streams;

/// Lifts decided but not yet committed (waiting for an earlier lift, or in flight), at most; the finder waits
/// beyond that. Enough to keep every commit of the store full, small enough to bound memory.
pub const MAX_UNFINISHED: usize = 2048;
/// Attempts of one lift's append when the store answers `Unavailable` (a retry with the same event ids is
/// answered with the original result if the first attempt did commit).
const MAX_ATTEMPTS: u32 = 4;
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// What a run committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiftRun {
    pub lifts: usize,
    pub chits: usize,
    /// Sum over lifts of amount x hops: how much debt the run cancelled.
    pub cleared_milli: i64,
}

/// A decided lift: its tallies (graph indexes) and the events of its append.
struct Prepared {
    seq: u64,
    tallies: Vec<u32>,
    events: Vec<NewEvent>,
    units_milli: i64,
}

struct Committed {
    seq: u64,
    tallies: Vec<u32>,
    chits: usize,
    units_milli: i64,
    result: AppResult<()>,
}

pub struct Committer {
    store: Store,
    tally_ix: Vec<i32>,
    now: DateTime<Utc>,
    /// The state of every tally a lift of this run touched, as of the last lift decided on it.
    states: HashMap<u32, TallyState>,
    /// Per tally, the unfinished lifts on it in decision order: a lift may be appended when it is first in the
    /// queue of each of its tallies.
    queues: HashMap<u32, VecDeque<u64>>,
    /// Lifts not yet appendable, with the number of their tallies on which they are not first.
    waiting: HashMap<u64, (usize, Prepared)>,
    in_flight: FuturesUnordered<JoinHandle<Committed>>,
    next_seq: u64,
    run: LiftRun,
    error: Option<AppError>,
}

impl Committer {
    /// `tally_ix` maps the graph's tallies (those of the lifts to come) to the views' tally indexes.
    pub fn new(store: Store, tally_ix: Vec<i32>, now: DateTime<Utc>) -> Committer {
        Committer {
            store,
            tally_ix,
            now,
            states: HashMap::new(),
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
        if let Err(err) = self.try_add(lifts).await {
            self.error.get_or_insert(err);
        }
    }

    async fn try_add(&mut self, lifts: Vec<FoundLift>) -> AppResult<()> {
        let mut missing: Vec<u32> = lifts
            .iter()
            .flat_map(|l| l.edges.iter().map(|&e| LiftGraph::tally_of(e) as u32))
            .filter(|t| !self.states.contains_key(t))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let ixs: Vec<i32> = missing.iter().map(|&t| self.tally_ix[t as usize]).collect();
            let mut found = open_tally_states(&self.store, &ixs).await?;
            for t in missing {
                if let Some(state) = found.remove(&self.tally_ix[t as usize]) {
                    self.states.insert(t, state);
                }
            }
        }
        for lift in lifts {
            let prepared = self.decide(lift)?;
            self.schedule(prepared);
        }
        Ok(())
    }

    /// `decide_lift` against the tallies' current states, which then move on by the lift's chits.
    fn decide(&mut self, lift: FoundLift) -> AppResult<Prepared> {
        let tallies: Vec<u32> = lift.edges.iter().map(|&e| LiftGraph::tally_of(e) as u32).collect();
        let states =
            tallies.iter().map(|t| self.states.get(t).ok_or(SiteError::TallyMissing)).collect::<Result<Vec<_>, _>>()?;
        let hops =
            states.iter().zip(&lift.edges).map(|(s, &e)| (s.id, LiftGraph::payer_side(e), Uuid::now_v7())).collect();
        let command =
            CommitLift { lift_id: Uuid::now_v7(), hops, max_units_milli: Some(lift.units_milli), at: self.now };
        let (event, chits) = decide_lift(&states, command)?;
        let LiftEvent::LiftCommitted { units_milli, .. } = &event;
        let units_milli = *units_milli;
        let mut events = Vec::with_capacity(1 + chits.len());
        events.push(to_new_event(&event));
        for (t, chit) in tallies.iter().zip(&chits) {
            let state = self.states.get_mut(t).expect("checked above");
            *state = Tally::evolve(std::mem::take(state), chit);
            events.push(to_new_event(chit));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(Prepared { seq, tallies, events, units_milli })
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
            let chits = lift.events.len() - 1;
            let result = append_lift(&store, lift.events).await;
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
            Err(err) => {
                self.error.get_or_insert(AppError::Database(format!("a lift's append task failed: {err}")));
                return;
            }
        };
        if let Err(err) = done.result {
            // Its tallies stay claimed: whatever waits on them can never be appended.
            self.error.get_or_insert(err);
            return;
        }
        self.run.lifts += 1;
        self.run.chits += done.chits;
        self.run.cleared_milli += done.units_milli * done.chits as i64;
        let mut ready = Vec::new();
        for t in &done.tallies {
            let queue = self.queues.get_mut(t).expect("a committed lift is queued on its tallies");
            debug_assert_eq!(queue.front(), Some(&done.seq));
            queue.pop_front();
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

    /// What was committed, once nothing is in flight any more; the first error if anything failed.
    pub fn finish(self) -> AppResult<LiftRun> {
        debug_assert!(self.in_flight.is_empty());
        if let Some(err) = self.error {
            return Err(err);
        }
        if !self.waiting.is_empty() {
            return Err(AppError::Database(format!("{} lifts were never appended", self.waiting.len())));
        }
        Ok(self.run)
    }
}

/// One lift in one append. `Expected::Any`: the run holds the ledger lock exclusively, so nothing else appends
/// lifts or chits meanwhile, and the order of independent lifts in the `lifts` stream does not matter.
async fn append_lift(store: &Store, events: Vec<NewEvent>) -> AppResult<()> {
    let mut attempt = 1;
    loop {
        match store.append(streams::LIFTS, Expected::Any, events.clone()).await {
            Ok(_) => return Ok(()),
            Err(AppendError::Unavailable(reason)) if attempt < MAX_ATTEMPTS => {
                tracing::warn!("lift append unavailable ({reason}); retrying with the same event ids");
                tokio::time::sleep(RETRY_PAUSE * attempt).await;
                attempt += 1;
            }
            Err(err) => return Err(AppError::Append(err)),
        }
    }
}

/// Full states (body, balance, chain head) of the open tallies with indexes `ixs`, from the site views, by index.
async fn open_tally_states(store: &Store, ixs: &[i32]) -> AppResult<HashMap<i32, TallyState>> {
    let client = store.pool().get().await?;
    let rows = client
        .query(
            "SELECT tally_id, body, balance_milli, chit_count, head_hash, ix FROM site.tallies \
             WHERE status = 'open' AND ix = ANY($1)",
            &[&ixs],
        )
        .await?;
    let mut states = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.get(0);
        let Json(body): Json<TallyBody> =
            row.try_get(1).map_err(|err| AppError::Database(format!("tally {id}: bad body in site.tallies: {err}")))?;
        states.insert(
            row.get(5),
            TallyState {
                id,
                status: TallyStatus::Open,
                parties: vec![],
                body: Some(body),
                proposed_by: None,
                stock_signature: None,
                foil_signature: None,
                balance_milli: row.get(2),
                chit_count: row.get::<_, i64>(3) as u64,
                head_hash: row.get(4),
            },
        );
    }
    Ok(states)
}
