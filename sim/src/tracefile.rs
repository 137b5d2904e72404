//! Building and reading trace files (the format is defined in `reports::trace`).

use std::path::Path;

use model::{describe, Action, PivotModel};
use reports::trace::{EmbeddedScenario, Trace, TraceStep, FORMAT, VERSION};

use crate::scenario::Scenario;

/// Turns a list of actions taken from the initial state into a trace.
pub fn from_actions(
    scenario: &Scenario,
    actions: &[Action],
    property: Option<(&str, &str)>,
    seed: Option<u64>,
) -> Trace {
    let model = PivotModel::new(scenario.config.clone());
    let mut state = model.init_state();
    let mut steps = Vec::with_capacity(actions.len());
    for &action in actions {
        let enabled = model.enabled(&state);
        let index = enabled
            .iter()
            .position(|a| *a == action)
            .expect("a path found by the checker only takes enabled actions");
        let next = model.step(&state, action);
        steps.push(TraceStep {
            index,
            action: action.name(),
            actor: action.actor().name().to_string(),
            label: describe::step_label(&scenario.config, &state, action, &next),
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
        seed,
        swarm: None,
        property: property.map(|(p, _)| p.to_string()),
        kind: property.map(|(_, k)| k.to_string()),
        steps,
        cycle_start: None,
    }
}

/// Writes `trace` as pretty JSON, atomically: a temporary file renamed into place, so an
/// interrupted run never leaves a half-written trace that a later replay would trust.
pub fn write(trace: &Trace, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut text = serde_json::to_string_pretty(trace).expect("a trace always serializes");
    text.push('\n');
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
