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
}

pub struct Limits {
    pub max_states: Option<usize>,
    pub timeout: Option<Duration>,
}

/// Explores every state reachable from the initial state.
pub fn explore(model: &PivotModel, limits: &Limits) -> Exploration {
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

    while next < states.len() {
        if limits.max_states.is_some_and(|n| generated >= n)
            || limits.timeout.is_some_and(|t| started.elapsed() >= t)
        {
            complete = false;
            break;
        }
        let current = next as u32;
        next += 1;
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
    Exploration {
        complete,
        unique_states: states.len(),
        states: generated,
        max_depth: depth.iter().copied().max().unwrap_or(0) as usize,
        discoveries: discoveries.into_iter().map(|d| d.map(path_to)).collect(),
    }
}
