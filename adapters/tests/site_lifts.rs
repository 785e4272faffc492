//! `run_lifts` against real PostgreSQL on a seeded random network: many lifts in flight at once, and still every
//! tally's chit chain is whole, the log and the views agree, no net position moved, no cycle is left, and the
//! rebuilt views equal the live ones.

use std::collections::HashMap;

use adapters::command::{encode as to_new_event, load};
use adapters::site::lifts::{load_graph, run_lifts};
use adapters::site::seed::{open_tally_events, Party};
use chrono::Utc;
use domain::crypto::PublicKey;
use domain::site::finder::clear;
use domain::site::tally::{PartyCertificate, Tally};
use domain::site::user::User;
use domain::site::user::{Contact, UserEvent};
use domain::Aggregate;
use ed25519_dalek::SigningKey;
use events::{Expected, NewEvent, Store};
use projections::testkit::test_db;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

const USERS: usize = 30;
const TALLIES: usize = 160;
const LIMIT_MILLI: i64 = 1_000;

fn key(user: usize) -> SigningKey {
    SigningKey::from_bytes(&[user as u8 + 1; 32])
}

fn cid(user: usize) -> String {
    format!("user{user}")
}

/// The events of an open tally whose balance is `balance` (one chit), each decided by the domain.
fn open_tally(id: Uuid, stock: usize, foil: usize, balance: i64) -> Vec<NewEvent> {
    let (stock_key, foil_key) = (key(stock), key(foil));
    let party = |user: usize, key| Party {
        cert: PartyCertificate {
            cid: cid(user),
            name: cid(user),
            chip_address: format!("{}:agent@test.invalid:1", cid(user)),
            public_key: PublicKey::of(key),
        },
        key,
    };
    open_tally_events(id, party(stock, &stock_key), party(foil, &foil_key), LIMIT_MILLI, balance, Utc::now()).unwrap()
}

/// Registers the users and opens the tallies; returns the tally ids.
async fn build(store: &Store) -> Vec<Uuid> {
    let at = Utc::now();
    for u in 0..USERS {
        let events = [
            UserEvent::UserRegistered { cid: cid(u), name: cid(u), contact: Contact::new(), at },
            UserEvent::DeviceKeyRegistered { key: PublicKey::of(&key(u)), ticket: None, at },
        ];
        let events = events.iter().map(to_new_event).collect();
        store.append(&User::stream_id(&cid(u)), Expected::NoStream, events).await.unwrap();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut ids = Vec::new();
    while ids.len() < TALLIES {
        let (stock, foil) = (rng.gen_range(0..USERS), rng.gen_range(0..USERS));
        let balance = rng.gen_range(1..=LIMIT_MILLI) * if rng.gen_bool(0.5) { 1 } else { -1 };
        if stock != foil {
            let id = Uuid::now_v7();
            store
                .append(&Tally::stream_id(&id), Expected::NoStream, open_tally(id, stock, foil, balance))
                .await
                .unwrap();
            ids.push(id);
        }
    }
    ids
}

async fn query(store: &Store, sql: &str) -> Vec<Value> {
    let client = store.pool().get().await.unwrap();
    let row = client.query_one(&format!("SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM ({sql}) t"), &[]).await;
    let all: Value = row.unwrap().get(0);
    all.as_array().unwrap().clone()
}

async fn net_positions(store: &Store) -> Vec<Value> {
    projections::catch_up(store, &projections::site::SiteViews).await.unwrap();
    query(store, "SELECT cid, net_milli FROM report.balances ORDER BY cid").await
}

/// Every site view, in a fixed order.
async fn views(store: &Store) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for (table, order) in [
        ("site.users", "cid"),
        ("site.tallies", "tally_id"),
        ("site.chits", "chit_id"),
        ("site.lifts", "lift_id"),
        ("site.open_tallies", "tally_ix"),
    ] {
        out.push(query(store, &format!("SELECT * FROM {table} ORDER BY {order}")).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lifts_keep_every_chain_whole_and_clear_the_network() {
    let db = test_db("site_lifts").await;
    let store = &db.store;
    let ids = build(store).await;
    let before = net_positions(store).await;
    let graph = load_graph(store).await.unwrap();
    let expected = clear(&mut { graph.graph }, 6, usize::MAX).len();
    assert!(expected > 20, "the seeded network has many cycles to lift ({expected})");

    let run = run_lifts(store, 6, usize::MAX, Utc::now()).await.unwrap();
    assert_eq!(run.lifts, expected, "every lift the finder found was committed");
    assert_eq!(net_positions(store).await, before, "no net position moved");
    let mut after = load_graph(store).await.unwrap();
    assert!(clear(&mut after.graph, 6, 1).is_empty(), "no cycle with capacity is left");
    let lifts = query(store, "SELECT count(*) AS n, sum(hop_count) AS hops FROM site.lifts").await;
    assert_eq!((lifts[0]["n"].as_u64(), lifts[0]["hops"].as_u64()), (Some(run.lifts as u64), Some(run.chits as u64)));

    // The log (each tally's own stream, lift chits included) and the views agree, and every chain is whole.
    let chits =
        query(store, "SELECT tally_id, chit_index, hash, prev_hash FROM site.chits ORDER BY tally_id, chit_index")
            .await;
    let mut chains: HashMap<String, Vec<&Value>> = HashMap::new();
    for chit in &chits {
        chains.entry(chit["tally_id"].as_str().unwrap().to_owned()).or_default().push(chit);
    }
    let tallies = query(store, "SELECT tally_id, balance_milli, chit_count, head_hash FROM site.tallies").await;
    let tallies: HashMap<String, &Value> =
        tallies.iter().map(|t| (t["tally_id"].as_str().unwrap().to_owned(), t)).collect();
    for id in &ids {
        let state = load::<Tally>(store, id).await.unwrap().state;
        let view = tallies[&id.to_string()];
        assert_eq!(
            (view["balance_milli"].as_i64(), view["chit_count"].as_u64(), view["head_hash"].as_str()),
            (Some(state.balance_milli), Some(state.chit_count), Some(state.head_hash.as_str())),
            "tally {id}: views and log agree"
        );
        let chain = &chains[&id.to_string()];
        assert_eq!(chain.len() as u64, state.chit_count);
        for (i, pair) in chain.windows(2).enumerate() {
            assert_eq!(pair[0]["chit_index"].as_u64(), Some(i as u64));
            assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "tally {id}: chit {} follows chit {i}", i + 1);
        }
    }

    let live = views(store).await;
    projections::rebuild(store, &projections::site::SiteViews).await.unwrap();
    assert_eq!(views(store).await, live, "the rebuilt views equal the live ones");
}
