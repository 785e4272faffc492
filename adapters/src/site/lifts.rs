//! `lift run`: read the graph of open tallies, run the domain's clearing loop on a blocking thread, and commit
//! each lift it finds while it searches on (`lift_commit.rs`: decided by `decide_lift`, one atomic append per
//! lift with each tally's exact version, independent lifts in flight together). Nothing is locked: parties may
//! issue chits meanwhile, and a lift that a chit overtakes is refused by the log and dropped.

use chrono::{DateTime, Utc};
use domain::site::finder::{clear_each, FoundLift};
use events::Store;
use tokio::sync::mpsc;

pub use super::lift_commit::LiftRun;
use super::lift_commit::{Committer, MAX_UNFINISHED};
pub use super::lift_graph::{load_graph, tally_ids, user_indexes, LedgerGraph};
use super::AppResult;

/// Lifts taken from the finder at once (their tallies' states are read from the views in one query).
const CHUNK: usize = 256;

/// Finds and commits clearing lifts until none is left (or `max_lifts`). Returns only once no append is in
/// flight any more, error or not.
pub async fn run_lifts(store: &Store, max_len: usize, max_lifts: usize, now: DateTime<Utc>) -> AppResult<LiftRun> {
    let LedgerGraph { mut graph, tally_ix } = load_graph(store).await?;
    let (found_tx, mut found) = mpsc::channel::<FoundLift>(MAX_UNFINISHED);
    let finder = tokio::task::spawn_blocking(move || {
        clear_each(&mut graph, max_len, max_lifts, |lift| found_tx.blocking_send(lift).is_ok())
    });
    let mut committer = Committer::new(store.clone(), tally_ix, now);
    let mut finder_done = false;
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        let take = !finder_done && committer.wants_more();
        if !take && !committer.has_in_flight() {
            break;
        }
        tokio::select! {
            taken = found.recv_many(&mut chunk, CHUNK), if take => {
                if taken == 0 {
                    finder_done = true;
                } else {
                    committer.add(std::mem::take(&mut chunk)).await;
                }
            }
            () = committer.settle_next(), if committer.has_in_flight() => {}
        }
    }
    drop(found); // a finder still searching (after an error) stops at its next lift
    let finder = finder.await;
    let run = committer.finish()?;
    if let Err(err) = finder {
        panic!("the lift finder failed: {err}");
    }
    Ok(run)
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
