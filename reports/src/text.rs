//! Plain-text rendering: counterexamples as numbered steps with what changed.

use model::describe;
use model::{Action, Config, World};

/// One rendered step: who acted, what happened, and the fields that changed.
pub struct StepView {
    pub number: usize,
    pub actor: &'static str,
    pub label: String,
    pub fault: bool,
    /// (actor, field, before, after)
    pub changes: Vec<(&'static str, &'static str, String, String)>,
}

/// Checks that `states` are the states along `actions` as the engine hands them over: the
/// initial state, then one per action. A renderer given anything else would mislabel steps.
pub(crate) fn assert_path(actions: &[Action], states: &[World]) {
    assert_eq!(
        states.len(),
        actions.len() + 1,
        "a path of {} actions has {} states, the initial one first",
        actions.len(),
        actions.len() + 1
    );
}

/// Describes each step of a path; `states` are the states along it, the initial state
/// first, as the engine computed them.
pub fn steps(config: &Config, actions: &[Action], states: &[World]) -> Vec<StepView> {
    assert_path(actions, states);
    let mut out = Vec::new();
    for (i, (&action, w)) in actions.iter().zip(states.windows(2)).enumerate() {
        let (state, next) = (&w[0], &w[1]);
        let before = describe::fields(config, state);
        let after = describe::fields(config, next);
        let changes = before
            .into_iter()
            .zip(after)
            .filter(|(b, a)| b.2 != a.2)
            .map(|(b, a)| (b.0, b.1, b.2, a.2))
            .collect();
        out.push(StepView {
            number: i + 1,
            actor: action.actor().name(),
            label: describe::step_label(config, state, action, next),
            fault: action.is_fault(),
            changes,
        });
    }
    out
}

/// A counterexample as numbered steps a person can follow.
pub fn counterexample(
    config: &Config,
    actions: &[Action],
    states: &[World],
    indent: &str,
) -> String {
    let mut s = String::new();
    for v in steps(config, actions, states) {
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
