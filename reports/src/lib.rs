//! Rendering of pivotcheck results and traces for people and for CI systems.
//!
//! This crate turns results into text ([`text`]), Markdown with Mermaid diagrams
//! ([`markdown`]), JUnit XML ([`junit`]), a self-contained HTML page with SVG sequence
//! diagrams ([`html`], [`diagram`]) and ITF traces ([`itf`]). It never decides a verdict
//! and never runs the model: it renders what the engine computed (handed over as a
//! [`run::Run`], with the states along every path). The trace format is the `trace`
//! crate's.

pub mod diagram;
pub mod html;
pub mod itf;
pub mod junit;
pub mod live;
pub mod markdown;
pub mod output;
pub mod run;
pub mod text;

pub use run::{Counterexample, PropertyReport, Run, ScenarioReport};
