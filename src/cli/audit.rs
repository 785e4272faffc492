//! `notch audit`: verify the whole log against the pinned node key.

use std::process::ExitCode;

use clap::Args;
use events::audit::{audit, AuditError};
use events::database::Database;
use events::node::{parse_public_key, NodeIdentity};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::node::DbArgs;

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The node public key (hex) the log must be signed with; default: the one pinned in --data-dir.
    #[arg(long)]
    pinned_key: Option<String>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let pinned = match &args.pinned_key {
        Some(hex) => parse_public_key(hex)?,
        None => NodeIdentity::pinned_key(&args.db.data_dir)?,
    };
    let database = Database::open(&args.db.target(), &projections::schema()).await?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} audit [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    let result = audit(&database.admin, pinned, |checked, total| {
        bar.set_length(total as u64);
        bar.set_position(checked as u64);
    })
    .await;
    bar.finish_and_clear();
    database.close().await;
    match result {
        Ok(report) => {
            let head = report.head.map(|(p, h)| (p, h.to_hex()));
            if args.json {
                println!(
                    "{}",
                    json!({
                        "ok": true,
                        "events": report.events,
                        "streams": report.streams,
                        "seals": report.seals,
                        "head_position": head.as_ref().map(|h| h.0),
                        "head_hash": head.as_ref().map(|h| &h.1),
                        "seconds": report.elapsed.as_secs_f64(),
                        "events_per_s": report.events_per_s(),
                    })
                );
            } else {
                println!(
                    "audit passed: {} events in {} streams under {} seals, head {} ({}), signed by {}; {:.2} s, {:.0} events/s",
                    report.events,
                    report.streams,
                    report.seals,
                    head.as_ref().map(|h| h.0).unwrap_or(0),
                    head.as_ref().map(|h| h.1.as_str()).unwrap_or("-"),
                    hex::encode(pinned.as_bytes()),
                    report.elapsed.as_secs_f64(),
                    report.events_per_s()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(AuditError::Failed(failure)) => {
            if args.json {
                println!("{}", json!({ "ok": false, "position": failure.position, "problem": failure.problem }));
            }
            eprintln!("audit FAILED at position {}: {}", failure.position, failure.problem);
            Ok(ExitCode::from(1))
        }
        Err(AuditError::Store(err)) => Err(err.into()),
    }
}
