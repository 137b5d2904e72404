//! The pivotcheck engine: scenario loading, checker wiring and traces.
//!
//! `model` is pure; everything that touches files, clocks, threads or the command line
//! lives here. The binary (`main.rs`) is a thin layer over these modules.

pub mod bfs;
pub mod check;
pub mod explorer;
pub mod fuzz;
pub mod liveness;
pub mod mutate;
pub mod progress;
pub mod replay;
pub mod reporting;
pub mod scaffold;
pub mod scenario;
pub mod shrink;
pub mod simulate;
pub mod tracefile;
pub mod vacuity;

pub use check::{check_scenario, CheckOptions, PropertyResult, ScenarioResult, Status};
pub use scenario::{Scenario, ScenarioError};
