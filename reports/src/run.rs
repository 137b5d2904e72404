//! What a report shows: results computed elsewhere (`sim`), in a shape every renderer
//! shares. Nothing here decides a verdict or runs the model; every `status`, `expected`,
//! `matches`, `verdict` and state is filled in by the caller.

use std::time::Duration;

use model::coverage::Coverage;
use model::properties::{Expectation, Kind, Status};
use model::{Action, Config, World};

use trace::Trace;

/// One run of pivotcheck: checked scenarios, and the counterexamples to show.
#[derive(Clone, Debug)]
pub struct Run {
    /// A heading, e.g. "pivotcheck check".
    pub title: String,
    pub scenarios: Vec<ScenarioReport>,
    pub counterexamples: Vec<Counterexample>,
}

#[derive(Clone, Debug)]
pub struct ScenarioReport {
    pub name: String,
    /// The scenario file as the user named it.
    pub file: String,
    pub variant: String,
    pub config: Config,
    pub complete: bool,
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
    /// Every verdict matches the scenario's expectation and the search was exhaustive.
    pub matches: bool,
    pub properties: Vec<PropertyReport>,
    pub coverage: Option<Coverage>,
    /// The row's verdict in one sentence (decided by the engine), e.g. "loses acknowledged
    /// writes (no-lost-writes, 16 steps) when libvirtd crashed between ...".
    pub gist: String,
}

#[derive(Clone, Debug)]
pub struct PropertyReport {
    pub name: String,
    pub kind: Kind,
    pub status: Status,
    pub expected: Expectation,
    pub matches: bool,
    /// Length of the shortest path to the violation or the first reach.
    pub steps: Option<usize>,
    /// Index into [`Run::counterexamples`].
    pub counterexample: Option<usize>,
}

/// A path that violates (or reaches) a property, with what the caller concluded of it.
#[derive(Clone, Debug)]
pub struct Counterexample {
    pub scenario: String,
    pub variant: String,
    pub property: String,
    /// One line: what a violation means.
    pub meaning: String,
    pub config: Config,
    pub actions: Vec<Action>,
    /// The states along `actions`, the initial state first (the engine computes them;
    /// renderers never run the model).
    pub states: Vec<World>,
    pub trace: Trace,
    /// Whether this outcome is the expected one (a known, documented violation).
    pub expected: bool,
    /// One line for people, e.g. "violated, as expected" or "replays: the last state
    /// violates no-lost-writes".
    pub verdict: String,
}

impl Counterexample {
    /// A file-name-safe identifier, also used as an HTML anchor: `scenario.property`.
    pub fn id(&self) -> String {
        let raw = format!("{}.{}", self.scenario, self.property);
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl Run {
    pub fn matching(&self) -> usize {
        self.scenarios.iter().filter(|s| s.matches).count()
    }
    pub fn incomplete(&self) -> usize {
        self.scenarios.iter().filter(|s| !s.complete).count()
    }
    /// Property names in the order of the first scenario (all scenarios share them).
    pub fn property_names(&self) -> Vec<(String, Kind)> {
        self.scenarios
            .first()
            .map(|s| {
                s.properties
                    .iter()
                    .map(|p| (p.name.clone(), p.kind))
                    .collect()
            })
            .unwrap_or_default()
    }
}
