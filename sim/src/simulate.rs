//! Seeded random walks over the model, for configurations too large to check exhaustively
//! and as a second opinion on the checker.
//!
//! One seed in, one seed out: every run's seed is derived from the root seed by a pure
//! function ([`run_seed`]), so any failing run can be rerun alone, and the walk draws only
//! from `rand_chacha::ChaCha8Rng`, whose output is fixed by its algorithm on every platform
//! and version (unlike `StdRng`, and unlike stateright's own simulation, whose seeds come
//! from a `StdRng`).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use model::properties::{Kind, PROPERTIES};
use model::{Action, PivotModel};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use trace::encode::{self, Claim};
use trace::{Scenario, SwarmFaults, Trace};

use crate::shrink;

#[derive(Clone, Debug)]
pub struct SimOptions {
    pub root_seed: u64,
    pub runs: u64,
    pub depth: usize,
    pub swarm: bool,
    /// Which slice of the runs this process does (all of them by default).
    pub shard: Shard,
}

/// One of `count` disjoint slices of a simulation's runs: the runs whose number is
/// `index` modulo `count`. A run's seed depends only on the root seed and its number, so
/// the shards of a simulation together run exactly the runs one machine would, and
/// [`merge`] gives the same first failure per property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// From 0 to `count - 1`.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// How many of `runs` runs fall into this shard.
    pub fn len(&self, runs: u64) -> u64 {
        runs / self.count + u64::from(self.index < runs % self.count)
    }

    pub fn is_empty(&self, runs: u64) -> bool {
        self.len(runs) == 0
    }
}

/// One shard's first failure of a property, as the shard's JSON result records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardFailure<T> {
    pub property: String,
    pub run: u64,
    /// What else the caller keeps with it (the trace, its lengths).
    pub rest: T,
}

/// The failures of a whole simulation from those of its shards: per property, the failing
/// run with the lowest number, which is the run one machine would have reported first
/// (each shard reports the first failing run of each property among its own runs). In
/// property order, as [`simulate`] lists its failures.
pub fn merge<T: Clone>(shards: &[Vec<ShardFailure<T>>]) -> Vec<ShardFailure<T>> {
    let mut out: Vec<ShardFailure<T>> = Vec::new();
    for f in shards.iter().flatten() {
        match out.iter_mut().find(|o| o.property == f.property) {
            Some(o) if f.run < o.run => *o = f.clone(),
            Some(_) => {}
            None => out.push(f.clone()),
        }
    }
    out.sort_by_key(|f| property_order(&f.property));
    out
}

fn property_order(name: &str) -> usize {
    PROPERTIES
        .iter()
        .position(|p| p.name == name)
        .unwrap_or(usize::MAX)
}

/// The first failing run of one property.
#[derive(Clone, Debug)]
pub struct Failure {
    pub property: &'static str,
    pub run: u64,
    pub seed: u64,
    pub swarm: Option<SwarmFaults>,
    /// The scenario the run explored (the swarm's switches applied).
    pub scenario: Scenario,
    pub actions: Vec<Action>,
    pub shrunk: Vec<Action>,
}

impl Failure {
    /// The trace of the shrunk run, with its seed and swarm switches.
    pub fn trace(&self) -> Trace {
        encode::from_actions(
            &self.scenario,
            &self.shrunk,
            &Claim {
                property: Some(self.property),
                kind: Some(Kind::Always.name()),
                seed: Some(self.seed),
                swarm: self.swarm,
            },
        )
    }
}

#[derive(Clone, Debug)]
pub struct SimReport {
    pub runs: u64,
    pub steps: u64,
    pub distinct_states: usize,
    /// In property order, the first failing run of each violated `always` property.
    pub failures: Vec<Failure>,
}

/// The seed of run `run` under `root`: ChaCha8 seeded with the root, on stream `run`.
pub fn run_seed(root: u64, run: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(root);
    rng.set_stream(run);
    rng.next_u64()
}

/// A uniform choice below `n` (Lemire's multiply-shift; its bias is below 2^-32 * n).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize
}

/// Swarm testing: each fault the scenario enables stays on with probability 1/2.
fn draw_swarm(rng: &mut ChaCha8Rng, scenario: &Scenario) -> SwarmFaults {
    let f = &scenario.config.faults;
    // A coin is drawn only for an enabled fault, in `FaultKind::ALL` order: the seeds of
    // traces written before keep drawing the same switches.
    SwarmFaults(model::PerFault::from_fn(|kind| {
        f[kind].enabled() && rng.next_u32() & 1 == 1
    }))
}

fn fingerprint(state: &model::World) -> u64 {
    // SipHash with fixed keys: the same state gives the same fingerprint in every run.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    state.hash(&mut h);
    h.finish()
}

/// One run: the scenario it explored, its actions, and the always property it violated
/// (the walk stops at the first violation), if any.
pub struct Run {
    pub scenario: Scenario,
    pub swarm: Option<SwarmFaults>,
    pub actions: Vec<Action>,
    pub violated: Option<&'static str>,
}

pub fn one_run(
    scenario: &Scenario,
    seed: u64,
    depth: usize,
    swarm: bool,
    seen: &mut HashSet<u64>,
) -> Run {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scenario = scenario.clone();
    let swarm = swarm.then(|| draw_swarm(&mut rng, &scenario));
    if let Some(s) = &swarm {
        s.apply(&mut scenario.config.faults);
    }
    let model = PivotModel::new(scenario.config.clone());
    let violated_in = |state: &model::World| {
        PROPERTIES
            .iter()
            .find(|p| p.kind == Kind::Always && !(p.condition)(&model.config, state))
            .map(|p| p.name)
    };
    let mut state = model.init_state();
    seen.insert(fingerprint(&state));
    let mut actions = Vec::new();
    let mut violated = violated_in(&state);
    while violated.is_none() && actions.len() < depth {
        let enabled = model.enabled(&state);
        if enabled.is_empty() {
            break;
        }
        let a = enabled[below(&mut rng, enabled.len())];
        state = model.step(&state, a);
        seen.insert(fingerprint(&state));
        actions.push(a);
        violated = violated_in(&state);
    }
    Run {
        scenario,
        swarm,
        actions,
        violated,
    }
}

pub fn simulate(scenario: &Scenario, opts: &SimOptions) -> SimReport {
    simulate_observed(scenario, opts, &mut |_, _| {})
}

/// [`simulate`], telling `observer` after each run how many runs are done and how many
/// properties have failed so far (for a progress display).
pub fn simulate_observed(
    scenario: &Scenario,
    opts: &SimOptions,
    observer: &mut dyn FnMut(u64, usize),
) -> SimReport {
    let mut seen = HashSet::new();
    let mut steps = 0u64;
    let mut failures: Vec<Failure> = Vec::new();
    let mut done = 0;
    for run in (opts.shard.index..opts.runs).step_by(opts.shard.count as usize) {
        let seed = run_seed(opts.root_seed, run);
        let r = one_run(scenario, seed, opts.depth, opts.swarm, &mut seen);
        steps += r.actions.len() as u64;
        if let Some(property) = r.violated {
            if failures.iter().all(|f| f.property != property) {
                let shrunk = shrink::shrink(&r.scenario.config, property, &r.actions);
                failures.push(Failure {
                    property,
                    run,
                    seed,
                    swarm: r.swarm,
                    scenario: r.scenario,
                    actions: r.actions,
                    shrunk,
                });
            }
        }
        done += 1;
        observer(done, failures.len());
    }
    failures.sort_by_key(|f| property_order(f.property));
    SimReport {
        runs: done,
        steps,
        distinct_states: seen.len(),
        failures,
    }
}

/// Reruns the one run with seed `seed` (as printed with a failure), exactly as inside a
/// larger simulation, and shrinks its failure if it has one.
pub fn rerun(scenario: &Scenario, seed: u64, depth: usize, swarm: bool) -> SimReport {
    let mut seen = HashSet::new();
    let r = one_run(scenario, seed, depth, swarm, &mut seen);
    let failures = r
        .violated
        .map(|property| Failure {
            property,
            run: 0,
            seed,
            swarm: r.swarm,
            shrunk: shrink::shrink(&r.scenario.config, property, &r.actions),
            scenario: r.scenario.clone(),
            actions: r.actions.clone(),
        })
        .into_iter()
        .collect();
    SimReport {
        runs: 1,
        steps: r.actions.len() as u64,
        distinct_states: seen.len(),
        failures,
    }
}
