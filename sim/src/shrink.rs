//! Shrinking a failing run to a trace a person can read.
//!
//! A delta-debugging loop of our own rather than proptest's shrinker: proptest shrinks the
//! value tree of a strategy inside its test runner, while `simulate` must draw its choices
//! from our own portable, seeded PRNG and shrink outside any test harness. Replaying a
//! candidate leniently (skipping actions that are no longer enabled, cutting at the first
//! violation) makes every removal a valid trace, and the loop fits in a page.
//!
//! Passes, repeated until nothing changes: remove chunks of steps, halving the chunk size
//! down to single steps (this removes faults with the steps they caused); then prefer
//! earlier choices (replace a step by an action with a lower index in the same state).
//! A candidate is kept only if it still violates the same property and is no longer.

use model::properties::{self, Kind};
use model::{Action, Config, PivotModel};

/// Replays `actions`, skipping those not enabled where they come, up to and including the
/// first state that violates (or reaches) `property`. `None` if it never does.
pub fn execute(model: &PivotModel, property: &str, actions: &[Action]) -> Option<Vec<Action>> {
    let def = properties::property(property)?;
    let discovered = |s: &model::World| {
        let holds = (def.condition)(&model.config, s);
        match def.kind {
            Kind::Always => !holds,
            Kind::Sometimes => holds,
            Kind::Eventually => false,
        }
    };
    let mut state = model.init_state();
    if discovered(&state) {
        return Some(Vec::new());
    }
    let mut taken = Vec::new();
    for &a in actions {
        if !model.enabled(&state).contains(&a) {
            continue;
        }
        state = model.step(&state, a);
        taken.push(a);
        if discovered(&state) {
            return Some(taken);
        }
    }
    None
}

fn remove_chunks(model: &PivotModel, property: &str, mut current: Vec<Action>) -> Vec<Action> {
    let mut chunk = (current.len() / 2).max(1);
    loop {
        let mut i = 0;
        while i < current.len() {
            let end = (i + chunk).min(current.len());
            let candidate: Vec<Action> = current[..i]
                .iter()
                .chain(&current[end..])
                .copied()
                .collect();
            match execute(model, property, &candidate) {
                Some(shorter) if shorter.len() < current.len() => current = shorter,
                _ => i += chunk,
            }
        }
        if chunk == 1 {
            return current;
        }
        chunk /= 2;
    }
}

fn prefer_earlier_choices(
    model: &PivotModel,
    property: &str,
    mut current: Vec<Action>,
) -> Vec<Action> {
    let mut i = 0;
    while i < current.len() {
        let mut state = model.init_state();
        for &a in &current[..i] {
            state = model.step(&state, a);
        }
        let enabled = model.enabled(&state);
        let chosen = enabled
            .iter()
            .position(|&a| a == current[i])
            .expect("a shrunk trace replays exactly");
        for &earlier in &enabled[..chosen] {
            let mut candidate = current.clone();
            candidate[i] = earlier;
            if let Some(other) = execute(model, property, &candidate) {
                if other.len() <= current.len()
                    && other[..i.min(other.len())] == current[..i.min(other.len())]
                {
                    current = other;
                    break;
                }
            }
        }
        i += 1;
    }
    current
}

/// Shrinks `actions`, which must violate (or reach) `property`.
pub fn shrink(config: &Config, property: &str, actions: &[Action]) -> Vec<Action> {
    let model = PivotModel::new(config.clone());
    let mut current = execute(&model, property, actions).expect("only failing runs are shrunk");
    loop {
        let before = current.clone();
        current = remove_chunks(&model, property, current);
        current = prefer_earlier_choices(&model, property, current);
        if current == before {
            return current;
        }
    }
}
