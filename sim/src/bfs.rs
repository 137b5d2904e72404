//! Our own breadth-first search over the model, storing full states.
//!
//! Why not only stateright's `spawn_bfs`: in stateright 0.31 every later violating state
//! overwrites a property's discovery (`discoveries.insert` in `checker/bfs.rs`), so the
//! path it returns is the *last* violation found in BFS order, not the shortest; and its
//! visited set holds 64-bit fingerprints, so a collision could silently skip a state.
//! This search keeps the first discovery of each property (the shortest path, since the
//! queue is FIFO and states are visited in order of depth), stores full states (no
//! collisions), and says whether it was exhaustive. stateright stays the engine of the
//! Explorer and of the cross-check test that compares unique state counts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use model::coverage::Coverage;
use model::properties::{Kind, PROPERTIES};
use model::{Action, PivotModel, World};

/// Where a search stopped and what it found.
pub struct Exploration {
    pub complete: bool,
    /// Unique states visited.
    pub unique_states: usize,
    /// Transitions generated (successor states computed, duplicates included).
    pub states: usize,
    pub max_depth: usize,
    /// For each property of `PROPERTIES`, the shortest path to its first discovery.
    pub discoveries: Vec<Option<Vec<Action>>>,
    /// How often each kind of step and each fault window was explored.
    pub coverage: Coverage,
}

/// A snapshot of a running search, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub states: usize,
    pub unique_states: usize,
    /// Depth of the state being expanded (BFS: the frontier's depth).
    pub depth: usize,
    pub elapsed: Duration,
}

/// Expanded states between two calls of a progress observer: rare enough to cost nothing,
/// frequent enough (a few per second on small models) for a live display.
pub const PROGRESS_EVERY: usize = 4096;

pub struct Limits {
    pub max_states: Option<usize>,
    pub timeout: Option<Duration>,
}

/// Explores every state reachable from the initial state.
pub fn explore(model: &PivotModel, limits: &Limits) -> Exploration {
    explore_observed(model, limits, &mut |_| {})
}

/// [`explore`], calling `observer` every [`PROGRESS_EVERY`] expanded states and once at
/// the end.
pub fn explore_observed(
    model: &PivotModel,
    limits: &Limits,
    observer: &mut dyn FnMut(&Progress),
) -> Exploration {
    let started = Instant::now();
    let init = model.init_state();
    // states[i], reached from parent[i] by actions[i]; index 0 is the initial state.
    let mut states: Vec<World> = vec![init.clone()];
    let mut parent: Vec<(u32, Action)> = vec![(u32::MAX, Action::LibvirtdStep)];
    let mut depth: Vec<u32> = vec![0];
    let mut index: HashMap<World, u32> = HashMap::new();
    index.insert(init, 0);
    let mut discoveries: Vec<Option<u32>> = vec![None; PROPERTIES.len()];
    let mut generated = 0usize;
    let mut complete = true;
    let mut enabled = Vec::new();
    let mut next = 0usize;
    let mut coverage = Coverage::default();
    let progress = |generated: usize, unique: usize, depth: u32| Progress {
        states: generated,
        unique_states: unique,
        depth: depth as usize,
        elapsed: started.elapsed(),
    };

    while next < states.len() {
        if limits.max_states.is_some_and(|n| generated >= n)
            || limits.timeout.is_some_and(|t| started.elapsed() >= t)
        {
            complete = false;
            break;
        }
        let current = next as u32;
        next += 1;
        if next.is_multiple_of(PROGRESS_EVERY) {
            observer(&progress(generated, states.len(), depth[current as usize]));
        }
        for (p, found) in PROPERTIES.iter().zip(discoveries.iter_mut()) {
            if found.is_none() {
                let holds = (p.condition)(&model.config, &states[current as usize]);
                let discovered = match p.kind {
                    Kind::Always => !holds,
                    Kind::Sometimes => holds,
                };
                if discovered {
                    *found = Some(current);
                }
            }
        }
        enabled.clear();
        model::world::actions(&model.config, &states[current as usize], &mut enabled);
        for &action in &enabled {
            let succ = model.step(&states[current as usize], action);
            generated += 1;
            coverage.record(&states[current as usize], action);
            if index.contains_key(&succ) {
                continue;
            }
            let id = u32::try_from(states.len()).expect("fewer than 4 billion states");
            index.insert(succ.clone(), id);
            states.push(succ);
            parent.push((current, action));
            depth.push(depth[current as usize] + 1);
        }
    }

    let path_to = |mut i: u32| {
        let mut path = Vec::new();
        while i != 0 {
            let (p, a) = parent[i as usize];
            path.push(a);
            i = p;
        }
        path.reverse();
        path
    };
    let max_depth = depth.iter().copied().max().unwrap_or(0);
    observer(&progress(generated, states.len(), max_depth));
    Exploration {
        complete,
        unique_states: states.len(),
        states: generated,
        max_depth: max_depth as usize,
        discoveries: discoveries.into_iter().map(|d| d.map(path_to)).collect(),
        coverage,
    }
}
