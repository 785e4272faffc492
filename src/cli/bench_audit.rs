//! `notch bench audit`: builds a log of N events through the real append path (in appends of 1,000 events from
//! several clients), then audits it exactly as `notch audit` does, and reports the audit's events/s.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use ed25519_dalek::SigningKey;
use events::audit::audit;
use events::store::MAX_EVENTS_PER_APPEND;
use events::{Expected, NewEvent, Store, StoreOptions};
use indicatif::ProgressBar;
use serde_json::json;

use super::node::DbArgs;
use super::scratch::with_scratch;

/// Clients building the log.
const BUILDERS: usize = 4;

#[derive(Args)]
pub struct BenchAuditArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Events in the audited log.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: BenchAuditArgs) -> anyhow::Result<ExitCode> {
    let (build_s, report) = with_scratch(&args.db, "audit", async |database| {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pinned = key.verifying_key();
        let options = StoreOptions { pool_size: 8, set_role: database.service_set_role.clone(), ..Default::default() };
        let store = Store::open(database.service.clone(), key, options).await?;
        let started = Instant::now();
        build(&store, args.events).await?;
        let build_s = started.elapsed().as_secs_f64();
        drop(store);
        let bar = ProgressBar::new(args.events as u64);
        let report = audit(&database.admin, pinned, |checked, _| bar.set_position(checked as u64)).await?;
        bar.finish_and_clear();
        anyhow::Ok((build_s, report))
    })
    .await?;
    if args.json {
        println!(
            "{}",
            json!({
                "events": report.events,
                "build_s": (build_s * 100.0).round() / 100.0,
                "audit_s": (report.elapsed.as_secs_f64() * 100.0).round() / 100.0,
                "events_per_s": report.events_per_s().round(),
            })
        );
    } else {
        println!("audit of a {}-event log (built in {build_s:.1} s)", report.events);
        println!("  audit  {:.2} s   {:.0} events/s", report.elapsed.as_secs_f64(), report.events_per_s());
    }
    Ok(ExitCode::SUCCESS)
}

async fn build(store: &Store, events: usize) -> anyhow::Result<()> {
    let bar = ProgressBar::new(events as u64);
    let appends = events.div_ceil(MAX_EVENTS_PER_APPEND);
    let tasks: Vec<_> = (0..BUILDERS)
        .map(|builder| {
            let (store, bar) = (store.clone(), bar.clone());
            tokio::spawn(async move {
                for append in (builder..appends).step_by(BUILDERS) {
                    let first = append * MAX_EVENTS_PER_APPEND;
                    let batch: Vec<NewEvent> = (first..(first + MAX_EVENTS_PER_APPEND).min(events))
                        .map(|n| NewEvent::new("AuditBenchEventAppended", &json!({ "n": n, "units_milli": n % 997 })))
                        .collect();
                    let count = batch.len() as u64;
                    store.append(&format!("audit-{}", append % 100), Expected::Any, batch).await?;
                    bar.inc(count);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    bar.finish_and_clear();
    Ok(())
}
