use ed25519_dalek::SigningKey;

use super::*;
use crate::site::lift::{decide_lift, CommitLift, LiftEvent};

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
        cert: Certificate {
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
    let state =
        apply(state, TallyCommand::ProposeTally { body: body.clone(), by: Side::Stock, signature, at: t(1) }).unwrap();
    let signature = body.sign(&key(foil)).unwrap();
    apply(state, TallyCommand::SignTally { by: Side::Foil, signature, at: t(2) }).unwrap()
}

fn chit(state: &TallyState, by: Side, units_milli: i64) -> (ChitBody, SignatureB64) {
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

fn issue(state: TallyState, by: Side, units: i64) -> SiteResult<TallyState> {
    let (chit, signature) = chit(&state, by, units);
    apply(state, TallyCommand::IssueChit { chit, signature, at: t(3) })
}

#[test]
fn negotiation_opens_with_both_signatures() {
    let state = open_tally(Uuid::from_u128(1), "alice", "bob", 1000);
    assert_eq!(state.status, TallyStatus::Open);
    assert!(state.stock_signature.is_some() && state.foil_signature.is_some());
    let bytes = state.body.as_ref().unwrap().canonical_bytes().unwrap();
    let body = state.body.as_ref().unwrap();
    for (side, sig) in [(Side::Stock, &state.stock_signature), (Side::Foil, &state.foil_signature)] {
        assert_eq!(body.side(side).cert.public_key.verify(&bytes, sig.as_ref().unwrap()), Ok(()));
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
    let cmd = TallyCommand::ProposeTally { body: body.clone(), by: Side::Stock, signature: wrong, at: t(1) };
    assert!(matches!(Tally::decide(&state, cmd), Err(SiteError::Signature(_))));
    let signature = body.sign(&key("alice")).unwrap();
    let offered =
        apply(state, TallyCommand::ProposeTally { body: body.clone(), by: Side::Stock, signature, at: t(1) }).unwrap();
    // the foil signs different bytes (a higher limit): refused
    let mut changed = body.clone();
    changed.stock.terms.credit_limit_milli = 9999;
    let tampered = changed.sign(&key("bob")).unwrap();
    let cmd = TallyCommand::SignTally { by: Side::Foil, signature: tampered, at: t(2) };
    assert!(matches!(Tally::decide(&offered, cmd), Err(SiteError::Signature(_))));
    // the proposer cannot open its own offer
    let again = body.sign(&key("alice")).unwrap();
    assert!(Tally::decide(&offered, TallyCommand::SignTally { by: Side::Stock, signature: again, at: t(2) }).is_err());
}

#[test]
fn proposal_needs_a_draft_between_the_same_parties() {
    let id = Uuid::from_u128(3);
    let body = body(id, "alice", "bob", 10);
    let signature = body.sign(&key("alice")).unwrap();
    let propose = TallyCommand::ProposeTally { body, by: Side::Stock, signature, at: t(1) };
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
    let state = apply(state, TallyCommand::RefuseTally { by: Side::Foil, reason: "no".into(), at: t(1) }).unwrap();
    assert_eq!(state.status, TallyStatus::Void);
    assert!(Tally::decide(&state, TallyCommand::CloseTally { by: Side::Foil, at: t(2) }).is_err());
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
        Tally::decide(&state, TallyCommand::IssueChit { chit: stale, signature, at: t(4) }),
        Err(SiteError::Chit(_))
    ));
    assert!(matches!(issue(state.clone(), Side::Foil, 0), Err(SiteError::Chit(_))));
    // a chit signed by the other party is refused
    let (chit, _) = chit(&state, Side::Foil, 5);
    let signature = chit.sign(&key("alice")).unwrap();
    assert!(matches!(
        Tally::decide(&state, TallyCommand::IssueChit { chit, signature, at: t(4) }),
        Err(SiteError::Signature(_))
    ));
}

#[test]
fn closing_takes_only_chits_towards_zero_then_closes() {
    let state = issue(open_tally(Uuid::from_u128(6), "alice", "bob", 1000), Side::Foil, 300).unwrap();
    let state = apply(state, TallyCommand::CloseTally { by: Side::Stock, at: t(5) }).unwrap();
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
    body.stock.terms.lift_margin_milli = margins.0;
    body.foil.terms.lift_margin_milli = margins.1;
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
