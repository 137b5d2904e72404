//! Writing traces: a path of actions from the initial state becomes a [`Trace`], written
//! atomically.

use std::path::Path;

use model::{describe, Action, PivotModel};

use crate::format::{EmbeddedScenario, SwarmFaults, Trace, TraceStep, FORMAT, VERSION};
use crate::scenario::Scenario;

/// What a trace claims besides its steps.
#[derive(Clone, Debug, Default)]
pub struct Claim<'a> {
    /// The property the path violates (always) or reaches (sometimes), with its kind
    /// (`always`, `sometimes`); or no property and a kind such as `conformance`.
    pub property: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// The simulation seed of the run that found it.
    pub seed: Option<u64>,
    /// The fault switches a swarm run drew.
    pub swarm: Option<SwarmFaults>,
}

/// Turns a list of actions taken from the initial state of `scenario` into a trace. The
/// scenario's own text is embedded, so it must describe the configuration the actions
/// were taken in (with `claim.swarm` applied).
///
/// # Panics
/// If an action is not enabled where it is taken: paths come from the engine, which only
/// takes enabled actions.
pub fn from_actions(scenario: &Scenario, actions: &[Action], claim: &Claim) -> Trace {
    let mut config = scenario.config.clone();
    if let Some(swarm) = &claim.swarm {
        swarm.apply(&mut config.faults);
    }
    let model = PivotModel::new(config);
    let mut state = model.init_state();
    let mut steps = Vec::with_capacity(actions.len());
    for &action in actions {
        let enabled = model.enabled(&state);
        let index = enabled
            .iter()
            .position(|a| *a == action)
            .expect("a path from the engine only takes enabled actions");
        let next = model.step(&state, action);
        steps.push(TraceStep {
            index,
            action: crate::action_name(action),
            actor: action.actor().name().to_string(),
            label: describe::step_label(&model.config, &state, action, &next),
        });
        state = next;
    }
    Trace {
        format: FORMAT.to_string(),
        version: VERSION,
        scenario: EmbeddedScenario {
            name: scenario.name.clone(),
            file: scenario.file.display().to_string(),
            toml: scenario.source.clone(),
        },
        seed: claim.seed,
        swarm: claim.swarm,
        property: claim.property.map(str::to_string),
        kind: claim.kind.map(str::to_string),
        steps,
        // Set by the liveness search for a lasso; a path to a state has no cycle.
        cycle_start: None,
    }
}

/// The trace as pretty JSON with a final newline, as every trace file holds it.
pub fn to_json(trace: &Trace) -> String {
    let mut text = serde_json::to_string_pretty(trace).expect("a trace always serializes");
    text.push('\n');
    text
}

/// Writes `text` to `path` atomically: a temporary file beside it, renamed into place,
/// so an interrupted run never leaves a half-written file that a later reader would trust.
pub fn write_atomically(path: &Path, text: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Writes `trace` as pretty JSON, atomically.
pub fn write(trace: &Trace, path: &Path) -> std::io::Result<()> {
    write_atomically(path, to_json(trace).as_bytes())
}
