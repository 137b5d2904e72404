//! The vacuity table: for every `always` and liveness property, a scenario that violates
//! it. A property that nothing can violate proves nothing, so its "holds" must not stand
//! beside the others (issue 11); the table makes each one earn its word.

use model::liveness::LIVENESS;
use model::properties::{Kind, PROPERTIES};

use crate::check::{ScenarioResult, Status};

/// One property and the first checked scenario that violates it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub property: &'static str,
    pub kind: Kind,
    /// The scenario's name and the counterexample's length in steps.
    pub witness: Option<(String, usize)>,
}

/// For each `always` and liveness property (in the order the checker reports them), the
/// first of `results` in which it is violated.
pub fn table(results: &[ScenarioResult]) -> Vec<Row> {
    let names = PROPERTIES
        .iter()
        .filter(|p| p.kind == Kind::Always)
        .map(|p| (p.name, p.kind))
        .chain(LIVENESS.iter().map(|p| (p.name, Kind::Eventually)));
    names
        .map(|(property, kind)| Row {
            property,
            kind,
            witness: results.iter().find_map(|r| {
                r.properties
                    .iter()
                    .find(|p| p.name == property && p.status == Status::Violated)
                    .map(|p| {
                        (
                            r.scenario.name.clone(),
                            p.actions.as_ref().map_or(0, Vec::len),
                        )
                    })
            }),
        })
        .collect()
}

/// The properties of `rows` that nothing violated: vacuous as far as these scenarios show.
pub fn unwitnessed(rows: &[Row]) -> Vec<&'static str> {
    rows.iter()
        .filter(|r| r.witness.is_none())
        .map(|r| r.property)
        .collect()
}
