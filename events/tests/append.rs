//! The append path against real PostgreSQL: optimistic concurrency, idempotency, signatures, limits.

use chrono::Utc;
use ed25519_dalek::SigningKey;
use events::envelope::MAX_PAYLOAD_BYTES;
use events::testkit::test_db;
use events::{AppendError, Expected, NewEvent, SignedEvent};
use serde_json::json;

fn event(n: i64) -> NewEvent {
    NewEvent::new("Counted", &json!({ "n": n }))
}

async fn count_events(db: &events::testkit::TestDb) -> i64 {
    let client = db.store.pool().get().await.unwrap();
    client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn appends_are_ordered_versioned_and_readable() {
    let db = test_db("ordered").await;
    let store = &db.store;
    let first = store.append("acct-1", Expected::NoStream, vec![event(1), event(2)]).await.unwrap();
    assert_eq!((first.first_position, first.last_position, first.stream_version), (2, 3, 2));
    let second = store.append("acct-1", Expected::Exact(2), vec![event(3)]).await.unwrap();
    assert_eq!((second.first_position, second.stream_version), (4, 3));
    let stream = store.read_stream("acct-1", 2, 10).await.unwrap();
    assert_eq!(stream.iter().map(|e| e.payload["n"].as_i64().unwrap()).collect::<Vec<_>>(), vec![2, 3]);
    let all = store.read_all(1, 100).await.unwrap();
    assert_eq!(all.len(), 4, "genesis and three events");
    assert_eq!(all[0].event_type, "LogCreated");
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].position, pair[0].position + 1);
    }
}

#[tokio::test]
async fn a_wrong_expected_version_is_a_typed_error_and_writes_nothing() {
    let db = test_db("expected").await;
    db.store.append("s", Expected::NoStream, vec![event(1)]).await.unwrap();
    let before = count_events(&db).await;
    let err = db.store.append("s", Expected::Exact(5), vec![event(2)]).await.unwrap_err();
    assert_eq!(
        err,
        AppendError::WrongExpectedVersion { stream_id: "s".into(), expected: Expected::Exact(5), actual: 1 }
    );
    let err = db.store.append("s", Expected::NoStream, vec![event(2)]).await.unwrap_err();
    assert!(matches!(err, AppendError::WrongExpectedVersion { actual: 1, .. }), "{err}");
    assert!(err.to_string().contains("expected no stream, but the stream is at version 1"), "{err}");
    assert_eq!(count_events(&db).await, before);
}

#[tokio::test]
async fn racing_writers_with_the_same_expected_version_are_never_merged() {
    let db = test_db("race").await;
    db.store.append("contested", Expected::NoStream, vec![event(0)]).await.unwrap();
    let attempts = (0..16).map(|i| {
        let store = db.store.clone();
        tokio::spawn(async move { store.append("contested", Expected::Exact(1), vec![event(i)]).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "exactly one of the racing appends wins: {results:?}");
    for loser in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(loser, AppendError::WrongExpectedVersion { actual: 2, .. }), "{loser}");
    }
    assert_eq!(db.store.read_stream("contested", 1, 100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_retried_append_is_stored_once_and_answers_the_same() {
    let db = test_db("idempotent").await;
    let events = vec![event(1), event(2)];
    let first = db.store.append("s", Expected::NoStream, events.clone()).await.unwrap();
    // The retry carries the same event ids (and an expectation that no longer holds).
    let again = db.store.append("s", Expected::NoStream, events.clone()).await.unwrap();
    assert_eq!(first, again);
    // Concurrent retries of one append: still once.
    let shared = vec![event(9)];
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (store, events) = (db.store.clone(), shared.clone());
            tokio::spawn(async move { store.append("t", Expected::Any, events).await })
        })
        .collect();
    let outcomes: Vec<_> = futures::future::join_all(handles).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "{outcomes:?}");
    assert_eq!(db.store.read_stream("t", 1, 10).await.unwrap().len(), 1);
    // Part of an append already stored under another append is a conflict, not a silent merge.
    let mixed = vec![events[0].clone(), event(3)];
    let err = db.store.append("s", Expected::Any, mixed).await.unwrap_err();
    assert!(matches!(err, AppendError::DuplicateEventId { .. }), "{err}");
}

#[tokio::test]
async fn bad_signatures_foreign_signers_and_oversized_payloads_are_refused_and_nothing_is_written() {
    let db = test_db("refusals").await;
    let before = count_events(&db).await;
    let good = SignedEvent::sign(&db.key, "s", event(1), Utc::now());

    let mut forged = SignedEvent::sign(&db.key, "s", event(2), Utc::now());
    forged.payload = json!({ "n": 999 });
    let err = db.store.append_signed("s", Expected::Any, vec![good.clone(), forged.clone()]).await.unwrap_err();
    assert_eq!(err, AppendError::BadSignature { event_id: forged.event_id });

    let stranger = SigningKey::from_bytes(&[42; 32]);
    let foreign = SignedEvent::sign(&stranger, "s", event(3), Utc::now());
    let err = db.store.append_signed("s", Expected::Any, vec![foreign]).await.unwrap_err();
    assert!(matches!(err, AppendError::UntrustedSigner { .. }), "{err}");

    let huge = NewEvent::new("Huge", &json!({ "blob": "x".repeat(MAX_PAYLOAD_BYTES) }));
    let err = db.store.append("s", Expected::Any, vec![huge]).await.unwrap_err();
    assert!(err.to_string().contains("the limit is"), "{err}");

    let err = db.store.append("s", Expected::Any, vec![]).await.unwrap_err();
    assert_eq!(err, AppendError::BatchSize(0));
    assert_eq!(count_events(&db).await, before, "no refused append wrote anything");

    db.store.append_signed("s", Expected::Any, vec![good]).await.unwrap();
    assert_eq!(count_events(&db).await, before + 1);
}

/// Two writers on one database (two notch processes): each guesses the chain's tail and the stream's version
/// from what it last committed, and the other's commits make those guesses stale. The table's keys refuse every
/// stale guess, the writer decides again under the lock, and the answers and the chain are as if one writer
/// had done everything.
#[tokio::test]
async fn writers_guessing_from_a_stale_view_are_refused_by_the_keys_and_answer_right() {
    let db = test_db("stale_guess").await;
    let other = events::Store::open(db.database.service.clone(), db.key.clone(), Default::default()).await.unwrap();
    let mine = &db.store;
    mine.append("shared", Expected::NoStream, vec![event(1)]).await.unwrap();
    // The other writer extends the stream and the chain: `mine` still believes "shared" is at 1.
    other.append("shared", Expected::Exact(1), vec![event(2)]).await.unwrap();
    let err = mine.append("shared", Expected::Exact(1), vec![event(3)]).await.unwrap_err();
    assert_eq!(
        err,
        AppendError::WrongExpectedVersion { stream_id: "shared".into(), expected: Expected::Exact(1), actual: 2 }
    );
    // Only the chain moved: a new stream guessed onto a stale tail still lands after the other's events.
    other.append("elsewhere", Expected::NoStream, vec![event(4)]).await.unwrap();
    let landed = mine.append("fresh", Expected::NoStream, vec![event(5)]).await.unwrap();
    assert_eq!(landed.first_position, 5, "genesis, 1, 2, 4, then 5");
    // A stream created by the other writer is not new for `mine`.
    let err = mine.append("elsewhere", Expected::NoStream, vec![event(6)]).await.unwrap_err();
    assert!(matches!(err, AppendError::WrongExpectedVersion { actual: 1, .. }), "{err}");
    let appended = mine.append("shared", Expected::Exact(2), vec![event(7)]).await.unwrap();
    assert_eq!((appended.first_position, appended.stream_version), (6, 3));
    let all = mine.read_all(1, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (1..=6).collect::<Vec<_>>());
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "one chain across both writers");
    }
    let report = events::audit::audit(&db.database.admin, db.key.verifying_key(), |_, _| {}).await.unwrap();
    assert_eq!((report.events, report.seals), (6, 6), "every commit of either writer is sealed");
}

/// Two busy writers (two processes) on one database, appending concurrently to streams of their own and to a
/// few shared ones with exact expected versions: each writer's guesses about the chain's tail go stale with every
/// commit of the other, so guesses are refused, commits in flight behind a refused one are refused too, and
/// conflicts are answered from the committed log. Whatever happens, every success names a stored event, the chain is one dense
/// sequence that audits clean, and every stream's versions are dense.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_busy_writers_keep_one_dense_chain_and_every_answer_true() {
    const STREAMS: usize = 6;
    const TASKS_PER_WRITER: usize = 12;
    const APPENDS_PER_TASK: usize = 25;
    let db = test_db("busy_writers").await;
    // This one keeps three commits in flight: refusals cascade through the commits behind the refused one.
    let options = events::StoreOptions { commits_in_flight: 3, ..Default::default() };
    let other = events::Store::open(db.database.service.clone(), db.key.clone(), options).await.unwrap();
    let mut tasks = Vec::new();
    for (w, store) in [db.store.clone(), other].into_iter().enumerate() {
        for t in 0..TASKS_PER_WRITER {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut landed = Vec::new();
                for i in 0..APPENDS_PER_TASK {
                    let stream = format!("shared-{}", (t + i) % STREAMS);
                    let version =
                        store.read_stream(&stream, 1, 10_000).await.unwrap().last().map_or(0, |e| e.stream_version);
                    let new = event((w * 10_000 + t * 100 + i) as i64);
                    let id = new.event_id;
                    match store.append(&stream, Expected::Exact(version), vec![new]).await {
                        Ok(appended) => landed.push((id, appended.first_position, stream, appended.stream_version)),
                        Err(AppendError::WrongExpectedVersion { actual, .. }) => assert!(actual > version),
                        Err(err) => panic!("unexpected answer: {err}"),
                    }
                }
                landed
            }));
        }
    }
    let mut landed = Vec::new();
    for task in tasks {
        landed.extend(task.await.unwrap());
    }
    let all = db.store.read_all(1, 100_000).await.unwrap();
    assert_eq!(all.len(), landed.len() + 1, "the genesis event and exactly the appends that succeeded");
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (1..=all.len() as i64).collect::<Vec<_>>());
    for (id, position, stream, version) in &landed {
        let stored = &all[*position as usize - 1];
        assert_eq!((&stored.event_id, &stored.stream_id, stored.stream_version), (id, stream, *version));
    }
    for s in 0..STREAMS {
        let versions: Vec<i64> =
            all.iter().filter(|e| e.stream_id == format!("shared-{s}")).map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>(), "stream shared-{s}");
    }
    let report = events::audit::audit(&db.database.admin, db.key.verifying_key(), |_, _| {}).await.unwrap();
    assert_eq!(report.events, all.len() as i64);
}
