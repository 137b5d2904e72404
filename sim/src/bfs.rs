//! The search: a level-synchronous breadth-first search over the model, on all cores,
//! with the same result whatever the number of threads.
//!
//! Why our own and not stateright's checkers:
//! - stateright 0.31's BFS overwrites a property's discovery with every later violating
//!   state (`discoveries.insert` in `checker/bfs.rs`), so its path is not the shortest, and
//!   its parallel searches number states in a thread-dependent order;
//! - its DFS gives no shortest paths, and neither says whether a search was exhaustive.
//!
//! Here each level of the BFS is expanded in parallel (successors and property checks,
//! the costly part), then merged in one thread in the order of the parents' numbers and
//! the actions' indices. States are therefore numbered the same way with 1 or 2 threads,
//! the first discovery of each property is the lowest-numbered violating state, which is
//! a shortest path, and verdicts and counts do not depend on scheduling.
//!
//! Storage: by default only a 64-bit fingerprint of each state is kept (plus its parent's
//! number and the action index, 5 bytes), the gate's compact mode; `exact` keeps whole
//! states, so that no fingerprint collision can hide a state. With `symmetry`, states are
//! stored as the representative of their class under renaming of blocks
//! (`model::symmetry`); paths are mapped back to concrete actions.
//!
//! For the fair-cycle search the search records the graph of owed edges as it goes
//! (`explore_with_graph`): the visited set then keeps each state's number beside its
//! fingerprint, so an edge to a known state gets its number. With `por` it skips the
//! second edge of diamonds of independent steps (sleep sets; ARCHITECTURE.md says why
//! every state keeps its depth).

use std::collections::hash_map::{Entry, HashMap};
use std::time::{Duration, Instant};

use model::coverage::Coverage;
use model::independence::{self, ActionSet, Footprint};
use model::packed::{pack, unpack, Packed};
use model::properties::{self, Kind, PROPERTIES};
use model::symmetry;
use model::{Action, PivotModel, World};

use crate::liveness;

/// The fingerprint of a state, as the search computes it: packed, then mixed
/// (`Packed::fingerprint`, where its collision argument is).
pub fn fingerprint(state: &World) -> u64 {
    pack(state).fingerprint()
}

/// The fixed-key hasher of the exact visited set (whole packed states).
fn state_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

/// The gate's visited set: fingerprints in one array, open addressing with linear probing
/// from the slot that the fingerprint's high bits name; 0 marks an empty slot (no
/// fingerprint is 0). Eight bytes a slot and nothing else, filled to at most 7/8 before it
/// doubles, so a stored state costs between 9.1 and 18.3 bytes here.
///
/// Why not a `HashSet<u64>`: a probe of a large table is a cache miss, and the search
/// probes every successor. With the slot known from the fingerprint alone, the search
/// prefetches a successor's slot when it computes the successor and probes it a few
/// dozen successors later, so the misses overlap instead of following each other
/// (profiled: the probes were 80 % of the expansion's time).
struct FingerprintTable {
    slots: Vec<u64>,
    /// The number of the state in each slot, kept only when the search records the
    /// liveness graph (empty otherwise, so the gate's safety search pays nothing for it).
    ids: Vec<u32>,
    len: usize,
    /// 64 minus log2 of the number of slots.
    shift: u32,
}

impl FingerprintTable {
    fn new(numbered: bool) -> FingerprintTable {
        FingerprintTable {
            slots: vec![0; 1 << 10],
            ids: if numbered {
                vec![0; 1 << 10]
            } else {
                Vec::new()
            },
            len: 0,
            shift: 64 - 10,
        }
    }

    #[inline]
    fn home(&self, fp: u64) -> usize {
        (fp >> self.shift) as usize
    }

    #[inline]
    fn prefetch(&self, fp: u64) {
        let home = self.home(fp);
        prefetch_slot(&self.slots[home]);
        if let Some(id) = self.ids.get(home) {
            prefetch_slot(id);
        }
    }

    /// The slot holding `fp`, or the empty slot where it would go.
    #[inline]
    fn find(&self, fp: u64) -> usize {
        debug_assert!(fp != 0, "0 marks an empty slot");
        let mask = self.slots.len() - 1;
        let mut i = self.home(fp);
        loop {
            let slot = self.slots[i];
            if slot == fp || slot == 0 {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The number of the state with fingerprint `fp` (`UNNUMBERED` when numbers are not
    /// kept), if it is stored.
    #[inline]
    fn get(&self, fp: u64) -> Option<u32> {
        let i = self.find(fp);
        (self.slots[i] == fp).then(|| self.ids.get(i).copied().unwrap_or(UNNUMBERED))
    }

    /// Stores `fp` as state `id`, or gives the number of the state stored under it.
    fn insert(&mut self, fp: u64, id: u32) -> Result<(), u32> {
        let i = self.find(fp);
        if self.slots[i] == fp {
            return Err(self.ids.get(i).copied().unwrap_or(UNNUMBERED));
        }
        let i = if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
            self.find(fp)
        } else {
            i
        };
        self.slots[i] = fp;
        if let Some(slot) = self.ids.get_mut(i) {
            *slot = id;
        }
        self.len += 1;
        Ok(())
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        let old_ids = if self.ids.is_empty() {
            Vec::new()
        } else {
            std::mem::replace(&mut self.ids, vec![0; self.slots.len()])
        };
        self.shift -= 1;
        for (k, fp) in old.into_iter().enumerate().filter(|&(_, fp)| fp != 0) {
            let i = self.find(fp);
            self.slots[i] = fp;
            if let Some(&id) = old_ids.get(k) {
                self.ids[i] = id;
            }
        }
    }

    /// Bytes of the visited set proper (the fingerprints).
    fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u64>()
    }

    /// Bytes of the state numbers (kept for the liveness graph or the reduction).
    fn id_bytes(&self) -> usize {
        self.ids.len() * std::mem::size_of::<u32>()
    }
}

/// The number a visited set reports for a stored state whose number it does not keep.
const UNNUMBERED: u32 = u32::MAX;

/// Asks the processor to bring `slot`'s cache line in (a hint: no effect on results).
#[inline(always)]
pub(crate) fn prefetch_slot<T>(slot: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching reads nothing and cannot fault; SSE is part of x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

#[derive(Clone, Debug)]
pub struct Options {
    pub threads: usize,
    /// Keep whole states instead of 64-bit fingerprints.
    pub exact: bool,
    /// Store one representative per class of block renamings.
    pub symmetry: bool,
    /// Partial-order reduction: skip the second edge of diamonds of independent steps
    /// (sleep sets, `model::independence`); every state keeps its depth.
    pub por: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: 1,
            exact: false,
            symmetry: true,
            por: false,
        }
    }
}

/// A snapshot of a running search, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub states: usize,
    pub unique_states: usize,
    /// Depth of the level being expanded.
    pub depth: usize,
    pub elapsed: Duration,
}

#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub max_states: Option<usize>,
    pub timeout: Option<Duration>,
    /// Resident memory of the whole process, in bytes.
    pub max_memory: Option<u64>,
}

/// Where a search stopped and what it found.
#[derive(Clone, Debug)]
pub struct Exploration {
    pub complete: bool,
    /// Why an incomplete search stopped.
    pub stopped: Option<String>,
    /// Unique states stored (representatives, with symmetry).
    pub unique_states: usize,
    /// Transitions generated (successor states computed, duplicates included).
    pub states: usize,
    /// Transitions the partial-order reduction skipped (not computed, not in `states`).
    pub pruned: usize,
    /// Transitions that fairness owes (`model::liveness::fairness_class`): the edges of
    /// the fair-cycle search's graph, counted here so that it can size its tables.
    pub owed_edges: usize,
    pub max_depth: usize,
    /// For each property of `PROPERTIES`, a shortest path to its first discovery.
    pub discoveries: Vec<Option<Vec<Action>>>,
    /// Bytes held per stored state at the end: the visited set and the parent links.
    pub bytes_per_state: f64,
    /// The largest frontier held at once, in bytes.
    pub peak_frontier_bytes: usize,
    pub elapsed: Duration,
    /// How often each kind of step and each fault window was explored.
    pub coverage: Coverage,
}

enum Visited {
    Fingerprints(FingerprintTable),
    /// Whole states, packed (packing is exact: see `model::packed`), with their numbers.
    States(HashMap<Packed, u32, ahash::RandomState>),
}

impl Visited {
    /// Stores `state` as number `id`, or gives the number it was stored under.
    fn insert(&mut self, state: &Packed, fp: u64, id: u32) -> Result<(), u32> {
        match self {
            Visited::Fingerprints(t) => t.insert(fp, id),
            Visited::States(s) => match s.entry(*state) {
                Entry::Occupied(e) => Err(*e.get()),
                Entry::Vacant(e) => {
                    e.insert(id);
                    Ok(())
                }
            },
        }
    }

    /// The number of a stored state (`UNNUMBERED` for fingerprints without numbers).
    fn get(&self, state: &Packed, fp: u64) -> Option<u32> {
        match self {
            Visited::Fingerprints(t) => t.get(fp),
            Visited::States(s) => s.get(state).copied(),
        }
    }

    #[inline]
    fn prefetch(&self, fp: u64) {
        if let Visited::Fingerprints(t) = self {
            t.prefetch(fp);
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Visited::Fingerprints(t) => t.bytes(),
            // hashbrown: one control byte per bucket besides the entry.
            Visited::States(s) => s.capacity() * (std::mem::size_of::<(Packed, u32)>() + 1),
        }
    }

    /// Bytes of the fingerprints' state numbers (kept for the liveness graph or the reduction).
    fn id_bytes(&self) -> usize {
        match self {
            Visited::Fingerprints(t) => t.id_bytes(),
            Visited::States(_) => 0,
        }
    }
}

/// What one thread found in its part of a level.
struct Part {
    /// (parent number, action index, successor, fingerprint), in parent then action order.
    successors: Vec<(u32, u8, Packed, u64)>,
    /// When the graph is recorded, each successor's owed edge: its position in
    /// `graph.edges` (`NOT_OWED` when it has none); read when the successor is probed.
    edge_of: Vec<u32>,
    /// For each property, the lowest-numbered state of the part that discovers it.
    discoveries: Vec<Option<u32>>,
    /// Successors computed, including those already visited.
    generated: usize,
    /// Transitions skipped by the partial-order reduction.
    pruned: usize,
    owed: usize,
    coverage: Coverage,
    /// The part's share of the liveness graph, when the search records it.
    graph: PartGraph,
    /// With the reduction: each successor's sleep set (beside `successors`), and the
    /// arrivals at states already numbered in this level (their sleep sets shrink).
    sleeps: Vec<ActionSet>,
    arrivals: Vec<(u32, ActionSet)>,
}

/// The liveness graph's rows of a part's states, in their order: goals and owed edges, whose targets are state numbers or, for successors first seen
/// in this level, `PENDING` plus their position among the part's kept successors (the merge
/// numbers those).
#[derive(Default)]
struct PartGraph {
    goals: Vec<u8>,
    /// The end of each state's edges in `edges`.
    edge_ends: Vec<u32>,
    /// (target, fairness class, action index).
    edges: Vec<(u32, u8, u8)>,
}

const NOT_OWED: u32 = u32::MAX;
/// Marks an edge target that is a kept successor's position, not yet a state number.
const PENDING: u32 = 1 << 31;

/// Successors computed ahead of their probe of the visited set: enough for a probe's
/// prefetch to arrive from memory before the probe (a few states' worth of work).
const PROBE_LAG: usize = 32;

/// The states of a level to expand and what the search knows of them.
#[derive(Clone, Copy)]
struct Frontier<'a> {
    states: &'a [(u32, Packed)],
    /// Each state's sleep set (empty without the reduction).
    sleeps: &'a [ActionSet],
    /// The number of the next level's first state: an arrival at a state numbered from
    /// here on is one along a shortest path.
    next_level: u32,
}

fn expand(
    model: &PivotModel,
    opts: &Options,
    graph: bool,
    done: &[bool],
    visited: &Visited,
    part: Frontier,
) -> Part {
    let mut out = Part {
        successors: Vec::with_capacity(part.states.len() * 4),
        discoveries: vec![None; PROPERTIES.len()],
        generated: 0,
        owed: 0,
        coverage: Coverage::default(),
        graph: PartGraph::default(),
        edge_of: Vec::new(),
        pruned: 0,
        sleeps: Vec::new(),
        arrivals: Vec::new(),
    };
    let mut enabled = Vec::new();
    let mut footprints: Vec<Footprint> = Vec::new();
    // Every successor is pushed with its slot prefetched; `probed` trails the end by
    // `PROBE_LAG`, and those not yet visited are kept (moved down to `kept`), in order.
    let (mut probed, mut kept) = (0, 0);
    for (k, (id, packed)) in part.states.iter().enumerate() {
        let state = &unpack(packed);
        // Each disk's view, once per state (none for one disk): the enabled steps, the
        // properties, the goals and every successor's ghost facts read them.
        let views = state.views();
        enabled.clear();
        model::world::actions_given(&model.config, state, &views, &mut enabled);
        let asleep = part.sleeps.get(k).copied().unwrap_or(0);
        if opts.por {
            footprints.clear();
            footprints.extend(
                enabled
                    .iter()
                    .map(|&a| independence::footprint(&model.config, state, a)),
            );
        }
        for (p, found) in PROPERTIES.iter().enumerate() {
            if done[p] || out.discoveries[p].is_some() {
                continue;
            }
            let discovered = match found.kind {
                Kind::Always => {
                    !properties::holds_given(found, &model.config, state, &views, &enabled)
                }
                Kind::Sometimes => {
                    properties::holds_given(found, &model.config, state, &views, &enabled)
                }
                // Liveness is the fair-cycle search's (`crate::liveness`).
                Kind::Eventually => false,
            };
            if discovered {
                out.discoveries[p] = Some(*id);
            }
        }
        if graph {
            out.graph
                .goals
                .push(liveness::goals_given(&model.config, state, &views));
        }
        for (i, &a) in enabled.iter().enumerate() {
            out.coverage.record(state, a);
            let class = model::liveness::fairness_class(a);
            out.owed += usize::from(class.is_some());
            // Asleep: the same successor is reached, at the same depth, along the other
            // side of a diamond. Owed steps stay when the liveness graph needs their edges.
            if asleep != 0 && asleep & independence::bit(a) != 0 && !(graph && class.is_some()) {
                out.pruned += 1;
                continue;
            }
            out.generated += 1;
            let mut succ = model::world::next_state_given(&model.config, state, &views, a);
            let renaming = if opts.symmetry {
                symmetry::canonicalize(&model.config, &mut succ)
            } else {
                symmetry::Renaming::identity()
            };
            if opts.por {
                // The steps before `a` here that commute with it: after `a` they need not
                // be taken (their diamond's other side takes `a` after them), named as
                // in the successor's representative.
                let sleep = (0..i)
                    .filter(|&j| !footprints[i].conflicts(footprints[j]))
                    .fold(0, |z, j| z | independence::bit(renaming.action(enabled[j])));
                out.sleeps.push(sleep);
            }
            let succ = pack(&succ);
            let fp = succ.fingerprint();
            visited.prefetch(fp);
            if graph {
                out.edge_of.push(match class {
                    Some(class) => {
                        out.graph.edges.push((PENDING, class, i as u8));
                        (out.graph.edges.len() - 1) as u32
                    }
                    None => NOT_OWED,
                });
            }
            out.successors.push((*id, i as u8, succ, fp));
        }
        if graph {
            out.graph.edge_ends.push(out.graph.edges.len() as u32);
        }
        // The visited set is only read while a level expands: most successors were seen
        // in earlier levels and need not wait for the merge.
        while probed + PROBE_LAG < out.successors.len() {
            keep_unvisited(&mut out, visited, probed, &mut kept, part.next_level);
            probed += 1;
        }
    }
    while probed < out.successors.len() {
        keep_unvisited(&mut out, visited, probed, &mut kept, part.next_level);
        probed += 1;
    }
    out.successors.truncate(kept);
    out.sleeps.truncate(kept);
    out
}

/// Moves successor `i` down to position `kept` if it was not visited before this level;
/// its owed edge gets the visited state's number, or its position among the kept ones.
/// With the reduction, an arrival at a state of the next level already numbered is kept
/// for its sleep set.
#[inline]
fn keep_unvisited(out: &mut Part, visited: &Visited, i: usize, kept: &mut usize, next_level: u32) {
    let (_, _, succ, fp) = &out.successors[i];
    let edge = out.edge_of.get(i).copied().unwrap_or(NOT_OWED);
    match visited.get(succ, *fp) {
        Some(id) => {
            if edge != NOT_OWED {
                out.graph.edges[edge as usize].0 = id;
            }
            if let Some(&sleep) = out.sleeps.get(i) {
                if id >= next_level && id != UNNUMBERED {
                    out.arrivals.push((id, sleep));
                }
            }
        }
        None => {
            if edge != NOT_OWED {
                out.graph.edges[edge as usize].0 = PENDING | *kept as u32;
            }
            out.successors[*kept] = out.successors[i];
            if let Some(&sleep) = out.sleeps.get(i) {
                out.sleeps[*kept] = sleep;
            }
            *kept += 1;
        }
    }
}

/// States expanded per thread before their successors are merged.
const BLOCK_STATES: usize = 2 * 1024;

/// Resident memory of this process, from `/proc/self/statm` (0 where it cannot be read).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Peak resident memory of this process (`VmHWM`), in bytes.
pub fn peak_resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// Explores every state reachable from the initial state.
pub fn explore(model: &PivotModel, opts: &Options, limits: &Limits) -> Exploration {
    explore_observed(model, opts, limits, &mut |_| {})
}

/// [`explore`], calling `observer` after each level of the search and once at the end.
pub fn explore_observed(
    model: &PivotModel,
    opts: &Options,
    limits: &Limits,
    observer: &mut dyn FnMut(&Progress),
) -> Exploration {
    search(model, opts, limits, observer, false).0
}

/// [`explore_observed`], also recording the graph of owed edges that the fair-cycle
/// search runs on (`crate::liveness`), numbered as this search numbers its states: no
/// second exploration. With fingerprints the graph is keyed by them (the collision
/// argument is in ARCHITECTURE.md); with `exact`, by whole states. `None` when the search
/// stopped early.
pub fn explore_with_graph(
    model: &PivotModel,
    opts: &Options,
    limits: &Limits,
    observer: &mut dyn FnMut(&Progress),
) -> (Exploration, Option<liveness::Graph>) {
    search(model, opts, limits, observer, true)
}

fn search(
    model: &PivotModel,
    opts: &Options,
    limits: &Limits,
    observer: &mut dyn FnMut(&Progress),
    graph: bool,
) -> (Exploration, Option<liveness::Graph>) {
    let started = Instant::now();
    let mut coverage = Coverage::default();
    let threads = opts.threads.max(1);
    let mut init = model.init_state();
    if opts.symmetry {
        init = symmetry::canonical(&model.config, &init).0;
    }
    let mut visited = if opts.exact {
        Visited::States(HashMap::with_hasher(state_hasher()))
    } else {
        // Numbered for the graph's edges, and for the reduction, which must tell the
        // next level's states from older ones.
        Visited::Fingerprints(FingerprintTable::new(graph || opts.por))
    };
    let init = pack(&init);
    visited
        .insert(&init, init.fingerprint(), 0)
        .expect("an empty visited set");
    // State n was reached from parents[n] by its action number actions[n].
    let mut parents: Vec<u32> = vec![u32::MAX];
    let mut actions: Vec<u8> = vec![0];
    let mut g = liveness::Graph::default();
    if graph {
        g.edge_start.push(0);
    }
    let mut discoveries: Vec<Option<u32>> = vec![None; PROPERTIES.len()];
    let mut level: Vec<(u32, Packed)> = vec![(0, init)];
    // With the reduction, the sleep set of each state of `level` (the initial state's is
    // empty): the intersection over its arrivals along shortest paths.
    let mut sleeps: Vec<ActionSet> = if opts.por { vec![0] } else { Vec::new() };
    let mut pruned = 0usize;
    let mut generated = 0usize;
    let mut owed_edges = 0usize;
    let mut depth = 0usize;
    let mut stopped = None;
    let mut peak_frontier = 0usize;
    let mut kept_ids: Vec<u32> = Vec::new();

    while !level.is_empty() {
        peak_frontier = peak_frontier.max(level.capacity() * std::mem::size_of::<(u32, Packed)>());
        if limits.max_states.is_some_and(|n| generated >= n) {
            stopped = Some(format!("state cap: {generated} states generated"));
        } else if limits.timeout.is_some_and(|t| started.elapsed() >= t) {
            stopped = Some(format!(
                "timeout after {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        } else if let Some(max) = limits.max_memory {
            let rss = resident_bytes();
            if rss >= max {
                stopped = Some(format!("memory limit: {} MiB resident", rss >> 20));
            }
        }
        if stopped.is_some() {
            break;
        }
        let mut done: Vec<bool> = discoveries.iter().map(Option::is_some).collect();
        // The next level, in exact-size pieces (one per block), joined at the end of the
        // level so that no doubling growth leaves slack behind.
        let mut pieces: Vec<Vec<(u32, Packed)>> = Vec::new();
        let next_level = u32::try_from(parents.len()).expect("fewer than 4 billion states");
        let mut next_sleeps: Vec<ActionSet> = Vec::new();
        // A level is expanded in blocks, in order, so that the successors waiting for the
        // merge never outgrow a block; numbering stays the same as with one block.
        for (b, block) in level.chunks(BLOCK_STATES * threads).enumerate() {
            let chunk = block.len().div_ceil(threads);
            let start = b * BLOCK_STATES * threads;
            let sleeps = &sleeps;
            let frontier = move |from: usize, states| Frontier {
                states,
                sleeps: sleeps.get(from..from + <[_]>::len(states)).unwrap_or(&[]),
                next_level,
            };
            let parts: Vec<Part> = if threads == 1 || block.len() < 64 {
                vec![expand(
                    model,
                    opts,
                    graph,
                    &done,
                    &visited,
                    frontier(start, block),
                )]
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = block
                        .chunks(chunk)
                        .enumerate()
                        .map(|(c, states)| {
                            let (done, visited) = (&done, &visited);
                            let part = frontier(start + c * chunk, states);
                            s.spawn(move || expand(model, opts, graph, done, visited, part))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a search thread panicked"))
                        .collect()
                })
            };
            let mut piece = Vec::new();
            // Once per block, from the block's count (the same with any number of threads,
            // so is the figure `--stats` prints).
            let candidates = parts.iter().map(|p| p.successors.len()).sum();
            reserve_links(&mut parents, candidates);
            reserve_links(&mut actions, candidates);
            for part in parts {
                for (p, found) in part.discoveries.iter().enumerate() {
                    if discoveries[p].is_none() {
                        discoveries[p] = *found;
                    }
                }
                generated += part.generated;
                pruned += part.pruned;
                owed_edges += part.owed;
                coverage.add(&part.coverage);
                let successors = &part.successors;
                kept_ids.clear();
                for (k, &(parent, action, succ, fp)) in successors.iter().enumerate() {
                    if let Some(ahead) = successors.get(k + PROBE_LAG) {
                        visited.prefetch(ahead.3);
                    }
                    let id = u32::try_from(parents.len()).expect("fewer than 4 billion states");
                    match visited.insert(&succ, fp, id) {
                        Ok(()) => {
                            parents.push(parent);
                            actions.push(action);
                            piece.push((id, succ));
                            if graph {
                                kept_ids.push(id);
                            }
                            if let Some(&sleep) = part.sleeps.get(k) {
                                next_sleeps.push(sleep);
                            }
                        }
                        Err(known) => {
                            if graph {
                                kept_ids.push(known);
                            }
                            if let Some(&sleep) = part.sleeps.get(k) {
                                // Found in this level: one more shortest arrival.
                                next_sleeps[(known - next_level) as usize] &= sleep;
                            }
                        }
                    }
                }
                for &(id, sleep) in &part.arrivals {
                    next_sleeps[(id - next_level) as usize] &= sleep;
                }
                if graph {
                    add_rows(&mut g, &part.graph, &kept_ids);
                }
            }
            piece.shrink_to_fit();
            pieces.push(piece);
            done = discoveries.iter().map(Option::is_some).collect();
        }
        drop(level);
        let mut next = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
        for piece in pieces {
            next.extend(piece);
        }
        if !next.is_empty() {
            depth += 1;
        }
        level = next;
        sleeps = next_sleeps;
        assert!(
            !graph || parents.len() < PENDING as usize,
            "the liveness graph numbers fewer than 2^31 states"
        );
        observer(&Progress {
            states: generated,
            unique_states: parents.len(),
            depth,
            elapsed: started.elapsed(),
        });
    }

    let paths = discoveries
        .iter()
        .map(|d| d.map(|id| concrete_path(model, opts, &parents, &actions, id)))
        .collect();
    let unique = parents.len();
    // The state numbers belong to the search when the reduction needs them, else to the
    // liveness graph alone.
    let (search_ids, graph_bytes) = if opts.por {
        (visited.id_bytes(), 0)
    } else {
        (0, visited.id_bytes())
    };
    let stored = visited.bytes() + search_ids + parents.capacity() * 4 + actions.capacity();
    drop(visited);
    let complete = stopped.is_none();
    let exploration = Exploration {
        complete,
        stopped,
        unique_states: unique,
        states: generated,
        pruned,
        owed_edges,
        max_depth: depth,
        discoveries: paths,
        bytes_per_state: stored as f64 / unique as f64,
        peak_frontier_bytes: peak_frontier,
        elapsed: started.elapsed(),
        coverage,
    };
    let graph = (graph && complete).then(|| {
        g.parent = parents;
        g.action = actions;
        g.index_bytes = graph_bytes;
        assert_eq!(
            (g.goals.len(), g.edge_to.len()),
            (unique, owed_edges),
            "the graph has a row per state and an edge per owed step"
        );
        g
    });
    (exploration, graph)
}

/// Appends a part's rows to the graph, its pending edge targets numbered by `kept_ids`
/// (the number of each kept successor, new or found in this level).
fn add_rows(g: &mut liveness::Graph, part: &PartGraph, kept_ids: &[u32]) {
    let base = g.edge_to.len() as u32;
    reserve_links(&mut g.goals, part.goals.len());
    reserve_links(&mut g.edge_start, part.edge_ends.len());
    reserve_links(&mut g.edge_to, part.edges.len());
    reserve_links(&mut g.edge_class, part.edges.len());
    reserve_links(&mut g.edge_action, part.edges.len());
    g.goals.extend_from_slice(&part.goals);
    g.edge_start
        .extend(part.edge_ends.iter().map(|&end| base + end));
    for &(to, class, action) in &part.edges {
        let to = if to & PENDING != 0 {
            kept_ids[(to & !PENDING) as usize]
        } else {
            to
        };
        g.edge_to.push(to);
        g.edge_class.push(class);
        g.edge_action.push(action);
    }
}

/// Room for `more` parent links, grown by an eighth rather than doubled: the links are
/// 5 of the bytes stored per state, and doubling would leave up to as many again unused
/// (with the table's 9.1 to 18.3 bytes, an eighth keeps a state within 24 bytes).
fn reserve_links<T>(links: &mut Vec<T>, more: usize) {
    if links.len() + more > links.capacity() {
        links.reserve_exact(more.max(links.capacity() / 8));
    }
}

/// The concrete actions from the initial state to state `id`: the stored action numbers
/// index the actions enabled in the stored representative, so each is renamed back onto
/// the concrete state the path has reached.
fn concrete_path(
    model: &PivotModel,
    opts: &Options,
    parents: &[u32],
    actions: &[u8],
    id: u32,
) -> Vec<Action> {
    let mut numbers = Vec::new();
    let mut i = id;
    while i != 0 {
        numbers.push(actions[i as usize]);
        i = parents[i as usize];
    }
    numbers.reverse();
    let blocks = model.config.blocks;
    let mut state = model.init_state();
    let mut path = Vec::with_capacity(numbers.len());
    for n in numbers {
        let action = if opts.symmetry {
            let (rep, renaming) = symmetry::canonical(&model.config, &state);
            let a = model.enabled(&rep)[n as usize];
            renaming.inverse(blocks).action(a)
        } else {
            model.enabled(&state)[n as usize]
        };
        state = model.step(&state, action);
        path.push(action);
    }
    path
}
