//! `lift run`: under the exclusive ledger lock, read the open tallies, find lifts with the domain's clearing
//! loop, check each with `decide_lift`, and commit them to the `lifts` stream (a lift's event and its chits
//! always in the same append).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::site::finder::{clear, GraphTally, LiftGraph};
use domain::site::lift::{decide_lift, CommitLift, LiftEvent};
use domain::site::tally::{Tally, TallyBody, TallyState, TallyStatus};
use domain::site::SiteError;
use domain::Decider;
use events::store::MAX_EVENTS_PER_APPEND;
use events::{NewEvent, Store};
use uuid::Uuid;

use super::locks::lock_ledger;
use super::log::{expected, to_new_event, AppError, AppResult};
use super::streams;

/// The open tallies as a finder graph: users by index, tally ids in graph order.
pub struct LedgerGraph {
    pub graph: LiftGraph,
    pub users: Vec<String>,
    pub tally_ids: Vec<Uuid>,
}

/// Reads the open tallies from the site views after bringing them up to the log's head. Only the columns
/// the finder needs: tally bodies are read later, for the tallies a lift uses.
pub async fn load_graph(store: &Store) -> AppResult<LedgerGraph> {
    projections::catch_up(store, &projections::site::SiteViews)
        .await
        .map_err(|err| AppError::Database(format!("{err:#}")))?;
    let client = store.pool().get().await?;
    let rows = client
        .query(
            "SELECT tally_id, stock_cid, foil_cid, balance_milli - lift_lower_milli, lift_upper_milli - balance_milli \
             FROM site.tallies WHERE status = 'open' ORDER BY tally_id",
            &[],
        )
        .await?;
    let mut users = Vec::new();
    let mut user_index = HashMap::new();
    let mut index_of = |cid: String| -> u32 {
        *user_index.entry(cid).or_insert_with_key(|cid| {
            users.push(cid.clone());
            (users.len() - 1) as u32
        })
    };
    let mut tally_ids = Vec::with_capacity(rows.len());
    let mut graph_tallies = Vec::with_capacity(rows.len());
    for row in rows {
        tally_ids.push(row.get(0));
        graph_tallies.push(GraphTally {
            stock: index_of(row.get(1)),
            foil: index_of(row.get(2)),
            stock_pays_milli: row.get(3),
            foil_pays_milli: row.get(4),
        });
    }
    let graph = LiftGraph::new(users.len(), graph_tallies);
    Ok(LedgerGraph { graph, users, tally_ids })
}

/// Full states (body, balance, chain head) of the open tallies `ids`, from the site views.
async fn open_tally_states(store: &Store, ids: Vec<Uuid>) -> AppResult<HashMap<Uuid, TallyState>> {
    let client = store.pool().get().await?;
    let rows = client
        .query(
            "SELECT tally_id, body, balance_milli, chit_count, head_hash FROM site.tallies \
             WHERE status = 'open' AND tally_id = ANY($1)",
            &[&ids],
        )
        .await?;
    let mut states = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.get(0);
        let body: TallyBody = serde_json::from_value(row.get(1))
            .map_err(|err| AppError::Database(format!("tally {id}: bad body in site.tallies: {err}")))?;
        states.insert(
            id,
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

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiftRun {
    pub lifts: usize,
    pub chits: usize,
    /// Sum over lifts of amount x hops: how much debt the run cancelled.
    pub cleared_milli: i64,
}

/// Finds and commits clearing lifts until none is left (or `max_lifts`).
pub async fn run_lifts(store: &Store, max_len: usize, max_lifts: usize, now: DateTime<Utc>) -> AppResult<LiftRun> {
    let guard = lock_ledger(store).await?;
    let result = run_locked(store, max_len, max_lifts, now).await;
    guard.release().await?;
    result
}

async fn run_locked(store: &Store, max_len: usize, max_lifts: usize, now: DateTime<Utc>) -> AppResult<LiftRun> {
    let LedgerGraph { mut graph, tally_ids, .. } = load_graph(store).await?;
    let found = clear(&mut graph, max_len, max_lifts);
    let mut used: Vec<Uuid> =
        found.iter().flat_map(|l| l.edges.iter().map(|&e| tally_ids[LiftGraph::tally_of(e)])).collect();
    used.sort_unstable();
    used.dedup();
    let mut tallies = open_tally_states(store, used).await?;
    let mut lifts_version = lifts_stream_version(store).await?;
    let mut run = LiftRun::default();
    let mut batch: Vec<NewEvent> = Vec::new();
    for lift in found {
        let ids: Vec<Uuid> = lift.edges.iter().map(|&e| tally_ids[LiftGraph::tally_of(e)]).collect();
        let hops =
            ids.iter().zip(&lift.edges).map(|(&id, &e)| (id, LiftGraph::payer_side(e), Uuid::now_v7())).collect();
        let states =
            ids.iter().map(|id| tallies.get(id).ok_or(SiteError::TallyMissing)).collect::<Result<Vec<_>, _>>()?;
        let command = CommitLift { lift_id: Uuid::now_v7(), hops, max_units_milli: Some(lift.units_milli), at: now };
        let (event, chits) = decide_lift(&states, command)?;
        let LiftEvent::LiftCommitted { units_milli, .. } = &event;
        run.lifts += 1;
        run.chits += chits.len();
        run.cleared_milli += units_milli * chits.len() as i64;
        if batch.len() + 1 + chits.len() > MAX_EVENTS_PER_APPEND {
            lifts_version = append_lifts(store, lifts_version, std::mem::take(&mut batch)).await?;
        }
        batch.push(to_new_event(&event));
        for (id, chit) in ids.iter().zip(&chits) {
            let state = tallies.remove(id).expect("checked above");
            tallies.insert(*id, Tally::evolve(state, chit));
            batch.push(to_new_event(chit));
        }
    }
    if !batch.is_empty() {
        append_lifts(store, lifts_version, batch).await?;
    }
    Ok(run)
}

async fn lifts_stream_version(store: &Store) -> AppResult<i64> {
    let client = store.pool().get().await?;
    let row = client
        .query_one("SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", &[&streams::LIFTS])
        .await?;
    Ok(row.get(0))
}

/// Appends whole lifts (never split across appends); returns the new stream version.
async fn append_lifts(store: &Store, version: i64, batch: Vec<NewEvent>) -> AppResult<i64> {
    let appended = store.append(streams::LIFTS, expected(version), batch).await.map_err(AppError::Append)?;
    Ok(appended.stream_version)
}

/// How often the periodic run looks at the configuration when lifts are switched off (lift_period_s = 0) or
/// the site is not initialised yet.
const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// The lift run inside `serve`: every `lift_period_s` seconds (re-read each round, so `config set` takes
/// effect without a restart) until `shutdown` turns true. Failures are logged; the next round tries again.
pub async fn run_periodically(store: Store, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let pause = match super::admin::config(&store).await {
            Ok(config) if config.lift_period_s > 0 => {
                let max_lifts = usize::try_from(config.lift_max_per_run).unwrap_or(usize::MAX);
                match run_lifts(&store, config.lift_max_len as usize, max_lifts, Utc::now()).await {
                    Ok(run) if run.lifts > 0 => {
                        tracing::info!(lifts = run.lifts, cleared_milli = run.cleared_milli, "lift run")
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!("lift run failed: {err}"),
                }
                std::time::Duration::from_secs(config.lift_period_s)
            }
            _ => IDLE_CHECK,
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
}
