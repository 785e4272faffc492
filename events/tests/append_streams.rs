//! Atomic appends of several streams against real PostgreSQL: each stream checked against its own expected
//! version, all of them stored in one range of positions or none, retries answered once, racers never merged.

use events::testkit::test_db;
use events::{AppendError, Expected, NewEvent, StreamAppend, MAX_STREAMS_PER_APPEND};
use serde_json::json;

fn event(n: i64) -> NewEvent {
    NewEvent::new("Counted", &json!({ "n": n }))
}

fn part(stream: &str, expected: Expected, events: Vec<NewEvent>) -> StreamAppend {
    StreamAppend { stream_id: stream.to_owned(), expected, events }
}

async fn count_events(db: &events::testkit::TestDb) -> i64 {
    let client = db.store.pool().get().await.unwrap();
    client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn every_stream_lands_at_its_next_version_in_one_range_of_positions() {
    let db = test_db("multi_ordered").await;
    db.store.append("a", Expected::NoStream, vec![event(0)]).await.unwrap();
    let landed = db
        .store
        .append_streams(vec![
            part("a", Expected::Exact(1), vec![event(1)]),
            part("b", Expected::NoStream, vec![event(2), event(3)]),
        ])
        .await
        .unwrap();
    assert_eq!((landed.first_position, landed.last_position, landed.stream_versions.clone()), (3, 5, vec![2, 2]));
    let all = db.store.read_all(3, 10).await.unwrap();
    let placed: Vec<(i64, &str, i64)> =
        all.iter().map(|e| (e.position, e.stream_id.as_str(), e.stream_version)).collect();
    assert_eq!(placed, vec![(3, "a", 2), (4, "b", 1), (5, "b", 2)]);
    let seals = db.store.pool().get().await.unwrap();
    let sealed: i64 = seals.query_one("SELECT max(position) FROM event_seals", &[]).await.unwrap().get(0);
    assert_eq!(sealed, 5, "the batch ends in a seal");
}

#[tokio::test]
async fn one_stale_stream_refuses_the_whole_append_and_writes_nothing() {
    let db = test_db("multi_refused").await;
    db.store.append("a", Expected::NoStream, vec![event(0)]).await.unwrap();
    db.store.append("b", Expected::NoStream, vec![event(0), event(1)]).await.unwrap();
    let before = count_events(&db).await;
    let err = db
        .store
        .append_streams(vec![
            part("a", Expected::Exact(1), vec![event(2)]),
            part("b", Expected::Exact(1), vec![event(3)]),
            part("c", Expected::NoStream, vec![event(4)]),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AppendError::WrongExpectedVersion { stream_id: "b".into(), expected: Expected::Exact(1), actual: 2 }
    );
    assert_eq!(count_events(&db).await, before, "not even the streams whose expectation held");
    assert!(db.store.read_stream("c", 1, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_retried_append_of_several_streams_is_stored_once_and_answers_the_same() {
    let db = test_db("multi_retry").await;
    let parts = vec![part("x", Expected::NoStream, vec![event(1)]), part("y", Expected::NoStream, vec![event(2)])];
    let first = db.store.append_streams(parts.clone()).await.unwrap();
    let again = db.store.append_streams(parts).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(count_events(&db).await, 3, "genesis and the two events, once");
}

#[tokio::test]
async fn racing_appends_over_a_shared_stream_are_never_merged() {
    let db = test_db("multi_race").await;
    db.store.append("shared", Expected::NoStream, vec![event(0)]).await.unwrap();
    let attempts = (0..16).map(|i| {
        let store = db.store.clone();
        tokio::spawn(async move {
            let own = format!("own-{i}");
            store
                .append_streams(vec![
                    part("shared", Expected::Exact(1), vec![event(i)]),
                    part(&own, Expected::NoStream, vec![event(i)]),
                ])
                .await
        })
    });
    let results: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "exactly one wins: {results:?}");
    assert_eq!(db.store.read_stream("shared", 1, 100).await.unwrap().len(), 2);
    let own_streams = db.store.pool().get().await.unwrap();
    let stored: i64 =
        own_streams.query_one("SELECT count(*) FROM events WHERE stream_id LIKE 'own-%'", &[]).await.unwrap().get(0);
    assert_eq!(stored, 1, "the losers' other streams were not written either");
}

#[tokio::test]
async fn malformed_appends_of_several_streams_are_refused_before_the_writer() {
    let db = test_db("multi_bounds").await;
    let store = &db.store;
    assert_eq!(store.append_streams(vec![]).await.unwrap_err(), AppendError::BatchSize(0), "no events at all");
    let too_many: Vec<StreamAppend> =
        (0..=MAX_STREAMS_PER_APPEND).map(|i| part(&format!("s{i}"), Expected::Any, vec![event(0)])).collect();
    assert_eq!(store.append_streams(too_many).await.unwrap_err(), AppendError::StreamCount(MAX_STREAMS_PER_APPEND + 1));
    let twice = vec![part("s", Expected::Any, vec![event(0)]), part("s", Expected::Any, vec![event(1)])];
    assert_eq!(store.append_streams(twice).await.unwrap_err(), AppendError::RepeatedStream { stream_id: "s".into() });
    let empty = vec![part("s", Expected::Any, vec![event(0)]), part("t", Expected::Any, vec![])];
    assert_eq!(store.append_streams(empty).await.unwrap_err(), AppendError::EmptyStream { stream_id: "t".into() });
    let shared_id = event(0);
    let repeated = vec![part("s", Expected::Any, vec![shared_id.clone()]), part("t", Expected::Any, vec![shared_id])];
    assert!(matches!(store.append_streams(repeated).await.unwrap_err(), AppendError::RepeatedEventId { .. }));
    assert_eq!(count_events(&db).await, 1, "only the genesis event");
}

/// A writer that has not seen a stream links an append expecting version v on trust; the commit checks that v is
/// committed. Another store on the same database plays another notch process, so the first store knows none of
/// the streams the second wrote.
#[tokio::test]
async fn an_exact_version_of_a_stream_this_writer_never_saw_is_trusted_only_if_it_holds() {
    let db = test_db("multi_trusted").await;
    let other = events::Store::open(db.database.service.clone(), db.key.clone(), Default::default()).await.unwrap();
    other.append("seen-elsewhere", Expected::NoStream, vec![event(0), event(1), event(2)]).await.unwrap();
    other.append("also-elsewhere", Expected::NoStream, vec![event(0)]).await.unwrap();
    // Give the first store a known tail, so its next commits are speculative.
    db.store.append("warm", Expected::NoStream, vec![event(0)]).await.unwrap();

    let landed = db
        .store
        .append_streams(vec![
            part("seen-elsewhere", Expected::Exact(3), vec![event(3)]),
            part("also-elsewhere", Expected::Exact(1), vec![event(1)]),
        ])
        .await
        .unwrap();
    assert_eq!(landed.stream_versions, vec![4, 2]);
    for (stream, wrong) in [("seen-elsewhere", 2), ("seen-elsewhere", 9), ("also-elsewhere", 5)] {
        let before = count_events(&db).await;
        let err = other.append(stream, Expected::Exact(wrong), vec![event(wrong)]).await.unwrap_err();
        assert!(matches!(err, AppendError::WrongExpectedVersion { .. }), "{stream} at {wrong}: {err}");
        let err = db.store.append(stream, Expected::Exact(wrong), vec![event(wrong)]).await.unwrap_err();
        assert!(matches!(err, AppendError::WrongExpectedVersion { .. }), "{stream} at {wrong}: {err}");
        assert_eq!(count_events(&db).await, before, "a wrong trust writes nothing");
    }
    let versions: Vec<i64> =
        db.store.read_stream("seen-elsewhere", 1, 10).await.unwrap().iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, vec![1, 2, 3, 4], "dense");
    let report = events::audit::audit(&db.database.admin, db.key.verifying_key(), |_, _| {}).await.unwrap();
    assert_eq!(report.events, count_events(&db).await);
}
