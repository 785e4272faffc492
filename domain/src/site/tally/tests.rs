use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use uuid::Uuid;

use super::*;
use crate::crypto::{PublicKey, Signature};
use crate::site::caller::Caller;
use crate::site::chit::{ChitBody, ChitKind};
use crate::site::error::{SiteError, SiteResult};
use crate::site::lift::{decide_lift, CommitLift, LiftEvent};
use crate::site::user::UserStatus;
use crate::Decider;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
}

fn key(cid: &str) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..cid.len()].copy_from_slice(cid.as_bytes());
    SigningKey::from_bytes(&seed)
}

fn side(cid: &str, limit: i64) -> TallySide {
    TallySide {
        cert: PartyCertificate {
            cid: cid.into(),
            name: cid.to_uppercase(),
            chip_address: format!("{cid}:agent@example:1"),
            public_key: PublicKey::of(&key(cid)),
        },
        terms: Terms { credit_limit_milli: limit, lift_margin_milli: 0 },
    }
}

fn body(id: Uuid, stock: &str, foil: &str, limit: i64) -> TallyBody {
    TallyBody {
        id,
        version: 1,
        date: t(0),
        memo: "groceries".into(),
        agreement: "https://example.org/terms".into(),
        stock: side(stock, limit),
        foil: side(foil, limit),
    }
}

/// An active user of an open site.
fn caller(cid: &str) -> Caller {
    Caller { cid: cid.into(), site_locked: false, status: Some(UserStatus::Active) }
}

/// Both parties registered the keys their certificates name.
fn keys(body: &TallyBody) -> RegisteredKeys {
    [&body.stock, &body.foil].into_iter().map(|side| (side.cert.cid.clone(), [side.cert.public_key].into())).collect()
}

fn propose(body: &TallyBody, cid: &str, signature: Signature) -> TallyCommand {
    let terms = body.clone().sent().unwrap();
    TallyCommand::ProposeTally { caller: caller(cid), body: terms, signature, keys: keys(body), at: t(1) }
}

fn apply(state: TallyState, command: TallyCommand) -> SiteResult<TallyState> {
    let events = Tally::decide(&state, command)?;
    Ok(events.iter().fold(state, Tally::evolve))
}

/// An open tally between `stock` and `foil`, each granting `limit`.
pub(crate) fn open_tally(id: Uuid, stock: &str, foil: &str, limit: i64) -> TallyState {
    let draft = TallyCommand::DraftTally { tally_id: id, parties: [stock.into(), foil.into()], at: t(0) };
    let state = apply(TallyState::default(), draft).unwrap();
    let body = body(id, stock, foil, limit);
    let signature = body.sign(&key(stock)).unwrap();
    let state = apply(state, propose(&body, stock, signature)).unwrap();
    let signature = body.sign(&key(foil)).unwrap();
    apply(state, TallyCommand::SignTally { caller: caller(foil), signature, at: t(2) }).unwrap()
}

fn chit(state: &TallyState, by: Side, units_milli: i64) -> (ChitBody, Signature) {
    let (index, prev_hash) = state.chain_head();
    let chit = ChitBody {
        id: Uuid::from_u128(u128::from(index) + 1000),
        tally_id: state.id,
        index,
        prev_hash,
        by,
        kind: ChitKind::Transaction,
        units_milli,
        date: t(3),
        memo: String::new(),
        reference: String::new(),
    };
    let cid = state.body.as_ref().unwrap().side(by).cert.cid.clone();
    let signature = chit.sign(&key(&cid)).unwrap();
    (chit, signature)
}

fn issuer(state: &TallyState, by: Side) -> Caller {
    caller(&state.body.as_ref().unwrap().side(by).cert.cid)
}

fn issue(state: TallyState, by: Side, units: i64) -> SiteResult<TallyState> {
    let (chit, signature) = chit(&state, by, units);
    let caller = issuer(&state, by);
    apply(state, TallyCommand::IssueChit { caller, chit: chit.sent().unwrap(), signature, at: t(3) })
}

#[test]
fn negotiation_opens_with_both_signatures() {
    let state = open_tally(Uuid::from_u128(1), "alice", "bob", 1000);
    assert_eq!(state.status, TallyStatus::Open);
    assert!(state.stock_signature.is_some() && state.foil_signature.is_some());

    let body = state.body.as_ref().unwrap();
    for (side, sig) in [(Side::Stock, &state.stock_signature), (Side::Foil, &state.foil_signature)] {
        assert_eq!(verify_side(body, side, sig.as_ref().unwrap()), Ok(()));
    }
}

#[test]
fn tampered_or_wrong_signatures_are_refused() {
    let id = Uuid::from_u128(2);
    let state = apply(
        TallyState::default(),
        TallyCommand::DraftTally { tally_id: id, parties: ["alice".into(), "bob".into()], at: t(0) },
    )
    .unwrap();
    let body = body(id, "alice", "bob", 1000);
    // signed by the wrong party's key
    let wrong = body.sign(&key("bob")).unwrap();
    assert!(matches!(Tally::decide(&state, propose(&body, "alice", wrong)), Err(SiteError::Signature(_))));
    let signature = body.sign(&key("alice")).unwrap();
    let offered = apply(state, propose(&body, "alice", signature)).unwrap();
    // the foil signs different bytes (a higher limit): refused
    let mut changed = body.clone();
    changed.stock.terms.credit_limit_milli = 9999;
    let tampered = changed.sign(&key("bob")).unwrap();
    let cmd = TallyCommand::SignTally { caller: caller("bob"), signature: tampered, at: t(2) };
    assert!(matches!(Tally::decide(&offered, cmd), Err(SiteError::Signature(_))));
    // the proposer cannot open its own offer
    let again = body.sign(&key("alice")).unwrap();
    let cmd = TallyCommand::SignTally { caller: caller("alice"), signature: again, at: t(2) };
    assert!(matches!(Tally::decide(&offered, cmd), Err(SiteError::Invalid(_))));
}

#[test]
fn proposal_needs_a_draft_between_the_same_parties() {
    let id = Uuid::from_u128(3);
    let body = body(id, "alice", "bob", 10);
    let signature = body.sign(&key("alice")).unwrap();
    let propose = propose(&body, "alice", signature);
    assert_eq!(Tally::decide(&TallyState::default(), propose.clone()), Err(SiteError::TallyMissing));
    let draft = apply(
        TallyState::default(),
        TallyCommand::DraftTally { tally_id: id, parties: ["alice".into(), "carol".into()], at: t(0) },
    )
    .unwrap();
    assert!(matches!(Tally::decide(&draft, propose), Err(SiteError::Invalid(_))));
}

#[test]
fn refuse_voids_an_offer() {
    let id = Uuid::from_u128(4);
    let state = apply(
        TallyState::default(),
        TallyCommand::DraftTally { tally_id: id, parties: ["alice".into(), "bob".into()], at: t(0) },
    )
    .unwrap();
    let state =
        apply(state, TallyCommand::RefuseTally { caller: caller("bob"), reason: "no".into(), at: t(1) }).unwrap();
    assert_eq!(state.status, TallyStatus::Void);
    assert!(Tally::decide(&state, TallyCommand::CloseTally { caller: caller("bob"), at: t(2) }).is_err());
}

#[test]
fn chits_chain_and_respect_limits() {
    let state = open_tally(Uuid::from_u128(5), "alice", "bob", 1000);
    let genesis = state.head_hash.clone();
    let state = issue(state, Side::Foil, 600).unwrap();
    assert_eq!(state.balance_milli, 600);
    assert_eq!(state.chit_count, 1);
    assert_ne!(state.head_hash, genesis);
    assert_eq!(issue(state.clone(), Side::Foil, 401), Err(SiteError::OverLimit));
    let state = issue(state, Side::Foil, 400).unwrap();
    let state = issue(state, Side::Stock, 2000).unwrap();
    assert_eq!(state.balance_milli, -1000);
    assert_eq!(issue(state.clone(), Side::Stock, 1), Err(SiteError::OverLimit));
    // a chit must name the chain head and carry a positive amount
    let (mut stale, _) = chit(&state, Side::Foil, 5);
    stale.index -= 1;
    let signature = stale.sign(&key("bob")).unwrap();
    assert!(matches!(
        Tally::decide(
            &state,
            TallyCommand::IssueChit { caller: caller("bob"), chit: stale.sent().unwrap(), signature, at: t(4) }
        ),
        Err(SiteError::Chit(_))
    ));
    assert!(matches!(issue(state.clone(), Side::Foil, 0), Err(SiteError::Chit(_))));
    // a chit signed by the other party is refused
    let (chit, _) = chit(&state, Side::Foil, 5);
    let signature = chit.sign(&key("alice")).unwrap();
    assert!(matches!(
        Tally::decide(
            &state,
            TallyCommand::IssueChit { caller: caller("bob"), chit: chit.sent().unwrap(), signature, at: t(4) }
        ),
        Err(SiteError::Signature(_))
    ));
}

#[test]
fn closing_takes_only_chits_towards_zero_then_closes() {
    let state = issue(open_tally(Uuid::from_u128(6), "alice", "bob", 1000), Side::Foil, 300).unwrap();
    let state = apply(state, TallyCommand::CloseTally { caller: caller("alice"), at: t(5) }).unwrap();
    assert_eq!(state.status, TallyStatus::Closing);
    assert!(matches!(issue(state.clone(), Side::Foil, 1), Err(SiteError::Chit(_))));
    assert!(matches!(issue(state.clone(), Side::Stock, 301), Err(SiteError::Chit(_))));
    let state = issue(state, Side::Stock, 300).unwrap();
    assert_eq!(state.status, TallyStatus::Closed);
}

#[test]
fn lift_across_three_tallies_conserves_positions() {
    // bob owes alice 500, carol owes bob 300, alice owes carol 400
    let ab = issue(open_tally(Uuid::from_u128(10), "alice", "bob", 1000), Side::Foil, 500).unwrap();
    let bc = issue(open_tally(Uuid::from_u128(11), "bob", "carol", 1000), Side::Foil, 300).unwrap();
    let ca = issue(open_tally(Uuid::from_u128(12), "carol", "alice", 1000), Side::Foil, 400).unwrap();
    let tallies = [&ab, &bc, &ca];
    let net = |ts: &[&TallyState]| {
        let mut net = std::collections::BTreeMap::<String, i64>::new();
        for s in ts {
            let b = s.body.as_ref().unwrap();
            *net.entry(b.stock.cert.cid.clone()).or_default() += s.balance_milli;
            *net.entry(b.foil.cert.cid.clone()).or_default() -= s.balance_milli;
        }
        net
    };
    let command = CommitLift {
        lift_id: Uuid::from_u128(99),
        hops: tallies.iter().map(|s| (s.id, Side::Stock, Uuid::new_v4())).collect(),
        max_units_milli: None,
        at: t(10),
    };
    let (LiftEvent::LiftCommitted { units_milli, hops, .. }, chits) = decide_lift(&tallies, command.clone()).unwrap();
    assert_eq!(units_milli, 300);
    assert_eq!(hops.iter().map(|h| h.payer_cid.as_str()).collect::<Vec<_>>(), ["alice", "bob", "carol"]);
    let after: Vec<TallyState> = tallies.iter().zip(&chits).map(|(s, e)| Tally::evolve((*s).clone(), e)).collect();
    let after_refs: Vec<&TallyState> = after.iter().collect();
    assert_eq!(net(&tallies), net(&after_refs));
    assert_eq!(after.iter().map(|s| s.balance_milli).collect::<Vec<_>>(), [200, 0, 100]);
    assert!(after.iter().all(|s| s.chit_count == 2));
    // nothing left on the middle hop: the same lift again is refused
    let again =
        CommitLift { hops: after.iter().map(|s| (s.id, Side::Stock, Uuid::new_v4())).collect(), ..command.clone() };
    assert!(matches!(decide_lift(&after_refs, again), Err(SiteError::Lift(_))));
    // hops that do not form a cycle are refused
    let broken = CommitLift { hops: vec![command.hops[0], command.hops[2], command.hops[1]], ..command };
    assert!(matches!(decide_lift(&[&ab, &ca, &bc], broken), Err(SiteError::Lift(_))));
}

/// A tally between `stock` and `foil` with lift margins, brought to `balance` by one chit.
fn tally_at(n: u128, stock: &str, foil: &str, balance: i64, margins: (i64, i64)) -> TallyState {
    let mut state = open_tally(Uuid::from_u128(n), stock, foil, 1000);
    let body = state.body.as_mut().unwrap();
    *body = body
        .edited(|body| {
            body.stock.terms.lift_margin_milli = margins.0;
            body.foil.terms.lift_margin_milli = margins.1;
        })
        .unwrap();
    match balance {
        0 => state,
        b if b > 0 => issue(state, Side::Foil, b).unwrap(),
        b => issue(state, Side::Stock, -b).unwrap(),
    }
}

proptest::proptest! {
    /// Around a ring of users u0 -> u1 -> ... -> u0, with each tally's stock/foil roles and balances random:
    /// a committed lift changes no user's net position and leaves every balance within its lift bounds.
    #[test]
    fn committed_lifts_conserve_positions_and_respect_bounds(
        hops in proptest::collection::vec((proptest::bool::ANY, -1000i64..=1000, 0i64..300, 0i64..300), 2..7),
        cap in proptest::option::of(1i64..500),
    ) {
        let n = hops.len();
        let cid = |i: usize| format!("u{}", i % n);
        let tallies: Vec<TallyState> = hops
            .iter()
            .enumerate()
            .map(|(i, &(payer_is_stock, balance, m1, m2))| {
                let (stock, foil) = if payer_is_stock { (cid(i), cid(i + 1)) } else { (cid(i + 1), cid(i)) };
                tally_at(100 + i as u128, &stock, &foil, balance, (m1, m2))
            })
            .collect();
        let refs: Vec<&TallyState> = tallies.iter().collect();
        let command = CommitLift {
            lift_id: Uuid::from_u128(7),
            hops: hops
                .iter()
                .enumerate()
                .map(|(i, h)| (tallies[i].id, if h.0 { Side::Stock } else { Side::Foil }, Uuid::from_u128(900 + i as u128)))
                .collect(),
            max_units_milli: cap,
            at: t(20),
        };
        let capacity = hops
            .iter()
            .zip(&tallies)
            .map(|(h, s)| s.lift_capacity_milli(if h.0 { Side::Stock } else { Side::Foil }))
            .min()
            .unwrap();
        let net = |ts: &[TallyState]| {
            let mut net = std::collections::BTreeMap::<String, i64>::new();
            for s in ts {
                let b = s.body.as_ref().unwrap();
                *net.entry(b.stock.cert.cid.clone()).or_default() += s.balance_milli;
                *net.entry(b.foil.cert.cid.clone()).or_default() -= s.balance_milli;
            }
            net
        };
        match decide_lift(&refs, command) {
            Err(SiteError::Lift(_)) => proptest::prop_assert!(capacity <= 0),
            Err(other) => proptest::prop_assert!(false, "unexpected refusal {other}"),
            Ok((LiftEvent::LiftCommitted { units_milli, .. }, chits)) => {
                proptest::prop_assert_eq!(units_milli, cap.map_or(capacity, |c| c.min(capacity)));
                let after: Vec<TallyState> =
                    tallies.iter().zip(&chits).map(|(s, e)| Tally::evolve(s.clone(), e)).collect();
                proptest::prop_assert_eq!(net(&tallies), net(&after));
                for (before, after) in tallies.iter().zip(&after) {
                    let (lower, upper) = after.body.as_ref().unwrap().lift_bounds_milli();
                    let moved_down = after.balance_milli < before.balance_milli;
                    let within = if moved_down { after.balance_milli >= lower } else { after.balance_milli <= upper };
                    proptest::prop_assert!(within, "balance {} left its bounds {}..{}", after.balance_milli, lower, upper);
                    proptest::prop_assert_eq!(after.chit_count, before.chit_count + 1);
                }
            }
        }
    }
}

fn drafted(id: u128) -> TallyState {
    let draft =
        TallyCommand::DraftTally { tally_id: Uuid::from_u128(id), parties: ["alice".into(), "bob".into()], at: t(0) };
    apply(TallyState::default(), draft).unwrap()
}

#[test]
fn a_party_signing_or_closing_a_draft_is_told_it_is_a_draft() {
    let state = drafted(40);
    let signature = body(state.id, "alice", "bob", 10).sign(&key("bob")).unwrap();
    let sign = TallyCommand::SignTally { caller: caller("bob"), signature, at: t(1) };
    assert_eq!(Tally::decide(&state, sign), Err(SiteError::TallyState("draft")));
    let close = TallyCommand::CloseTally { caller: caller("alice"), at: t(1) };
    assert_eq!(Tally::decide(&state, close), Err(SiteError::TallyState("draft")));
    let close = TallyCommand::CloseTally { caller: caller("mallory"), at: t(1) };
    assert_eq!(Tally::decide(&state, close), Err(SiteError::NotParty), "a stranger is still told it is no party");
}

#[test]
fn a_certificate_must_name_a_registered_device_key_of_each_party() {
    let state = drafted(41);
    let body = body(state.id, "alice", "bob", 10);
    let signature = body.sign(&key("alice")).unwrap();
    let mut registered = keys(&body);
    registered.insert("bob".into(), [PublicKey::of(&key("other"))].into());
    let body = body.sent().unwrap();
    let command = TallyCommand::ProposeTally { caller: caller("alice"), body, signature, keys: registered, at: t(1) };
    assert!(matches!(Tally::decide(&state, command), Err(SiteError::Invalid(m)) if m.contains("bob")));
}

#[test]
fn a_party_issues_chits_only_for_its_own_side() {
    let state = open_tally(Uuid::from_u128(42), "alice", "bob", 1000);
    let (chit, signature) = chit(&state, Side::Foil, 5);
    let command = TallyCommand::IssueChit { caller: caller("alice"), chit: chit.sent().unwrap(), signature, at: t(4) };
    assert!(matches!(Tally::decide(&state, command), Err(SiteError::Chit(_))));
}

#[test]
fn nobody_acts_on_a_tally_while_the_site_is_locked_or_the_user_is_not_active() {
    let state = open_tally(Uuid::from_u128(43), "alice", "bob", 1000);
    let (chit, signature) = chit(&state, Side::Foil, 5);
    let locked_site = Caller { site_locked: true, ..caller("bob") };
    let command =
        TallyCommand::IssueChit { caller: locked_site, chit: chit.clone().sent().unwrap(), signature, at: t(4) };
    assert_eq!(Tally::decide(&state, command), Err(SiteError::SiteLocked));
    let locked_user = Caller { status: Some(UserStatus::Locked), ..caller("bob") };
    let command = TallyCommand::IssueChit { caller: locked_user, chit: chit.sent().unwrap(), signature, at: t(4) };
    assert_eq!(Tally::decide(&state, command), Err(SiteError::UserNotActive("locked")));
}

#[test]
fn a_rebase_sets_the_chain_once() {
    let state = open_tally(Uuid::from_u128(44), "alice", "bob", 1000);
    let rebase = TallyCommand::RebaseTally {
        balance_milli: -30,
        chit_count: 2,
        head_hash: "ab".repeat(32),
        legacy_chits: 2,
        through_position: 99,
        at: t(9),
    };
    let rebased = apply(state, rebase.clone()).unwrap();
    assert_eq!((rebased.balance_milli, rebased.chit_count, rebased.rebased), (-30, 2, true));
    assert_eq!(Tally::decide(&rebased, rebase), Ok(vec![]), "a second upgrade changes nothing");
}
