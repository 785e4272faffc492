//! The site's business on the peer link (docs/federation.md, "Business"): the verdict on a tally ticket that a
//! user of another site presents through its site (`I`), recorded on the ticket's stream whatever it is.
//! Tally negotiation and chits over `T` packets come next; until then such messages are logged and dropped.

use chrono::Utc;
use domain::site::connection_ticket::token_hash;
use domain::site::tally_ticket::{ForeignParty, TallyTicket, TallyTicketCommand, TallyTicketEvent};
use events::Store;
use futures::future::BoxFuture;
use serde_json::Value;
use uuid::Uuid;

use super::admin::site;
use crate::command::execute;
use crate::peers::{PeerHandler, TicketClaim};

pub struct SiteLink {
    store: Store,
}

impl SiteLink {
    pub fn new(store: Store) -> SiteLink {
        SiteLink { store }
    }

    async fn redeem_ticket(&self, claim: TicketClaim<'_>) -> Result<(), String> {
        let token = claim.message.pointer("/ticket/token").and_then(Value::as_str).ok_or("no ticket token")?;
        let cid = claim.message.pointer("/from/cuid").and_then(Value::as_str).ok_or("no from.cuid")?;
        let site_locked = site(&self.store).await.map_err(|err| err.to_string())?.locked;
        let command = TallyTicketCommand::RedeemTallyTicketFromSite {
            redeemer: ForeignParty { cid: cid.to_owned(), agent: claim.agent.to_owned() },
            key_proved: claim.key_proved,
            site_locked,
            tally_id: Uuid::now_v7(),
            at: Utc::now(),
        };
        let executed =
            execute::<TallyTicket>(&self.store, &token_hash(token), command).await.map_err(|err| err.to_string())?;
        match &executed.events[..] {
            [TallyTicketEvent::TallyTicketRedeemed { .. }] => Ok(()),
            [TallyTicketEvent::TallyTicketRefused { reason, .. }] => Err(reason.clone()),
            other => Err(format!("unexpected outcome {other:?}")),
        }
    }
}

impl PeerHandler for SiteLink {
    fn redeem<'a>(&'a self, claim: TicketClaim<'a>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.redeem_ticket(claim))
    }

    fn receive<'a>(&'a self, from: &'a str, message: Value) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let (target, action) = (&message["target"], &message["action"]);
            tracing::info!(peer = from, %target, %action, "peer message not handled yet (tally negotiation comes next)");
        })
    }
}
