//! Stream ids of the site context: one stream per aggregate, plus `lifts`, where every lift commits its event
//! and its chits in one append.

use uuid::Uuid;

pub const SITE: &str = "site";
pub const LIFTS: &str = "lifts";

pub fn user(cid: &str) -> String {
    format!("user-{cid}")
}

pub fn connection_ticket(token_hash: &str) -> String {
    format!("ticket-{token_hash}")
}

pub fn tally_ticket(token_hash: &str) -> String {
    format!("tallyticket-{token_hash}")
}

pub fn tally(id: Uuid) -> String {
    format!("tally-{id}")
}
