//! `pivotcheck`: a thin CLI over the `sim` library.
//!
//! Exit codes: 0 every scenario matches its expectation; 1 some do not; 2 bad input or
//! usage; 3 a search stopped before it was exhaustive.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;
use sim::check::{check_scenario, CheckOptions, ScenarioResult, Status};
use sim::scenario::{self, Scenario};

const EXIT_MISMATCH: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_INCOMPLETE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "pivotcheck",
    version,
    about = "Model checker for the crash windows around a libvirt/QEMU disk pivot"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check scenarios exhaustively and compare the verdicts with their expectations.
    Check {
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
        #[arg(long)]
        max_states: Option<usize>,
        /// Stop a search after this many seconds (the result is incomplete).
        #[arg(long)]
        timeout: Option<f64>,
        /// Print only the verdict lines, not the counterexamples.
        #[arg(long)]
        brief: bool,
    },
    /// Replay traces (default: the conformance corpus) against a real QEMU and report,
    /// per trace, conformance or the first step where model and QEMU disagree.
    Conform(conform::cli::ConformArgs),
}

fn main() -> ExitCode {
    // Like other Unix filters, die quietly when the reader of our output goes away
    // (`pivotcheck check | head`) instead of panicking on a broken pipe.
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pivotcheck: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Check {
            paths,
            json,
            out,
            max_states,
            timeout,
            brief,
        } => {
            if let Some(t) = timeout {
                if !(t.is_finite() && t > 0.0) {
                    anyhow::bail!("--timeout {t}: expected a positive number of seconds");
                }
            }
            let files = scenario_files(&paths)?;
            let mut scenarios = Vec::new();
            for f in &files {
                match scenario::load(f) {
                    Ok(s) => scenarios.push(s),
                    Err(e) => {
                        eprintln!("pivotcheck: {e}");
                        return Ok(ExitCode::from(EXIT_BAD_INPUT));
                    }
                }
            }
            let opts = CheckOptions {
                max_states,
                timeout: timeout.map(Duration::from_secs_f64),
            };
            check(&scenarios, &opts, &out, json, brief)
        }
        Cmd::Conform(args) => Ok(ExitCode::from(conform::cli::run(
            args,
            &|name, file, text| {
                scenario::parse(name, file, text)
                    .map(|s| s.config)
                    .map_err(|e| e.to_string())
            },
        ))),
    }
}

/// The default suite: `scenarios/` under the current folder, or beside the workspace.
fn default_scenarios() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
}

fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let paths = if paths.is_empty() {
        vec![default_scenarios()]
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

fn check(
    scenarios: &[Scenario],
    opts: &CheckOptions,
    out: &Path,
    json: bool,
    brief: bool,
) -> Result<ExitCode> {
    let mut results = Vec::new();
    for s in scenarios {
        let r = check_scenario(s, opts);
        let mut trace_paths = Vec::new();
        for p in &r.properties {
            if let Some(t) = &p.trace {
                let path = out.join(format!("{}.{}.trace.json", s.name, p.name));
                sim::tracefile::write(t, &path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                trace_paths.push((p.name, path));
            }
        }
        if !json {
            print_result(&r, &trace_paths, brief);
        }
        results.push((r, trace_paths));
    }
    if json {
        let scenarios: Vec<serde_json::Value> =
            results.iter().map(|(r, t)| json_result(r, t)).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "scenarios": scenarios }))?
        );
    } else {
        let ok = results
            .iter()
            .filter(|(r, _)| r.matches_expectation())
            .count();
        let incomplete = results.iter().filter(|(r, _)| !r.complete).count();
        let largest = results
            .iter()
            .map(|(r, _)| r.unique_states)
            .max()
            .unwrap_or(0);
        let total: f64 = results.iter().map(|(r, _)| r.elapsed.as_secs_f64()).sum();
        println!(
            "\n{} scenarios: {ok} match their expectations, {} do not, {incomplete} incomplete; largest {largest} unique states; {total:.2} s",
            results.len(),
            results.len() - ok
        );
    }
    let code = if results.iter().any(|(r, _)| !r.complete) {
        EXIT_INCOMPLETE
    } else if results.iter().all(|(r, _)| r.matches_expectation()) {
        0
    } else {
        EXIT_MISMATCH
    };
    Ok(ExitCode::from(code))
}

fn print_result(r: &ScenarioResult, traces: &[(&str, PathBuf)], brief: bool) {
    let verdict = if !r.complete {
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
            reports::text::counterexample(&r.scenario.config, actions, "      ")
        );
        let meaning = model::properties::property(p.name)
            .map(|d| d.meaning)
            .unwrap_or("");
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
                "expected": p.expected,
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
