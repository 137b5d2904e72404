//! Everything the model decides, pinned in checked-in tables, so that a restructuring of
//! the model (issue 12) can show it changed nothing: for every scenario in `scenarios/`,
//! `scenarios/live/`, `scenarios/large/`, `scenarios/apps/` and `scenarios/disks/` the unique and total state counts, each
//! property's status and shortest path length, and every path's steps (action name and
//! label); the live suite's predictions (what `pivotcheck live --list --all` prints,
//! from the same library call); the conformance corpus expanded into model steps.
//!
//! Trace files written before the typed action vocabulary (`pinned/traces/`, written by
//! `pivotcheck check` and `pivotcheck simulate --swarm` on the flat `Action` enum) must
//! still replay to the same violation, with the same actors and labels.
//!
//! A test recomputes a table and compares it with the file, naming the first line that
//! differs. After a deliberate change of the model, rewrite the tables with
//! `PIVOTCHECK_BLESS=1 cargo test -p pivotcheck --test it pinned::` and review the diff.

use std::path::{Path, PathBuf};

use model::{describe, Action, Config, PivotModel};
use sim::check::{check_scenario, CheckOptions};
use trace::scenario;

use crate::scenarios_dir;

fn table_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/pinned")
        .join(name)
}

/// Compares `actual` with the pinned table `name`, or rewrites the table when
/// `PIVOTCHECK_BLESS=1`.
fn compare_with_table(name: &str, actual: &str) {
    let path = table_path(name);
    if std::env::var("PIVOTCHECK_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        eprintln!("pinned: rewrote {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (PIVOTCHECK_BLESS=1 writes it)", path.display()));
    if let Some(msg) = first_difference(&expected, actual) {
        panic!(
            "{} differs from what the model computes now: {msg}\n\
             (after a deliberate change: PIVOTCHECK_BLESS=1 rewrites it; review the diff)",
            path.display()
        );
    }
}

/// The first line on which two tables differ, with both versions, or `None` if equal.
fn first_difference(expected: &str, actual: &str) -> Option<String> {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            return Some(format!(
                "line {}: pinned {:?}, now {:?}",
                i + 1,
                x.copied().unwrap_or("(end of table)"),
                y.copied().unwrap_or("(end of table)")
            ));
        }
    }
    None
}

#[test]
fn first_difference_names_the_line() {
    assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
    assert_eq!(
        first_difference("a\nb\nc\n", "a\nx\nc\n").unwrap(),
        "line 2: pinned \"b\", now \"x\""
    );
    assert_eq!(
        first_difference("a\n", "a\nb\n").unwrap(),
        "line 2: pinned \"(end of table)\", now \"b\""
    );
}

/// How a trace file names an action.
fn action_name(a: Action) -> String {
    trace::action_name(a)
}

/// `path`'s steps from the initial state, one `n. action | label` line each.
fn steps(config: &Config, path: &[Action], out: &mut String) {
    let model = PivotModel::new(config.clone());
    let mut w = model.init_state();
    for (i, &a) in path.iter().enumerate() {
        let next = model.step(&w, a);
        out.push_str(&format!(
            "      {}. {} | {}\n",
            i + 1,
            action_name(a),
            describe::step_label(config, &w, a, &next)
        ));
        w = next;
    }
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Every scenario's counts, verdicts and shortest paths, as the gate computes them.
#[test]
fn every_scenario_is_as_pinned() {
    let root = scenarios_dir();
    let mut out = String::new();
    for sub in ["", "live", "large", "apps", "disks"] {
        for f in toml_files(&root.join(sub)) {
            let s = scenario::load(&f).unwrap();
            let r = check_scenario(&s, &CheckOptions::default());
            assert!(r.complete, "{}: incomplete", s.name);
            // The default suite and `live/` are checked against their expectations by
            // the suite's tests; the disk scenarios only here.
            if sub == "disks" {
                assert!(r.matches_expectation(), "{}: not as expected", s.name);
            }
            let rel = f.strip_prefix(&root).unwrap().display().to_string();
            out.push_str(&format!(
                "{rel}: {} unique states, {} states, depth {}\n",
                r.unique_states, r.states, r.max_depth
            ));
            for p in &r.properties {
                match &p.actions {
                    Some(path) => {
                        out.push_str(&format!(
                            "  {} {} in {} steps\n",
                            p.name,
                            p.status.name(),
                            path.len()
                        ));
                        steps(&s.config, path, &mut out);
                    }
                    None => out.push_str(&format!("  {} {}\n", p.name, p.status.name())),
                }
            }
        }
    }
    compare_with_table("suite.txt", &out);
}

/// The model's prediction for every live scenario (`pivotcheck live --list --all`, for
/// each libvirt version; 9.0's lines carry no prefix, as before 11.3 was added).
#[test]
fn every_live_prediction_is_as_pinned() {
    let mut out = String::new();
    for v in live::matrix::Libvirt::ALL {
        let prefix = match v {
            live::matrix::Libvirt::V9_0 => String::new(),
            v => format!("libvirt-{} ", v.name()),
        };
        for spec in live::matrix::all(v) {
            let m = live::predict::predict(&spec).unwrap();
            out.push_str(&format!(
                "{prefix}{}: {}\n",
                spec.name,
                serde_json::to_string(&m).unwrap()
            ));
        }
    }
    compare_with_table("live.txt", &out);
}

/// The conformance corpus as the model expands it (the steps whose predictions are
/// compared with a real QEMU).
#[test]
fn the_conformance_corpus_is_as_pinned() {
    let mut out = String::new();
    for (e, r) in conform::corpus().unwrap() {
        out.push_str(&format!("{}: {} steps\n", e.name, r.actions.len()));
        steps(&r.config, &r.actions, &mut out);
    }
    compare_with_table("conform.txt", &out);
}

/// Traces written before the action vocabulary was typed replay step by step (index and
/// name agree), end in the violation they record, and carry the actors and labels the
/// model gives those steps today.
#[test]
fn traces_written_before_the_typed_actions_still_replay() {
    let dir = table_path("traces");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    for path in files {
        let file = path.display().to_string();
        let d = trace::decode::load(&path).unwrap();
        let (trace, s, actions) = (&d.trace, &d.scenario, &d.actions);
        assert_eq!(actions.len(), trace.steps.len(), "{file}");
        let states = sim::replay::states(&s.config, actions);
        assert_eq!(states, d.states, "{file}");
        let property = trace.property.as_deref().unwrap();
        assert_eq!(
            sim::replay::first_discovery(&s.config, property, &states),
            Some(actions.len()),
            "{file}: {property} is violated first at the trace's end"
        );
        for (i, (step, &a)) in trace.steps.iter().zip(actions).enumerate() {
            assert_eq!(step.actor, a.actor().name(), "{file} step {}", i + 1);
            assert_eq!(
                step.label,
                describe::step_label(&s.config, &states[i], a, &states[i + 1]),
                "{file} step {}",
                i + 1
            );
        }
    }
}

/// A trace whose step names an action by another name than the one at its index is
/// refused: the names are checked, not only the indices.
#[test]
fn a_trace_with_a_renamed_action_is_refused() {
    let path = table_path("traces").join("reopen-unpaused.uncertainty-is-frozen.trace.json");
    let file = path.display().to_string();
    let d = trace::decode::load(&path).unwrap();
    let mut trace = d.trace;
    assert_eq!(trace.steps[7].action, "LibvirtdCrash");
    trace.steps[7].action = "Fault(LibvirtdCrash)".into();
    let err = trace::decode::path(&file, &d.scenario, &trace)
        .unwrap_err()
        .to_string();
    assert!(err.contains("step 8"), "{err}");
}
