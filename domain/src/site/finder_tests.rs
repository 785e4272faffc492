use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

/// Every simple cycle through `start`, by plain exhaustive recursion: the reference the finder must match.
fn brute_force(g: &LiftGraph, start: UserIx, max_len: usize) -> BTreeSet<Vec<EdgeIx>> {
    fn go(
        g: &LiftGraph,
        start: UserIx,
        v: UserIx,
        max_len: usize,
        path: &mut Vec<EdgeIx>,
        seen: &mut Vec<UserIx>,
        out: &mut BTreeSet<Vec<EdgeIx>>,
    ) {
        if path.len() == max_len {
            return;
        }
        for e in 0..(g.tallies.len() * 2) as EdgeIx {
            if g.from(e) != v || g.capacity(e) <= 0 {
                continue;
            }
            let w = g.to(e);
            path.push(e);
            if w == start {
                out.insert(path.clone());
            } else if !seen.contains(&w) {
                seen.push(w);
                go(g, start, w, max_len, path, seen, out);
                seen.pop();
            }
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    go(g, start, start, max_len, &mut Vec::new(), &mut vec![start], &mut out);
    out
}

fn tally(stock: UserIx, foil: UserIx, balance: i64) -> GraphTally {
    GraphTally { stock, foil, stock_pays_milli: balance, foil_pays_milli: -balance }
}

/// Positions of every user: what stock holders are owed minus what foil holders owe.
fn net_positions(users: usize, tallies: &[GraphTally], balances: &[i64]) -> Vec<i64> {
    let mut net = vec![0; users];
    for (t, b) in tallies.iter().zip(balances) {
        net[t.stock as usize] += b;
        net[t.foil as usize] -= b;
    }
    net
}

#[test]
fn three_user_cycle_is_found_and_cleared() {
    // bob owes alice 5, carol owes bob 3, alice owes carol 4: a cycle where each pays the next.
    let tallies = vec![tally(0, 1, 5), tally(1, 2, 3), tally(2, 0, 4)];
    let mut g = LiftGraph::new(3, tallies);
    let mut finder = Finder::new(3);
    let cycles = finder.cycles_through(&g, 0, 8, 100);
    assert_eq!(cycles, vec![vec![0, 2, 4]]);
    let lifts = clear(&mut g, 8, 100);
    assert_eq!(lifts, vec![FoundLift { edges: vec![0, 2, 4], units_milli: 3 }]);
    assert_eq!([g.capacity(0), g.capacity(2), g.capacity(4)], [2, 0, 1]);
    assert_eq!([g.moved_milli(0), g.moved_milli(1), g.moved_milli(2)], [-3, -3, -3]);
    assert!(finder.cycles_through(&g, 0, 8, 100).is_empty());
}

#[test]
fn cycles_longer_than_max_len_are_not_found() {
    let tallies = (0..5).map(|i| tally(i, (i + 1) % 5, 10)).collect();
    let g = LiftGraph::new(5, tallies);
    assert!(Finder::new(5).cycles_through(&g, 0, 4, 100).is_empty());
    assert_eq!(Finder::new(5).cycles_through(&g, 0, 5, 100).len(), 1);
}

#[test]
fn limit_bounds_the_result() {
    // Two parallel tallies on each hop of a triangle: 8 cycles through user 0.
    let tallies = (0..3).flat_map(|i| [tally(i, (i + 1) % 3, 1), tally(i, (i + 1) % 3, 2)]).collect();
    let g = LiftGraph::new(3, tallies);
    assert_eq!(Finder::new(3).cycles_through(&g, 0, 3, 100).len(), 8);
    assert_eq!(Finder::new(3).cycles_through(&g, 0, 3, 5).len(), 5);
}

#[test]
fn clear_each_hands_over_the_lifts_clear_finds_and_stops_when_told() {
    // Two disjoint triangles: two lifts.
    let tallies: Vec<GraphTally> = (0..6).map(|i| tally(i, i / 3 * 3 + (i + 1) % 3, 10 + i as i64)).collect();
    let expected = clear(&mut LiftGraph::new(6, tallies.clone()), 8, 100);
    assert_eq!(expected.len(), 2);
    let mut emitted = Vec::new();
    let count = clear_each(&mut LiftGraph::new(6, tallies.clone()), 8, 100, |lift| {
        emitted.push(lift);
        true
    });
    assert_eq!((count, &emitted), (2, &expected));
    let mut first = Vec::new();
    let mut g = LiftGraph::new(6, tallies);
    let count = clear_each(&mut g, 8, 100, |lift| {
        first.push(lift);
        false
    });
    assert_eq!((count, first.as_slice()), (1, &expected[..1]));
    assert_eq!(clear(&mut g, 8, 100), expected[1..], "the second cycle is left untouched");
}

prop_compose! {
    fn network()(users in 2usize..9)(
        users in Just(users),
        raw in prop::collection::vec((0..users as u32, 0..users as u32, -50i64..50, 0i64..20, 0i64..20), 0..30),
    ) -> (usize, Vec<GraphTally>) {
        let tallies = raw
            .into_iter()
            .filter(|(s, f, ..)| s != f)
            .map(|(stock, foil, balance, stock_margin, foil_margin)| GraphTally {
                stock,
                foil,
                // lower bound -stock_margin, upper bound foil_margin (see TallyBody::lift_bounds_milli)
                stock_pays_milli: balance + stock_margin,
                foil_pays_milli: foil_margin - balance,
            })
            .collect();
        (users, tallies)
    }
}

proptest! {
    #[test]
    fn finder_matches_brute_force((users, tallies) in network(), max_len in 2usize..7) {
        let g = LiftGraph::new(users, tallies);
        let mut finder = Finder::new(users);
        for start in 0..users as UserIx {
            let found: BTreeSet<_> = finder.cycles_through(&g, start, max_len, usize::MAX).into_iter().collect();
            prop_assert_eq!(found, brute_force(&g, start, max_len));
        }
    }

    #[test]
    fn clearing_conserves_positions_and_respects_bounds((users, tallies) in network(), max_len in 2usize..7) {
        let mut g = LiftGraph::new(users, tallies.clone());
        let lifts = clear(&mut g, max_len, 10_000);
        prop_assert!(lifts.len() < 10_000, "clearing must end on its own");
        let balances_before: Vec<i64> = tallies.iter().map(|t| t.stock_pays_milli).collect();
        let balances_after: Vec<i64> = (0..tallies.len()).map(|t| balances_before[t] + g.moved_milli(t)).collect();
        prop_assert_eq!(net_positions(users, &tallies, &balances_before), net_positions(users, &tallies, &balances_after));
        for (t, original) in tallies.iter().enumerate() {
            // down by at most what the stock could pay, up by at most what the foil could pay
            let moved = g.moved_milli(t);
            prop_assert!(moved >= 0 || -moved <= original.stock_pays_milli, "tally {} crossed its lower bound", t);
            prop_assert!(moved <= 0 || moved <= original.foil_pays_milli, "tally {} crossed its upper bound", t);
        }
        for lift in &lifts {
            prop_assert!(lift.units_milli > 0);
            let mut users_seen: Vec<UserIx> = lift.edges.iter().map(|&e| g.from(e)).collect();
            users_seen.sort();
            users_seen.dedup();
            prop_assert_eq!(users_seen.len(), lift.edges.len(), "a lift is a simple cycle");
        }
        let mut finder = Finder::new(users);
        for start in 0..users as UserIx {
            prop_assert!(finder.cycles_through(&g, start, max_len, 1).is_empty(), "nothing left to lift");
        }
    }
}
