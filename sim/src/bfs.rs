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
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use model::coverage::Coverage;
use model::packed::{pack, unpack, Packed};
use model::properties::{Kind, PROPERTIES};
use model::symmetry;
use model::{Action, PivotModel, World};

/// Hashes a `u64` fingerprint as itself: fingerprints are already well mixed.
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The fixed-key hasher of fingerprints: the same state has the same fingerprint in
/// every run, on every machine.
fn fingerprinter() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

/// The fingerprint of a packed state (what the search stores).
pub fn fingerprint_packed(hasher: &ahash::RandomState, state: &Packed) -> u64 {
    hasher.hash_one(state)
}

pub fn fingerprint(hasher: &ahash::RandomState, state: &World) -> u64 {
    hasher.hash_one(state)
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
    Fingerprints(HashSet<u64, BuildHasherDefault<Identity>>),
    /// Whole states, packed (packing is exact: see `model::packed`).
    States(HashSet<Packed, ahash::RandomState>),
}

impl Visited {
    fn insert(&mut self, state: &Packed, fp: u64) -> bool {
        match self {
            Visited::Fingerprints(s) => s.insert(fp),
            Visited::States(s) => s.insert(*state),
        }
    }

    fn contains(&self, state: &Packed, fp: u64) -> bool {
        match self {
            Visited::Fingerprints(s) => s.contains(&fp),
            Visited::States(s) => s.contains(state),
        }
    }

    fn bytes(&self) -> usize {
        // hashbrown: one control byte per bucket besides the entry.
        match self {
            Visited::Fingerprints(s) => s.capacity() * (std::mem::size_of::<u64>() + 1),
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
    coverage: Coverage,
}

fn expand(
    model: &PivotModel,
    opts: &Options,
    hasher: &ahash::RandomState,
    done: &[bool],
    visited: &Visited,
    part: &[(u32, Packed)],
) -> Part {
    let mut out = Part {
        successors: Vec::new(),
        discoveries: vec![None; PROPERTIES.len()],
        generated: 0,
        coverage: Coverage::default(),
    };
    let mut enabled = Vec::new();
    for (id, packed) in part {
        let state = &unpack(packed);
        for (p, found) in PROPERTIES.iter().enumerate() {
            if done[p] || out.discoveries[p].is_some() {
                continue;
            }
            let holds = (p_condition(found))(&model.config, state);
            let discovered = match found.kind {
                Kind::Always => !holds,
                Kind::Sometimes => holds,
                // Liveness is the fair-cycle search's (`crate::liveness`).
                Kind::Eventually => false,
            };
            if discovered {
                out.discoveries[p] = Some(*id);
            }
        }
        enabled.clear();
        model::world::actions(&model.config, state, &mut enabled);
        out.generated += enabled.len();
        for (i, &a) in enabled.iter().enumerate() {
            out.coverage.record(state, a);
            let mut succ = model.step(state, a);
            if opts.symmetry {
                succ = symmetry::canonical(&model.config, &succ).0;
            }
            let succ = pack(&succ);
            let fp = fingerprint_packed(hasher, &succ);
            // The visited set is only read while a level expands: most successors were
            // seen in earlier levels and need not wait for the merge.
            if !visited.contains(&succ, fp) {
                out.successors.push((*id, i as u8, succ, fp));
            }
        }
    }
    out
}

fn p_condition(p: &model::properties::PropertyDef) -> fn(&model::Config, &World) -> bool {
    p.condition
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
    let hasher = fingerprinter();
    let threads = opts.threads.max(1);
    let mut init = model.init_state();
    if opts.symmetry {
        init = symmetry::canonical(&model.config, &init).0;
    }
    let mut visited = if opts.exact {
        Visited::States(HashSet::with_hasher(fingerprinter()))
    } else {
        Visited::Fingerprints(HashSet::default())
    };
    let init = pack(&init);
    visited.insert(&init, fingerprint_packed(&hasher, &init));
    // State n was reached from parents[n] by its action number actions[n].
    let mut parents: Vec<u32> = vec![u32::MAX];
    let mut actions: Vec<u8> = vec![0];
    let mut discoveries: Vec<Option<u32>> = vec![None; PROPERTIES.len()];
    let mut level: Vec<(u32, Packed)> = vec![(0, init)];
    let mut generated = 0usize;
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
                vec![expand(model, opts, &hasher, &done, &visited, block)]
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = block
                        .chunks(chunk)
                        .map(|c| {
                            let (hasher, done, visited) = (&hasher, &done, &visited);
                            s.spawn(move || expand(model, opts, hasher, done, visited, c))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a search thread panicked"))
                        .collect()
                })
            };
            let mut piece = Vec::new();
            for part in parts {
                for (p, found) in part.discoveries.iter().enumerate() {
                    if discoveries[p].is_none() {
                        discoveries[p] = *found;
                    }
                }
                generated += part.generated;
                coverage.add(&part.coverage);
                for (parent, action, succ, fp) in part.successors {
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
        max_depth: depth,
        discoveries: paths,
        bytes_per_state: stored as f64 / unique as f64,
        peak_frontier_bytes: peak_frontier,
        elapsed: started.elapsed(),
        coverage,
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
