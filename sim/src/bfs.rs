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

use std::collections::HashSet;
use std::time::{Duration, Instant};

use model::coverage::Coverage;
use model::packed::{pack, unpack, Packed};
use model::properties::{self, Kind, PROPERTIES};
use model::symmetry;
use model::{Action, PivotModel, World};

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
    len: usize,
    /// 64 minus log2 of the number of slots.
    shift: u32,
}

impl FingerprintTable {
    fn new() -> FingerprintTable {
        FingerprintTable {
            slots: vec![0; 1 << 10],
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
        prefetch_slot(&self.slots[self.home(fp)]);
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

    #[inline]
    fn contains(&self, fp: u64) -> bool {
        self.slots[self.find(fp)] == fp
    }

    fn insert(&mut self, fp: u64) -> bool {
        let i = self.find(fp);
        if self.slots[i] == fp {
            return false;
        }
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
            let i = self.find(fp);
            self.slots[i] = fp;
        } else {
            self.slots[i] = fp;
        }
        self.len += 1;
        true
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        self.shift -= 1;
        for fp in old.into_iter().filter(|&fp| fp != 0) {
            let i = self.find(fp);
            self.slots[i] = fp;
        }
    }

    fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u64>()
    }
}

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
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: 1,
            exact: false,
            symmetry: true,
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
    /// Whole states, packed (packing is exact: see `model::packed`).
    States(HashSet<Packed, ahash::RandomState>),
}

impl Visited {
    fn insert(&mut self, state: &Packed, fp: u64) -> bool {
        match self {
            Visited::Fingerprints(t) => t.insert(fp),
            Visited::States(s) => s.insert(*state),
        }
    }

    fn contains(&self, state: &Packed, fp: u64) -> bool {
        match self {
            Visited::Fingerprints(t) => t.contains(fp),
            Visited::States(s) => s.contains(state),
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
            Visited::States(s) => s.capacity() * (std::mem::size_of::<Packed>() + 1),
        }
    }
}

/// What one thread found in its part of a level.
struct Part {
    /// (parent number, action index, successor, fingerprint), in parent then action order.
    successors: Vec<(u32, u8, Packed, u64)>,
    /// For each property, the lowest-numbered state of the part that discovers it.
    discoveries: Vec<Option<u32>>,
    /// Successors computed, including those already visited.
    generated: usize,
    owed: usize,
    coverage: Coverage,
}

/// Successors computed ahead of their probe of the visited set: enough for a probe's
/// prefetch to arrive from memory before the probe (a few states' worth of work).
const PROBE_LAG: usize = 32;

fn expand(
    model: &PivotModel,
    opts: &Options,
    done: &[bool],
    visited: &Visited,
    part: &[(u32, Packed)],
) -> Part {
    let mut out = Part {
        successors: Vec::with_capacity(part.len() * 4),
        discoveries: vec![None; PROPERTIES.len()],
        generated: 0,
        owed: 0,
        coverage: Coverage::default(),
    };
    let mut enabled = Vec::new();
    // Every successor is pushed with its slot prefetched; `probed` trails the end by
    // `PROBE_LAG`, and those not yet visited are kept (moved down to `kept`), in order.
    let (mut probed, mut kept) = (0, 0);
    for (id, packed) in part {
        let state = &unpack(packed);
        enabled.clear();
        model::world::actions(&model.config, state, &mut enabled);
        for (p, found) in PROPERTIES.iter().enumerate() {
            if done[p] || out.discoveries[p].is_some() {
                continue;
            }
            let discovered = match found.kind {
                Kind::Always => !properties::holds_given(found, &model.config, state, &enabled),
                Kind::Sometimes => properties::holds_given(found, &model.config, state, &enabled),
                // Liveness is the fair-cycle search's (`crate::liveness`).
                Kind::Eventually => false,
            };
            if discovered {
                out.discoveries[p] = Some(*id);
            }
        }
        out.generated += enabled.len();
        for (i, &a) in enabled.iter().enumerate() {
            out.coverage.record(state, a);
            out.owed += usize::from(model::liveness::fairness_class(a).is_some());
            let mut succ = model.step(state, a);
            if opts.symmetry {
                symmetry::canonicalize(&model.config, &mut succ);
            }
            let succ = pack(&succ);
            let fp = succ.fingerprint();
            visited.prefetch(fp);
            out.successors.push((*id, i as u8, succ, fp));
        }
        // The visited set is only read while a level expands: most successors were seen
        // in earlier levels and need not wait for the merge.
        while probed + PROBE_LAG < out.successors.len() {
            keep_unvisited(&mut out.successors, visited, probed, &mut kept);
            probed += 1;
        }
    }
    while probed < out.successors.len() {
        keep_unvisited(&mut out.successors, visited, probed, &mut kept);
        probed += 1;
    }
    out.successors.truncate(kept);
    out
}

/// Moves successor `i` down to position `kept` if it was not visited before this level.
#[inline]
fn keep_unvisited(
    successors: &mut [(u32, u8, Packed, u64)],
    visited: &Visited,
    i: usize,
    kept: &mut usize,
) {
    let (_, _, succ, fp) = &successors[i];
    if !visited.contains(succ, *fp) {
        successors[*kept] = successors[i];
        *kept += 1;
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
    let started = Instant::now();
    let mut coverage = Coverage::default();
    let threads = opts.threads.max(1);
    let mut init = model.init_state();
    if opts.symmetry {
        init = symmetry::canonical(&model.config, &init).0;
    }
    let mut visited = if opts.exact {
        Visited::States(HashSet::with_hasher(state_hasher()))
    } else {
        Visited::Fingerprints(FingerprintTable::new())
    };
    let init = pack(&init);
    visited.insert(&init, init.fingerprint());
    // State n was reached from parents[n] by its action number actions[n].
    let mut parents: Vec<u32> = vec![u32::MAX];
    let mut actions: Vec<u8> = vec![0];
    let mut discoveries: Vec<Option<u32>> = vec![None; PROPERTIES.len()];
    let mut level: Vec<(u32, Packed)> = vec![(0, init)];
    let mut generated = 0usize;
    let mut owed_edges = 0usize;
    let mut depth = 0usize;
    let mut stopped = None;
    let mut peak_frontier = 0usize;

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
        // A level is expanded in blocks, in order, so that the successors waiting for the
        // merge never outgrow a block; numbering stays the same as with one block.
        for block in level.chunks(BLOCK_STATES * threads) {
            let chunk = block.len().div_ceil(threads);
            let parts: Vec<Part> = if threads == 1 || block.len() < 64 {
                vec![expand(model, opts, &done, &visited, block)]
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = block
                        .chunks(chunk)
                        .map(|c| {
                            let (done, visited) = (&done, &visited);
                            s.spawn(move || expand(model, opts, done, visited, c))
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
                owed_edges += part.owed;
                coverage.add(&part.coverage);
                let successors = &part.successors;
                for (k, &(parent, action, succ, fp)) in successors.iter().enumerate() {
                    if let Some(ahead) = successors.get(k + PROBE_LAG) {
                        visited.prefetch(ahead.3);
                    }
                    if visited.insert(&succ, fp) {
                        let id = u32::try_from(parents.len()).expect("fewer than 4 billion states");
                        parents.push(parent);
                        actions.push(action);
                        piece.push((id, succ));
                    }
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
    let stored = visited.bytes() + parents.capacity() * 4 + actions.capacity();
    Exploration {
        complete: stopped.is_none(),
        stopped,
        unique_states: unique,
        states: generated,
        owed_edges,
        max_depth: depth,
        discoveries: paths,
        bytes_per_state: stored as f64 / unique as f64,
        peak_frontier_bytes: peak_frontier,
        elapsed: started.elapsed(),
        coverage,
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
