//! The Lift aggregate's rules.

use super::commands::CommitLift;
use super::events::{LiftEvent, LiftHop};
use super::state::LiftState;
use super::Lift;
use crate::site::config::MAX_LIFT_LEN;
use crate::site::error::{SiteError, SiteResult};
use crate::site::tally::{lift_chit, TallyEvent, TallyState};
use crate::Decider;

impl Decider for Lift {
    type State = LiftState;
    /// The lift as [`decide_lift`] decided it.
    type Command = LiftEvent;
    type Event = LiftEvent;
    type Error = SiteError;

    fn decide(state: &LiftState, decided: LiftEvent) -> SiteResult<Vec<LiftEvent>> {
        if state.committed {
            return Err(SiteError::Lift("this lift is committed already".into()));
        }
        Ok(vec![decided])
    }

    fn evolve(state: LiftState, _: &LiftEvent) -> LiftState {
        debug_assert!(!state.committed, "a lift is committed once");
        LiftState { committed: true }
    }
}

/// The lift event and one lift chit per tally (in hop order), or a refusal if the hops are not a simple
/// cycle of open tallies with positive capacity. `tallies[i]` is the state of hop i's tally.
pub fn decide_lift(tallies: &[&TallyState], command: CommitLift) -> SiteResult<(LiftEvent, Vec<TallyEvent>)> {
    let n = command.hops.len();
    if !(2..=MAX_LIFT_LEN as usize).contains(&n) || tallies.len() != n {
        return Err(SiteError::Lift(format!("a lift has 2..={MAX_LIFT_LEN} hops, one state per hop")));
    }
    let mut hops = Vec::with_capacity(n);
    for (&(tally_id, payer, chit_id), state) in command.hops.iter().zip(tallies) {
        let body = state.body.as_ref().filter(|_| state.id == tally_id).ok_or(SiteError::TallyMissing)?;
        hops.push(LiftHop {
            tally_id,
            payer,
            payer_cid: body.side(payer).cert.cid.clone(),
            payee_cid: body.side(payer.other()).cert.cid.clone(),
            chit_id,
        });
    }
    for i in 0..n {
        if hops[i].payee_cid != hops[(i + 1) % n].payer_cid {
            return Err(SiteError::Lift(format!("hop {i} does not lead to hop {}", (i + 1) % n)));
        }
        if hops[..i].iter().any(|h| h.payer_cid == hops[i].payer_cid || h.tally_id == hops[i].tally_id) {
            return Err(SiteError::Lift("a lift visits each user and tally once".into()));
        }
    }
    let capacity = hops.iter().zip(tallies).map(|(h, s)| s.lift_capacity_milli(h.payer)).min().unwrap_or(0);
    let units_milli = command.max_units_milli.map_or(capacity, |max| max.min(capacity));
    if units_milli <= 0 {
        return Err(SiteError::Lift("no capacity along this cycle".into()));
    }
    let chits = hops
        .iter()
        .zip(tallies)
        .map(|(h, s)| lift_chit(s, h.chit_id, command.lift_id, h.payer, units_milli, command.at))
        .collect::<SiteResult<Vec<_>>>()?;
    Ok((LiftEvent::LiftCommitted { lift_id: command.lift_id, units_milli, hops, at: command.at }, chits))
}
