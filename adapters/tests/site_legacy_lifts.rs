//! A log written in the old lift layout, where a lift put its record and every one of its chits into the shared
//! `lifts` stream: the upgrade rebases each tally concerned once, after which a tally's own stream is its whole
//! state (the next chit chains from the lift chit), the views agree, the audit still passes, and a second
//! upgrade changes nothing.

use adapters::command::{encode, execute, load};
use adapters::site::legacy::adopt_legacy_lifts;
use adapters::site::seed::{open_tally_events, Party};
use chrono::Utc;
use domain::crypto::PublicKey;
use domain::site::caller::Caller;
use domain::site::chit::{ChitBody, ChitKind};
use domain::site::config::SiteConfig;
use domain::site::legacy::LEGACY_LIFTS_STREAM;
use domain::site::lift::{decide_lift, CommitLift};
use domain::site::site_aggregate::{Site, SiteEvent, SiteIdentity};
use domain::site::tally::{PartyCertificate, Side, Tally, TallyCommand, TallyEvent, TallyState};
use domain::site::user::{Contact, User, UserEvent, UserStatus};
use domain::{Aggregate, Decider};
use ed25519_dalek::SigningKey;
use events::{Expected, Store};
use projections::testkit::test_db;
use uuid::Uuid;

fn key(cid: &str) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..cid.len()].copy_from_slice(cid.as_bytes());
    SigningKey::from_bytes(&seed)
}

fn party<'a>(cid: &str, key: &'a SigningKey) -> Party<'a> {
    let cert = PartyCertificate {
        cid: cid.into(),
        name: cid.into(),
        chip_address: format!("{cid}:agent@legacy.invalid:1"),
        public_key: PublicKey::of(key),
    };
    Party { cert, key }
}

/// The site, three users and a cycle of open tallies: alice → bob → carol → alice, each owing 300 (balance
/// 300: the foil owes the stock). Returns the tallies' ids and states.
async fn network(store: &Store) -> Vec<(Uuid, TallyState)> {
    let at = Utc::now();
    let identity = SiteIdentity {
        name: "legacy".into(),
        host: "legacy.invalid".into(),
        port: 1,
        site_key: PublicKey::of(&key("site")),
    };
    let site = SiteEvent::SiteInitialised { identity, config: SiteConfig::default(), at };
    store.append(&Site::stream_id(&()), Expected::NoStream, vec![encode(&site)]).await.unwrap();
    for cid in ["alice", "bob", "carol"] {
        let events = [
            UserEvent::UserRegistered { cid: cid.into(), name: cid.into(), contact: Contact::new(), at },
            UserEvent::DeviceKeyRegistered { key: PublicKey::of(&key(cid)), ticket: None, at },
        ];
        store.append(&User::stream_id(cid), Expected::NoStream, events.iter().map(encode).collect()).await.unwrap();
    }
    let mut tallies = Vec::new();
    for (stock, foil) in [("alice", "bob"), ("bob", "carol"), ("carol", "alice")] {
        let id = Uuid::now_v7();
        let (stock_key, foil_key) = (key(stock), key(foil));
        let events = open_tally_events(id, party(stock, &stock_key), party(foil, &foil_key), 1000, 300, at).unwrap();
        let decoded: Vec<TallyEvent> =
            events.iter().map(|e| serde_json::from_value(e.payload.clone()).unwrap()).collect();
        store.append(&Tally::stream_id(&id), Expected::NoStream, events).await.unwrap();
        tallies.push((id, Tally::replay(&decoded)));
    }
    tallies
}

/// What the old layout wrote for a lift: its record and its chits, all in the `lifts` stream.
async fn legacy_lift(store: &Store, tallies: &mut [(Uuid, TallyState)]) {
    let hops = tallies.iter().map(|(id, _)| (*id, Side::Stock, Uuid::now_v7())).collect();
    let command = CommitLift { lift_id: Uuid::now_v7(), hops, max_units_milli: Some(200), at: Utc::now() };
    let states: Vec<&TallyState> = tallies.iter().map(|(_, s)| s).collect();
    let (record, chits) = decide_lift(&states, command).unwrap();
    let mut events = vec![encode(&record)];
    events.extend(chits.iter().map(encode));
    store.append(LEGACY_LIFTS_STREAM, Expected::Any, events).await.unwrap();
    for ((_, state), chit) in tallies.iter_mut().zip(&chits) {
        *state = Tally::evolve(std::mem::take(state), chit);
    }
}

fn active(cid: &str) -> Caller {
    Caller { cid: cid.into(), site_locked: false, status: Some(UserStatus::Active) }
}

/// A chit of the foil of `state`, chained from the head `state` knows.
fn foil_chit(state: &TallyState, units_milli: i64) -> TallyCommand {
    let (index, prev_hash) = state.chain_head();
    let chit = ChitBody {
        id: Uuid::now_v7(),
        tally_id: state.id,
        index,
        prev_hash,
        by: Side::Foil,
        kind: ChitKind::Transaction,
        units_milli,
        date: Utc::now(),
        memo: String::new(),
        reference: String::new(),
    };
    let foil = state.body.as_ref().unwrap().foil.cert.cid.clone();
    let signature = chit.sign(&key(&foil)).unwrap();
    TallyCommand::IssueChit { caller: active(&foil), chit: chit.sent().unwrap(), signature, at: Utc::now() }
}

#[tokio::test]
async fn an_old_layout_log_is_rebased_once_and_its_tallies_work_on() {
    let db = test_db("site_legacy").await;
    let store = &db.store;
    let mut tallies = network(store).await;
    legacy_lift(store, &mut tallies).await;
    // In the old layout a party's next chit chained from the lift chit, though it went to the tally's stream.
    let (first_id, first) = tallies[0].clone();
    let events = Tally::decide(&first, foil_chit(&first, 50)).unwrap();
    store.append(&Tally::stream_id(&first_id), Expected::Exact(4), events.iter().map(encode).collect()).await.unwrap();
    tallies[0].1 = events.iter().fold(first, Tally::evolve);

    assert_eq!(adopt_legacy_lifts(store, Utc::now()).await.unwrap(), 3, "every tally of the lift is rebased");
    for (id, expected) in &tallies {
        let loaded = load::<Tally>(store, id).await.unwrap().state;
        assert!(loaded.rebased, "tally {id} is rebased");
        assert_eq!(
            (loaded.balance_milli, loaded.chit_count, &loaded.head_hash),
            (expected.balance_milli, expected.chit_count, &expected.head_hash),
            "tally {id}: its stream alone now gives the merged chain"
        );
    }
    assert_eq!(tallies[0].1.balance_milli, 300 - 200 + 50);
    assert_eq!(adopt_legacy_lifts(store, Utc::now()).await.unwrap(), 0, "a second upgrade changes nothing");

    // The chain goes on from the stream's own state.
    let (id, _) = &tallies[1];
    let state = load::<Tally>(store, id).await.unwrap().state;
    execute::<Tally>(store, id, foil_chit(&state, 10)).await.unwrap();

    projections::catch_up(store, &projections::site::SiteViews).await.unwrap();
    let client = store.pool().get().await.unwrap();
    for (id, _) in &tallies {
        let loaded = load::<Tally>(store, id).await.unwrap();
        let row = client
            .query_one(
                "SELECT balance_milli, chit_count, head_hash, stream_version FROM site.tallies WHERE tally_id = $1",
                &[id],
            )
            .await
            .unwrap();
        let view: (i64, i64, String, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
        let log = (loaded.state.balance_milli, loaded.state.chit_count as i64, loaded.state.head_hash, loaded.version);
        assert_eq!(view, log, "tally {id}: the views agree with the log");
    }
    let report = events::audit::audit(&db.database.admin, db.key.verifying_key(), |_, _| {}).await.unwrap();
    assert!(report.events > 20, "the whole log verifies: {} events", report.events);
}
