//! `notch projections status|rebuild`: safe to run beside a serving node.

use std::process::ExitCode;

use clap::Subcommand;

use super::node::{DbArgs, Node};

#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// Show each projection's checkpoint and the head of the log.
    Status {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Rebuild a projection (or all) from position zero.
    Rebuild {
        /// The projection to rebuild; all if omitted.
        name: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run(command: ProjectionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProjectionsCommand::Status { db } => {
            let node = Node::open(&db, 2).await?;
            let head = node.store.head().await?.map(|(p, _)| p).unwrap_or(0);
            for status in projections::status(&node.store).await? {
                println!("{:<24} {:>12} / {head}", status.name, status.position);
            }
            node.close().await;
            Ok(ExitCode::SUCCESS)
        }
        ProjectionsCommand::Rebuild { name, db } => {
            let chosen = match &name {
                Some(name) => vec![projections::by_name(name).ok_or_else(|| {
                    let known: Vec<_> = projections::all().iter().map(|p| p.name()).collect();
                    anyhow::anyhow!("no projection named {name}; known: {}", known.join(", "))
                })?],
                None => projections::all(),
            };
            let node = Node::open(&db, 4).await?;
            for projection in chosen {
                let started = std::time::Instant::now();
                let position = projections::rebuild(&node.store, projection.as_ref()).await?;
                println!(
                    "rebuilt {} up to position {position} in {:.2} s",
                    projection.name(),
                    started.elapsed().as_secs_f64()
                );
            }
            node.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}
