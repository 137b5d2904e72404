//! From results to reports: turns checked scenarios (and their coverage) into the
//! `reports::Run` every renderer shares, with the states along each path (so that
//! `reports` never runs the model), judges trace files for `pivotcheck report`, and prints
//! coverage. The verdicts are decided here, in `sim`; `reports` only renders.

use std::path::Path;

use model::coverage::Coverage;
use model::properties::{self, Kind};
use reports::run::{Counterexample, PropertyReport, Run, ScenarioReport};
use trace::{Scenario, TraceError};

use crate::check::{ScenarioResult, Status};

/// The report of a `check` run. `coverage[i]` belongs to `results[i]`, if counted.
pub fn run_of_check(results: &[(ScenarioResult, Option<Coverage>)]) -> Run {
    let mut run = Run {
        title: "pivotcheck check".into(),
        scenarios: Vec::new(),
        counterexamples: Vec::new(),
    };
    for (r, cov) in results {
        let mut props = Vec::new();
        for p in &r.properties {
            let mut cx = None;
            if let (Some(actions), Some(trace)) = (&p.actions, &p.trace) {
                if p.status == Status::Violated {
                    let verdict = if p.matches {
                        "violated, as the scenario expects".to_string()
                    } else {
                        format!("violated, but the scenario expects: {}", p.expected)
                    };
                    run.counterexamples.push(Counterexample {
                        scenario: r.scenario.name.clone(),
                        variant: r.scenario.variant.clone(),
                        property: p.name.to_string(),
                        meaning: meaning(p.name),
                        config: r.scenario.config.clone(),
                        actions: actions.clone(),
                        states: crate::replay::states(&r.scenario.config, actions),
                        trace: trace.clone(),
                        expected: p.matches,
                        verdict,
                    });
                    cx = Some(run.counterexamples.len() - 1);
                }
            }
            props.push(PropertyReport {
                name: p.name.to_string(),
                kind: p.kind,
                status: p.status,
                expected: p.expected,
                matches: p.matches,
                steps: p.actions.as_ref().map(|a| a.len()),
                counterexample: cx,
            });
        }
        run.scenarios.push(ScenarioReport {
            name: r.scenario.name.clone(),
            file: r.scenario.file.display().to_string(),
            variant: r.scenario.variant.clone(),
            config: r.scenario.config.clone(),
            complete: r.complete,
            unique_states: r.unique_states,
            states: r.states,
            max_depth: r.max_depth,
            elapsed: r.elapsed,
            matches: r.matches_expectation(),
            properties: props,
            coverage: cov.clone(),
            gist: gist(r),
        });
    }
    run
}

/// What breaking each property means to a user, most serious first: the row's sentence
/// names the first of these that the scenario violates.
const EFFECTS: [(&str, &str); 13] = [
    ("no-lost-writes", "loses acknowledged writes"),
    ("qemu-is-managed", "leaves QEMU running unmanaged"),
    ("truthful-answer", "answers the app wrongly"),
    (
        "config-holds-data",
        "leaves the persistent config on an image without the data",
    ),
    ("guest-eventually-runs", "freezes the guest for good"),
    ("pivot-call-returns", "never answers the pivot call"),
    (
        "uncertainty-keeps-qemu",
        "loses QEMU while the outcome is unknown",
    ),
    (
        "uncertainty-is-frozen",
        "lets the guest write while the outcome is unknown",
    ),
    ("no-job-held-forever", "holds a job in QEMU for ever"),
    (
        "libvirt-eventually-agrees",
        "leaves libvirt's view of the disk stale for good",
    ),
    (
        "libvirt-state-matches",
        "leaves libvirt's view of the disk stale",
    ),
    (
        "evidence-outlives-doubt",
        "destroys evidence before the outcome is durable",
    ),
    (
        "pivot-terminates",
        "leaves a libvirtd procedure or the app hanging",
    ),
];

/// The scenario in one sentence for the report's matrix: the most serious violated
/// property, what it means, and the crash windows its shortest counterexample's faults
/// fell into, in order.
pub fn gist(r: &ScenarioResult) -> String {
    if !r.complete {
        return "incomplete search: no verdict is a proof".into();
    }
    let violated = |name: &str| {
        r.properties
            .iter()
            .find(|p| p.name == name && p.status == Status::Violated)
    };
    let worst = EFFECTS
        .iter()
        .find_map(|(name, effect)| violated(name).map(|p| (p, effect.to_string())))
        .or_else(|| {
            r.properties
                .iter()
                .find(|p| p.status == Status::Violated)
                .map(|p| (p, format!("violates {}", p.name)))
        });
    let Some((p, effect)) = worst else {
        return "every property holds".into();
    };
    let actions = p.actions.as_deref().unwrap_or_default();
    let states = crate::replay::states(&r.scenario.config, actions);
    let faults: Vec<String> = actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            model::Action::Fault(kind) => Some(model::coverage::window_words(&states[i], *kind)),
            _ => None,
        })
        .collect();
    let window = if faults.is_empty() {
        "without any fault".to_string()
    } else {
        format!("when {}", faults.join(", then "))
    };
    format!("{effect} ({}, {} steps) {window}", p.name, actions.len())
}

/// A property's one-line meaning, as reports show it; empty for an unknown name.
pub fn meaning(name: &str) -> String {
    properties::property(name)
        .map(|d| d.meaning)
        .or_else(|| model::liveness::liveness(name).map(|d| d.meaning))
        .unwrap_or_default()
        .to_string()
}

/// Reads a trace file (with `trace::decode`, like every reader) and says whether its last
/// state still shows what the trace claims (a violation of, or a reach of, its property).
pub fn load_trace(path: &Path) -> Result<Counterexample, TraceError> {
    let d = trace::decode::load(path)?;
    let last = d.states.last().expect("the initial state is there");
    let (property, verdict, expected) = match d.trace.property.as_deref() {
        None => (
            String::new(),
            format!(
                "replays in {} steps (no property recorded)",
                d.actions.len()
            ),
            true,
        ),
        Some(name) if model::liveness::liveness(name).is_some() => {
            let (shows, verdict) = match crate::replay::verdict(&d) {
                crate::replay::Verdict::LassoShows { cycle_start, .. } => (
                    true,
                    format!("replays: the cycle from step {cycle_start} violates {name}"),
                ),
                crate::replay::Verdict::LassoFixed { why, .. } => (
                    false,
                    format!(
                        "replays, but its cycle no longer violates {name}: {}",
                        why.words()
                    ),
                ),
                // `replay::verdict` judges every liveness trace as a lasso; were it ever
                // not to, the trace is reported as not showing its property, never as
                // a proof.
                other => (
                    false,
                    format!("replays, but its lasso was not judged ({other:?})"),
                ),
            };
            (name.to_string(), verdict, shows)
        }
        Some(name) => {
            let def = properties::property(name).expect("trace::decode checks the property");
            let holds = (def.condition)(&d.scenario.config, last);
            let shows = match def.kind {
                Kind::Always => !holds,
                Kind::Sometimes => holds,
                Kind::Eventually => false,
            };
            let what = match def.kind {
                Kind::Always | Kind::Eventually => "violates",
                Kind::Sometimes => "reaches",
            };
            let verdict = if shows {
                format!("replays: step {} {what} {name}", d.actions.len())
            } else {
                format!("replays, but its last state no longer {what} {name}")
            };
            (name.to_string(), verdict, shows)
        }
    };
    Ok(Counterexample {
        scenario: d.scenario.name.clone(),
        variant: d.scenario.variant.clone(),
        meaning: meaning(&property),
        property,
        config: d.scenario.config,
        actions: d.actions,
        states: d.states,
        trace: d.trace,
        expected,
        verdict,
    })
}

/// The report of `pivotcheck report TRACE...`.
pub fn run_of_traces(counterexamples: Vec<Counterexample>) -> Run {
    Run {
        title: "pivotcheck report".into(),
        scenarios: Vec::new(),
        counterexamples,
    }
}

/// Coverage as indented text lines, for the terminal.
pub fn coverage_text(scenario: &Scenario, cov: &Coverage, indent: &str) -> String {
    let mut s = format!("{indent}coverage of {}:\n", scenario.name);
    let windows = cov.window_counts(&scenario.config);
    if windows.is_empty() {
        s.push_str(&format!("{indent}  no fault enabled\n"));
    }
    for w in windows {
        s.push_str(&format!("{indent}  {}: {} states\n", w.name, w.count));
    }
    let app = cov.app_window_counts(&scenario.config);
    if !app.is_empty() {
        s.push_str(&format!("{indent}  around the app's own steps:\n"));
    }
    for w in app {
        s.push_str(&format!("{indent}    {}: {} states\n", w.name, w.count));
    }
    let steps: Vec<String> = cov
        .action_counts()
        .into_iter()
        .filter(|a| a.count > 0)
        .map(|a| format!("{} {}", a.name, a.count))
        .collect();
    s.push_str(&format!("{indent}  steps explored: {}\n", steps.join(", ")));
    s
}

/// Coverage as JSON, for `--json --coverage`.
pub fn coverage_json(scenario: &Scenario, cov: &Coverage) -> serde_json::Value {
    let object = |counts: Vec<model::coverage::Count>| {
        counts
            .into_iter()
            .map(|c| (c.name, c.count.into()))
            .collect::<serde_json::Map<String, serde_json::Value>>()
    };
    serde_json::json!({
        "windows": object(cov.window_counts(&scenario.config)),
        "app_windows": object(cov.app_window_counts(&scenario.config)),
        "steps": object(cov.action_counts()),
    })
}
