//! The tally's rules. `decide` is the table of contents: one function per command.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::body::{verify_side, Side, SignedTerms, TallyBody, MAX_TEXT_BYTES};
use super::commands::{RegisteredKeys, TallyCommand};
use super::events::TallyEvent;
use super::state::{TallyState, TallyStatus};
use super::Tally;
use crate::crypto::Signature;
use crate::site::caller::Caller;
use crate::site::chit::{Chit, ChitBody, ChitKind, CHIT_PURPOSE};
use crate::site::error::{SiteError, SiteResult};
use crate::site::user::check_cid;
use crate::Decider;

impl Decider for Tally {
    type State = TallyState;
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = SiteError;

    fn decide(state: &TallyState, command: TallyCommand) -> SiteResult<Vec<TallyEvent>> {
        match command {
            TallyCommand::DraftTally { tally_id, parties, at } => draft(state, tally_id, parties, at),
            TallyCommand::ProposeTally { caller, body, signature, keys, at } => {
                propose(state, &caller, body, signature, &keys, at)
            }
            TallyCommand::SignTally { caller, signature, at } => sign(state, &caller, signature, at),
            TallyCommand::RefuseTally { caller, reason, at } => refuse(state, &caller, reason, at),
            TallyCommand::CloseTally { caller, at } => close(state, &caller, at),
            TallyCommand::IssueChit { caller, chit, signature, at } => issue_chit(state, &caller, chit, signature, at),
            TallyCommand::RebaseTally { balance_milli, chit_count, head_hash, legacy_chits, through_position, at } => {
                if state.status == TallyStatus::Missing {
                    return Err(SiteError::TallyMissing);
                }
                if state.rebased {
                    return Ok(vec![]); // adopted already: the upgrade ran before
                }
                Ok(vec![TallyEvent::TallyRebased {
                    balance_milli,
                    chit_count,
                    head_hash,
                    legacy_chits,
                    through_position,
                    at,
                }])
            }
        }
    }

    fn evolve(state: TallyState, event: &TallyEvent) -> TallyState {
        state.evolve(event)
    }
}

fn draft(state: &TallyState, tally_id: Uuid, parties: [String; 2], at: DateTime<Utc>) -> SiteResult<Vec<TallyEvent>> {
    if state.status != TallyStatus::Missing {
        return Err(SiteError::TallyExists);
    }
    check_cid(&parties[0])?;
    check_cid(&parties[1])?;
    if parties[0] == parties[1] {
        return Err(SiteError::Invalid("a tally needs two different users".into()));
    }
    Ok(vec![TallyEvent::TallyDrafted { tally_id, parties, at }])
}

/// The caller's side on a tally that has terms. A party of a draft has no side yet: it must propose first.
fn party_side(state: &TallyState, caller: &Caller) -> SiteResult<Side> {
    match state.status {
        TallyStatus::Missing => Err(SiteError::TallyMissing),
        TallyStatus::Draft if state.is_party(&caller.cid) => Err(SiteError::TallyState(TallyStatus::Draft.as_str())),
        _ => state.side_of(&caller.cid).ok_or(SiteError::NotParty),
    }
}

fn propose(
    state: &TallyState,
    caller: &Caller,
    body: SignedTerms,
    signature: Signature,
    keys: &RegisteredKeys,
    at: DateTime<Utc>,
) -> SiteResult<Vec<TallyEvent>> {
    caller.require_active()?;
    let by = body.side_of(&caller.cid).ok_or(SiteError::NotParty)?;
    if state.status != TallyStatus::Missing && !state.is_party(&caller.cid) {
        return Err(SiteError::NotParty);
    }
    match state.status {
        TallyStatus::Draft => same_parties(state, &body)?,
        TallyStatus::Offered => revision_of(state, &body)?,
        TallyStatus::Missing => return Err(SiteError::TallyMissing),
        other => return Err(SiteError::TallyState(other.as_str())),
    }
    body.check(state.id)?;
    for side in [&body.stock, &body.foil] {
        if !keys.get(&side.cert.cid).is_some_and(|registered| registered.contains(&side.cert.public_key)) {
            return Err(SiteError::Invalid(format!(
                "{}'s certificate key is not one of its device keys",
                side.cert.cid
            )));
        }
    }
    verify_side(&body, by, &signature)?;
    Ok(vec![TallyEvent::TallyOffered { body, by, signature, at }])
}

fn same_parties(state: &TallyState, body: &TallyBody) -> SiteResult<()> {
    let mut cids = [body.stock.cert.cid.as_str(), body.foil.cert.cid.as_str()];
    let mut parties: Vec<&str> = state.parties.iter().map(String::as_str).collect();
    cids.sort_unstable();
    parties.sort_unstable();
    if cids[..] != parties[..] {
        return Err(SiteError::Invalid("the tally must be between the two drafted parties".into()));
    }
    Ok(())
}

fn revision_of(state: &TallyState, body: &TallyBody) -> SiteResult<()> {
    let current = state.body.as_ref().ok_or(SiteError::TallyMissing)?;
    if body.version <= current.version {
        return Err(SiteError::Invalid(format!("a revised offer needs a version above {}", current.version)));
    }
    if body.stock.cert.cid != current.stock.cert.cid || body.foil.cert.cid != current.foil.cert.cid {
        return Err(SiteError::Invalid("a revised offer keeps the parties and their sides".into()));
    }
    Ok(())
}

fn sign(state: &TallyState, caller: &Caller, signature: Signature, at: DateTime<Utc>) -> SiteResult<Vec<TallyEvent>> {
    caller.require_active()?;
    let by = party_side(state, caller)?;
    if state.status != TallyStatus::Offered {
        return Err(SiteError::TallyState(state.status.as_str()));
    }
    if state.proposed_by == Some(by) {
        return Err(SiteError::Invalid("the proposer already signed; the other side must sign".into()));
    }
    verify_side(state.body.as_ref().ok_or(SiteError::TallyMissing)?, by, &signature)?;
    Ok(vec![TallyEvent::TallyOpened { by, signature, at }])
}

fn refuse(state: &TallyState, caller: &Caller, reason: String, at: DateTime<Utc>) -> SiteResult<Vec<TallyEvent>> {
    caller.require_active()?;
    let by = match state.status {
        TallyStatus::Missing => return Err(SiteError::TallyMissing),
        // A draft has no sides yet: the first drafted party is the stock-to-be.
        TallyStatus::Draft if state.parties.first() == Some(&caller.cid) => Side::Stock,
        TallyStatus::Draft if state.is_party(&caller.cid) => Side::Foil,
        TallyStatus::Draft => return Err(SiteError::NotParty),
        _ => state.side_of(&caller.cid).ok_or(SiteError::NotParty)?,
    };
    match state.status {
        TallyStatus::Draft | TallyStatus::Offered => Ok(vec![TallyEvent::TallyVoided { by, reason, at }]),
        other => Err(SiteError::TallyState(other.as_str())),
    }
}

fn close(state: &TallyState, caller: &Caller, at: DateTime<Utc>) -> SiteResult<Vec<TallyEvent>> {
    caller.require_active()?;
    let by = party_side(state, caller)?;
    match state.status {
        TallyStatus::Open if state.balance_milli == 0 => {
            Ok(vec![TallyEvent::TallyClosing { by, at }, TallyEvent::TallyClosed { at }])
        }
        TallyStatus::Open => Ok(vec![TallyEvent::TallyClosing { by, at }]),
        other => Err(SiteError::TallyState(other.as_str())),
    }
}

/// Checks a chit's place in the chain and returns its hash.
fn check_chain(state: &TallyState, chit: &Chit) -> SiteResult<String> {
    if chit.tally_id != state.id {
        return Err(SiteError::Chit("chit names another tally".into()));
    }
    let (index, prev_hash) = state.chain_head();
    if chit.index != index || chit.prev_hash != prev_hash {
        return Err(SiteError::Chit(format!("chain head is index {index}, hash {prev_hash}")));
    }
    if chit.units_milli <= 0 {
        return Err(SiteError::Chit("units_milli must be positive".into()));
    }
    if chit.memo.len() > MAX_TEXT_BYTES || chit.reference.len() > MAX_TEXT_BYTES {
        return Err(SiteError::Chit(format!("memo and reference are limited to {MAX_TEXT_BYTES} bytes")));
    }
    Ok(chit.hash())
}

fn issue_chit(
    state: &TallyState,
    caller: &Caller,
    chit: Chit,
    signature: Signature,
    at: DateTime<Utc>,
) -> SiteResult<Vec<TallyEvent>> {
    caller.require_active()?;
    if party_side(state, caller)? != chit.by {
        return Err(SiteError::Chit("a party issues chits only for its own side".into()));
    }
    let body = state.body.as_ref().ok_or(SiteError::TallyMissing)?;
    if !matches!(state.status, TallyStatus::Open | TallyStatus::Closing) {
        return Err(SiteError::TallyState(state.status.as_str()));
    }
    if chit.kind == ChitKind::Lift {
        return Err(SiteError::Chit("lift chits come only from a committed lift".into()));
    }
    let hash = check_chain(state, &chit)?;
    chit.verify(&body.side(chit.by).cert.public_key, CHIT_PURPOSE, &signature)?;
    let balance = state.balance_milli.checked_add(chit.balance_delta_milli()).ok_or(SiteError::OverLimit)?;
    if balance < body.min_balance_milli() || balance > body.max_balance_milli() {
        return Err(SiteError::OverLimit);
    }
    let towards_zero =
        balance.signum() * state.balance_milli.signum() >= 0 && balance.abs() < state.balance_milli.abs();
    if state.status == TallyStatus::Closing && !towards_zero {
        return Err(SiteError::Chit("a closing tally only takes chits that bring it towards zero".into()));
    }
    let mut events = vec![TallyEvent::ChitIssued { chit, signature: Some(signature), hash, at }];
    if state.status == TallyStatus::Closing && balance == 0 {
        events.push(TallyEvent::TallyClosed { at });
    }
    Ok(events)
}

/// The lift chit for one hop of a committed lift: `payer` gives `units_milli`, within the lift bounds.
pub fn lift_chit(
    state: &TallyState,
    chit_id: Uuid,
    lift_id: Uuid,
    payer: Side,
    units_milli: i64,
    at: DateTime<Utc>,
) -> SiteResult<TallyEvent> {
    if state.status != TallyStatus::Open {
        return Err(SiteError::Lift(format!("tally {} is {}", state.id, state.status.as_str())));
    }
    if units_milli <= 0 || units_milli > state.lift_capacity_milli(payer) {
        return Err(SiteError::Lift(format!(
            "tally {} cannot move {units_milli} for the {}",
            state.id,
            payer.as_str()
        )));
    }
    let (index, prev_hash) = state.chain_head();
    let chit = ChitBody {
        id: chit_id,
        tally_id: state.id,
        index,
        prev_hash,
        by: payer,
        kind: ChitKind::Lift,
        units_milli,
        date: at,
        memo: String::new(),
        reference: lift_id.to_string(),
    }
    .sent()?;
    let hash = chit.hash();
    Ok(TallyEvent::ChitIssued { chit, signature: None, hash, at })
}
