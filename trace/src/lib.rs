//! The one codec of pivotcheck's files: scenario TOML in and out ([`scenario`]), trace
//! JSON in and out ([`format`], [`encode`], [`decode`]), swarm settings included.
//!
//! Every producer (the checker, the simulator, the conformance corpus) writes traces
//! with [`encode::from_actions`], and every reader (`replay`, `report`, `conform`, the
//! fuzzer) reads them with [`decode::load`], so a trace one command writes is a trace
//! every command reads. Errors name the file, the line or step, and what was expected.

pub mod decode;
pub mod encode;
pub mod format;
pub mod scenario;

pub use decode::{Decoded, TraceError};
pub use format::{EmbeddedScenario, SwarmFaults, Trace, TraceStep, FORMAT, VERSION};
pub use scenario::{Scenario, ScenarioError};

/// The name a trace gives an action: its stable [`model::Action::name`] (`GuestWrite(0)`,
/// `LibvirtdStep`). One function, so that writers and readers cannot drift apart.
pub fn action_name(action: model::Action) -> String {
    action.name()
}
