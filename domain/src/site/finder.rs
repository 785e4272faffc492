//! The lift finder: simple cycles of positive capacity through a user, and the clearing loop that commits
//! lifts until none is left. Works on a compact graph of the open tallies, not on aggregates.
//!
//! Every tally t gives two directed "pays" edges: `2t` (the stock pays the foil: capacity balance - lower
//! bound) and `2t + 1` (the foil pays the stock: capacity upper bound - balance); `e ^ 1` is the reverse of `e`.
//! A lift of x along a cycle lowers each edge's capacity by x. Within one clearing run a tally moves in one
//! direction only: once lifted, its reverse edge is closed for the run. Otherwise, where lift margins let both
//! directions have capacity, two cycles could undo each other forever; with it capacities only shrink, every
//! lift saturates an edge, and a run ends after at most one lift per edge.
//!
//! Search: a breadth-first pass over the reverse graph gives, for every user within `h` hops, the fewest hops
//! back to the start; a depth-first walk from the start then only extends a path to a user that can still
//! get back within the remaining length (users beyond `h` hops are admitted only while the remaining length
//! exceeds `h`). With `h = max_len - 1` this prunes every dead end (used to enumerate all cycles); with
//! `h = max_len / 2` the two searches meet in the middle at a fraction of the cost (used to find one cycle).

use super::tally::Side;

pub type UserIx = u32;
pub type EdgeIx = u32;

/// One open tally as the finder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphTally {
    pub stock: UserIx,
    pub foil: UserIx,
    /// How far the stock may pay the foil in a lift (may be <= 0: no capacity).
    pub stock_pays_milli: i64,
    /// How far the foil may pay the stock in a lift.
    pub foil_pays_milli: i64,
}

#[derive(Debug, Clone)]
pub struct LiftGraph {
    tallies: Vec<GraphTally>,
    capacity: Vec<i64>,
    /// Balance change of each tally so far (stock's view: + = the foil paid).
    moved: Vec<i64>,
    out_start: Vec<u32>,
    out_edges: Vec<EdgeIx>,
    in_start: Vec<u32>,
    in_edges: Vec<EdgeIx>,
}

/// Compressed adjacency: `start[u]..start[u + 1]` indexes the edges of user u.
fn csr(users: usize, edges: usize, key: impl Fn(usize) -> UserIx) -> (Vec<u32>, Vec<EdgeIx>) {
    let mut start = vec![0u32; users + 1];
    for e in 0..edges {
        start[key(e) as usize + 1] += 1;
    }
    for u in 0..users {
        start[u + 1] += start[u];
    }
    let mut fill = start.clone();
    let mut list = vec![0; edges];
    for e in 0..edges {
        let slot = &mut fill[key(e) as usize];
        list[*slot as usize] = e as EdgeIx;
        *slot += 1;
    }
    (start, list)
}

impl LiftGraph {
    /// Panics if a tally names a user index `>= users` (a caller bug, not input).
    pub fn new(users: usize, tallies: Vec<GraphTally>) -> LiftGraph {
        let capacity = tallies.iter().flat_map(|t| [t.stock_pays_milli, t.foil_pays_milli]).collect();
        let from = |e: usize| {
            if e & 1 == 0 {
                tallies[e >> 1].stock
            } else {
                tallies[e >> 1].foil
            }
        };
        let to = |e: usize| {
            if e & 1 == 0 {
                tallies[e >> 1].foil
            } else {
                tallies[e >> 1].stock
            }
        };
        let (out_start, out_edges) = csr(users, tallies.len() * 2, from);
        let (in_start, in_edges) = csr(users, tallies.len() * 2, to);
        let moved = vec![0; tallies.len()];
        LiftGraph { tallies, capacity, moved, out_start, out_edges, in_start, in_edges }
    }

    pub fn users(&self) -> usize {
        self.out_start.len() - 1
    }

    pub fn tally_of(edge: EdgeIx) -> usize {
        (edge >> 1) as usize
    }

    pub fn payer_side(edge: EdgeIx) -> Side {
        if edge & 1 == 0 {
            Side::Stock
        } else {
            Side::Foil
        }
    }

    pub fn from(&self, edge: EdgeIx) -> UserIx {
        let t = &self.tallies[Self::tally_of(edge)];
        if edge & 1 == 0 {
            t.stock
        } else {
            t.foil
        }
    }

    pub fn to(&self, edge: EdgeIx) -> UserIx {
        self.from(edge ^ 1)
    }

    pub fn capacity(&self, edge: EdgeIx) -> i64 {
        self.capacity[edge as usize]
    }

    fn out(&self, u: UserIx) -> &[EdgeIx] {
        &self.out_edges[self.out_start[u as usize] as usize..self.out_start[u as usize + 1] as usize]
    }

    fn inc(&self, u: UserIx) -> &[EdgeIx] {
        &self.in_edges[self.in_start[u as usize] as usize..self.in_start[u as usize + 1] as usize]
    }

    /// How far the tally's balance moved in this run (stock's view: + = the foil paid).
    pub fn moved_milli(&self, tally: usize) -> i64 {
        self.moved[tally]
    }

    /// Moves `units_milli` along `cycle` and closes the reverse direction of every tally used (see above).
    pub fn apply(&mut self, cycle: &[EdgeIx], units_milli: i64) {
        for &e in cycle {
            self.capacity[e as usize] -= units_milli;
            let reverse = &mut self.capacity[(e ^ 1) as usize];
            *reverse = (*reverse).min(0);
            self.moved[Self::tally_of(e)] += match Self::payer_side(e) {
                Side::Foil => units_milli,
                Side::Stock => -units_milli,
            };
        }
    }
}

/// A lift the clearing loop committed on the graph: edges in cycle order and the amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLift {
    pub edges: Vec<EdgeIx>,
    pub units_milli: i64,
}

/// Scratch space reused across searches: stamped arrays instead of clearing maps of `users` entries.
pub struct Finder {
    stamp: u32,
    dist_stamp: Vec<u32>,
    dist: Vec<u8>,
    path_stamp: Vec<u32>,
    queue: Vec<UserIx>,
    path: Vec<EdgeIx>,
    max_len: usize,
    known_depth: usize,
}

impl Finder {
    pub fn new(users: usize) -> Finder {
        Finder {
            stamp: 0,
            dist_stamp: vec![0; users],
            dist: vec![0; users],
            path_stamp: vec![0; users],
            queue: Vec::new(),
            path: Vec::new(),
            max_len: 0,
            known_depth: 0,
        }
    }

    fn next_stamp(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.dist_stamp.fill(0);
            self.path_stamp.fill(0);
            self.stamp = 1;
        }
    }

    /// Fewest hops from each user back to `start` over positive edges, up to `depth` hops.
    fn backward_distances(&mut self, g: &LiftGraph, start: UserIx, depth: usize, excluded: &[bool]) {
        self.queue.clear();
        self.queue.push(start);
        self.dist_stamp[start as usize] = self.stamp;
        self.dist[start as usize] = 0;
        let mut head = 0;
        while head < self.queue.len() {
            let v = self.queue[head];
            head += 1;
            let d = self.dist[v as usize];
            if d as usize >= depth {
                continue;
            }
            for &e in g.inc(v) {
                let u = g.from(e);
                if g.capacity(e) > 0 && self.dist_stamp[u as usize] != self.stamp && !excluded[u as usize] {
                    self.dist_stamp[u as usize] = self.stamp;
                    self.dist[u as usize] = d + 1;
                    self.queue.push(u);
                }
            }
        }
    }

    /// Whether a path may still get from `u` back to the start in `remaining` hops.
    fn may_return(&self, u: UserIx, remaining: usize) -> bool {
        if self.dist_stamp[u as usize] == self.stamp {
            self.dist[u as usize] as usize <= remaining
        } else {
            remaining > self.known_depth
        }
    }

    /// Depth-first from `v` (the path so far is `self.path`); pushes closed cycles into `out`. Returns true to
    /// stop (the limit is reached). Depth is at most `max_len`, so recursion is bounded.
    fn walk(
        &mut self,
        g: &LiftGraph,
        start: UserIx,
        v: UserIx,
        out: &mut Vec<Vec<EdgeIx>>,
        limit: usize,
        excluded: &[bool],
    ) -> bool {
        let depth = self.path.len();
        for &e in g.out(v) {
            if g.capacity(e) <= 0 {
                continue;
            }
            let w = g.to(e);
            if w == start {
                self.path.push(e);
                out.push(self.path.clone());
                self.path.pop();
                if out.len() >= limit {
                    return true;
                }
                continue;
            }
            let remaining = self.max_len - depth - 1;
            if remaining == 0
                || self.path_stamp[w as usize] == self.stamp
                || excluded[w as usize]
                || !self.may_return(w, remaining)
            {
                continue;
            }
            self.path_stamp[w as usize] = self.stamp;
            self.path.push(e);
            let stop = self.walk(g, start, w, out, limit, excluded);
            self.path.pop();
            self.path_stamp[w as usize] = 0;
            if stop {
                return true;
            }
        }
        false
    }

    fn search(
        &mut self,
        g: &LiftGraph,
        start: UserIx,
        max_len: usize,
        known_depth: usize,
        limit: usize,
        excluded: &[bool],
    ) -> Vec<Vec<EdgeIx>> {
        let mut out = Vec::new();
        if max_len < 2 || limit == 0 || excluded[start as usize] {
            return out;
        }
        self.next_stamp();
        self.max_len = max_len;
        self.known_depth = known_depth;
        self.backward_distances(g, start, known_depth, excluded);
        if self.dist_stamp[start as usize] == self.stamp && self.queue.len() == 1 {
            return out; // nobody can pay back to the start: no cycle at all
        }
        self.path.clear();
        self.path_stamp[start as usize] = self.stamp;
        self.walk(g, start, start, &mut out, limit, excluded);
        self.path_stamp[start as usize] = 0;
        out
    }

    /// Every simple cycle of positive capacity and at most `max_len` hops through `start`, each as its edges
    /// from `start` round to `start`; at most `limit` of them.
    pub fn cycles_through(&mut self, g: &LiftGraph, start: UserIx, max_len: usize, limit: usize) -> Vec<Vec<EdgeIx>> {
        let none = vec![false; g.users()];
        self.search(g, start, max_len, max_len.saturating_sub(1), limit, &none)
    }

    /// One cycle through `start`, avoiding `excluded` users (meet-in-the-middle depth).
    fn one_cycle(&mut self, g: &LiftGraph, start: UserIx, max_len: usize, excluded: &[bool]) -> Option<Vec<EdgeIx>> {
        self.search(g, start, max_len, max_len / 2, 1, excluded).pop()
    }
}

/// Commits lifts on `g` until no cycle of at most `max_len` hops has capacity left, or `max_lifts` were
/// committed. Each lift saturates at least one edge. Since capacities only shrink during a run, a user whose
/// cycles are exhausted can never be on a cycle again and is left out of every later search.
pub fn clear(g: &mut LiftGraph, max_len: usize, max_lifts: usize) -> Vec<FoundLift> {
    let mut lifts = Vec::new();
    clear_each(g, max_len, max_lifts, |lift| {
        lifts.push(lift);
        true
    });
    lifts
}

/// [`clear`], handing each lift to `emit` as soon as it is found (so a caller can commit lifts while the
/// search goes on); stops early when `emit` returns false. Returns how many lifts were emitted.
pub fn clear_each(
    g: &mut LiftGraph,
    max_len: usize,
    max_lifts: usize,
    mut emit: impl FnMut(FoundLift) -> bool,
) -> usize {
    let users = g.users();
    let mut finder = Finder::new(users);
    let mut excluded = vec![false; users];
    let mut emitted = 0;
    for start in 0..users as UserIx {
        while emitted < max_lifts {
            let Some(edges) = finder.one_cycle(g, start, max_len, &excluded) else {
                break;
            };
            let units_milli = edges.iter().map(|&e| g.capacity(e)).min().unwrap_or(0);
            g.apply(&edges, units_milli);
            emitted += 1;
            if !emit(FoundLift { edges, units_milli }) {
                return emitted;
            }
        }
        excluded[start as usize] = true;
    }
    emitted
}

#[cfg(test)]
#[path = "finder_tests.rs"]
mod tests;
