//! What a replayed trace shows: the states along a path, where its property is first
//! violated (or reached), and the verdict of `pivotcheck replay` (the trace still shows its
//! property, or the bug is fixed). Reading and checking the trace file is `trace::decode`.

use model::properties::{self, Kind};
use model::{Action, Config, PivotModel, World};
use trace::Decoded;

/// The states along `actions`, the initial state first.
pub fn states(config: &Config, actions: &[Action]) -> Vec<World> {
    let model = PivotModel::new(config.clone());
    let mut states = vec![model.init_state()];
    for &a in actions {
        let next = model.step(states.last().expect("non-empty"), a);
        states.push(next);
    }
    states
}

/// The first state (by step number, 0 = initial) where `property` is violated (always)
/// or reached (sometimes), if any.
pub fn first_discovery(config: &Config, property: &str, states: &[World]) -> Option<usize> {
    let def = properties::property(property)?;
    states.iter().position(|s| {
        let holds = (def.condition)(config, s);
        match def.kind {
            Kind::Always => !holds,
            Kind::Sometimes => holds,
            // A liveness violation is a lasso, not a state: `liveness::check_lasso` judges it.
            Kind::Eventually => false,
        }
    })
}

/// What a trace shows when replayed in today's model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The trace names no property; it replayed.
    NoProperty,
    /// After this step (0 = the initial state) the property is violated (always) or
    /// reached (sometimes): the trace still reproduces what it recorded.
    Shows { step: usize, property: String },
    /// Every step replays, but the property is no longer violated (or reached) anywhere
    /// along the path: the bug is fixed, or the model changed.
    Fixed { property: String },
    /// A liveness property's lasso: the stem, then the cycle from `cycle_start`, still
    /// violates the property under fairness.
    LassoShows {
        property: String,
        cycle_start: usize,
    },
    /// The lasso replays but no longer violates its liveness property, and why.
    LassoFixed {
        property: String,
        cycle_start: usize,
        why: crate::liveness::LassoCheck,
    },
}

/// The verdict of a decoded trace.
pub fn verdict(decoded: &Decoded) -> Verdict {
    let Some(property) = decoded.trace.property.clone() else {
        return Verdict::NoProperty;
    };
    if let Some(def) = model::liveness::liveness(&property) {
        // `trace::decode` requires a cycle start within the path for a liveness trace.
        let cycle_start = decoded.trace.cycle_start.unwrap_or(decoded.actions.len());
        let model = PivotModel::new(decoded.scenario.config.clone());
        return match crate::liveness::check_lasso(
            &model,
            def,
            &decoded.actions,
            &decoded.states,
            cycle_start,
        ) {
            crate::liveness::LassoCheck::Violates => Verdict::LassoShows {
                property,
                cycle_start,
            },
            why => Verdict::LassoFixed {
                property,
                cycle_start,
                why,
            },
        };
    }
    match first_discovery(&decoded.scenario.config, &property, &decoded.states) {
        Some(step) => Verdict::Shows { step, property },
        None => Verdict::Fixed { property },
    }
}
