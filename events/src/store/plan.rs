//! Deciding a batch of appends and linking its events onto the chain: pure, given what the log holds (or what
//! the writer believes it holds).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::error::{AppendError, Expected};
use super::{AppendRequest, AppendedStreams, Part};
use crate::envelope::Hash;

/// Where one event of the batch lands in the chain.
pub(super) struct Link {
    /// `batch[request].events[event]` (and its payload `batch[request].canonical[event]`).
    pub request: usize,
    pub event: usize,
    pub position: i64,
    pub stream_version: i64,
    pub prev_hash: Hash,
    pub hash: Hash,
}

pub(super) enum Decision {
    Settled(Result<AppendedStreams, AppendError>),
    Carry,
}

pub(super) struct Plan {
    pub decisions: Vec<Decision>,
    /// Every accepted event of the batch in chain order, by where it sits in the batch (the events and their
    /// canonical payloads stay in the requests: nothing is copied to link them).
    pub linked: Vec<Link>,
    /// The chain's tail once the plan is committed.
    pub tail_after: (i64, Hash),
    /// Every stream the plan looked at, with its version once the plan is committed.
    pub versions_after: HashMap<String, i64>,
    /// Streams the writer did not know, each linked on trust at the version an append expected: the commit must
    /// check that each is committed at that version (`EXPECT_VERSIONS`). Empty for plans made under the lock.
    pub guards: Vec<(String, i64)>,
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
    for (request_index, request) in batch.iter().enumerate() {
        if let Some(decision) = already_stored(request, existing) {
            decisions.push(decision);
            continue;
        }
        if request.events.iter().any(|e| in_batch.contains(&e.event_id)) {
            decisions.push(Decision::Carry);
            continue;
        }
        if let Some(refusal) = mismatch(request, &versions) {
            decisions.push(Decision::Settled(Err(refusal)));
            continue;
        }
        let first_position = position + 1;
        let mut stream_versions = Vec::with_capacity(request.parts.len());
        for (part, events) in request.parts() {
            let mut version = versions.get(&part.stream_id).copied().unwrap_or(0);
            for event_index in events {
                let (event, canonical) = (&request.events[event_index], &request.canonical[event_index]);
                position += 1;
                version += 1;
                let hash = event.link_hash(canonical, position, version, prev_hash);
                linked.push(Link {
                    request: request_index,
                    event: event_index,
                    position,
                    stream_version: version,
                    prev_hash,
                    hash,
                });
                prev_hash = hash;
                in_batch.insert(event.event_id);
            }
            versions.insert(part.stream_id.clone(), version);
            stream_versions.push(version);
        }
        decisions.push(Decision::Settled(Ok(AppendedStreams {
            first_position,
            last_position: position,
            stream_versions,
        })));
    }
    Plan { decisions, linked, tail_after: (position, prev_hash), versions_after: versions, guards: Vec::new() }
}

/// Whether `part` expects the stream at version `actual`.
fn expects(part: &Part, actual: i64) -> bool {
    match part.expected {
        Expected::Any => true,
        Expected::NoStream => actual == 0,
        Expected::Exact(version) => actual == version,
    }
}

/// The refusal of the first part whose expectation the streams' `versions` do not meet: one unmet part refuses
/// the whole request.
fn mismatch(request: &AppendRequest, versions: &HashMap<String, i64>) -> Option<AppendError> {
    request.parts.iter().find_map(|part| {
        let actual = versions.get(&part.stream_id).copied().unwrap_or(0);
        (!expects(part, actual)).then(|| AppendError::WrongExpectedVersion {
            stream_id: part.stream_id.clone(),
            expected: part.expected,
            actual,
        })
    })
}

/// A request whose events are all stored already, each in its part's stream and at consecutive positions, is a
/// retry: it gets the original result. One that is partly stored conflicts with another append.
fn already_stored(request: &AppendRequest, existing: &HashMap<Uuid, (String, i64, i64)>) -> Option<Decision> {
    let stored: Vec<&(String, i64, i64)> = request.events.iter().filter_map(|e| existing.get(&e.event_id)).collect();
    if stored.is_empty() {
        return None;
    }
    let in_their_streams = || {
        request
            .parts()
            .all(|(part, events)| events.clone().all(|i| stored.get(i).is_some_and(|s| s.0 == part.stream_id)))
    };
    let contiguous = stored.windows(2).all(|w| w[1].1 == w[0].1 + 1);
    if stored.len() == request.events.len() && contiguous && in_their_streams() {
        let stream_versions = request.parts().map(|(_, events)| stored[events.end - 1].2).collect();
        return Some(Decision::Settled(Ok(AppendedStreams {
            first_position: stored[0].1,
            last_position: stored[stored.len() - 1].1,
            stream_versions,
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
    /// Splits `batch` into the requests that what is known decides and the rest. A request is decided when each of
    /// its streams' version is known and matches, or the stream is new to it (`NoStream`), or the writer has not
    /// seen the stream and the request expects an exact version, which is then trusted and checked by the commit
    /// (see [`Plan::guards`]); and no event id repeats. A conflict with a known version, or `Any` on an unseen
    /// stream, must be decided against what is committed, under the lock. Without a known tail nothing is decided.
    pub fn partition(&self, batch: Vec<AppendRequest>) -> (Vec<AppendRequest>, Vec<AppendRequest>) {
        if self.tail.is_none() {
            return (Vec::new(), batch);
        }
        let mut versions: HashMap<String, i64> = HashMap::new();
        let mut ids: HashSet<Uuid> = HashSet::new();
        let (mut decided, mut rest) = (Vec::new(), Vec::new());
        for request in batch {
            let actuals: Option<Vec<i64>> = request
                .parts
                .iter()
                .map(|part| {
                    let known = versions.get(&part.stream_id).or_else(|| self.versions.get(&part.stream_id));
                    let actual = match (known, part.expected) {
                        (Some(version), _) => *version,
                        (None, Expected::NoStream) => 0,
                        (None, Expected::Exact(trusted)) => trusted,
                        (None, Expected::Any) => return None,
                    };
                    expects(part, actual).then_some(actual)
                })
                .collect();
            let fresh_ids = request.events.iter().all(|e| !ids.contains(&e.event_id));
            match actuals {
                Some(actuals) if fresh_ids => {
                    for (part, actual) in request.parts.iter().zip(actuals) {
                        versions.insert(part.stream_id.clone(), actual + part.events as i64);
                    }
                    ids.extend(request.events.iter().map(|e| e.event_id));
                    decided.push(request);
                }
                _ => rest.push(request),
            }
        }
        (decided, rest)
    }

    /// Links requests [`Known::partition`] decided onto the known tail, with a guard for each stream it trusted.
    pub fn link(&self, decided: &[AppendRequest]) -> Plan {
        let tail = self.tail.expect("partition decides nothing without a known tail");
        let mut versions: HashMap<String, i64> = HashMap::new();
        let mut guards = Vec::new();
        for part in decided.iter().flat_map(|r| &r.parts) {
            if versions.contains_key(&part.stream_id) {
                continue;
            }
            let version = match (self.versions.get(&part.stream_id), part.expected) {
                (Some(known), _) => *known,
                (None, Expected::Exact(trusted)) if trusted > 0 => {
                    guards.push((part.stream_id.clone(), trusted));
                    trusted
                }
                (None, _) => 0,
            };
            versions.insert(part.stream_id.clone(), version);
        }
        let mut plan = plan(tail, versions, &HashMap::new(), decided);
        assert!(
            plan.decisions.iter().all(|d| matches!(d, Decision::Settled(Ok(_)))),
            "every request partition decided links"
        );
        plan.guards = guards;
        plan
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{NewEvent, SignedEvent, GENESIS_PREV_HASH};
    use ed25519_dalek::SigningKey;

    fn request(stream: &str, expected: Expected, events: usize) -> AppendRequest {
        request_of(&[(stream, expected, events)])
    }

    /// An atomic append of several streams: (stream, expected, events) each.
    fn request_of(parts: &[(&str, Expected, usize)]) -> AppendRequest {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (mut events, mut canonical) = (Vec::new(), Vec::new());
        for &(stream, _, count) in parts {
            for n in 0..count {
                let event = NewEvent::new("Counted", &serde_json::json!({ "n": n }));
                let payload = crate::envelope::canonical_payload(&event.payload);
                let (event, payload) = SignedEvent::sign_canonical(&key, stream, event, payload, chrono::Utc::now());
                events.push(event);
                canonical.push(payload);
            }
        }
        let parts = parts
            .iter()
            .map(|&(stream, expected, events)| Part { stream_id: stream.into(), expected, events })
            .collect();
        let (reply, _) = tokio::sync::oneshot::channel();
        AppendRequest { parts, events, canonical, reply }
    }

    fn settled(decision: &Decision) -> Result<&AppendedStreams, &AppendError> {
        match decision {
            Decision::Settled(outcome) => outcome.as_ref(),
            Decision::Carry => panic!("carried, not settled"),
        }
    }

    fn known(tail: i64, streams: &[(&str, i64)]) -> Known {
        Known {
            tail: Some((tail, GENESIS_PREV_HASH)),
            versions: streams.iter().map(|(s, v)| (s.to_string(), *v)).collect(),
        }
    }

    fn streams(requests: &[AppendRequest]) -> Vec<(&str, Expected)> {
        requests.iter().flat_map(|r| &r.parts).map(|p| (p.stream_id.as_str(), p.expected)).collect()
    }

    #[test]
    fn without_a_known_tail_nothing_is_decided() {
        let (decided, rest) = Known::default().partition(vec![request("a", Expected::NoStream, 1)]);
        assert!(decided.is_empty());
        assert_eq!(rest.len(), 1);
    }

    #[test]
    fn new_streams_and_known_versions_are_linked_after_the_known_tail() {
        let known = known(10, &[("a", 3)]);
        let batch = vec![
            request("a", Expected::Exact(3), 2),
            request("b", Expected::NoStream, 1),
            request("a", Expected::Any, 1),
        ];
        let (decided, rest) = known.partition(batch);
        assert!(rest.is_empty());
        let plan = known.link(&decided);
        let placed: Vec<(i64, i64)> = plan.linked.iter().map(|e| (e.position, e.stream_version)).collect();
        assert_eq!(placed, vec![(11, 4), (12, 5), (13, 1), (14, 6)]);
        assert_eq!(plan.linked[0].prev_hash, GENESIS_PREV_HASH);
        assert_eq!(plan.tail_after, (14, plan.linked[3].hash));
        assert_eq!(plan.versions_after.get("a"), Some(&6));
    }

    #[test]
    fn what_only_the_committed_log_can_decide_is_left_for_the_careful_way() {
        let known = known(10, &[("a", 3)]);
        let batch = vec![
            request("a", Expected::Exact(2), 1), // a conflict: its answer must name the committed version
            request("a", Expected::NoStream, 1), // likewise
            request("y", Expected::Any, 1),      // a stream this writer has not seen, at any version
            request("a", Expected::Exact(3), 1), // decided
            request("a", Expected::Exact(4), 1), // decided, after the one before
        ];
        let (decided, rest) = known.partition(batch);
        assert_eq!(streams(&decided), vec![("a", Expected::Exact(3)), ("a", Expected::Exact(4))]);
        assert_eq!(streams(&rest).len(), 3);
        let retry = request("b", Expected::NoStream, 1);
        let mut twin = request("c", Expected::NoStream, 1);
        twin.events = retry.events.clone();
        twin.canonical = retry.canonical.clone();
        let (decided, rest) = known.partition(vec![retry, twin]);
        assert_eq!((decided.len(), rest.len()), (1, 1), "an event id twice in a batch is decided once");
    }

    #[test]
    fn learning_a_plan_moves_the_tail_and_the_versions_and_forgetting_clears_them() {
        let mut known = known(10, &[("a", 3)]);
        let (decided, _) = known.partition(vec![request("a", Expected::Exact(3), 1)]);
        let plan = known.link(&decided);
        known.learn(&plan);
        assert_eq!(known.tail.map(|t| t.0), Some(11));
        assert_eq!(known.partition(vec![request("a", Expected::Exact(4), 1)]).0.len(), 1);
        known.forget();
        assert!(known.partition(vec![request("b", Expected::NoStream, 1)]).0.is_empty());
    }

    #[test]
    fn an_append_of_several_streams_lands_in_one_range_each_stream_at_its_next_versions() {
        let versions: HashMap<String, i64> = [("a".to_owned(), 3), ("b".to_owned(), 1)].into();
        let batch = vec![request_of(&[
            ("a", Expected::Exact(3), 1),
            ("b", Expected::Exact(1), 2),
            ("c", Expected::NoStream, 1),
        ])];
        let plan = plan((10, GENESIS_PREV_HASH), versions, &HashMap::new(), &batch);
        let placed: Vec<(i64, &str, i64)> = plan
            .linked
            .iter()
            .map(|l| (l.position, batch[0].events[l.event].stream_id.as_str(), l.stream_version))
            .collect();
        assert_eq!(placed, vec![(11, "a", 4), (12, "b", 2), (13, "b", 3), (14, "c", 1)]);
        let landed = settled(&plan.decisions[0]).unwrap();
        assert_eq!((landed.first_position, landed.last_position), (11, 14));
        assert_eq!(landed.stream_versions, vec![4, 3, 1]);
        assert_eq!(plan.versions_after.get("c"), Some(&1));
    }

    #[test]
    fn one_unmet_expectation_refuses_every_stream_of_the_append() {
        let versions: HashMap<String, i64> = [("a".to_owned(), 3), ("b".to_owned(), 5)].into();
        let batch = vec![
            request_of(&[("a", Expected::Exact(3), 1), ("b", Expected::Exact(4), 1)]),
            request("a", Expected::Exact(3), 1),
        ];
        let plan = plan((10, GENESIS_PREV_HASH), versions, &HashMap::new(), &batch);
        assert_eq!(
            settled(&plan.decisions[0]),
            Err(&AppendError::WrongExpectedVersion { stream_id: "b".into(), expected: Expected::Exact(4), actual: 5 })
        );
        // Nothing of the refused append was linked: the next one finds stream a where it was.
        assert_eq!(settled(&plan.decisions[1]).unwrap().stream_versions, vec![4]);
        assert_eq!(plan.linked.len(), 1);
    }

    #[test]
    fn a_retried_append_of_several_streams_gets_its_original_answer() {
        let batch = vec![request_of(&[("a", Expected::Exact(3), 1), ("b", Expected::NoStream, 2)])];
        let ids: Vec<Uuid> = batch[0].events.iter().map(|e| e.event_id).collect();
        let stored = |streams: [&str; 3]| -> HashMap<Uuid, (String, i64, i64)> {
            let versions = [4, 1, 2];
            (0..3).map(|i| (ids[i], (streams[i].to_owned(), 20 + i as i64, versions[i]))).collect()
        };
        let existing = stored(["a", "b", "b"]);
        let plan = plan((30, GENESIS_PREV_HASH), HashMap::new(), &existing, &batch);
        let landed = settled(&plan.decisions[0]).unwrap();
        assert_eq!((landed.first_position, landed.last_position, &landed.stream_versions), (20, 22, &vec![4, 2]));
        assert!(plan.linked.is_empty());
        // The same ids stored in other streams are someone else's append.
        let existing = stored(["a", "a", "b"]);
        let plan = super::plan((30, GENESIS_PREV_HASH), HashMap::new(), &existing, &batch);
        assert!(matches!(settled(&plan.decisions[0]), Err(AppendError::DuplicateEventId { .. })));
    }

    #[test]
    fn the_known_versions_decide_an_append_of_several_streams_only_if_they_decide_every_stream() {
        let known = known(10, &[("a", 3)]);
        let batch = vec![
            request_of(&[("a", Expected::Exact(3), 1), ("new", Expected::NoStream, 1)]),
            request_of(&[("a", Expected::Exact(4), 1), ("unseen", Expected::Any, 1)]),
            request_of(&[("a", Expected::Exact(3), 1), ("other", Expected::NoStream, 1)]), // a stale version
            request("a", Expected::Exact(4), 1),
        ];
        let (decided, rest) = known.partition(batch);
        assert_eq!(
            streams(&decided),
            vec![("a", Expected::Exact(3)), ("new", Expected::NoStream), ("a", Expected::Exact(4))]
        );
        assert_eq!(streams(&rest).len(), 4);
        let plan = known.link(&decided);
        assert_eq!(plan.versions_after.get("a"), Some(&5));
        assert!(plan.guards.is_empty(), "every stream was known or new");
    }

    #[test]
    fn an_exact_version_of_an_unseen_stream_is_trusted_and_guarded() {
        let known = known(10, &[("a", 3)]);
        let batch = vec![
            request_of(&[("a", Expected::Exact(3), 1), ("t", Expected::Exact(7), 2)]),
            request("t", Expected::Exact(9), 1), // after the trusted one, in the same batch: no second guard
            request("u", Expected::Exact(0), 1), // version 0 is "no stream": the unique keys guard it
        ];
        let (decided, rest) = known.partition(batch);
        assert!(rest.is_empty());
        let plan = known.link(&decided);
        assert_eq!(plan.guards, vec![("t".to_owned(), 7)]);
        let placed: Vec<(i64, i64)> = plan.linked.iter().map(|l| (l.position, l.stream_version)).collect();
        assert_eq!(placed, vec![(11, 4), (12, 8), (13, 9), (14, 10), (15, 1)]);
        assert_eq!(plan.versions_after.get("t"), Some(&10));
    }
}
