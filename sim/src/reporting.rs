//! From results to reports: turns checked scenarios (and their coverage) into the
//! `reports::Run` every renderer shares, loads trace files for `pivotcheck report`, and
//! prints coverage. The verdicts are decided here, in `sim`; `reports` only renders.

use std::path::Path;

use model::coverage::Coverage;
use model::properties::{self, Kind};
use model::{Action, PivotModel};
use reports::run::{Counterexample, PropertyReport, Run, ScenarioReport};
use reports::trace::{Trace, FORMAT, VERSION};

use crate::check::{ScenarioResult, Status};
use crate::scenario::{self, Scenario};

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
        });
    }
    run
}

fn meaning(name: &str) -> String {
    properties::property(name)
        .map(|d| d.meaning)
        .or_else(|| model::liveness::liveness(name).map(|d| d.meaning))
        .unwrap_or_default()
        .to_string()
}

/// A trace file that could not be used: which file, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct TraceError {
    pub file: String,
    pub message: String,
}

/// Reads a trace file, replays it through the model and says whether its last state
/// still shows what the trace claims (a violation of, or a reach of, its property).
pub fn load_trace(path: &Path) -> Result<Counterexample, TraceError> {
    let file = path.display().to_string();
    let err = |message: String| TraceError {
        file: file.clone(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let trace: Trace = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "line {} column {}: not a pivotcheck trace: {e}",
            e.line(),
            e.column()
        ))
    })?;
    if trace.format != FORMAT || trace.version != VERSION {
        return Err(err(format!(
            "format `{}` version {}: expected format `{FORMAT}` version {VERSION}",
            trace.format, trace.version
        )));
    }
    let embedded = format!("{file} (embedded scenario {})", trace.scenario.file);
    let sc: Scenario = scenario::parse(&trace.scenario.name, &embedded, &trace.scenario.toml)
        .map_err(|e| err(format!("the embedded scenario does not load: {e}")))?;
    let model = PivotModel::new(sc.config.clone());
    let mut state = model.init_state();
    let mut actions: Vec<Action> = Vec::new();
    for (i, step) in trace.steps.iter().enumerate() {
        let enabled = model.enabled(&state);
        let Some(&action) = enabled.get(step.index) else {
            return Err(err(format!(
                "step {}: action index {} but only {} actions are enabled: expected a trace of this model version",
                i + 1,
                step.index,
                enabled.len()
            )));
        };
        if action.name() != step.action {
            return Err(err(format!(
                "step {}: index {} is `{action}` in this model, the trace says `{}`: expected a trace of this model version",
                i + 1,
                step.index,
                step.action
            )));
        }
        state = model.step(&state, action);
        actions.push(action);
    }
    let (property, verdict, expected) = match trace.property.as_deref() {
        None => (
            String::new(),
            format!("replays in {} steps (no property recorded)", actions.len()),
            true,
        ),
        Some(name) if model::liveness::liveness(name).is_some() => {
            let def = model::liveness::liveness(name).expect("matched");
            let states = crate::replay::states(&sc, &actions);
            let start = trace
                .cycle_start
                .unwrap_or(actions.len())
                .min(actions.len());
            let check = crate::liveness::check_lasso(&model, def, &actions, &states, start);
            let shows = check == crate::liveness::LassoCheck::Violates;
            let verdict = if shows {
                format!("replays: the cycle from step {start} violates {name}")
            } else {
                format!("replays, but its cycle no longer violates {name} ({check:?})")
            };
            (name.to_string(), verdict, shows)
        }
        Some(name) => {
            let def = properties::property(name).ok_or_else(|| {
                err(format!(
                    "property `{name}`: expected one of: {}",
                    properties::PROPERTIES
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            let holds = (def.condition)(&sc.config, &state);
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
                format!("replays: step {} {what} {name}", actions.len())
            } else {
                format!("replays, but its last state no longer {what} {name}")
            };
            (name.to_string(), verdict, shows)
        }
    };
    Ok(Counterexample {
        scenario: sc.name.clone(),
        variant: sc.variant.clone(),
        meaning: meaning(&property),
        property,
        config: sc.config,
        actions,
        trace,
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
    let windows: serde_json::Map<String, serde_json::Value> = cov
        .window_counts(&scenario.config)
        .into_iter()
        .map(|w| (w.name, w.count.into()))
        .collect();
    let steps: serde_json::Map<String, serde_json::Value> = cov
        .action_counts()
        .into_iter()
        .map(|a| (a.name, a.count.into()))
        .collect();
    serde_json::json!({ "windows": windows, "steps": steps })
}
