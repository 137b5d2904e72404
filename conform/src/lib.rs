//! # Conformance of the model's QEMU against a real QEMU
//!
//! A proof about a model is only as good as the model. This crate replays the
//! QEMU-facing part of model traces against a real `qemu-system-x86_64` (10.0, no guest:
//! `-machine none`) over QMP, with real qcow2 images, and compares after every step what
//! the model predicts with what QEMU reports (replies, run state, job status, active
//! image, events on libvirtd's connection), and after the run the image contents.
//!
//! The model crate stays pure: everything real (processes, sockets, files, clocks) is
//! here. Scenario TOML is parsed by `sim` (which owns the format); the CLI hands its
//! parser in, so this crate does not depend on `sim` (whose binary depends on this one).
//!
//! Modules: [`script`] (corpus scripts to actions), [`corpus`] (the default corpus),
//! [`real`] (the QEMU side), [`replay`] (step mapping, sync points, comparison),
//! [`cli`] (`pivotcheck conform`).

pub mod cli;
pub mod corpus;
pub mod real;
pub mod replay;
pub mod script;

use model::{Action, Config, PivotModel};
pub use replay::{replay, Disagreement, Options, Replayable, Tamper, TraceReport, Verdict};

/// Parses a scenario's TOML: `(name, file, text)` to a configuration, or a message that
/// names the file, line and what was expected. `sim::scenario::parse` in practice.
pub type ParseScenario<'a> = &'a dyn Fn(&str, &str, &str) -> Result<Config, String>;

/// The default corpus, expanded into replayable traces (in corpus order).
pub fn corpus(parse: ParseScenario) -> Result<Vec<(corpus::Entry, Replayable)>, String> {
    corpus::entries()
        .into_iter()
        .map(|e| {
            let file = format!("corpus:{}", e.name);
            let config = parse(&e.name, &file, &e.toml)?;
            let actions = script::expand(&config, &e.script)
                .map_err(|m| format!("corpus entry {}: {m}", e.name))?;
            let r = Replayable {
                name: e.name.clone(),
                config,
                actions,
            };
            Ok((e, r))
        })
        .collect()
}

/// The trace file of a corpus entry, in the format `pivotcheck check` writes.
pub fn to_trace(e: &corpus::Entry, r: &Replayable) -> reports::trace::Trace {
    use model::describe;
    use reports::trace::{EmbeddedScenario, Trace, TraceStep, FORMAT, VERSION};
    let model = PivotModel::new(r.config.clone());
    let mut w = model.init_state();
    let mut steps = Vec::new();
    for &a in &r.actions {
        let index = model
            .enabled(&w)
            .iter()
            .position(|x| *x == a)
            .expect("expanded scripts take enabled actions");
        let next = model.step(&w, a);
        steps.push(TraceStep {
            index,
            action: a.name(),
            actor: a.actor().name().to_string(),
            label: describe::step_label(&r.config, &w, a, &next),
        });
        w = next;
    }
    Trace {
        format: FORMAT.to_string(),
        version: VERSION,
        scenario: EmbeddedScenario {
            name: e.name.clone(),
            file: format!("corpus:{}", e.name),
            toml: e.toml.clone(),
        },
        seed: None,
        swarm: None,
        property: None,
        kind: Some("conformance".to_string()),
        steps,
        cycle_start: None,
    }
}

/// The actions of a trace file, re-derived from its indices and checked against its
/// action names, so that a trace recorded with another model version is refused rather
/// than replayed as something else.
pub fn actions_of(config: &Config, trace: &reports::trace::Trace) -> Result<Vec<Action>, String> {
    let model = PivotModel::new(config.clone());
    let mut w = model.init_state();
    let mut out = Vec::new();
    for (i, s) in trace.steps.iter().enumerate() {
        let enabled = model.enabled(&w);
        let a = *enabled.get(s.index).ok_or_else(|| {
            format!(
                "step {}: index {} but only {} actions are enabled there (expected an index below {})",
                i + 1,
                s.index,
                enabled.len(),
                enabled.len()
            )
        })?;
        if a.name() != s.action {
            return Err(format!(
                "step {}: index {} is {a} in this model but the trace says {} (the model changed since the trace was written)",
                i + 1,
                s.index,
                s.action
            ));
        }
        w = model.step(&w, a);
        out.push(a);
    }
    Ok(out)
}
