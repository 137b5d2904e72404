//! The pivotcheck engine: exhaustive search, verdicts, simulation, shrinking, mutation
//! and replay, each returning typed outcomes.
//!
//! `model` is pure; the engine adds threads, clocks and randomness. It reads no command
//! line (that is the `pivotcheck` crate) and no file format of its own (scenario and trace
//! files are the `trace` crate's), except the mutants' equivalence arguments.

pub mod bfs;
pub mod check;
pub mod fuzz;
pub mod liveness;
pub mod mutate;
pub mod replay;
pub mod reporting;
pub mod scaffold;
pub mod shrink;
pub mod simulate;
pub mod vacuity;

pub use check::{check_scenario, CheckOptions, PropertyResult, ScenarioResult, Status};
pub use trace::{Scenario, ScenarioError};
