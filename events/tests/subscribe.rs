//! Many writers, live subscribers: every subscriber sees every event exactly once, in position order, even when
//! every database connection is killed in the middle; afterwards the audit passes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use events::audit::audit;
use events::database::connect;
use events::testkit::test_db;
use events::{AppendError, Expected, NewEvent, Store};
use serde_json::json;
use uuid::Uuid;

const WRITERS: usize = 8;
const EVENTS_PER_WRITER: usize = 1000;
const SUBSCRIBERS: usize = 2;

/// Appends with bounded retries on `Unavailable`, keeping the event id so a retry is never a duplicate.
async fn append_with_retry(store: &Store, stream: &str, event: NewEvent) -> Uuid {
    let id = event.event_id;
    for _ in 0..50 {
        match store.append(stream, Expected::Any, vec![event.clone()]).await {
            Ok(_) => return id,
            Err(AppendError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(err) => panic!("append to {stream}: {err}"),
        }
    }
    panic!("append to {stream} kept failing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_live_subscribers_agree_exactly_once_in_order() {
    let db = test_db("subscribe").await;
    let total = WRITERS * EVENTS_PER_WRITER;
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|_| {
            let mut subscription = db.store.subscribe(2); // after the genesis event
            tokio::spawn(async move {
                let mut seen = Vec::with_capacity(total);
                while seen.len() < total {
                    let event = tokio::time::timeout(Duration::from_secs(60), subscription.next())
                        .await
                        .expect("the subscriber is not starved")
                        .expect("the subscription survives");
                    seen.push((event.position, event.event_id));
                }
                seen
            })
        })
        .collect();

    // The kill comes once a quarter of the events are written; no writer goes past three quarters before it, so
    // it always lands in the middle of the run, however fast or slow the machine.
    let appended = Arc::new(AtomicUsize::new(0));
    let (killed_tx, killed_rx) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, appended, mut killed) = (db.store.clone(), appended.clone(), killed_rx.clone());
            tokio::spawn(async move {
                let mut ids = Vec::with_capacity(EVENTS_PER_WRITER);
                for n in 0..EVENTS_PER_WRITER {
                    if n == EVENTS_PER_WRITER * 3 / 4 {
                        killed.wait_for(|k| *k).await.unwrap();
                    }
                    let event = NewEvent::new("Written", &json!({ "writer": w, "n": n }));
                    ids.push(append_with_retry(&store, &format!("writer-{w}"), event).await);
                    appended.fetch_add(1, Ordering::Relaxed);
                }
                ids
            })
        })
        .collect();

    // Midway, kill every connection of the service role: writers, readers and the listener alike.
    let deadline = Instant::now() + Duration::from_secs(60);
    while appended.load(Ordering::Relaxed) < total / 4 {
        let seen = appended.load(Ordering::Relaxed);
        assert!(Instant::now() < deadline, "only {seen} of {total} events appended in 60 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let admin = connect(&db.database.admin).await.unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND usename = 'notch_app'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed > 0, "connections were killed mid-run");
    killed_tx.send(true).unwrap();

    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    assert_eq!(written.len(), total);

    for subscriber in subscribers {
        let seen = subscriber.await.unwrap();
        let positions: Vec<i64> = seen.iter().map(|(p, _)| *p).collect();
        let expected: Vec<i64> = (2..2 + total as i64).collect();
        assert_eq!(positions, expected, "every position once, in order");
        let ids: HashSet<Uuid> = seen.iter().map(|(_, id)| *id).collect();
        assert_eq!(ids, written, "exactly the written events");
    }

    let report = audit(&db.database.admin, db.key.verifying_key(), |_, _| {}).await.unwrap();
    assert_eq!(report.events, 1 + total as i64);
    assert_eq!(report.streams, 1 + WRITERS);
}

#[tokio::test]
async fn an_idle_subscriber_wakes_on_a_commit_from_another_store() {
    let db = test_db("wake").await;
    // A second store on the same database plays another notch process.
    let other = Store::open(db.database.service.clone(), db.key.clone(), Default::default()).await.unwrap();
    let mut subscription = db.store.subscribe(2);
    let waiter = tokio::spawn(async move { subscription.next().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "nothing to read yet");
    other.append("elsewhere", Expected::NoStream, vec![NewEvent::new("Hello", &json!({}))]).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("woken by NOTIFY").unwrap();
    assert_eq!((event.position, event.stream_id.as_str()), (2, "elsewhere"));
}
