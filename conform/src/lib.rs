//! # Conformance of the model's QEMU against a real QEMU
//!
//! A proof about a model is only as good as the model. This crate replays the
//! QEMU-facing part of model traces against a real `qemu-system-x86_64` (10.0, no guest:
//! `-machine none`) over QMP, with real qcow2 images, and compares after every step what
//! the model predicts with what QEMU reports (replies, run state, job status, active
//! image, events on libvirtd's connection), and after the run the image contents.
//!
//! The model crate stays pure: everything real (processes, sockets, files, clocks) is
//! here. Scenario TOML and trace files are read and written by the `trace` crate, the
//! same codec every other command uses; the command line is the `pivotcheck` crate's.
//!
//! Modules: [`script`] (corpus scripts to actions), [`corpus`] (the default corpus),
//! [`real`] (the QEMU side), [`replay`] (step mapping, sync points, comparison),
//! [`suite`] (a run over many traces, as `pivotcheck conform` does it).

pub mod corpus;
pub mod real;
pub mod replay;
pub mod script;
pub mod suite;

use std::path::Path;

pub use replay::{replay, Disagreement, Options, Replayable, Tamper, TraceReport, Verdict};
use trace::encode::{self, Claim};
use trace::{Scenario, ScenarioError, Trace, TraceError};

/// The default corpus, expanded into replayable traces (in corpus order).
pub fn corpus() -> Result<Vec<(corpus::Entry, Replayable)>, String> {
    corpus::entries()
        .into_iter()
        .map(|e| {
            let s = entry_scenario(&e).map_err(|e| e.to_string())?;
            let actions = script::expand(&s.config, &e.script)
                .map_err(|m| format!("corpus entry {}: {m}", e.name))?;
            let r = Replayable {
                name: e.name.clone(),
                config: s.config,
                actions,
            };
            Ok((e, r))
        })
        .collect()
}

/// The scenario of a corpus entry, as its trace file embeds it.
fn entry_scenario(e: &corpus::Entry) -> Result<Scenario, ScenarioError> {
    let file = format!("corpus:{}", e.name);
    trace::scenario::parse(&e.name, &file, &e.toml)
}

/// The trace file of a corpus entry, in the format `pivotcheck check` writes (with
/// `trace::encode`, like every trace).
pub fn to_trace(e: &corpus::Entry, r: &Replayable) -> Trace {
    let s = entry_scenario(e).expect("the corpus entry parsed when it was expanded");
    encode::from_actions(
        &s,
        &r.actions,
        &Claim {
            kind: Some(trace::decode::CONFORMANCE_KIND),
            ..Claim::default()
        },
    )
}

/// A trace file, decoded with `trace::decode` (so a swarm run's switches apply and a
/// trace of another model version is refused) and ready to replay against QEMU.
pub fn load(path: &Path) -> Result<Replayable, TraceError> {
    let d = trace::decode::load(path)?;
    Ok(Replayable {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        config: d.scenario.config,
        actions: d.actions,
    })
}
