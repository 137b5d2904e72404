//! Rendering of pivotcheck results and traces for people and for CI systems.
//!
//! This crate owns the trace file format ([`trace`]) and turns results into text
//! ([`text`]). It never decides a verdict: it renders what `sim` computed, and replays a
//! trace through the pure `model` only to show each step's state changes.

pub mod text;
pub mod trace;

pub use trace::{Trace, TraceStep};
