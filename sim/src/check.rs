//! Exhaustive checking of one scenario with stateright, and the verdicts it yields.
//!
//! A search with a state cap or a timeout that fired is reported incomplete, and an
//! undiscovered `always` property of an incomplete search is `unknown`, never `holds`.

use std::time::{Duration, Instant};

use crate::bfs::{self, Limits};
use crate::liveness;
use model::coverage::Coverage;
use model::liveness::LIVENESS;
use model::properties::{self, Kind};
pub use model::properties::{Expectation, PropertyId, Status};
use model::{Action, PivotModel};
use trace::encode::{self, Claim};
use trace::{Scenario, Trace};

#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Stop after about this many generated states (the search is then incomplete).
    pub max_states: Option<usize>,
    pub timeout: Option<Duration>,
    /// Stop when the process's resident memory reaches this many bytes.
    pub max_memory: Option<u64>,
    pub search: bfs::Options,
    /// Skip the fair-cycle search: no verdict for the liveness properties (they are left
    /// out of the result, never reported as holding).
    pub skip_liveness: bool,
}

#[derive(Clone, Debug)]
pub struct PropertyResult {
    pub id: PropertyId,
    /// `id.name()`, for printing.
    pub name: &'static str,
    pub kind: Kind,
    pub status: Status,
    /// What the scenario expects.
    pub expected: Expectation,
    pub matches: bool,
    /// The shortest path to the violation or the first reach.
    pub actions: Option<Vec<Action>>,
    pub trace: Option<Trace>,
}

#[derive(Clone, Debug)]
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub complete: bool,
    /// Why an incomplete search stopped (state cap, timeout, memory limit).
    pub stopped: Option<String>,
    /// Bytes held per stored state (visited set and parent links).
    pub bytes_per_state: f64,
    pub peak_frontier_bytes: usize,
    pub unique_states: usize,
    pub states: usize,
    /// Transitions the partial-order reduction skipped (0 without it).
    pub pruned: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
    pub properties: Vec<PropertyResult>,
    /// The fair-cycle search's own figures, when it ran.
    pub liveness: Option<LivenessStats>,
}

#[derive(Clone, Copy, Debug)]
pub struct LivenessStats {
    pub unique_states: usize,
    /// Owed edges stored (steps that fairness may require).
    pub edges: usize,
    /// Bytes of the graph and the cycle search's tables, beside the breadth-first search's.
    pub bytes: usize,
    pub elapsed: Duration,
}

impl ScenarioResult {
    pub fn matches_expectation(&self) -> bool {
        self.complete && self.properties.iter().all(|p| p.matches)
    }

    /// A verdict that differs from the expectation and that a longer search cannot change:
    /// a counterexample found (or a state reached) against what the scenario records. An
    /// incomplete search can still hold one, and it must not hide behind "incomplete".
    pub fn definite_mismatch(&self) -> bool {
        self.properties
            .iter()
            .any(|p| !p.matches && p.status != Status::Unknown)
    }
}

/// How a run over several scenarios ends: a definite failure beats an inconclusive
/// search, so a gate never reads "incomplete, try a bigger budget" where one scenario
/// already failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteOutcome {
    /// Every scenario was searched completely and matches its expectations.
    AllMatch,
    /// At least one scenario has a definite mismatch (whatever the others say).
    Mismatch,
    /// No definite mismatch, but at least one search stopped early.
    Incomplete,
}

/// Counts for the summary line and the outcome of a run; see [`SuiteOutcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuiteSummary {
    pub matching: usize,
    /// Scenarios with a definite mismatch (complete or not).
    pub mismatched: usize,
    /// Scenarios whose search stopped early, mismatched or not.
    pub incomplete: usize,
    pub outcome: SuiteOutcome,
}

pub fn summarize<'a>(results: impl IntoIterator<Item = &'a ScenarioResult>) -> SuiteSummary {
    let (mut matching, mut mismatched, mut incomplete) = (0, 0, 0);
    for r in results {
        if r.matches_expectation() {
            matching += 1;
        }
        if r.definite_mismatch() || (r.complete && !r.matches_expectation()) {
            mismatched += 1;
        }
        if !r.complete {
            incomplete += 1;
        }
    }
    let outcome = if mismatched > 0 {
        SuiteOutcome::Mismatch
    } else if incomplete > 0 {
        SuiteOutcome::Incomplete
    } else {
        SuiteOutcome::AllMatch
    };
    SuiteSummary {
        matching,
        mismatched,
        incomplete,
        outcome,
    }
}

/// Checks `scenario` exhaustively with breadth-first search, so every counterexample is a
/// shortest one.
pub fn check_scenario(scenario: &Scenario, opts: &CheckOptions) -> ScenarioResult {
    check_scenario_observed(scenario, opts, &mut |_| {}).0
}

/// [`check_scenario`], reporting the search's progress to `observer` and returning what
/// it covered (per kind of step and per fault window) beside the result.
pub fn check_scenario_observed(
    scenario: &Scenario,
    opts: &CheckOptions,
    observer: &mut dyn FnMut(&bfs::Progress),
) -> (ScenarioResult, Coverage) {
    let model = PivotModel::new(scenario.config.clone());
    let started = Instant::now();
    let limits = Limits {
        max_states: opts.max_states,
        timeout: opts.timeout,
        max_memory: opts.max_memory,
    };
    // The fair-cycle search runs on the graph the breadth-first search records as it goes
    // (no second exploration); a search cut short gives no graph and no liveness verdict.
    let (exploration, live) = if opts.skip_liveness {
        let exploration = bfs::explore_observed(&model, &opts.search, &limits, observer);
        (exploration, None)
    } else {
        let (exploration, graph) = bfs::explore_with_graph(&model, &opts.search, &limits, observer);
        let live = graph
            .map(|g| liveness::explore_graph(&model, opts.search.symmetry, opts.search.threads, g));
        (exploration, live)
    };
    let elapsed = started.elapsed();
    let complete = exploration.complete && live.as_ref().is_none_or(|l| l.complete);
    let stopped = exploration
        .stopped
        .clone()
        .or_else(|| live.as_ref().and_then(|l| l.stopped.clone()));
    let states = exploration.states;

    let mut properties: Vec<PropertyResult> = properties::PROPERTIES
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let found = exploration.discoveries[i].clone();
            let (status, expected) = match def.kind {
                Kind::Always => {
                    let status = match (&found, complete) {
                        (Some(_), _) => Status::Violated,
                        (None, true) => Status::Holds,
                        (None, false) => Status::Unknown,
                    };
                    let expected = if scenario.expect_violated.iter().any(|n| n == def.name) {
                        Expectation::Violated
                    } else {
                        Expectation::Holds
                    };
                    (status, expected)
                }
                Kind::Eventually => unreachable!("PROPERTIES holds no liveness property"),
                Kind::Sometimes => {
                    let status = match (&found, complete) {
                        (Some(_), _) => Status::Reached,
                        (None, true) => Status::Unreached,
                        (None, false) => Status::Unknown,
                    };
                    let expected = if scenario.expect_unreached.iter().any(|n| n == def.name) {
                        Expectation::Unreached
                    } else if properties::sometimes_required(&scenario.config, def.id) {
                        Expectation::Reached
                    } else {
                        Expectation::Any
                    };
                    (status, expected)
                }
            };
            let matches = expected.admits(status);
            let trace = found
                .as_ref()
                .filter(|_| def.kind == Kind::Always)
                .map(|actions| {
                    encode::from_actions(
                        scenario,
                        actions,
                        &Claim {
                            property: Some(def.name),
                            kind: Some(def.kind.name()),
                            ..Claim::default()
                        },
                    )
                });
            PropertyResult {
                id: def.id,
                name: def.name,
                kind: def.kind,
                status,
                expected,
                matches,
                actions: found,
                trace,
            }
        })
        .collect();

    if let Some(live) = &live {
        for (def, found) in LIVENESS.iter().zip(&live.violations) {
            let status = match (found, live.complete) {
                (Some(_), _) => Status::Violated,
                (None, true) => Status::Holds,
                (None, false) => Status::Unknown,
            };
            let expected = if scenario.expect_violated.iter().any(|n| n == def.name) {
                Expectation::Violated
            } else {
                Expectation::Holds
            };
            let (actions, trace) = match found {
                Some(lasso) => {
                    let (actions, cycle_start) = lasso.actions();
                    let mut trace = encode::from_actions(
                        scenario,
                        &actions,
                        &Claim {
                            property: Some(def.name),
                            kind: Some(Kind::Eventually.name()),
                            ..Claim::default()
                        },
                    );
                    trace.cycle_start = Some(cycle_start);
                    (Some(actions), Some(trace))
                }
                None => (None, None),
            };
            properties.push(PropertyResult {
                id: def.id,
                name: def.name,
                kind: Kind::Eventually,
                status,
                expected,
                matches: expected.admits(status),
                actions,
                trace,
            });
        }
    }

    let result = ScenarioResult {
        scenario: scenario.clone(),
        complete,
        unique_states: exploration.unique_states,
        stopped,
        bytes_per_state: exploration.bytes_per_state,
        peak_frontier_bytes: exploration.peak_frontier_bytes,
        states,
        pruned: exploration.pruned,
        max_depth: exploration.max_depth,
        elapsed,
        properties,
        liveness: live.as_ref().map(|l| LivenessStats {
            unique_states: l.unique_states,
            edges: l.edges,
            bytes: l.bytes,
            elapsed: l.elapsed,
        }),
    };
    (result, exploration.coverage)
}
