//! Replaying a trace file through the model.
//!
//! A trace stores, for each step, the index of the chosen action among the actions enabled
//! in the state before it, plus the action's name. Replay re-derives every state from the
//! embedded scenario and checks both: an index that no longer points at the named action
//! means the model changed or the trace was edited, and replay stops there and says so.

use std::path::Path;

use model::properties::{self, Kind};
use model::{Action, PivotModel, World};
use reports::trace::{SwarmFaults, Trace, FORMAT, VERSION};

use crate::scenario::{self, Scenario};

/// A trace file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{file}: cannot read the trace: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: embedded scenario: {source}")]
    Scenario {
        file: String,
        source: scenario::ScenarioError,
    },
    #[error(
        "{file}: step {step} does not replay: the trace expects {expected} (action index {index}), \
         but the enabled actions are: {}", enabled.join(", ")
    )]
    Diverged {
        file: String,
        step: usize,
        expected: String,
        index: usize,
        enabled: Vec<String>,
    },
}

pub fn read(path: &Path) -> Result<Trace, TraceError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
        file: file.clone(),
        source,
    })?;
    parse(&file, &text)
}

/// Parses a trace's JSON text; `file` is only used in messages.
pub fn parse(file: &str, text: &str) -> Result<Trace, TraceError> {
    let trace: Trace = serde_json::from_str(text).map_err(|e| TraceError::Parse {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    if trace.format != FORMAT {
        return Err(TraceError::Invalid {
            file: file.to_string(),
            message: format!("format is `{}`, expected `{FORMAT}`", trace.format),
        });
    }
    if trace.version != VERSION {
        return Err(TraceError::Invalid {
            file: file.to_string(),
            message: format!(
                "trace format version {} is not supported, expected {VERSION}",
                trace.version
            ),
        });
    }
    if let Some(p) = &trace.property {
        if properties::property(p).is_none() && model::liveness::liveness(p).is_none() {
            return Err(TraceError::Invalid {
                file: file.to_string(),
                message: format!("unknown property `{p}`"),
            });
        }
    }
    Ok(trace)
}

/// Turns off the faults a swarm run drew as off.
pub fn apply_swarm(scenario: &mut Scenario, swarm: &SwarmFaults) {
    for (kind, on) in swarm.0.iter() {
        if !on {
            scenario.config.faults[kind] = model::Fault::Off;
        }
    }
}

/// The scenario embedded in `trace`, with the run's swarm switches applied.
pub fn scenario_of(file: &str, trace: &Trace) -> Result<Scenario, TraceError> {
    let label = format!("{} (embedded from {})", file, trace.scenario.file);
    let mut s =
        scenario::parse(&trace.scenario.name, &label, &trace.scenario.toml).map_err(|source| {
            TraceError::Scenario {
                file: file.to_string(),
                source,
            }
        })?;
    s.file = trace.scenario.file.clone().into();
    if let Some(swarm) = &trace.swarm {
        apply_swarm(&mut s, swarm);
    }
    Ok(s)
}

/// The actions of `trace`, each checked against the model.
pub fn actions(file: &str, scenario: &Scenario, trace: &Trace) -> Result<Vec<Action>, TraceError> {
    let model = PivotModel::new(scenario.config.clone());
    let mut state = model.init_state();
    let mut out = Vec::with_capacity(trace.steps.len());
    for (i, step) in trace.steps.iter().enumerate() {
        let enabled = model.enabled(&state);
        let chosen = enabled.get(step.index).copied();
        match chosen {
            Some(a) if a.name() == step.action => {
                state = model.step(&state, a);
                out.push(a);
            }
            _ => {
                return Err(TraceError::Diverged {
                    file: file.to_string(),
                    step: i + 1,
                    expected: step.action.clone(),
                    index: step.index,
                    enabled: enabled
                        .iter()
                        .enumerate()
                        .map(|(j, a)| format!("{j}:{a}"))
                        .collect(),
                })
            }
        }
    }
    Ok(out)
}

/// The states along `actions`, the initial state first.
pub fn states(scenario: &Scenario, actions: &[Action]) -> Vec<World> {
    let model = PivotModel::new(scenario.config.clone());
    let mut states = vec![model.init_state()];
    for &a in actions {
        let next = model.step(states.last().expect("non-empty"), a);
        states.push(next);
    }
    states
}

/// The first state (by step number, 0 = initial) where `property` is violated (always)
/// or reached (sometimes), if any.
pub fn first_discovery(scenario: &Scenario, property: &str, states: &[World]) -> Option<usize> {
    let def = properties::property(property)?;
    states.iter().position(|s| {
        let holds = (def.condition)(&scenario.config, s);
        match def.kind {
            Kind::Always => !holds,
            Kind::Sometimes => holds,
            Kind::Eventually => false,
        }
    })
}
