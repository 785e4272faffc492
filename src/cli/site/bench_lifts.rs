//! `notch bench lifts`: a seeded random network of open tallies built through the real append path, then
//! all simple cycles of at most --max-len hops with positive capacity through five users, found twice: by
//! notch's finder and by a recursive-CTE query in PostgreSQL (the MyCHIPs approach). Both must find the same
//! cycles. Finally the whole network is cleared with `lift run`'s code, checking that no net position moved.
//! Runs in a scratch database that is dropped afterwards.

use crate::cli::scratch::with_scratch;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use adapters::command::encode as to_new_event;
use adapters::site::lifts::{load_graph, run_lifts, tally_ids, user_indexes, LiftRun};
use adapters::site::seed::{open_tally_events, Party};
use anyhow::Context;
use chrono::Utc;
use clap::Args;
use domain::crypto::PublicKey;
use domain::site::config::SiteConfig;
use domain::site::finder::{clear, EdgeIx, Finder, GraphTally, LiftGraph};
use domain::site::site_aggregate::{Site, SiteEvent, SiteIdentity};
use domain::site::tally::{PartyCertificate, Side, Tally};
use domain::site::user::{Contact, User, UserEvent};
use domain::Aggregate;
use ed25519_dalek::SigningKey;
use events::database::Database;
use events::{Expected, NewEvent, Store, StoreOptions};
use futures::{StreamExt, TryStreamExt};
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

use crate::cli::node::DbArgs;

/// Appends in flight while building the network: enough to fill each of the store's group commits.
const CONCURRENT_APPENDS: usize = 256;
/// Cycles one finder may report per user before the run is refused as too large to compare.
const MAX_CYCLES_PER_USER: usize = 1_000_000;
/// Users the finders start from.
const START_USERS: usize = 5;
/// Credit each side grants, and the range of the random opening balances.
const CREDIT_LIMIT_MILLI: i64 = 1_000_000;

#[derive(Args)]
pub struct BenchLiftsArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 50_000)]
    tallies: usize,
    #[arg(long, default_value_t = 8)]
    max_len: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Skip PostgreSQL: the same seeded network straight into the finder's graph, timing the finder and the
    /// clearing loop alone (for networks too large to build through the append path in a short run).
    #[arg(long)]
    memory_only: bool,
}

pub async fn run(args: BenchLiftsArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.users >= 2 && args.tallies >= 1, "need at least two users and one tally");
    anyhow::ensure!(
        (2..=domain::site::config::MAX_LIFT_LEN as usize).contains(&args.max_len),
        "--max-len must be 2..=12"
    );
    if args.memory_only {
        let figures = in_memory(&args)?;
        println!("{}", if args.json { figures.to_string() } else { serde_json::to_string_pretty(&figures)? });
        return Ok(ExitCode::SUCCESS);
    }
    let figures = with_scratch(&args.db, "lifts", async |database| measure(&args, database).await).await?;
    if args.json {
        println!("{figures}");
    } else {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn user_key(seed: u64, user: usize) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(user as u64).to_le_bytes());
    bytes[16] = 0x5e;
    SigningKey::from_bytes(&bytes)
}

fn cid(user: usize) -> String {
    format!("u{user:06}")
}

async fn measure(args: &BenchLiftsArgs, database: &Database) -> anyhow::Result<serde_json::Value> {
    let whole_run = Instant::now();
    let options = StoreOptions { pool_size: 16, set_role: database.service_set_role.clone(), ..Default::default() };
    let store = Store::open(database.service.clone(), SigningKey::generate(&mut rand::rngs::OsRng), options).await?;

    let started = Instant::now();
    build_network(&store, args).await?;
    let build_s = started.elapsed().as_secs_f64();
    tracing::info!(build_s, "network built through the append path");
    let started = Instant::now();
    projections::catch_up(&store, &projections::site::SiteViews).await?;
    let project_s = started.elapsed().as_secs_f64();
    tracing::info!(project_s, "site views caught up");

    let start_cids: Vec<String> = start_users(args.seed, args.users).into_iter().map(cid).collect();
    let notch = find_with_notch(&store, args, &start_cids).await?;
    let started = Instant::now();
    let cte_cycles = find_with_recursive_query(&store, args, &start_cids).await?;
    let cte_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(cte_ms, "recursive CTE done");
    for ((notch, cte), start_cid) in notch.cycles.iter().zip(&cte_cycles).zip(&start_cids) {
        anyhow::ensure!(
            notch == cte,
            "the finders disagree for {start_cid}: notch {} cycles, CTE {} cycles",
            notch.len(),
            cte.len()
        );
    }
    let cycles: usize = notch.cycles.iter().map(BTreeSet::len).sum();
    let (run, clear_s, views_s) = clear_network(&store, args).await?;
    let (notch_ms, graph_load_ms) = (notch.notch_ms, notch.graph_load_ms);

    Ok(json!({
        "users": args.users,
        "tallies": args.tallies,
        "max_len": args.max_len,
        "start_users": start_cids.len(),
        "cycles": cycles,
        "notch_ms": round3(notch_ms),
        "cte_ms": round3(cte_ms),
        "speedup": round3(cte_ms / notch_ms.max(1e-3)),
        "graph_load_ms": round3(graph_load_ms),
        "build_s": round3(build_s),
        "project_s": round3(project_s),
        "clear_s": round3(clear_s),
        "views_s": round3(views_s),
        "lifts": run.lifts,
        "lift_chits": run.chits,
        "lifts_dropped": run.dropped,
        "cleared_milli": run.cleared_milli,
        "total_s": round3(whole_run.elapsed().as_secs_f64()),
    }))
}

/// Cycles through each start user, named `tally:payer_side`, as notch finds them.
struct NotchFound {
    cycles: Vec<BTreeSet<Vec<String>>>,
    /// Everything notch needs to answer from the database, from the start CIDs to the named cycles.
    notch_ms: f64,
    graph_load_ms: f64,
}

async fn find_with_notch(store: &Store, args: &BenchLiftsArgs, start_cids: &[String]) -> anyhow::Result<NotchFound> {
    let started = Instant::now();
    let starts = user_indexes(store, start_cids).await?;
    let ledger = load_graph(store).await?;
    let graph_load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut finder = Finder::new(ledger.graph.users());
    let mut found = Vec::new();
    for (start, start_cid) in starts.iter().zip(start_cids) {
        let start = start.with_context(|| format!("{start_cid} is not a user of the site"))?;
        let cycles = finder.cycles_through(&ledger.graph, start, args.max_len, MAX_CYCLES_PER_USER);
        anyhow::ensure!(cycles.len() < MAX_CYCLES_PER_USER, "too many cycles to compare; lower --max-len");
        found.push(cycles);
    }
    let mut used: Vec<i32> =
        found.iter().flatten().flatten().map(|&e| ledger.tally_ix[LiftGraph::tally_of(e)]).collect();
    used.sort_unstable();
    used.dedup();
    let ids = tally_ids(store, &used).await?;
    let name = |e: EdgeIx| hop_name(ids[&ledger.tally_ix[LiftGraph::tally_of(e)]], LiftGraph::payer_side(e));
    let cycles = found
        .iter()
        .map(|cycles| cycles.iter().map(|edges| edges.iter().map(|&e| name(e)).collect()).collect())
        .collect();
    let notch_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(notch_ms, graph_load_ms, "notch's finder done");
    Ok(NotchFound { cycles, notch_ms, graph_load_ms })
}

async fn find_with_recursive_query(
    store: &Store,
    args: &BenchLiftsArgs,
    start_cids: &[String],
) -> anyhow::Result<Vec<BTreeSet<Vec<String>>>> {
    let views = projections::Views::of(store);
    let mut cte_cycles = Vec::new();
    for start_cid in start_cids {
        let cycles = views.cycles_by_recursive_query(start_cid, args.max_len).await?;
        cte_cycles.push(cycles.into_iter().collect::<BTreeSet<_>>());
    }
    Ok(cte_cycles)
}

/// Runs lifts until no cycle has capacity, then checks that no user's net position moved. Returns the run, the
/// seconds to clear and the seconds for the views to catch up.
async fn clear_network(store: &Store, args: &BenchLiftsArgs) -> anyhow::Result<(LiftRun, f64, f64)> {
    let before = net_positions(store).await?;
    let started = Instant::now();
    let run = run_lifts(store, args.max_len, usize::MAX, Utc::now()).await?;
    let clear_s = started.elapsed().as_secs_f64();
    tracing::info!(clear_s, lifts = run.lifts, "network cleared: every lift committed to the log");
    let started = Instant::now();
    projections::catch_up(store, &projections::site::SiteViews).await?;
    let views_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(net_positions(store).await? == before, "a lift changed a user's net position");
    let mut after = load_graph(store).await?;
    anyhow::ensure!(
        clear(&mut after.graph, args.max_len, 1).is_empty(),
        "a cycle with capacity is left after clearing"
    );
    Ok((run, clear_s, views_s))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn hop_name(tally: Uuid, payer: Side) -> String {
    format!("{tally}:{}", payer.as_str())
}

/// Every user's net position, from the views once they have caught up with the log.
async fn net_positions(store: &Store) -> anyhow::Result<Vec<(String, i64)>> {
    projections::catch_up(store, &projections::site::SiteViews).await?;
    Ok(projections::Views::of(store).net_positions().await?)
}

/// Users, then open tallies, each append in its own task (signing spreads over the cores), many in flight so
/// that the store commits them in shared transactions.
async fn build_network(store: &Store, args: &BenchLiftsArgs) -> anyhow::Result<()> {
    let at = Utc::now();
    let site_key = SigningKey::generate(&mut rand::rngs::OsRng);
    let identity = SiteIdentity {
        name: "bench".into(),
        host: "bench.invalid".into(),
        port: 1,
        site_key: PublicKey::of(&site_key),
    };
    let site = SiteEvent::SiteInitialised { identity: identity.clone(), config: SiteConfig::default(), at };
    store.append(&Site::stream_id(&()), Expected::NoStream, vec![to_new_event(&site)]).await?;

    let seed = args.seed;
    futures::stream::iter(0..args.users)
        .map(|u| {
            let store = store.clone();
            tokio::spawn(async move {
                let events = [
                    UserEvent::UserRegistered { cid: cid(u), name: format!("User {u}"), contact: Contact::new(), at },
                    UserEvent::DeviceKeyRegistered { key: PublicKey::of(&user_key(seed, u)), ticket: None, at },
                ];
                let events: Vec<NewEvent> = events.iter().map(to_new_event).collect();
                store.append(&User::stream_id(&cid(u)), Expected::NoStream, events).await?;
                anyhow::Ok(())
            })
        })
        .buffer_unordered(CONCURRENT_APPENDS)
        .map(|joined| joined.context("an append task failed").and_then(|done| done))
        .try_collect::<()>()
        .await
        .context("registering users")?;

    futures::stream::iter(plan(args))
        .map(|(n, stock, foil, balance)| {
            let (store, identity) = (store.clone(), identity.clone());
            tokio::spawn(async move {
                let id = Uuid::from_u128((seed as u128) << 64 | n);
                let events = tally_events(seed, &identity, id, stock, foil, balance)?;
                store.append(&Tally::stream_id(&id), Expected::NoStream, events).await?;
                anyhow::Ok(())
            })
        })
        .buffer_unordered(CONCURRENT_APPENDS)
        .map(|joined| joined.context("an append task failed").and_then(|done| done))
        .try_collect::<()>()
        .await
        .context("opening tallies")?;
    Ok(())
}

/// Five distinct users (fewer if there are not five), chosen by the seed.
fn start_users(seed: u64, users: usize) -> Vec<usize> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xc1c1e5);
    let mut starts = Vec::new();
    while starts.len() < START_USERS.min(users) {
        let pick = rng.gen_range(0..users);
        if !starts.contains(&pick) {
            starts.push(pick);
        }
    }
    starts
}

/// The seeded network: (tally number, stock user, foil user, balance).
fn plan(args: &BenchLiftsArgs) -> Vec<(u128, usize, usize, i64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut plans = Vec::with_capacity(args.tallies);
    while plans.len() < args.tallies {
        let (stock, foil) = (rng.gen_range(0..args.users), rng.gen_range(0..args.users));
        if stock != foil {
            let balance = rng.gen_range(-CREDIT_LIMIT_MILLI..=CREDIT_LIMIT_MILLI);
            plans.push((plans.len() as u128, stock, foil, balance));
        }
    }
    plans
}

fn in_memory(args: &BenchLiftsArgs) -> anyhow::Result<serde_json::Value> {
    let tallies = plan(args)
        .into_iter()
        .map(|(_, stock, foil, balance)| GraphTally {
            stock: stock as u32,
            foil: foil as u32,
            stock_pays_milli: balance,
            foil_pays_milli: -balance,
        })
        .collect();
    let mut graph = LiftGraph::new(args.users, tallies);
    let starts = start_users(args.seed, args.users);
    let mut finder = Finder::new(args.users);
    let started = Instant::now();
    let mut cycles = 0;
    for start in starts {
        cycles += finder.cycles_through(&graph, start as u32, args.max_len, MAX_CYCLES_PER_USER).len();
    }
    let notch_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let lifts = clear(&mut graph, args.max_len, usize::MAX);
    let clear_s = started.elapsed().as_secs_f64();
    Ok(json!({
        "users": args.users,
        "tallies": args.tallies,
        "max_len": args.max_len,
        "memory_only": true,
        "cycles": cycles,
        "notch_ms": round3(notch_ms),
        "clear_s": round3(clear_s),
        "lifts": lifts.len(),
    }))
}

/// The events of an open tally with one chit bringing it to `balance`, each decided by the domain.
fn tally_events(
    seed: u64,
    site: &SiteIdentity,
    id: Uuid,
    stock: usize,
    foil: usize,
    balance: i64,
) -> anyhow::Result<Vec<NewEvent>> {
    let (stock_key, foil_key) = (user_key(seed, stock), user_key(seed, foil));
    let party = |user: usize, key| Party {
        cert: PartyCertificate {
            cid: cid(user),
            name: format!("User {user}"),
            chip_address: site.chip_address(&cid(user)),
            public_key: PublicKey::of(key),
        },
        key,
    };
    let (stock, foil) = (party(stock, &stock_key), party(foil, &foil_key));
    Ok(open_tally_events(id, stock, foil, CREDIT_LIMIT_MILLI, balance, Utc::now())?)
}
