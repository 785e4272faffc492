//! Opening tallies on behalf of both parties, for benchmarks and tests that hold every user's key: the events a
//! real negotiation produces (draft, offer signed by the stock side, acceptance signed by the foil side, then one
//! transaction chit), each decided and evolved by the domain, so the network they build is one the site accepts.

use chrono::{DateTime, Utc};
use domain::site::caller::Caller;
use domain::site::chit::{ChitBody, ChitKind};
use domain::site::tally::{
    PartyCertificate, RegisteredKeys, Side, Tally, TallyBody, TallyCommand, TallySide, TallyState, Terms,
};
use domain::site::user::UserStatus;
use domain::site::SiteError;
use domain::Decider;
use ed25519_dalek::SigningKey;
use events::NewEvent;
use uuid::Uuid;

use crate::command::encode;

/// One side of a seeded tally: who it is and the key it signs with.
pub struct Party<'a> {
    pub cert: PartyCertificate,
    pub key: &'a SigningKey,
}

/// `cid` as an active user of an open site.
fn active(cid: &str) -> Caller {
    Caller { cid: cid.to_owned(), site_locked: false, status: Some(UserStatus::Active) }
}

/// The events that open tally `id` between `stock` and `foil` (each granting the other `credit_limit_milli`, no
/// lift margin) and bring its balance to `balance_milli` with one chit (none for zero): a positive balance is
/// paid by the foil side, a negative one by the stock side.
pub fn open_tally_events(
    id: Uuid,
    stock: Party,
    foil: Party,
    credit_limit_milli: i64,
    balance_milli: i64,
    at: DateTime<Utc>,
) -> Result<Vec<NewEvent>, SiteError> {
    let (stock_key, foil_key) = (stock.key, foil.key);
    let side = |party: Party| TallySide { cert: party.cert, terms: Terms { credit_limit_milli, lift_margin_milli: 0 } };
    let body = TallyBody {
        id,
        version: 1,
        date: at,
        memo: String::new(),
        agreement: String::new(),
        stock: side(stock),
        foil: side(foil),
    };
    let parties = [body.stock.cert.cid.clone(), body.foil.cert.cid.clone()];
    let mut state = TallyState::default();
    let mut events = Vec::new();
    let mut run = |state: &mut TallyState, command| -> Result<(), SiteError> {
        for event in Tally::decide(state, command)? {
            *state = Tally::evolve(std::mem::take(state), &event);
            events.push(event);
        }
        Ok(())
    };
    run(&mut state, TallyCommand::DraftTally { tally_id: body.id, parties, at })?;
    let keys: RegisteredKeys = [&body.stock, &body.foil]
        .into_iter()
        .map(|side| (side.cert.cid.clone(), [side.cert.public_key].into()))
        .collect();
    let (stock_cid, foil_cid) = (body.stock.cert.cid.clone(), body.foil.cert.cid.clone());
    let signature = body.sign(stock_key)?;
    let caller = active(&stock_cid);
    run(&mut state, TallyCommand::ProposeTally { caller, body: body.clone().sent()?, signature, keys, at })?;
    run(&mut state, TallyCommand::SignTally { caller: active(&foil_cid), signature: body.sign(foil_key)?, at })?;
    if balance_milli != 0 {
        let (index, prev_hash) = state.chain_head();
        let (by, payer_key, payer) =
            if balance_milli > 0 { (Side::Foil, foil_key, &foil_cid) } else { (Side::Stock, stock_key, &stock_cid) };
        let chit = ChitBody {
            id: Uuid::now_v7(),
            tally_id: body.id,
            index,
            prev_hash,
            by,
            kind: ChitKind::Transaction,
            units_milli: balance_milli.abs(),
            date: at,
            memo: String::new(),
            reference: String::new(),
        };
        let signature = chit.sign(payer_key)?;
        run(&mut state, TallyCommand::IssueChit { caller: active(payer), chit: chit.sent()?, signature, at })?;
    }
    Ok(events.iter().map(encode).collect())
}
