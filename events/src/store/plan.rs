//! Deciding a batch of appends and linking its events onto the chain: pure, given what the log holds (or what
//! the writer believes it holds).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::error::{AppendError, Expected};
use super::{AppendRequest, Appended};
use crate::envelope::{Hash, RecordedEvent};

pub(super) enum Decision {
    Settled(Result<Appended, AppendError>),
    Carry,
}

pub(super) struct Plan {
    pub decisions: Vec<Decision>,
    pub linked: Vec<RecordedEvent>,
    /// The chain's tail once the plan is committed.
    pub tail_after: (i64, Hash),
    /// Every stream the plan looked at, with its version once the plan is committed.
    pub versions_after: HashMap<String, i64>,
}

/// Decides each request of the batch, in arrival order, against the chain's `tail`, the streams' `versions` (every
/// stream of the batch) and the `existing` events among the batch's ids, and links the accepted events onto the
/// chain.
pub(super) fn plan(
    tail: (i64, Hash),
    mut versions: HashMap<String, i64>,
    existing: &HashMap<Uuid, (String, i64, i64)>,
    batch: &[AppendRequest],
) -> Plan {
    let (mut position, mut prev_hash) = tail;
    let mut in_batch: HashSet<Uuid> = HashSet::new();
    let mut decisions = Vec::with_capacity(batch.len());
    let mut linked = Vec::new();
    for request in batch {
        if let Some(decision) = already_stored(request, existing) {
            decisions.push(decision);
            continue;
        }
        if request.events.iter().any(|e| in_batch.contains(&e.event_id)) {
            decisions.push(Decision::Carry);
            continue;
        }
        let actual = versions.get(&request.stream_id).copied().unwrap_or(0);
        let matches = match request.expected {
            Expected::Any => true,
            Expected::NoStream => actual == 0,
            Expected::Exact(version) => actual == version,
        };
        if !matches {
            decisions.push(Decision::Settled(Err(AppendError::WrongExpectedVersion {
                stream_id: request.stream_id.clone(),
                expected: request.expected,
                actual,
            })));
            continue;
        }
        let first_position = position + 1;
        let mut version = actual;
        for (event, canonical) in request.events.iter().zip(&request.canonical) {
            position += 1;
            version += 1;
            let recorded = event.clone().link_canonical(canonical, position, version, prev_hash);
            prev_hash = recorded.hash;
            in_batch.insert(event.event_id);
            linked.push(recorded);
        }
        versions.insert(request.stream_id.clone(), version);
        decisions.push(Decision::Settled(Ok(Appended {
            first_position,
            last_position: position,
            stream_version: version,
        })));
    }
    Plan { decisions, linked, tail_after: (position, prev_hash), versions_after: versions }
}

/// A request whose events are all stored already is a retry: it gets the original result. One that is partly
/// stored conflicts with another append.
fn already_stored(request: &AppendRequest, existing: &HashMap<Uuid, (String, i64, i64)>) -> Option<Decision> {
    let stored: Vec<&(String, i64, i64)> = request.events.iter().filter_map(|e| existing.get(&e.event_id)).collect();
    if stored.is_empty() {
        return None;
    }
    let whole_retry = stored.len() == request.events.len() && stored.iter().all(|(s, _, _)| *s == request.stream_id);
    let contiguous = stored.windows(2).all(|w| w[1].1 == w[0].1 + 1);
    if whole_retry && contiguous {
        let (first, last) = (stored[0], stored[stored.len() - 1]);
        return Some(Decision::Settled(Ok(Appended {
            first_position: first.1,
            last_position: last.1,
            stream_version: last.2,
        })));
    }
    let (event_id, position) = request
        .events
        .iter()
        .find_map(|e| existing.get(&e.event_id).map(|(_, p, _)| (e.event_id, *p)))
        .expect("at least one stored event");
    Some(Decision::Settled(Err(AppendError::DuplicateEventId { event_id, position })))
}

/// Streams whose version this writer remembers; beyond this it starts over (the careful path re-reads).
const MAX_KNOWN_STREAMS: usize = 100_000;

/// What this writer last saw committed: the chain's tail and stream versions. The log is append-only, so each
/// is a lower bound of the truth forever; a guess built on it is checked by the unique keys (see
/// `writer.rs`).
#[derive(Default)]
pub(super) struct Known {
    tail: Option<(i64, Hash)>,
    versions: HashMap<String, i64>,
}

impl Known {
    /// The batch linked onto what is known, if every request would succeed on it: each stream's version is known
    /// (or the request expects a new stream) and matches, and no event id repeats. Otherwise `None`: a conflict
    /// must be decided against what is committed, under the lock.
    pub fn speculate(&self, batch: &[AppendRequest]) -> Option<Plan> {
        let tail = self.tail?;
        let mut versions = HashMap::new();
        for request in batch {
            if versions.contains_key(&request.stream_id) {
                continue;
            }
            let version = match (self.versions.get(&request.stream_id), request.expected) {
                (Some(version), _) => *version,
                (None, Expected::NoStream | Expected::Exact(0)) => 0,
                (None, _) => return None,
            };
            versions.insert(request.stream_id.clone(), version);
        }
        let plan = plan(tail, versions, &HashMap::new(), batch);
        let all_linked = plan.decisions.iter().all(|d| matches!(d, Decision::Settled(Ok(_))));
        (all_linked && !plan.linked.is_empty()).then_some(plan)
    }

    pub fn learn(&mut self, plan: &Plan) {
        self.tail = Some(plan.tail_after);
        if self.versions.len() + plan.versions_after.len() > MAX_KNOWN_STREAMS {
            self.versions.clear();
        }
        self.versions.extend(plan.versions_after.iter().map(|(stream, version)| (stream.clone(), *version)));
    }

    pub fn forget(&mut self) {
        self.tail = None;
        self.versions.clear();
    }
}
