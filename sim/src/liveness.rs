//! The liveness search: fair cycles (lassos) over the reachable graph.
//!
//! Each property of `model::liveness::LIVENESS` is "always eventually GOAL". It is violated
//! exactly when a reachable cycle on which GOAL never holds is fair, or when a reachable
//! state where GOAL does not hold has no owed step at all (the system stutters there for
//! ever). The search stores the whole reachable graph once (packed states, and the owed
//! edges in compressed rows), then for each property runs an iterative Tarjan (Pearce's variant) over the
//! states where GOAL is false, restricted to owed edges (faults and guest steps may not
//! repeat for ever: `model::liveness`).
//!
//! Why the SCC test is exact for weak fairness: inside one strongly connected component
//! a single cycle can visit every state and take every edge, so the component holds a fair
//! cycle iff every class enabled in *all* its states is taken on some edge inside it. A
//! class disabled somewhere in the component is not continuously enabled on the cycle that
//! passes there; a class enabled everywhere must be taken, and the whole-component cycle
//! takes every internal edge. No smaller cycle can be fair when the whole one is not: it
//! has at least the same continuously enabled classes and at most the same edges.
//!
//! With symmetry the graph is over representatives. Goals and fairness classes do not
//! depend on the names of blocks, so a cycle of representatives lifts to a concrete path
//! that returns to a renaming of its start; repeating it (at most the order of the
//! renaming, 24 for four blocks) closes a concrete cycle, which is what the trace holds.
//!
//! The graph: the breadth-first search records it as it goes (`bfs::explore_with_graph`):
//! per state its goals (1 byte) and the start of its owed edges (4 bytes), per owed edge
//! its target, class and action number (6 bytes), numbered as that search numbers its
//! states and keyed as it keys them (fingerprints in the gate's mode, whole states under
//! `--exact`; ARCHITECTURE.md gives the collision argument). The owed classes enabled in
//! a state are its edges' classes, so they are not stored. This module's own exploration
//! over whole states (`exact_graph`) builds the same graph a second way, for the test
//! that compares the two.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use model::liveness::{self, LIVENESS};
use model::packed::{pack, unpack, Packed};
use model::symmetry;
use model::{Action, PivotModel, World};

use crate::bfs::{self, Limits};

/// A violation: the path from the initial state to the cycle's first state, and the cycle,
/// which returns to that state. An empty cycle means the last state of the stem stays for
/// ever: no owed step is enabled there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lasso {
    pub stem: Vec<Action>,
    pub cycle: Vec<Action>,
}

impl Lasso {
    /// Stem and cycle as one action list, with the index where the cycle starts.
    pub fn actions(&self) -> (Vec<Action>, usize) {
        let mut all = self.stem.clone();
        all.extend(&self.cycle);
        (all, self.stem.len())
    }
}

#[derive(Clone, Debug)]
pub struct LivenessExploration {
    pub complete: bool,
    pub stopped: Option<String>,
    pub unique_states: usize,
    /// Owed edges stored.
    pub edges: usize,
    /// Bytes the graph and the cycle search held (rows, edges, numbering), beside the
    /// breadth-first search's own.
    pub bytes: usize,
    /// For each property of `LIVENESS`, a violating lasso (`None`: it holds, if complete).
    pub violations: Vec<Option<Lasso>>,
    pub elapsed: Duration,
}

/// The graph the cycle search runs on: per state its goals and owed classes, its owed
/// edges in compressed rows, and the breadth-first tree for stems. Built by the
/// breadth-first search itself (`bfs::explore_with_graph`), or by [`explore`]'s own
/// exploration over whole states (kept to cross-check the first: a test compares them).
#[derive(Default)]
pub struct Graph {
    /// The states, only while [`explore`]'s own exploration runs (the index reads them).
    pub(crate) states: Vec<Packed>,
    /// BFS tree: state n was first reached from parent[n] by its action number action[n].
    pub(crate) parent: Vec<u32>,
    pub(crate) action: Vec<u8>,
    /// Owed edges of state n: edge_start[n]..edge_start[n+1].
    pub(crate) edge_start: Vec<u32>,
    pub(crate) edge_to: Vec<u32>,
    pub(crate) edge_class: Vec<u8>,
    pub(crate) edge_action: Vec<u8>,
    /// For each state, one bit per property of `LIVENESS`: its goal holds.
    pub(crate) goals: Vec<u8>,
    /// Bytes the breadth-first search held only to number the edges' targets.
    pub(crate) index_bytes: usize,
}

/// One bit per property of `LIVENESS`: whether its goal holds in `state`.
pub(crate) fn goals(config: &model::Config, state: &World) -> u8 {
    goals_given(config, state, &state.views())
}

/// [`goals`], given `state`'s views (`World::views`, empty for one disk): a goal of
/// several disks is its one-disk goal on every view.
pub(crate) fn goals_given(config: &model::Config, state: &World, views: &[World]) -> u8 {
    LIVENESS.iter().enumerate().fold(0u8, |m, (i, p)| {
        let holds = if views.is_empty() {
            (p.goal)(config, state)
        } else {
            views.iter().all(|v| (p.disk)(config, v))
        };
        if holds {
            m | 1 << i
        } else {
            m
        }
    })
}

/// The graph's index from a state to its number: open addressing with linear probing
/// over `u32` slots (0: empty, n + 1: state n), the first slot named by the state's
/// fingerprint's high bits and a match confirmed against the stored state. It is exact
/// (a fingerprint only says where to look), and costs 4 bytes a slot instead of a second
/// copy of every state beside its number (a `HashMap<Packed, u32>` bucket is 41 bytes).
struct StateIndex {
    slots: Vec<u32>,
    /// 64 minus log2 of the number of slots.
    shift: u32,
    len: usize,
}

impl StateIndex {
    /// An index that holds `expected` states before it first grows.
    fn with_room(expected: usize) -> StateIndex {
        let bits = (expected.max(512) * 8 / 7 + 1)
            .next_power_of_two()
            .trailing_zeros();
        StateIndex {
            slots: vec![0; 1 << bits],
            shift: 64 - bits,
            len: 0,
        }
    }

    /// The number of `state`, or the empty slot where it goes.
    #[inline]
    fn find(&self, states: &[Packed], state: &Packed, fp: u64) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut i = (fp >> self.shift) as usize;
        loop {
            match self.slots[i] {
                0 => return Err(i),
                n if states[n as usize - 1] == *state => return Ok(n - 1),
                _ => i = (i + 1) & mask,
            }
        }
    }

    #[inline]
    fn prefetch(&self, fp: u64) {
        crate::bfs::prefetch_slot(&self.slots[(fp >> self.shift) as usize]);
    }

    /// Prefetches the state that `fp`'s first slot names, the one a lookup compares first.
    #[inline]
    fn prefetch_state(&self, states: &[Packed], fp: u64) {
        let n = self.slots[(fp >> self.shift) as usize];
        if n != 0 {
            crate::bfs::prefetch_slot(&states[n as usize - 1]);
        }
    }

    /// Files state `id` (just pushed onto `states`) under the empty `slot` that `find` gave.
    fn insert(&mut self, states: &[Packed], slot: usize, id: u32) {
        self.slots[slot] = id + 1;
        self.len += 1;
        if self.len * 8 > self.slots.len() * 7 {
            let doubled = vec![0; self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, doubled);
            self.shift -= 1;
            for n in old.into_iter().filter(|&n| n != 0) {
                let state = &states[n as usize - 1];
                let slot = self
                    .find(states, state, state.fingerprint())
                    .expect_err("a state is filed once");
                self.slots[slot] = n;
            }
        }
    }
}

/// How large the graph will be, when a search has counted it already: its tables are then
/// allocated once, with no slack from doubling.
#[derive(Clone, Copy, Debug, Default)]
pub struct GraphSize {
    pub states: usize,
    pub owed_edges: usize,
}

fn build(
    model: &PivotModel,
    symmetric: bool,
    limits: &Limits,
    started: Instant,
    expected: GraphSize,
) -> Result<Graph, String> {
    let expected_states = expected.states;
    let mut index = StateIndex::with_room(expected_states);
    let mut init = model.init_state();
    if symmetric {
        symmetry::canonicalize(&model.config, &mut init);
    }
    let init = pack(&init);
    // Sized for the states the breadth-first search counted, so no doubling leaves slack.
    let mut g = Graph {
        states: Vec::with_capacity(expected_states),
        parent: Vec::with_capacity(expected_states),
        action: Vec::with_capacity(expected_states),
        edge_start: Vec::with_capacity(expected_states + 1),
        edge_to: Vec::with_capacity(expected.owed_edges),
        edge_class: Vec::with_capacity(expected.owed_edges),
        edge_action: Vec::with_capacity(expected.owed_edges),
        goals: Vec::with_capacity(expected_states),
        index_bytes: 0,
    };
    g.states.push(init);
    g.parent.push(u32::MAX);
    g.action.push(0);
    g.edge_start.push(0);
    let slot = index
        .find(&g.states[..0], &init, init.fingerprint())
        .expect_err("an empty index");
    index.insert(&g.states, slot, 0);
    let mut enabled = Vec::new();
    let mut successors: Vec<(Packed, u64)> = Vec::new();
    let mut generated = 0usize;
    let mut next = 0usize;
    while next < g.states.len() {
        if next.is_multiple_of(4096) {
            if limits.max_states.is_some_and(|n| generated >= n) {
                return Err(format!("state cap: {generated} states generated"));
            }
            if limits.timeout.is_some_and(|t| started.elapsed() >= t) {
                return Err(format!(
                    "timeout after {:.1} s",
                    started.elapsed().as_secs_f64()
                ));
            }
            if let Some(max) = limits.max_memory {
                let rss = bfs::resident_bytes();
                if rss >= max {
                    return Err(format!("memory limit: {} MiB resident", rss >> 20));
                }
            }
        }
        let state = unpack(&g.states[next]);
        g.goals.push(goals(&model.config, &state));
        enabled.clear();
        model::world::actions(&model.config, &state, &mut enabled);
        generated += enabled.len();
        // All successors first, their slots prefetched, then the states those slots name,
        // then the lookups: the cache misses of a state's successors overlap.
        successors.clear();
        for &a in &enabled {
            let mut succ = model.step(&state, a);
            if symmetric {
                symmetry::canonicalize(&model.config, &mut succ);
            }
            let succ = pack(&succ);
            let fp = succ.fingerprint();
            index.prefetch(fp);
            successors.push((succ, fp));
        }
        for &(_, fp) in &successors {
            index.prefetch_state(&g.states, fp);
        }
        for (i, (&a, &(succ, fp))) in enabled.iter().zip(&successors).enumerate() {
            let id = match index.find(&g.states, &succ, fp) {
                Ok(id) => id,
                Err(slot) => {
                    let id = u32::try_from(g.states.len()).expect("fewer than 4 billion states");
                    g.states.push(succ);
                    g.parent.push(next as u32);
                    g.action.push(i as u8);
                    index.insert(&g.states, slot, id);
                    id
                }
            };
            if let Some(class) = liveness::fairness_class(a) {
                g.edge_to.push(id);
                g.edge_class.push(class);
                g.edge_action.push(i as u8);
            }
        }
        g.edge_start.push(g.edge_to.len() as u32);
        next += 1;
    }
    // Both searches number the same states in the same order: a difference is a bug in one.
    assert!(
        expected.states == 0
            || (expected.states, expected.owed_edges) == (g.states.len(), g.edge_to.len()),
        "the breadth-first search counted {expected:?}, the graph has {} states and {} owed edges",
        g.states.len(),
        g.edge_to.len()
    );
    Ok(g)
}

impl Graph {
    fn edges(&self, n: u32) -> std::ops::Range<usize> {
        self.edge_start[n as usize] as usize..self.edge_start[n as usize + 1] as usize
    }

    /// The owed classes enabled in state `n`, one bit per class: every enabled owed step
    /// is an edge, so its classes are its edges' (not stored: 4 bytes a state saved).
    fn enabled(&self, n: u32) -> u32 {
        self.edges(n).fold(0, |m, e| m | 1 << self.edge_class[e])
    }
}

/// A violating component or end state of one property: its states (lowest number first).
struct Bad {
    states: Vec<u32>,
    /// Classes enabled in every state of the component (0 for a stuttering end).
    always_enabled: u32,
}

/// The strongly connected components of the states where goal bit `p` is false, following
/// owed edges that stay there, by Pearce's space-efficient variant of Tarjan's algorithm
/// ("A space-efficient algorithm for finding strongly connected components", 2016),
/// iterative: one `u32` a state (`rindex`: 0 unvisited, then the visit's index, then the
/// component's number, counted down from `n` so that a finished state never lowers an
/// active one's), where Tarjan keeps an index, a low link and an on-stack flag (9 bytes).
/// Returns the fair component (or stuttering end) with the lowest-numbered state, which
/// the breadth-first numbering makes the one with the shortest stem.
fn find_bad(g: &Graph, p: usize) -> Option<Bad> {
    // The states themselves are gone by now (`explore` drops them): count the goals.
    let n = g.goals.len();
    let bad = |s: u32| g.goals[s as usize] & (1 << p) == 0;
    const UNSEEN: u32 = 0;
    let mut rindex = vec![UNSEEN; n];
    let mut index = 1u32;
    // Counted down from `n`, one per component, so never 0 (unvisited) and always above
    // every active index (at most 1 + the states visited and not yet in a component).
    let mut component_number = n as u32;
    // States finished but not roots, waiting for their component's root.
    let mut stack: Vec<u32> = Vec::new();
    // (state, next edge position, still a root)
    let mut calls: Vec<(u32, usize, bool)> = Vec::new();
    let mut best: Option<Bad> = None;
    let mut component = Vec::new();
    for root in 0..n as u32 {
        if !bad(root) {
            continue;
        }
        // A stuttering end: nothing owed is enabled.
        if g.enabled(root) == 0 {
            if best.as_ref().is_none_or(|b| root < b.states[0]) {
                best = Some(Bad {
                    states: vec![root],
                    always_enabled: 0,
                });
            }
            continue;
        }
        if rindex[root as usize] != UNSEEN {
            continue;
        }
        rindex[root as usize] = index;
        index += 1;
        calls.push((root, g.edges(root).start, true));
        while let Some(&mut (v, ref mut pos, ref mut is_root)) = calls.last_mut() {
            let end = g.edges(v).end;
            let mut descended = None;
            while *pos < end {
                let w = g.edge_to[*pos];
                *pos += 1;
                if !bad(w) {
                    continue;
                }
                if rindex[w as usize] == UNSEEN {
                    descended = Some(w);
                    break;
                }
                if rindex[w as usize] < rindex[v as usize] {
                    rindex[v as usize] = rindex[w as usize];
                    *is_root = false;
                }
            }
            if let Some(w) = descended {
                rindex[w as usize] = index;
                index += 1;
                calls.push((w, g.edges(w).start, true));
                continue;
            }
            let is_root = *is_root;
            calls.pop();
            if is_root {
                index -= 1;
                component.clear();
                component.push(v);
                while let Some(&w) = stack.last() {
                    if rindex[v as usize] > rindex[w as usize] {
                        break;
                    }
                    stack.pop();
                    rindex[w as usize] = component_number;
                    index -= 1;
                    component.push(w);
                }
                rindex[v as usize] = component_number;
                component_number -= 1;
                if let Some(b) = fair(g, &component, &bad) {
                    if best.as_ref().is_none_or(|x| b.states[0] < x.states[0]) {
                        best = Some(b);
                    }
                }
            } else {
                stack.push(v);
            }
            if let Some((parent, _, parent_is_root)) = calls.last_mut() {
                if rindex[v as usize] < rindex[*parent as usize] {
                    rindex[*parent as usize] = rindex[v as usize];
                    *parent_is_root = false;
                }
            }
        }
    }
    best
}

/// Whether `component` holds a fair cycle: it has an internal edge, and every class
/// enabled in all its states is taken on one.
fn fair(g: &Graph, component: &[u32], bad: &dyn Fn(u32) -> bool) -> Option<Bad> {
    let mut members: Vec<u32> = component.to_vec();
    members.sort_unstable();
    let inside = |s: u32| members.binary_search(&s).is_ok();
    let mut always = u32::MAX;
    let mut taken = 0u32;
    let mut internal = false;
    for &s in &members {
        always &= g.enabled(s);
        for e in g.edges(s) {
            let t = g.edge_to[e];
            if bad(t) && inside(t) {
                internal = true;
                taken |= 1 << g.edge_class[e];
            }
        }
    }
    (internal && always & !taken == 0).then_some(Bad {
        states: members,
        always_enabled: always,
    })
}

/// A path of (state, edge) inside `members` from `from` to a state satisfying `target`,
/// by breadth-first search; the edges are positions in the edge arrays.
fn path_inside(
    g: &Graph,
    members: &[u32],
    from: u32,
    target: &dyn Fn(u32) -> bool,
) -> (Vec<usize>, u32) {
    let inside = |s: u32| members.binary_search(&s).is_ok();
    if target(from) {
        return (Vec::new(), from);
    }
    let mut prev: HashMap<u32, (u32, usize)> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    while let Some(v) = queue.pop_front() {
        for e in g.edges(v) {
            let w = g.edge_to[e];
            if !inside(w) || w == from || prev.contains_key(&w) {
                continue;
            }
            prev.insert(w, (v, e));
            if target(w) {
                let mut edges = vec![e];
                let mut at = v;
                while at != from {
                    let (p, pe) = prev[&at];
                    edges.push(pe);
                    at = p;
                }
                edges.reverse();
                return (edges, w);
            }
            queue.push_back(w);
        }
    }
    unreachable!("a strongly connected component connects all its states")
}

/// The representative-level lasso through `bad`: stem edges (as action numbers along the
/// BFS tree) and cycle edges (positions in the edge arrays).
fn lasso_numbers(g: &Graph, bad: &Bad) -> (Vec<u8>, Vec<u8>) {
    let entry = bad.states[0];
    let mut stem = Vec::new();
    let mut i = entry;
    while i != 0 {
        stem.push(g.action[i as usize]);
        i = g.parent[i as usize];
    }
    stem.reverse();
    if bad.always_enabled == 0 && bad.states.len() == 1 && g.enabled(entry) == 0 {
        return (stem, Vec::new());
    }
    let members = &bad.states;
    let inside = |s: u32| members.binary_search(&s).is_ok();
    let mut cycle: Vec<usize> = Vec::new();
    let mut at = entry;
    // Waypoints: an internal edge of each class enabled everywhere, and a state where each
    // other owed class is disabled; then back to the entry.
    let some_enabled = members.iter().fold(0u32, |m, &s| m | g.enabled(s));
    for class in 0..liveness::CLASSES.len() as u8 {
        let bit = 1u32 << class;
        if bad.always_enabled & bit != 0 {
            let (path, src) = path_inside(g, members, at, &|s| {
                g.edges(s)
                    .any(|e| g.edge_class[e] == class && inside(g.edge_to[e]))
            });
            cycle.extend(path);
            let e = g
                .edges(src)
                .find(|&e| g.edge_class[e] == class && inside(g.edge_to[e]))
                .expect("the waypoint has the edge");
            cycle.push(e);
            at = g.edge_to[e];
        } else if some_enabled & bit != 0 {
            let (path, s) = path_inside(g, members, at, &|s| g.enabled(s) & bit == 0);
            cycle.extend(path);
            at = s;
        }
    }
    if cycle.is_empty() {
        // A one-state component: its self-loop.
        let e = g
            .edges(entry)
            .find(|&e| g.edge_to[e] == entry)
            .expect("a one-state component has a self-loop");
        cycle.push(e);
        at = entry;
    }
    let (back, _) = path_inside(g, members, at, &|s| s == entry);
    cycle.extend(back);
    (stem, cycle.iter().map(|&e| g.edge_action[e]).collect())
}

/// Maps action numbers (indices into the representative's enabled actions) onto the
/// concrete states reached from `state`.
fn concretize(
    model: &PivotModel,
    symmetric: bool,
    state: &mut World,
    numbers: &[u8],
) -> Option<Vec<Action>> {
    let mut out = Vec::with_capacity(numbers.len());
    for &n in numbers {
        let action = if symmetric {
            let (rep, renaming) = symmetry::canonical(&model.config, state);
            let a = *model.enabled(&rep).get(n as usize)?;
            renaming.inverse(model.config.blocks).action(a)
        } else {
            *model.enabled(state).get(n as usize)?
        };
        *state = model.step(state, action);
        out.push(action);
    }
    Some(out)
}

/// The concrete lasso through `bad`, re-checked on concrete states (`check_lasso`): it
/// must replay, close and violate property `p`. On a graph keyed by fingerprints, a
/// collision that invented an edge fails it here, and the search then says so instead of
/// reporting the lasso (ARCHITECTURE.md). With several disks it must also be fair to each
/// disk, which the search's per-kind fairness does not ensure; if it is not, the property
/// gets no verdict (on an exact graph, that is the only way this fails).
fn lasso(
    model: &PivotModel,
    symmetric: bool,
    g: &Graph,
    bad: &Bad,
    p: usize,
) -> Result<Lasso, String> {
    let unsound = |why: &str| {
        format!(
            "the lasso found for {} {why} on concrete states (a fingerprint collision?): check again with --exact",
            LIVENESS[p].name
        )
    };
    let (stem_numbers, cycle_numbers) = lasso_numbers(g, bad);
    let mut state = model.init_state();
    let stem = concretize(model, symmetric, &mut state, &stem_numbers)
        .ok_or_else(|| unsound("does not replay"))?;
    let start = state.clone();
    let mut cycle = Vec::new();
    if !cycle_numbers.is_empty() {
        // The representative cycle returns to a renaming of `start`; repeat it until the
        // concrete state itself comes back (a renaming's order is at most 24).
        for _ in 0..24 {
            cycle.extend(
                concretize(model, symmetric, &mut state, &cycle_numbers)
                    .ok_or_else(|| unsound("does not replay"))?,
            );
            if state == start {
                break;
            }
        }
    }
    let lasso = Lasso { stem, cycle };
    let (actions, cycle_start) = lasso.actions();
    let mut states = vec![model.init_state()];
    for &a in &actions {
        let next = model.step(states.last().expect("the initial state"), a);
        states.push(next);
    }
    match check_lasso(model, &LIVENESS[p], &actions, &states, cycle_start) {
        LassoCheck::Violates => Ok(lasso),
        starves @ LassoCheck::StarvesDisk(..) => Err(format!(
            "the lasso found for {} is fair per kind of step but not per disk ({}), so it proves nothing; the search's fairness is per kind, and another lasso may be fair: no verdict",
            LIVENESS[p].name,
            starves.words()
        )),
        other => Err(unsound(&format!("fails ({})", other.words()))),
    }
}

/// Builds the reachable graph of `model` and searches a violating lasso for each liveness
/// property. A search cut short by `limits` reports no violation and `complete: false`.
/// `expected` (from the breadth-first search, or zeros) sizes the graph's tables.
pub fn explore(
    model: &PivotModel,
    symmetric: bool,
    limits: &Limits,
    expected: GraphSize,
) -> LivenessExploration {
    let started = Instant::now();
    match build(model, symmetric, limits, started, expected) {
        Err(why) => LivenessExploration {
            complete: false,
            stopped: Some(why),
            unique_states: 0,
            edges: 0,
            bytes: 0,
            violations: vec![None; LIVENESS.len()],
            elapsed: started.elapsed(),
        },
        Ok(mut g) => {
            // The cycle search reads only the edges: the states (the largest table) go
            // before its own tables come, so they do not add to the peak.
            g.states = Vec::new();
            let mut found = explore_graph(model, symmetric, 1, g);
            found.elapsed = started.elapsed();
            found
        }
    }
}

/// The graph built by this module's own exploration over whole states, for comparing
/// with the one the breadth-first search records (`None` only if the model has more than
/// 4 billion states).
pub fn exact_graph(model: &PivotModel, symmetric: bool) -> Option<Graph> {
    build(
        model,
        symmetric,
        &Limits::default(),
        Instant::now(),
        GraphSize::default(),
    )
    .ok()
    .map(|mut g| {
        g.states = Vec::new();
        g
    })
}

/// Searches a violating lasso for each liveness property on a graph the breadth-first
/// search recorded (`bfs::explore_with_graph`); the time reported is the cycle search's.
/// The properties' component searches are independent: with `threads` above 1 they are
/// shared out over that many threads (each search with its own tables, 4 bytes a state),
/// and their results taken in the properties' order, so the verdicts and lassos are the
/// same with any number of threads.
pub fn explore_graph(
    model: &PivotModel,
    symmetric: bool,
    threads: usize,
    g: Graph,
) -> LivenessExploration {
    let started = Instant::now();
    let threads = threads.clamp(1, LIVENESS.len());
    let bad: Vec<Option<Bad>> = if threads == 1 {
        (0..LIVENESS.len()).map(|p| find_bad(&g, p)).collect()
    } else {
        std::thread::scope(|s| {
            let g = &g;
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (t..LIVENESS.len())
                            .step_by(threads)
                            .map(|p| (p, find_bad(g, p)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut bad: Vec<Option<Bad>> = (0..LIVENESS.len()).map(|_| None).collect();
            for h in handles {
                for (p, b) in h.join().expect("a cycle search thread panicked") {
                    bad[p] = b;
                }
            }
            bad
        })
    };
    let found: Result<Vec<_>, String> = bad
        .iter()
        .enumerate()
        .map(|(p, b)| {
            b.as_ref()
                .map(|b| lasso(model, symmetric, &g, b, p))
                .transpose()
        })
        .collect();
    let (violations, stopped) = match found {
        Ok(v) => (v, None),
        // No verdict rather than a lasso the model does not have: the search is incomplete.
        Err(why) => (vec![None; LIVENESS.len()], Some(why)),
    };
    LivenessExploration {
        complete: stopped.is_none(),
        stopped,
        unique_states: g.goals.len(),
        edges: g.edge_to.len(),
        bytes: g.bytes(),
        violations,
        elapsed: started.elapsed(),
    }
}

impl Graph {
    /// Bytes held for the cycle search: rows, edges, the BFS's state numbers, and the
    /// search's own table (`rindex`: 4 bytes a state).
    fn bytes(&self) -> usize {
        self.goals.capacity()
            + self.edge_start.capacity() * 4
            + self.edge_to.capacity() * 4
            + self.edge_class.capacity()
            + self.edge_action.capacity()
            + self.index_bytes
            + self.goals.len() * 4
    }

    /// The graph as comparable rows (for the test that compares the two builders):
    /// parents, action numbers, edge starts, edge targets, classes, action numbers, goals.
    #[doc(hidden)]
    pub fn rows(&self) -> Vec<Vec<u32>> {
        let wide = |v: &[u8]| v.iter().map(|&x| u32::from(x)).collect();
        vec![
            self.parent.clone(),
            wide(&self.action),
            self.edge_start.clone(),
            self.edge_to.clone(),
            wide(&self.edge_class),
            wide(&self.edge_action),
            wide(&self.goals),
        ]
    }
}

/// What replaying a lasso shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LassoCheck {
    /// The cycle closes, the goal never holds on it, and it is fair (or the end stutters
    /// with nothing owed enabled).
    Violates,
    /// The cycle does not return to its first state.
    Open,
    /// The goal holds at step `n` of the cycle (0 = its first state).
    GoalHolds(usize),
    /// The cycle leaves an owed class enabled throughout without taking it.
    Unfair(&'static str),
    /// The cycle takes a fault or guest step, which may not repeat for ever.
    Unowed(usize),
    /// The cycle is fair per kind of step but leaves one disk's step of that kind enabled
    /// throughout without taking it (the kind is taken on another disk).
    StarvesDisk(&'static str, u8),
}

impl LassoCheck {
    pub fn words(&self) -> String {
        match self {
            LassoCheck::Violates => "the cycle violates the property".into(),
            LassoCheck::Open => "the cycle does not return to its first state".into(),
            LassoCheck::GoalHolds(k) => format!("the goal holds at step {k} of the cycle"),
            LassoCheck::Unfair(c) => {
                format!("the cycle is unfair: `{c}` stays enabled and is never taken")
            }
            LassoCheck::StarvesDisk(c, d) => format!(
                "the cycle starves disk {d}: its `{c}` stays enabled and is never taken (another disk's is)"
            ),
            LassoCheck::Unowed(k) => format!(
                "step {k} of the cycle is a fault or a guest step, which may not repeat for ever"
            ),
        }
    }
}

/// Checks a lasso on concrete states: `states` are the states along `actions` (initial
/// first), the cycle is `actions[cycle_start..]`.
pub fn check_lasso(
    model: &PivotModel,
    property: &liveness::LivenessDef,
    actions: &[Action],
    states: &[World],
    cycle_start: usize,
) -> LassoCheck {
    let cycle = &actions[cycle_start..];
    let on_cycle = &states[cycle_start..];
    if let Some(k) = on_cycle
        .iter()
        .position(|s| (property.goal)(&model.config, s))
    {
        return LassoCheck::GoalHolds(k);
    }
    if cycle.is_empty() {
        let last = states.last().expect("a trace has an initial state");
        let owed = liveness::owed(&model.enabled(last));
        return match (0..liveness::CLASSES.len()).find(|&c| owed & (1 << c) != 0) {
            Some(c) => LassoCheck::Unfair(liveness::CLASSES[c]),
            None => LassoCheck::Violates,
        };
    }
    if states[cycle_start] != *states.last().expect("non-empty") {
        return LassoCheck::Open;
    }
    if let Some(k) = cycle
        .iter()
        .position(|&a| liveness::fairness_class(a).is_none())
    {
        return LassoCheck::Unowed(k);
    }
    // Per kind (the search's fairness) and per disk: with several disks a cycle may take
    // disk 0's copy for ever while disk 1's stays enabled and starved. Such a run is not
    // fair to disk 1, so it shows no violation; the search cannot tell, so check it here.
    let (always, always_per_disk) =
        on_cycle[..cycle.len()]
            .iter()
            .fold((u32::MAX, u64::MAX), |(kinds, disks), s| {
                let enabled = model.enabled(s);
                (
                    kinds & liveness::owed(&enabled),
                    disks & owed_per_disk(&enabled),
                )
            });
    let taken = liveness::owed(cycle);
    if let Some(c) = (0..liveness::CLASSES.len()).find(|&c| always & !taken & (1 << c) != 0) {
        return LassoCheck::Unfair(liveness::CLASSES[c]);
    }
    let taken = owed_per_disk(cycle);
    match (0..64).find(|&k| always_per_disk & !taken & (1 << k) != 0) {
        Some(k) => {
            let classes = liveness::CLASSES.len();
            LassoCheck::StarvesDisk(liveness::CLASSES[k % classes], (k / classes) as u8)
        }
        None => LassoCheck::Violates,
    }
}

const _: () = assert!(liveness::CLASSES.len() * model::Config::MAX_DISKS as usize <= 64);

/// The owed steps among `enabled` per kind and disk: bit `class + CLASSES.len() * disk`
/// (a shared step counts as disk 0's). Three disks of 18 classes use 54 bits.
fn owed_per_disk(enabled: &[Action]) -> u64 {
    enabled
        .iter()
        .filter_map(|&a| {
            liveness::fairness_class(a)
                .map(|c| 1u64 << (c as usize + liveness::CLASSES.len() * a.disk() as usize))
        })
        .fold(0, |m, bit| m | bit)
}

/// How a lasso's cycle reads under its steps: where it starts, and that it repeats.
pub fn cycle_words(cycle_start: usize, steps: usize, indent: &str) -> String {
    if cycle_start == steps {
        format!(
            "{indent}   (stays for ever after step {steps}: nothing fairness requires is enabled, only faults or the guest could move)"
        )
    } else {
        format!(
            "{indent}   (steps {} to {steps} form a fair cycle back to the state after step {cycle_start}, repeated for ever)",
            cycle_start + 1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph of `n` states from owed edges `(from, to, class)`; `goal` marks the states
    /// where property 0's goal holds. Every state is reached from state 0 along its first
    /// incoming edge, in numbering order (enough for the stem).
    fn graph(n: u32, edges: &[(u32, u32, u8)], goal: &[u32]) -> Graph {
        let mut g = Graph {
            states: vec![Packed([0; model::packed::WORDS]); n as usize],
            parent: vec![u32::MAX; n as usize],
            action: vec![0; n as usize],
            edge_start: vec![0],
            edge_to: Vec::new(),
            edge_class: Vec::new(),
            edge_action: Vec::new(),
            goals: (0..n).map(|s| u8::from(goal.contains(&s))).collect(),
            index_bytes: 0,
        };
        for s in 0..n {
            for (i, &(_, to, class)) in edges.iter().filter(|e| e.0 == s).enumerate() {
                g.edge_to.push(to);
                g.edge_class.push(class);
                g.edge_action.push(i as u8);
                if g.parent[to as usize] == u32::MAX && to != 0 {
                    g.parent[to as usize] = s;
                    g.action[to as usize] = i as u8;
                }
            }
            g.edge_start.push(g.edge_to.len() as u32);
        }
        g
    }

    /// `find_bad` (Pearce's space-efficient components) against a reference built from its
    /// definition: over 3,000 seeded random graphs of up to 12 states, with goals, owed
    /// classes and self-loops, two states share a component when each reaches the other
    /// through states where the goal fails; the fair components and stuttering ends are
    /// judged by the same `fair`, and the one with the lowest state must be the same.
    #[test]
    fn the_components_are_those_of_mutual_reachability() {
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
        let mut found = 0;
        for _ in 0..3000 {
            let n = 1 + rng.next_u32() % 12;
            let edges: Vec<(u32, u32, u8)> = (0..rng.next_u32() % (3 * n))
                .map(|_| {
                    let r = rng.next_u32();
                    (r % n, (r >> 8) % n, ((r >> 16) % 3) as u8)
                })
                .collect();
            let goal: Vec<u32> = (0..n).filter(|_| rng.next_u32() % 4 == 0).collect();
            let g = graph(n, &edges, &goal);
            let bad = |s: u32| !goal.contains(&s);
            // reach[a][b]: b is reachable from a (in zero or more steps) through bad states.
            let mut reach = vec![vec![false; n as usize]; n as usize];
            for a in 0..n {
                if !bad(a) {
                    continue;
                }
                let mut todo = vec![a];
                reach[a as usize][a as usize] = true;
                while let Some(s) = todo.pop() {
                    for e in g.edges(s) {
                        let t = g.edge_to[e];
                        if bad(t) && !reach[a as usize][t as usize] {
                            reach[a as usize][t as usize] = true;
                            todo.push(t);
                        }
                    }
                }
            }
            let mut reference: Option<Bad> = None;
            let mut keep = |b: Bad| {
                if reference.as_ref().is_none_or(|x| b.states[0] < x.states[0]) {
                    reference = Some(b);
                }
            };
            for a in (0..n).filter(|&a| bad(a)) {
                if g.enabled(a) == 0 {
                    keep(Bad {
                        states: vec![a],
                        always_enabled: 0,
                    });
                    continue;
                }
                let component: Vec<u32> = (0..n)
                    .filter(|&b| reach[a as usize][b as usize] && reach[b as usize][a as usize])
                    .collect();
                if component[0] == a {
                    if let Some(b) = fair(&g, &component, &bad) {
                        keep(b);
                    }
                }
            }
            let got = find_bad(&g, 0);
            assert_eq!(
                got.as_ref().map(|b| (&b.states, b.always_enabled)),
                reference.as_ref().map(|b| (&b.states, b.always_enabled)),
                "{n} states, edges {edges:?}, goal {goal:?}"
            );
            found += usize::from(got.is_some_and(|b| b.states.len() > 1));
        }
        assert!(
            found > 100,
            "only {found} graphs with a fair cycle of several states"
        );
    }

    /// The model of `scenarios/<file>`.
    fn model_of(file: &str) -> PivotModel {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(file);
        PivotModel::new(trace::scenario::load(&path).expect("a scenario").config)
    }

    /// A lasso the concrete model does not have (as a fingerprint collision could invent)
    /// is refused: the search reports it as incomplete, not as a violation.
    #[test]
    fn a_lasso_that_does_not_replay_is_refused() {
        let model = model_of("reopen-unpaused.toml");
        // State 0 (the initial state) with an owed self-loop by its action 0, which in
        // the model leaves the initial state for good.
        let g = graph(1, &[(0, 0, 0)], &[]);
        let bad = find_bad(&g, 0).expect("the self-loop is a fair cycle of the graph");
        let err = lasso(&model, true, &g, &bad, 0).expect_err("not a concrete cycle");
        assert!(err.contains("--exact"), "{err}");
        let found = explore_graph(&model, true, 1, graph(1, &[(0, 0, 0)], &[]));
        assert!(!found.complete);
        assert_eq!(found.stopped.as_deref(), Some(err.as_str()));
        // An action number the concrete state does not have.
        let g = graph(2, &[(0, 1, 0), (1, 1, 0)], &[]);
        let mut far = g;
        far.action[1] = 200;
        let bad = find_bad(&far, 0).expect("a fair self-loop");
        assert!(lasso(&model, true, &far, &bad, 0)
            .expect_err("no action 200")
            .contains("does not replay"));
    }

    /// A cycle that takes each owed kind of step, but takes disk 1's only on disk 0, is
    /// fair per kind and still starves disk 1: `check_lasso` refuses it, and a lasso the
    /// graph search found that way would get no verdict. (The cycle is invented: the
    /// check reads the states' enabled steps and the cycle's actions, not the model's
    /// transitions.)
    #[test]
    fn a_cycle_fair_per_kind_that_starves_a_disk_is_refused() {
        let model = model_of("disks/write-ahead-2-disks-concurrent.toml");
        // A state short of every property's goal, with an owed step of disk 1 enabled.
        let mut frontier = vec![model.init_state()];
        let found = (0..12).find_map(|_| {
            let mut next = Vec::new();
            for s in &frontier {
                let enabled = model.enabled(s);
                let disk1 = enabled
                    .iter()
                    .any(|&a| a.disk() == 1 && liveness::fairness_class(a).is_some());
                if let Some(p) =
                    (0..LIVENESS.len()).find(|&p| disk1 && !(LIVENESS[p].goal)(&model.config, s))
                {
                    return Some((s.clone(), p));
                }
                next.extend(enabled.iter().map(|&a| model.step(s, a)));
            }
            frontier = next;
            None
        });
        let (s, p) = found.expect("such a state within 12 steps");
        let owed: Vec<Action> = model
            .enabled(&s)
            .into_iter()
            .filter(|&a| liveness::fairness_class(a).is_some())
            .collect();
        let check = |cycle: Vec<Action>| {
            let states = vec![s.clone(); cycle.len() + 1];
            check_lasso(&model, &LIVENESS[p], &cycle, &states, 0)
        };
        // Every owed step taken: fair, so the invented cycle "violates".
        assert_eq!(check(owed.clone()), LassoCheck::Violates);
        // Disk 1's steps taken on disk 0 instead: fair per kind, not per disk.
        let on_disk_0: Vec<Action> = owed.iter().map(|&a| a.on_disk(0)).collect();
        match check(on_disk_0) {
            LassoCheck::StarvesDisk(_, 1) => {}
            other => panic!("expected disk 1 starved, got {other:?}"),
        }
    }

    #[test]
    fn a_fair_cycle_without_the_goal_violates() {
        // 0 -> 1 <-> 2, one class on the cycle, taken on it.
        let g = graph(3, &[(0, 1, 0), (1, 2, 1), (2, 1, 1)], &[]);
        let bad = find_bad(&g, 0).expect("the cycle 1-2 is fair");
        assert_eq!(bad.states, vec![1, 2]);
        let (stem, cycle) = lasso_numbers(&g, &bad);
        assert_eq!(stem, vec![0]);
        assert_eq!(cycle, vec![0, 0], "1 -> 2 -> 1");
    }

    #[test]
    fn a_cycle_that_starves_an_enabled_class_is_unfair() {
        // States 1 and 2 both enable class 2, whose edges leave to the goal state 3.
        let g = graph(
            4,
            &[
                (0, 1, 0),
                (1, 2, 1),
                (2, 1, 1),
                (1, 3, 2),
                (2, 3, 2),
                (3, 3, 0),
            ],
            &[3],
        );
        assert!(find_bad(&g, 0).is_none());
        // Disabled in state 2, class 2 is no longer owed on the cycle: a violation.
        let g = graph(
            4,
            &[(0, 1, 0), (1, 2, 1), (2, 1, 1), (1, 3, 2), (3, 3, 0)],
            &[3],
        );
        let bad = find_bad(&g, 0).expect("class 2 is not continuously enabled");
        assert_eq!(bad.states, vec![1, 2]);
        let (_, cycle) = lasso_numbers(&g, &bad);
        assert!(!cycle.is_empty());
    }

    #[test]
    fn a_cycle_through_the_goal_and_a_stuttering_end() {
        // The cycle passes the goal: no violation.
        let g = graph(3, &[(0, 1, 0), (1, 2, 1), (2, 1, 1)], &[2]);
        assert!(find_bad(&g, 0).is_none());
        // State 2 has nothing owed enabled and no goal: it stays there for ever.
        let g = graph(3, &[(0, 1, 0), (1, 2, 1)], &[]);
        let bad = find_bad(&g, 0).expect("a stuttering end");
        assert_eq!((bad.states.clone(), bad.always_enabled), (vec![2], 0));
        assert_eq!(lasso_numbers(&g, &bad), (vec![0, 0], vec![]));
    }
}
