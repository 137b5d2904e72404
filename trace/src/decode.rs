//! Reading traces: JSON text to a [`Trace`], its embedded scenario (swarm switches
//! applied), and its actions and states re-derived through the model.
//!
//! A trace stores, for each step, the index of the chosen action among the actions enabled
//! in the state before it, plus the action's name, its actor and its label. Decoding
//! checks all of them: an index that no longer points at the named action, or an action
//! whose actor or label the model now describes differently, means the model changed or
//! the trace was edited, and decoding stops there and says so.

use std::path::Path;

use model::properties;
use model::{describe, Action, PivotModel, World};

use crate::format::{Trace, FORMAT, VERSION};
use crate::scenario::{self, Scenario, ScenarioError};

/// The `kind` of a trace that names no property but replays a path for conformance.
pub const CONFORMANCE_KIND: &str = "conformance";

/// A trace file that cannot be used: which file, where in it, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{file}: cannot read the trace: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: expected a pivotcheck trace (JSON): {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: embedded scenario: {source}")]
    Scenario { file: String, source: ScenarioError },
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
    #[error("{file}: step {step} ({action}): the trace says {field} `{found}`, but this model's {field} is `{expected}`: expected a trace of this model version")]
    Described {
        file: String,
        step: usize,
        action: String,
        field: &'static str,
        found: String,
        expected: String,
    },
}

/// A trace with everything re-derived from it.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub trace: Trace,
    /// The embedded scenario, with the run's swarm switches applied to its config.
    pub scenario: Scenario,
    pub actions: Vec<Action>,
    /// The states along the path, the initial state first (`actions.len() + 1` of them).
    pub states: Vec<World>,
}

/// Reads and decodes a trace file.
pub fn load(path: &Path) -> Result<Decoded, TraceError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
        file: file.clone(),
        source,
    })?;
    decode(&file, &text)
}

/// Decodes a trace's JSON text; `file` is only used in messages.
pub fn decode(file: &str, text: &str) -> Result<Decoded, TraceError> {
    let trace = parse(file, text)?;
    let scenario = scenario_of(file, &trace)?;
    let (actions, states) = path(file, &scenario, &trace)?;
    Ok(Decoded {
        trace,
        scenario,
        actions,
        states,
    })
}

/// Parses a trace's JSON text and checks its header: format, version, property and kind.
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
    let invalid = |message: String| TraceError::Invalid {
        file: file.to_string(),
        message,
    };
    if trace.format != FORMAT {
        return Err(invalid(format!(
            "format is `{}`, expected `{FORMAT}`",
            trace.format
        )));
    }
    if trace.version != VERSION {
        return Err(invalid(format!(
            "trace format version {} is not supported, expected {VERSION}",
            trace.version
        )));
    }
    match (&trace.property, &trace.kind) {
        (Some(p), kind) => {
            // A liveness property's trace is a lasso: `cycle_start` says where its cycle
            // begins; no other trace has one.
            let expected_kind = match (properties::property(p), model::liveness::liveness(p)) {
                (Some(def), _) => def.kind.name(),
                (None, Some(_)) => properties::Kind::Eventually.name(),
                (None, None) => {
                    return Err(invalid(format!(
                        "unknown property `{p}`, expected one of: {}",
                        properties::PROPERTIES
                            .iter()
                            .map(|d| d.name)
                            .chain(model::liveness::LIVENESS.iter().map(|d| d.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            };
            if kind.as_deref() != Some(expected_kind) {
                return Err(invalid(format!(
                    "kind is {}, expected `{expected_kind}` (the kind of property {p})",
                    kind.as_deref()
                        .map_or("null".to_string(), |k| format!("`{k}`")),
                )));
            }
            let lasso = expected_kind == properties::Kind::Eventually.name();
            match trace.cycle_start {
                Some(c) if !lasso => {
                    return Err(invalid(format!(
                        "cycle_start is {c}, but only a liveness property's trace has a cycle: expected null"
                    )))
                }
                Some(c) if c > trace.steps.len() => {
                    return Err(invalid(format!(
                        "cycle_start is {c}, expected a step number from 0 to {}",
                        trace.steps.len()
                    )))
                }
                None if lasso => {
                    return Err(invalid(
                        "cycle_start is missing: a liveness property's trace is a lasso and names the step its cycle starts at".to_string(),
                    ))
                }
                _ => {}
            }
        }
        (None, Some(k)) if k != CONFORMANCE_KIND => {
            return Err(invalid(format!(
                "kind is `{k}` but the trace names no property: expected null or `{CONFORMANCE_KIND}`"
            )));
        }
        (None, _) => {}
    }
    Ok(trace)
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
        swarm.apply(&mut s.config.faults);
    }
    Ok(s)
}

/// The actions of `trace` and the states along them, each step checked against the
/// model: its index, action name, actor and label.
pub fn path(
    file: &str,
    scenario: &Scenario,
    trace: &Trace,
) -> Result<(Vec<Action>, Vec<World>), TraceError> {
    let model = PivotModel::new(scenario.config.clone());
    let mut states = vec![model.init_state()];
    let mut actions = Vec::with_capacity(trace.steps.len());
    for (i, step) in trace.steps.iter().enumerate() {
        let state = states.last().expect("the initial state is there");
        let enabled = model.enabled(state);
        let a = match enabled.get(step.index).copied() {
            Some(a) if crate::action_name(a) == step.action => a,
            _ => {
                return Err(TraceError::Diverged {
                    file: file.to_string(),
                    step: i + 1,
                    expected: step.action.clone(),
                    index: step.index,
                    enabled: enabled
                        .iter()
                        .enumerate()
                        .map(|(j, a)| format!("{j}:{}", crate::action_name(*a)))
                        .collect(),
                })
            }
        };
        let next = model.step(state, a);
        let described = |field: &'static str, found: &str, expected: String| {
            (found != expected).then(|| TraceError::Described {
                file: file.to_string(),
                step: i + 1,
                action: step.action.clone(),
                field,
                found: found.to_string(),
                expected,
            })
        };
        if let Some(e) = described("actor", &step.actor, a.actor().name().to_string()) {
            return Err(e);
        }
        let label = describe::step_label(&model.config, state, a, &next);
        if let Some(e) = described("label", &step.label, label) {
            return Err(e);
        }
        actions.push(a);
        states.push(next);
    }
    Ok((actions, states))
}
