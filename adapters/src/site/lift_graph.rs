//! The lift finder's graph, read from the view `site.open_tallies` (kept by the site projection): users and
//! tallies are interned as dense integers there, so loading moves only integers, and the whole graph comes as one
//! row of five arrays (one message to decode instead of one per tally).

use domain::site::finder::{GraphTally, LiftGraph};
use events::Store;

use super::log::{AppError, AppResult};

/// The open tallies as a finder graph: users by their index (`site.users.ix`); `tally_ix[t]` is the index
/// (`site.tallies.ix`) of the graph's tally `t`.
pub struct LedgerGraph {
    pub graph: LiftGraph,
    pub tally_ix: Vec<i32>,
}

/// The aggregates of one scan see the rows in the same order, so the arrays line up.
const OPEN_TALLIES: &str = "SELECT coalesce(array_agg(tally_ix), '{}'), coalesce(array_agg(stock_ix), '{}'), \
     coalesce(array_agg(foil_ix), '{}'), coalesce(array_agg(stock_pays_milli), '{}'), \
     coalesce(array_agg(foil_pays_milli), '{}') FROM site.open_tallies";

/// Brings the site views up to the log's head, then reads the graph of open tallies.
pub async fn load_graph(store: &Store) -> AppResult<LedgerGraph> {
    projections::catch_up(store, &projections::site::SiteViews)
        .await
        .map_err(|err| AppError::Database(format!("{err:#}")))?;
    let client = store.pool().get().await?;
    let (users, row) = futures::try_join!(
        client.query_one("SELECT coalesce(max(ix) + 1, 0) FROM site.users", &[]),
        client.query_one(OPEN_TALLIES, &[]),
    )?;
    let users = usize::try_from(users.get::<_, i32>(0))
        .map_err(|_| AppError::Database("site.users holds a negative index".into()))?;
    let tally_ix: Vec<i32> = row.try_get(0)?;
    let (stock, foil): (Vec<i32>, Vec<i32>) = (row.try_get(1)?, row.try_get(2)?);
    let (stock_pays, foil_pays): (Vec<i64>, Vec<i64>) = (row.try_get(3)?, row.try_get(4)?);
    let user = |ix: i32| match u32::try_from(ix) {
        Ok(ix) if (ix as usize) < users => Ok(ix),
        _ => Err(AppError::Database(format!("site.open_tallies names user index {ix}, not in site.users"))),
    };
    let mut tallies = Vec::with_capacity(tally_ix.len());
    for t in 0..tally_ix.len() {
        tallies.push(GraphTally {
            stock: user(stock[t])?,
            foil: user(foil[t])?,
            stock_pays_milli: stock_pays[t],
            foil_pays_milli: foil_pays[t],
        });
    }
    Ok(LedgerGraph { graph: LiftGraph::new(users, tallies), tally_ix })
}

/// The ids of the tallies with indexes `ixs`, by index.
pub async fn tally_ids(store: &Store, ixs: &[i32]) -> AppResult<std::collections::HashMap<i32, uuid::Uuid>> {
    let client = store.pool().get().await?;
    let rows = client.query("SELECT ix, tally_id FROM site.tallies WHERE ix = ANY($1)", &[&ixs]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The dense index of each user in `cids` (in that order); `None` for a CID the site does not know.
pub async fn user_indexes(store: &Store, cids: &[String]) -> AppResult<Vec<Option<u32>>> {
    let client = store.pool().get().await?;
    let rows = client.query("SELECT cid, ix FROM site.users WHERE cid = ANY($1)", &[&cids]).await?;
    let found: std::collections::HashMap<String, i32> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(cids.iter().map(|cid| found.get(cid).and_then(|&ix| u32::try_from(ix).ok())).collect())
}
