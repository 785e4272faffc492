//! The lift finder's graph, read from the view `site.open_tallies` (kept by the site projection): users and
//! tallies are interned as dense integers there, so loading moves only integers.

use std::collections::HashMap;

use domain::site::finder::{GraphTally, LiftGraph};
use events::Store;
use projections::{ViewError, Views};
use uuid::Uuid;

use super::AppResult;
use crate::command::LogError;

/// The open tallies as a finder graph: users by their index (`site.users.ix`); `tally_ix[t]` is the index
/// (`site.tallies.ix`) of the graph's tally `t`.
pub struct LedgerGraph {
    pub graph: LiftGraph,
    pub tally_ix: Vec<i32>,
}

/// Brings the site views up to the log's head, then reads the graph of open tallies.
pub async fn load_graph(store: &Store) -> AppResult<LedgerGraph> {
    projections::catch_up(store, &projections::site::SiteViews)
        .await
        .map_err(|err| LogError::Views(ViewError::Corrupt { view: "site", reason: format!("catching up: {err:#}") }))?;
    let rows = Views::of(store).site_graph().await.map_err(LogError::from)?;
    let user = |ix: i32| match u32::try_from(ix) {
        Ok(ix) if (ix as usize) < rows.users => Ok(ix),
        _ => Err(LogError::Views(ViewError::Corrupt {
            view: "site.open_tallies",
            reason: format!("user index {ix} is not in site.users"),
        })),
    };
    let mut tallies = Vec::with_capacity(rows.tally_ix.len());
    for t in 0..rows.tally_ix.len() {
        tallies.push(GraphTally {
            stock: user(rows.stock_ix[t])?,
            foil: user(rows.foil_ix[t])?,
            stock_pays_milli: rows.stock_pays_milli[t],
            foil_pays_milli: rows.foil_pays_milli[t],
        });
    }
    Ok(LedgerGraph { graph: LiftGraph::new(rows.users, tallies), tally_ix: rows.tally_ix })
}

/// The ids of the tallies with indexes `ixs`, by index.
pub async fn tally_ids(store: &Store, ixs: &[i32]) -> AppResult<HashMap<i32, Uuid>> {
    Ok(Views::of(store).tally_ids(ixs).await.map_err(LogError::from)?)
}

/// The dense index of each user in `cids` (in that order); `None` for a CID the site does not know.
pub async fn user_indexes(store: &Store, cids: &[String]) -> AppResult<Vec<Option<u32>>> {
    Ok(Views::of(store).user_indexes(cids).await.map_err(LogError::from)?)
}
