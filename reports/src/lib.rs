//! Rendering of pivotcheck results and traces for people and for CI systems.
//!
//! This crate owns the trace file format ([`trace`]) and turns results into text
//! ([`text`]), Markdown with Mermaid diagrams ([`markdown`]), JUnit XML ([`junit`]), a
//! self-contained HTML page with SVG sequence diagrams ([`html`], [`diagram`]) and ITF
//! traces ([`itf`]). It never decides a verdict: it renders what `sim` computed (handed
//! over as a [`run::Run`]), and replays a trace through the pure `model` only to show each
//! step's state.

pub mod diagram;
pub mod html;
pub mod itf;
pub mod junit;
pub mod markdown;
pub mod output;
pub mod run;
pub mod text;
pub mod trace;

pub use run::{Counterexample, PropertyReport, Run, ScenarioReport};
pub use trace::{Trace, TraceStep};
