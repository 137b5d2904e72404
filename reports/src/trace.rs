//! The one trace format, shared by checker counterexamples and simulation failures.
//!
//! A trace is the scenario (embedded, so it replays without the original file), the seed
//! where there is one, and the chosen actions as indices into the model's ordered list of
//! enabled actions, each with a readable label. Replay re-derives every state from the
//! indices; the labels are for people and for detecting that the model changed.

use serde::{Deserialize, Serialize};

/// The `format` field of every trace file.
pub const FORMAT: &str = "pivotcheck-trace";
/// Bumped whenever a field's meaning changes.
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub format: String,
    pub version: u32,
    pub scenario: EmbeddedScenario,
    /// The simulation seed of the run that found it; `null` for checker counterexamples.
    pub seed: Option<u64>,
    /// Swarm simulation only: which of the scenario's faults this run kept enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmFaults>,
    /// The property the trace violates (an `always` property) or reaches (`sometimes`).
    pub property: Option<String>,
    pub kind: Option<String>,
    pub steps: Vec<TraceStep>,
    /// Liveness violations only: the number of steps before the cycle. The steps after
    /// it form a cycle that returns to the state reached after those steps and repeats
    /// for ever; equal to the number of steps when the last state stays for ever
    /// (nothing owed under fairness is enabled there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle_start: Option<usize>,
}

/// The fault switches a swarm run drew: `false` turns off a fault the scenario enables;
/// `true` keeps the scenario's setting (a swarm never enables a fault the scenario left off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmFaults {
    pub libvirtd_crash: bool,
    pub guest_poweroff: bool,
    pub qemu_crash: bool,
    pub host_crash: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedScenario {
    pub name: String,
    pub file: String,
    /// The scenario file's text, verbatim.
    pub toml: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceStep {
    /// Index of the action among the actions enabled in the state before the step.
    pub index: usize,
    /// The action's stable name (`LibvirtdStep`, `GuestWrite(0)`, ...).
    pub action: String,
    pub actor: String,
    /// What happened, in words.
    pub label: String,
}
