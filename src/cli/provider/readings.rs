//! `notch provider readings`: what `notch provider serve` stored, from `report.provider_readings` of the
//! provider's own database, one JSON line per reading, oldest first per policy.

use std::process::ExitCode;

use uuid::Uuid;

use super::super::node::{DbArgs, Node};

/// Readings printed at most (the newest `limit` of them).
pub const MAX_LIMIT: i64 = 100_000;

pub async fn run(db: DbArgs, policy: Option<Uuid>, device: Option<String>, limit: i64) -> anyhow::Result<ExitCode> {
    anyhow::ensure!((1..=MAX_LIMIT).contains(&limit), "--limit is 1 to {MAX_LIMIT}");
    let node = Node::open(&db, 1).await?;
    let readings = projections::Views::of(&node.store).provider_readings(policy, device.as_deref(), limit).await;
    node.close().await;
    for reading in readings? {
        println!("{reading}");
    }
    Ok(ExitCode::SUCCESS)
}
