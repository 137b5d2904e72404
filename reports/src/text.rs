//! Plain-text rendering: counterexamples as numbered steps with what changed.

use model::describe;
use model::{Action, Config, PivotModel, World};

/// One rendered step: who acted, what happened, and the fields that changed.
pub struct StepView {
    pub number: usize,
    pub actor: &'static str,
    pub label: String,
    pub fault: bool,
    /// (actor, field, before, after)
    pub changes: Vec<(&'static str, &'static str, String, String)>,
}

/// Replays `actions` from the initial state and describes each step.
pub fn steps(config: &Config, actions: &[Action]) -> Vec<StepView> {
    let model = PivotModel::new(config.clone());
    let mut state: World = model.init_state();
    let mut out = Vec::new();
    for (i, &action) in actions.iter().enumerate() {
        let next = model.step(&state, action);
        let before = describe::fields(config, &state);
        let after = describe::fields(config, &next);
        let changes = before
            .into_iter()
            .zip(after)
            .filter(|(b, a)| b.2 != a.2)
            .map(|(b, a)| (b.0, b.1, b.2, a.2))
            .collect();
        out.push(StepView {
            number: i + 1,
            actor: action.actor().name(),
            label: describe::step_label(config, &state, action, &next),
            fault: action.is_fault(),
            changes,
        });
        state = next;
    }
    out
}

/// A counterexample as numbered steps a person can follow.
pub fn counterexample(config: &Config, actions: &[Action], indent: &str) -> String {
    let mut s = String::new();
    for v in steps(config, actions) {
        s.push_str(&format!(
            "{indent}{:>2}. {:<8} {}\n",
            v.number, v.actor, v.label
        ));
        for (actor, field, before, after) in &v.changes {
            s.push_str(&format!(
                "{indent}             {actor}.{field}: {before} -> {after}\n"
            ));
        }
    }
    s
}
