//! `notch lift run`: find and commit clearing lifts until none is left.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::node::{DbArgs, Node};

#[derive(Subcommand)]
pub enum LiftCommand {
    /// Commit lifts until no cycle with capacity is left (or --max-lifts).
    Run(LiftRunArgs),
}

#[derive(Args)]
pub struct LiftRunArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Longest cycle (default: the site's lift_max_len).
    #[arg(long)]
    max_len: Option<usize>,
    /// Most lifts to commit (default: the site's lift_max_per_run).
    #[arg(long)]
    max_lifts: Option<usize>,
}

pub async fn run(command: LiftCommand) -> anyhow::Result<ExitCode> {
    let LiftCommand::Run(args) = command;
    let node = Node::open(&args.db, 4).await?;
    let result = async {
        adapters::site::legacy::adopt_legacy_lifts(&node.store, chrono::Utc::now()).await?;
        let config = adapters::site::admin::config(&node.store).await?;
        let max_len = args.max_len.unwrap_or(config.lift_max_len as usize);
        let max_lifts = args.max_lifts.unwrap_or(config.lift_max_per_run as usize);
        anyhow::ensure!(
            (2..=domain::site::config::MAX_LIFT_LEN as usize).contains(&max_len),
            "--max-len must be 2..=12"
        );
        let started = std::time::Instant::now();
        let run = adapters::site::lifts::run_lifts(&node.store, max_len, max_lifts, chrono::Utc::now()).await?;
        println!(
            "{}",
            serde_json::json!({
                "lifts": run.lifts,
                "chits": run.chits,
                "cleared_milli": run.cleared_milli,
                "dropped": run.dropped,
                "seconds": started.elapsed().as_secs_f64(),
            })
        );
        Ok(())
    }
    .await;
    node.close().await;
    result.map(|()| ExitCode::SUCCESS)
}
