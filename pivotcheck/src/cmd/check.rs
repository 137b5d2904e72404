//! `pivotcheck check`: scenarios in, verdict lines, counterexamples, traces and reports out.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use sim::check::{CheckOptions, ScenarioResult, Status};
use trace::{scenario, Scenario};

use crate::exit::{self, Exit};
use crate::flags;

#[derive(clap::Args)]
#[command(
    after_help = "Example: pivotcheck check scenarios/write-ahead.toml --report out/ --stats"
)]
pub struct Args {
    /// Scenario files or folders (a folder means the .toml files directly in it).
    /// Default: the files directly in `scenarios/`.
    paths: Vec<PathBuf>,
    /// Print the results as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Folder for counterexample trace files.
    #[arg(long, default_value = "target/pivotcheck")]
    out: PathBuf,
    /// Stop a search after about this many generated states (the result is incomplete).
    #[arg(long, value_parser = flags::states)]
    max_states: Option<usize>,
    /// Stop a search after this many seconds (the result is incomplete).
    #[arg(long, value_parser = flags::seconds, allow_negative_numbers = true)]
    timeout: Option<Duration>,
    /// Print only the verdict lines, not the counterexamples.
    #[arg(long)]
    brief: bool,
    /// Search threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = flags::threads)]
    threads: Option<usize>,
    /// Store whole states instead of 64-bit fingerprints (no collision can hide a state).
    #[arg(long)]
    exact: bool,
    /// Do not merge states that differ only by a renaming of blocks.
    #[arg(long)]
    no_symmetry: bool,
    /// Skip the fair-cycle search: the liveness properties get no verdict.
    #[arg(long)]
    no_liveness: bool,
    /// Partial-order reduction (sleep sets over `model::independence`): skip the second
    /// edge of diamonds of independent steps. Verdicts, unique states and shortest
    /// lengths do not depend on it; `--stats` prints the transitions skipped.
    #[arg(long, value_name = "on|off", default_value = "off", value_parser = flags::on_off, action = clap::ArgAction::Set)]
    por: bool,
    /// Also print the vacuity table (each always and liveness property, and a checked
    /// scenario that violates it); exit 1 if one has none.
    #[arg(long)]
    vacuity: bool,
    /// Stop a search when the process's resident memory reaches this many MiB
    /// (the result is incomplete). Default: half of the machine's memory.
    #[arg(long, value_name = "MIB", value_parser = flags::memory_mib)]
    max_memory: Option<u64>,
    /// Print search figures per scenario: states, rate, bytes per state, peak memory.
    #[arg(long)]
    stats: bool,
    /// Write summary.md, junit.xml, index.html and one .itf.json per counterexample
    /// into this folder.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Print how often each kind of step and each fault window was explored.
    #[arg(long)]
    coverage: bool,
    /// Print only the property table and the verdict table as Markdown, without timings
    /// (the README's generated block; a test compares them).
    #[arg(long, conflicts_with_all = ["json", "brief", "stats", "coverage"])]
    markdown: bool,
}

pub fn run(a: Args) -> Result<Exit> {
    let files = scenario_files(&a.paths)?;
    let mut scenarios = Vec::new();
    for f in &files {
        match scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => return Ok(exit::bad_input(e)),
        }
    }
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = CheckOptions {
        max_states: a.max_states,
        timeout: a.timeout,
        max_memory: Some(a.max_memory.unwrap_or_else(default_memory_limit)),
        search: sim::bfs::Options {
            threads,
            exact: a.exact,
            symmetry: !a.no_symmetry,
            por: a.por,
        },
        skip_liveness: a.no_liveness,
    };
    check(&scenarios, &opts, &a)
}

/// The scenario files named by `paths`, folders expanded and sorted.
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let paths = if paths.is_empty() {
        vec![super::default_scenarios()]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for p in &paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                anyhow::bail!("{}: no .toml scenario files in this folder", p.display());
            }
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            anyhow::bail!("{}: no such scenario file or folder", p.display());
        }
    }
    Ok(files)
}

fn check(scenarios: &[Scenario], opts: &CheckOptions, a: &Args) -> Result<Exit> {
    let mut results = Vec::new();
    let mut coverages = Vec::new();
    let mut progress = crate::progress::Progress::new(!a.json && !a.markdown);
    let n = scenarios.len();
    for (i, s) in scenarios.iter().enumerate() {
        let (r, cov) = sim::check::check_scenario_observed(s, opts, &mut |p| {
            progress.update(&s.name, i + 1, n, p)
        });
        let mut trace_paths = Vec::new();
        for p in &r.properties {
            if let Some(t) = &p.trace {
                let path = a.out.join(format!("{}.{}.trace.json", s.name, p.name));
                trace::encode::write(t, &path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                trace_paths.push((p.name, path));
            }
        }
        if !a.json && !a.markdown {
            progress.suspend(|| {
                print_result(&r, &trace_paths, a.brief);
                if a.coverage {
                    print!("{}", sim::reporting::coverage_text(s, &cov, "    "));
                }
                if a.stats {
                    print_stats(&r, opts);
                }
            });
        }
        coverages.push(cov);
        results.push((r, trace_paths));
    }
    progress.finish();
    if let Some(dir) = &a.report {
        let pairs: Vec<_> = results
            .iter()
            .zip(&coverages)
            .map(|((r, _), c)| (r.clone(), Some(c.clone())))
            .collect();
        let run = sim::reporting::run_of_check(&pairs);
        reports::output::write_dir(&run, dir)
            .with_context(|| format!("cannot write the report into {}", dir.display()))?;
        if !a.json && !a.markdown {
            println!("report written to {}", dir.display());
        }
    }
    let summary = sim::check::summarize(results.iter().map(|(r, _)| r));
    if a.markdown {
        let pairs: Vec<_> = results.iter().map(|(r, _)| (r.clone(), None)).collect();
        let run = sim::reporting::run_of_check(&pairs);
        print!(
            "{}",
            reports::markdown::readme_tables(&run, &sim::reporting::meaning)
        );
    } else if a.json {
        let scenarios: Vec<serde_json::Value> = results
            .iter()
            .zip(&coverages)
            .map(|((r, t), c)| {
                let mut v = json_result(r, t);
                if a.coverage {
                    v["coverage"] = sim::reporting::coverage_json(&r.scenario, c);
                }
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "scenarios": scenarios }))?
        );
    } else {
        let largest = results
            .iter()
            .map(|(r, _)| r.unique_states)
            .max()
            .unwrap_or(0);
        let total: f64 = results.iter().map(|(r, _)| r.elapsed.as_secs_f64()).sum();
        println!(
            "\n{} scenarios: {} match their expectations, {} do not, {} incomplete; largest {largest} unique states; {total:.2} s",
            results.len(),
            summary.matching,
            summary.mismatched,
            summary.incomplete,
        );
    }
    let mut vacuous = false;
    if a.vacuity {
        let checked: Vec<ScenarioResult> = results.iter().map(|(r, _)| r.clone()).collect();
        let rows = sim::vacuity::table(&checked);
        println!(
            "\nvacuity: each always and liveness property, and a checked scenario that violates it"
        );
        for row in &rows {
            match &row.witness {
                Some((s, len)) => println!(
                    "    {:<28} {:<10} violated by {s} ({len} steps)",
                    row.property,
                    row.kind.name()
                ),
                None => println!(
                    "    {:<28} {:<10} VACUOUS: no checked scenario violates it",
                    row.property,
                    row.kind.name()
                ),
            }
        }
        vacuous = !sim::vacuity::unwitnessed(&rows).is_empty();
    }
    // A vacuous property is a definite failure of the gate, like a mismatch.
    Ok(match summary.outcome {
        _ if vacuous => Exit::Mismatch,
        sim::check::SuiteOutcome::AllMatch => Exit::Ok,
        sim::check::SuiteOutcome::Mismatch => Exit::Mismatch,
        sim::check::SuiteOutcome::Incomplete => Exit::Incomplete,
    })
}

fn print_result(r: &ScenarioResult, traces: &[(&str, PathBuf)], brief: bool) {
    if let Some(why) = &r.stopped {
        println!(
            "INCOMPLETE {}: search stopped early ({why}); no verdict is a proof",
            r.scenario.name
        );
    }
    let verdict = if r.definite_mismatch() {
        "MISMATCH"
    } else if !r.complete {
        "INCOMPLETE"
    } else if r.matches_expectation() {
        "ok"
    } else {
        "MISMATCH"
    };
    println!(
        "{verdict:<10} {} [{}]: {} unique states, {} states, {:.2} s",
        r.scenario.name,
        r.scenario.variant,
        r.unique_states,
        r.states,
        r.elapsed.as_secs_f64()
    );
    for p in &r.properties {
        let mark = if p.matches { " " } else { "!" };
        let len = p
            .actions
            .as_ref()
            .map(|a| format!(" in {} steps", a.len()))
            .unwrap_or_default();
        let expected = if p.matches {
            String::new()
        } else {
            format!(" (expected {})", p.expected)
        };
        println!(
            "    {mark} {:<30} {}{len}{expected}",
            p.name,
            p.status.name()
        );
    }
    if brief {
        return;
    }
    for p in &r.properties {
        if p.status != Status::Violated {
            continue;
        }
        let Some(actions) = &p.actions else { continue };
        let path = traces
            .iter()
            .find(|(n, _)| *n == p.name)
            .map(|(_, p)| p.display().to_string())
            .unwrap_or_default();
        println!(
            "\n    counterexample to {} ({} steps; trace {path}):",
            p.name,
            actions.len()
        );
        print!(
            "{}",
            reports::text::counterexample(
                &r.scenario.config,
                actions,
                &sim::replay::states(&r.scenario.config, actions),
                "      "
            )
        );
        let meaning = model::properties::property(p.name)
            .map(|d| d.meaning)
            .or_else(|| model::liveness::liveness(p.name).map(|d| d.meaning))
            .unwrap_or("");
        if let Some(start) = p.trace.as_ref().and_then(|t| t.cycle_start) {
            println!(
                "{}",
                sim::liveness::cycle_words(start, actions.len(), "      ")
            );
        }
        println!("      => violates {}: {meaning}\n", p.name);
    }
}

fn json_result(r: &ScenarioResult, traces: &[(&str, PathBuf)]) -> serde_json::Value {
    let props: Vec<serde_json::Value> = r
        .properties
        .iter()
        .map(|p| {
            let trace = traces
                .iter()
                .find(|(n, _)| *n == p.name)
                .map(|(_, path)| path.display().to_string());
            let trace_len = if trace.is_some() {
                p.actions.as_ref().map_or(0, |a| a.len())
            } else {
                0
            };
            json!({
                "name": p.name,
                "kind": p.kind.name(),
                "status": p.status.name(),
                "expected": p.expected.name(),
                "trace": trace,
                "trace_len": trace_len,
            })
        })
        .collect();
    json!({
        "name": r.scenario.name,
        "file": r.scenario.file.display().to_string(),
        "variant": r.scenario.variant,
        "complete": r.complete,
        "unique_states": r.unique_states,
        "states": r.states,
        "elapsed_ms": r.elapsed.as_millis() as u64,
        "matches_expectation": r.matches_expectation(),
        "properties": props,
    })
}

/// Half of the machine's memory (`MemTotal`), so that a search too large for the machine
/// ends as incomplete (exit 3) rather than by the out-of-memory killer.
fn default_memory_limit() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<u64>().ok())
                })
        })
        .map_or(8 << 30, |kb| kb * 1024 / 2)
}

fn print_stats(r: &ScenarioResult, opts: &CheckOptions) {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    // The rate is the breadth-first search's: the fair-cycle search's time is its own line.
    let live_secs = r.liveness.as_ref().map_or(0.0, |l| l.elapsed.as_secs_f64());
    let bfs_secs = (secs - live_secs).max(1e-9);
    let storage = if opts.search.exact {
        "whole states"
    } else {
        "64-bit fingerprints"
    };
    let n = r.unique_states as f64;
    // Birthday bound for n fingerprints of 64 bits.
    let collision = if opts.search.exact {
        "none (whole states)".to_string()
    } else {
        format!("{:.1e}", n * n / 2f64.powi(65))
    };
    println!(
        "    stats: breadth-first, {} thread(s), {storage}, symmetry {}{}; {} states, {} unique, {:.0} states/s, {:.1} bytes per stored state, peak frontier {:.1} MiB, peak resident {:.1} MiB, collision probability {collision}",
        opts.search.threads,
        if opts.search.symmetry { "on" } else { "off" },
        if opts.search.por {
            format!(", partial-order reduction on ({} transitions skipped)", r.pruned)
        } else {
            String::new()
        },
        r.states,
        r.unique_states,
        r.states as f64 / bfs_secs,
        r.bytes_per_state,
        r.peak_frontier_bytes as f64 / (1 << 20) as f64,
        sim::bfs::peak_resident_bytes() as f64 / (1 << 20) as f64,
    );
    match &r.liveness {
        Some(l) => println!(
            "    liveness: fair-cycle search over {} unique states ({}), {} owed edges, graph recorded by the breadth-first search, {:.1} bytes per state, {:.2} s of the {:.2} s",
            l.unique_states,
            if opts.search.exact {
                "keyed by whole states"
            } else {
                "keyed by fingerprints"
            },
            l.edges,
            l.bytes as f64 / l.unique_states.max(1) as f64,
            l.elapsed.as_secs_f64(),
            secs
        ),
        None => println!("    liveness: not checked"),
    }
}
