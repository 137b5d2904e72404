//! `pivotcheck`: a thin CLI over the `sim` library.
//!
//! Exit codes: 0 every scenario matches its expectation (replay: the trace still violates
//! its property); 1 some do not; 2 bad input or usage (replay: the trace no longer fits the
//! model); 3 a search stopped before it was exhaustive; 4 replay: the trace replays but no
//! longer violates its property (the bug is fixed).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;
use sim::check::{CheckOptions, ScenarioResult, Status};
use sim::scenario::{self, Scenario};

const EXIT_MISMATCH: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_INCOMPLETE: u8 = 3;
const EXIT_FIXED: u8 = 4;

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
        /// Search threads (default: all cores). Results do not depend on it.
        #[arg(long)]
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
        /// Also print the vacuity table (each always and liveness property, and a checked
        /// scenario that violates it); exit 1 if one has none.
        #[arg(long)]
        vacuity: bool,
        /// Stop a search when the process's resident memory reaches this many MiB
        /// (the result is incomplete). Default: half of the machine's memory.
        #[arg(long)]
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
    },
    /// Render trace files as a report folder (summary.md, junit.xml, index.html, ITF).
    Report {
        /// Trace files written by `check` (or any producer of the trace format).
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        /// Folder for the report.
        #[arg(long, default_value = "target/pivotcheck/report")]
        out: PathBuf,
    },
    /// Serve stateright's web explorer for one scenario on 127.0.0.1.
    Explore {
        /// The scenario file.
        scenario: PathBuf,
        /// The TCP port on 127.0.0.1.
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
    /// Generate every plausible single edit of a safe scenario's procedures and check that
    /// the gate kills each one (or that it carries an equivalence argument).
    Mutate {
        /// A preset name (its scenario is `scenarios/<name>.toml`) or a scenario file.
        target: String,
        /// Equivalence arguments for survivors. Default: `scenarios/mutants/<name>.toml`.
        #[arg(long)]
        arguments: Option<PathBuf>,
        /// Write each mutant as a scenario file into this folder.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Fuzz a parser (scenario files or trace files) with mutated inputs from a corpus.
    Fuzz {
        /// `scenario` or `trace`.
        target: String,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Corpus folder (default: `sim/fuzz-corpus/<target>` and, for scenarios, `scenarios/`).
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Where inputs that panic or hang are saved.
        #[arg(long, default_value = "target/pivotcheck/fuzz-findings")]
        findings: PathBuf,
    },
    /// Re-execute a trace file step by step, showing what changed in each actor.
    Replay {
        trace: PathBuf,
        /// Wait for Enter between steps.
        #[arg(long)]
        step: bool,
        /// Print the full state after step N (0 is the initial state).
        #[arg(long)]
        at: Option<usize>,
    },
    /// Random walks over a scenario on a portable seeded PRNG, with shrinking of failures.
    Simulate {
        scenario: PathBuf,
        /// Root seed: a number, or a 40-hex commit hash. Without it one is picked and printed.
        #[arg(long)]
        seed: Option<String>,
        /// Rerun only the run with this seed (as printed with a failure).
        #[arg(long, conflicts_with_all = ["seed", "runs"])]
        run_seed: Option<u64>,
        #[arg(long, default_value_t = 1000)]
        runs: u64,
        /// Steps per run at most.
        #[arg(long, default_value_t = 200)]
        depth: usize,
        /// Draw which of the scenario's faults are enabled from each run's seed.
        #[arg(long)]
        swarm: bool,
        /// Folder for the traces of failing runs.
        #[arg(long, default_value = "target/pivotcheck")]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Crash real libvirtd at each QMP command of a real pivot and compare with the model.
    Live(live::Args),
    /// Write a new scenario file that starts from a preset: every option and fault with a
    /// comment, the procedures as editable step lists, today's verdicts as expectations.
    ///
    /// Example: pivotcheck new my-order --from blockdev-modern --faults libvirtd_crash,guest_poweroff
    New {
        /// The scenario's name; the file is NAME.toml in --dir.
        name: String,
        /// The preset to start from.
        #[arg(long)]
        from: String,
        /// Faults to enable, comma-separated: libvirtd_crash, guest_poweroff, qemu_crash,
        /// host_crash, each optionally `=N` (a bound); `none` for no fault. Default: libvirtd
        /// crashes and guest power-off, as in the default suite.
        #[arg(long, value_delimiter = ',')]
        faults: Option<Vec<String>>,
        /// Folder to write the file into.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Say what the model means by a step, property, preset or fault.
    ///
    /// Example: pivotcheck explain save-status
    Explain {
        /// A step (`job-dismiss`), property (`no-lost-writes`), preset (`write-ahead`) or
        /// fault (`libvirtd_crash`).
        #[arg(required_unless_present = "list")]
        term: Option<String>,
        /// List every term by kind.
        #[arg(long)]
        list: bool,
    },
    /// Replay traces (default: the conformance corpus) against a real QEMU and report,
    /// per trace, conformance or the first step where model and QEMU disagree.
    Conform(conform::cli::ConformArgs),
}

/// What `check` writes besides its verdict lines.
struct CheckExtras {
    report: Option<PathBuf>,
    coverage: bool,
    stats: bool,
    vacuity: bool,
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
            threads,
            exact,
            no_symmetry,
            no_liveness,
            vacuity,
            max_memory,
            stats,
            report,
            coverage,
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
            if threads == Some(0) {
                anyhow::bail!("--threads 0: expected at least one thread");
            }
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let opts = CheckOptions {
                max_states,
                timeout: timeout.map(Duration::from_secs_f64),
                max_memory: Some(max_memory.map_or_else(default_memory_limit, |m| m << 20)),
                search: sim::bfs::Options {
                    threads,
                    exact,
                    symmetry: !no_symmetry,
                },
                skip_liveness: no_liveness,
            };
            let extras = CheckExtras {
                report,
                coverage,
                stats,
                vacuity,
            };
            check(&scenarios, &opts, &out, json, brief, &extras)
        }
        Cmd::Report { traces, out } => report_traces(&traces, &out),
        Cmd::Explore { scenario, port } => explore(&scenario, port),
        Cmd::Replay { trace, step, at } => replay(&trace, step, at),
        Cmd::Fuzz {
            target,
            seconds,
            seed,
            corpus,
            findings,
        } => fuzz_cmd(&target, seconds, seed, corpus, &findings),
        Cmd::Mutate {
            target,
            arguments,
            write,
        } => mutate_cmd(&target, arguments, write),
        Cmd::Live(args) => Ok(ExitCode::from(live::cli(args))),
        Cmd::New {
            name,
            from,
            faults,
            dir,
            force,
        } => new_cmd(&name, &from, faults, &dir, force),
        Cmd::Explain { term, list } => {
            if list {
                print!("{}", sim::scaffold::terms());
                return Ok(ExitCode::SUCCESS);
            }
            match sim::scaffold::explain(term.as_deref().unwrap_or_default()) {
                Ok(text) => {
                    print!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("pivotcheck: {e}");
                    Ok(ExitCode::from(EXIT_BAD_INPUT))
                }
            }
        }
        Cmd::Simulate {
            scenario,
            seed,
            run_seed,
            runs,
            depth,
            swarm,
            out,
            json,
        } => {
            let s = match scenario::load(&scenario) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("pivotcheck: {e}");
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            };
            if depth == 0 {
                anyhow::bail!("--depth 0: expected at least one step per run");
            }
            let (root, runs, single) = match (run_seed, seed) {
                (Some(r), _) => (r, 1, true),
                (None, Some(text)) => (parse_seed(&text)?, runs, false),
                (None, None) => (fresh_seed(), runs, false),
            };
            simulate_cmd(&s, &scenario, root, runs, single, depth, swarm, &out, json)
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

/// `pivotcheck report`: replays each trace and renders them all.
fn new_cmd(
    name: &str,
    from: &str,
    faults: Option<Vec<String>>,
    dir: &Path,
    force: bool,
) -> Result<ExitCode> {
    use sim::scaffold;
    let faults = match faults {
        Some(v) => scaffold::parse_faults(&v),
        None => Ok(scaffold::default_faults()),
    };
    let text = match faults.and_then(|f| scaffold::new_scenario(name, from, f)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pivotcheck: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let path = dir.join(format!("{name}.toml"));
    if path.exists() && !force {
        eprintln!(
            "pivotcheck: {} exists: expected a new file name (or --force to replace it)",
            path.display()
        );
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    if !dir.is_dir() {
        eprintln!(
            "pivotcheck: --dir {}: expected an existing folder",
            dir.display()
        );
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    reports::output::write_atomic(&path, &text)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "wrote {}; edit a step list, then run: pivotcheck check {}",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn report_traces(traces: &[PathBuf], out: &Path) -> Result<ExitCode> {
    let mut cxs = Vec::new();
    for t in traces {
        match sim::reporting::load_trace(t) {
            Ok(c) => cxs.push(c),
            Err(e) => {
                eprintln!("pivotcheck: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
    }
    let all_show = cxs.iter().all(|c| c.expected);
    for c in &cxs {
        println!("{} {}: {}", c.scenario, c.property, c.verdict);
    }
    let run = sim::reporting::run_of_traces(cxs);
    reports::output::write_dir(&run, out)
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    println!("report written to {}", out.display());
    Ok(ExitCode::from(if all_show { 0 } else { EXIT_MISMATCH }))
}

/// `pivotcheck explore`: serves the explorer until interrupted.
fn explore(file: &Path, port: u16) -> Result<ExitCode> {
    let s = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pivotcheck: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    if let Err(e) = sim::explorer::port_available(port) {
        anyhow::bail!("cannot listen on 127.0.0.1:{port}: {e}");
    }
    eprintln!(
        "pivotcheck: exploring {} [{}] on http://127.0.0.1:{port}/ (Ctrl-C stops it)",
        s.name, s.variant
    );
    sim::explorer::serve(model::PivotModel::new(s.config), port);
    Ok(ExitCode::SUCCESS)
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
    extras: &CheckExtras,
) -> Result<ExitCode> {
    let mut results = Vec::new();
    let mut coverages = Vec::new();
    let mut progress = sim::progress::Progress::new(!json);
    let n = scenarios.len();
    for (i, s) in scenarios.iter().enumerate() {
        let (r, cov) = sim::check::check_scenario_observed(s, opts, &mut |p| {
            progress.update(&s.name, i + 1, n, p)
        });
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
            progress.suspend(|| {
                print_result(&r, &trace_paths, brief);
                if extras.coverage {
                    print!("{}", sim::reporting::coverage_text(s, &cov, "    "));
                }
                if extras.stats {
                    print_stats(&r, opts);
                }
            });
        }
        coverages.push(cov);
        results.push((r, trace_paths));
    }
    progress.finish();
    if let Some(dir) = &extras.report {
        let pairs: Vec<_> = results
            .iter()
            .zip(&coverages)
            .map(|((r, _), c)| (r.clone(), Some(c.clone())))
            .collect();
        let run = sim::reporting::run_of_check(&pairs);
        reports::output::write_dir(&run, dir)
            .with_context(|| format!("cannot write the report into {}", dir.display()))?;
        if !json {
            println!("report written to {}", dir.display());
        }
    }
    let summary = sim::check::summarize(results.iter().map(|(r, _)| r));
    if json {
        let scenarios: Vec<serde_json::Value> = results
            .iter()
            .zip(&coverages)
            .map(|((r, t), c)| {
                let mut v = json_result(r, t);
                if extras.coverage {
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
    if extras.vacuity {
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
    let code = match summary.outcome {
        _ if vacuous => EXIT_MISMATCH,
        sim::check::SuiteOutcome::AllMatch => 0,
        sim::check::SuiteOutcome::Mismatch => EXIT_MISMATCH,
        sim::check::SuiteOutcome::Incomplete => EXIT_INCOMPLETE,
    };
    Ok(ExitCode::from(code))
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
            reports::text::counterexample(&r.scenario.config, actions, "      ")
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

/// A seed is a decimal number, or a 40-hex commit hash (its first 16 hex digits), so that
/// CI runs vary by commit and stay reproducible.
fn parse_seed(text: &str) -> Result<u64> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    if text.len() == 40 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(u64::from_str_radix(&text[..16], 16)?);
    }
    anyhow::bail!(
        "--seed {text}: expected a number from 0 to {} or a 40-hex commit hash",
        u64::MAX
    )
}

/// A seed from the clock and the process id, printed so the run can be repeated.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ (u64::from(std::process::id()) << 32)
}

#[allow(clippy::too_many_arguments)]
fn simulate_cmd(
    s: &Scenario,
    path: &Path,
    root: u64,
    runs: u64,
    single: bool,
    depth: usize,
    swarm: bool,
    out: &Path,
    json: bool,
) -> Result<ExitCode> {
    use sim::simulate::{self, SimOptions};
    let started = std::time::Instant::now();
    let report = if single {
        // `--run-seed`: the one run, exactly as inside a larger simulation.
        let mut seen = std::collections::HashSet::new();
        let r = simulate::one_run(s, root, depth, swarm, &mut seen);
        let failures = r
            .violated
            .map(|property| simulate::Failure {
                property,
                run: 0,
                seed: root,
                swarm: r.swarm,
                shrunk: sim::shrink::shrink(&r.scenario.config, property, &r.actions),
                scenario: r.scenario.clone(),
                actions: r.actions.clone(),
            })
            .into_iter()
            .collect();
        simulate::SimReport {
            runs: 1,
            steps: r.actions.len() as u64,
            distinct_states: seen.len(),
            failures,
        }
    } else {
        simulate::simulate(
            s,
            &SimOptions {
                root_seed: root,
                runs,
                depth,
                swarm,
            },
        )
    };
    let elapsed = started.elapsed();

    let mut violations = Vec::new();
    for f in &report.failures {
        let mut trace = sim::tracefile::from_actions(
            &f.scenario,
            &f.shrunk,
            Some((f.property, "always")),
            Some(f.seed),
        );
        trace.swarm = f.swarm;
        trace.scenario.toml = s.source.clone();
        let path = out.join(format!(
            "{}.sim-{}.{}.trace.json",
            s.name, f.seed, f.property
        ));
        sim::tracefile::write(&trace, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        violations.push((f, path));
    }
    let unexpected: Vec<&str> = report
        .failures
        .iter()
        .map(|f| f.property)
        .filter(|p| !s.expect_violated.iter().any(|e| e == p))
        .collect();

    if json {
        let v: Vec<serde_json::Value> = violations
            .iter()
            .map(|(f, p)| {
                json!({"property": f.property, "seed": f.seed, "trace": p.display().to_string(),
                       "length": f.actions.len(), "shrunk_length": f.shrunk.len()})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string(&json!({"runs": report.runs, "steps": report.steps,
                "distinct_states": report.distinct_states, "violations": v}))?
        );
    } else {
        let mode = if swarm { ", swarm" } else { "" };
        if single {
            println!("SEED={root} (one run){mode}, depth {depth}: {}", s.name);
        } else {
            println!("SEED={root}: {runs} runs{mode}, depth {depth}: {}", s.name);
        }
        for (f, p) in &violations {
            let expected = if s.expect_violated.iter().any(|e| e == f.property) {
                "expected"
            } else {
                "UNEXPECTED"
            };
            println!(
                "  {} violated ({expected}) in run {} seed={}: {} steps, shrunk to {}",
                f.property,
                f.run,
                f.seed,
                f.actions.len(),
                f.shrunk.len()
            );
            println!("    replay: pivotcheck replay {}", p.display());
            println!(
                "    rerun:  pivotcheck simulate {} --run-seed {} --depth {depth}{}",
                path.display(),
                f.seed,
                if swarm { " --swarm" } else { "" }
            );
        }
        println!(
            "{} runs, {} steps, {} distinct states, {} properties violated ({} unexpected)",
            report.runs,
            report.steps,
            report.distinct_states,
            violations.len(),
            unexpected.len()
        );
    }
    // Timing varies between runs; it goes to standard error so that standard output is
    // byte-identical for the same seed.
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!("{:.2} s, {:.0} steps/s", secs, report.steps as f64 / secs);
    Ok(ExitCode::from(if unexpected.is_empty() {
        0
    } else {
        EXIT_MISMATCH
    }))
}

fn replay(path: &Path, interactive: bool, at: Option<usize>) -> Result<ExitCode> {
    use sim::replay as r;
    let file = path.display().to_string();
    let loaded = r::read(path).and_then(|t| r::scenario_of(&file, &t).map(|s| (t, s)));
    let (trace, scenario) = match loaded {
        Ok(x) => x,
        Err(e) => {
            eprintln!("pivotcheck: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let actions = match r::actions(&file, &scenario, &trace) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pivotcheck: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    if let Some(n) = at {
        if n > actions.len() {
            eprintln!(
                "pivotcheck: --at {n}: the trace has {} steps (0 is the initial state)",
                actions.len()
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    let states = r::states(&scenario, &actions);
    let property = trace.property.clone();
    let seed = trace
        .seed
        .map(|s| format!(", seed {s}"))
        .unwrap_or_default();
    println!(
        "replaying {file}: scenario {} [{}], {} steps{seed}{}",
        scenario.name,
        scenario.variant,
        actions.len(),
        property
            .as_deref()
            .map(|p| format!(", property {p}"))
            .unwrap_or_default()
    );
    let views = reports::text::steps(&scenario.config, &actions);
    let stdin = std::io::stdin();
    if at == Some(0) {
        print_state(&scenario, &states[0], 0);
    }
    for v in &views {
        println!("{:>3}. {:<8} {}", v.number, v.actor, v.label);
        for (actor, field, before, after) in &v.changes {
            println!("              {actor}.{field}: {before} -> {after}");
        }
        if at == Some(v.number) {
            print_state(&scenario, &states[v.number], v.number);
        }
        if interactive {
            eprint!("  [Enter] ");
            let mut line = String::new();
            if stdin.read_line(&mut line).unwrap_or(0) == 0 {
                eprintln!();
            }
        }
    }
    let Some(property) = property else {
        println!(
            "=> the trace names no property: replayed {} steps",
            actions.len()
        );
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(def) = model::liveness::liveness(&property) {
        let start = trace.cycle_start.unwrap_or(actions.len());
        if start > actions.len() {
            eprintln!(
                "pivotcheck: {file}: cycle_start {start}: the trace has {} steps",
                actions.len()
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        println!("{}", sim::liveness::cycle_words(start, actions.len(), ""));
        let model = model::PivotModel::new(scenario.config.clone());
        let check = sim::liveness::check_lasso(&model, def, &actions, &states, start);
        return Ok(match check {
            sim::liveness::LassoCheck::Violates => {
                println!("=> the lasso violates {property}: {}", def.meaning);
                ExitCode::SUCCESS
            }
            other => {
                println!(
                    "=> FIXED: the trace replays all {} steps but its lasso no longer violates {property}: {}",
                    actions.len(),
                    other.words()
                );
                ExitCode::from(EXIT_FIXED)
            }
        });
    }
    let def = model::properties::property(&property).expect("checked when the trace was read");
    match r::first_discovery(&scenario, &property, &states) {
        Some(k) => {
            let verb = if def.kind == model::properties::Kind::Always {
                "violates"
            } else {
                "reaches"
            };
            println!("=> after step {k}: {verb} {property}: {}", def.meaning);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            println!(
                "=> FIXED: the trace replays all {} steps but no longer violates {property} ({})",
                actions.len(),
                def.meaning
            );
            Ok(ExitCode::from(EXIT_FIXED))
        }
    }
}

fn print_state(scenario: &Scenario, state: &model::World, n: usize) {
    println!("    --- full state after step {n} ---");
    for (actor, field, value) in model::describe::fields(&scenario.config, state) {
        println!("    {actor}.{field}: {value}");
    }
    println!("    ---");
}

fn mutate_cmd(
    target: &str,
    arguments: Option<PathBuf>,
    write: Option<PathBuf>,
) -> Result<ExitCode> {
    use sim::mutate::{self, Verdict};
    let path = if target.ends_with(".toml") {
        PathBuf::from(target)
    } else {
        default_scenarios().join(format!("{target}.toml"))
    };
    let base = match scenario::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pivotcheck: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let arguments_path = arguments.unwrap_or_else(|| {
        default_scenarios()
            .join("mutants")
            .join(format!("{}.toml", base.name))
    });
    let arguments = match mutate::load_arguments(&arguments_path) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pivotcheck: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    if let Some(dir) = &write {
        std::fs::create_dir_all(dir)?;
        for m in mutate::mutants(&base) {
            let p = &m.scenario.config.procedures;
            let list = |v: &[model::Step]| {
                v.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let text = format!(
                "# {}: {}\n{}\n[procedure]\npivot = [{}]\nreconnect = [{}]\nconcluded = [{}]\n",
                base.name,
                m.id,
                base.source
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .take_while(|l| !l.starts_with("[expect]"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                list(&p.pivot),
                list(&p.reconnect),
                list(&p.concluded)
            );
            std::fs::write(dir.join(format!("{}.toml", m.scenario.name)), text)?;
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let family = match mutate::family(&base, dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("pivotcheck: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let (guarded, results) = mutate::run(&base, &family, &arguments);
    println!(
        "mutating {} [{}] across its family ({}); properties that hold in {} and must catch each mutant: {}",
        base.name,
        base.variant,
        family.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
        base.name,
        guarded.join(", ")
    );
    let (mut killed, mut derived, mut argued, mut open) = (0, 0, 0, 0);
    for r in &results {
        match &r.verdict {
            Verdict::Killed(p, len, by) => {
                killed += 1;
                let how = if *len == 0 {
                    "no longer reached".to_string()
                } else {
                    format!("violated in {len} steps")
                };
                println!("  killed      {:<60} {p} {how} in {by}", r.id);
            }
            Verdict::Equivalent(why) => {
                if why.starts_with("(derived)") {
                    derived += 1;
                } else {
                    argued += 1;
                }
                println!("  equivalent  {:<60} {why}", r.id);
            }
            Verdict::Unexplained => {
                open += 1;
                println!("  SURVIVED    {:<60} no equivalence argument", r.id);
            }
        }
    }
    let stale: Vec<&str> = arguments
        .equivalent
        .iter()
        .filter(|a| {
            !results
                .iter()
                .any(|r| r.id == a.mutant && matches!(r.verdict, Verdict::Equivalent(_)))
        })
        .map(|a| a.mutant.as_str())
        .collect();
    for s in &stale {
        println!("  STALE       {s:<60} argued equivalent, but no such surviving mutant");
    }
    println!(
        "mutants: {} total, {killed} killed, {} equivalent ({derived} derived, {argued} argued), {open} unexplained",
        results.len(),
        derived + argued
    );
    Ok(ExitCode::from(if open == 0 && stale.is_empty() {
        0
    } else {
        EXIT_MISMATCH
    }))
}

fn fuzz_cmd(
    target: &str,
    seconds: f64,
    seed: u64,
    corpus: Option<PathBuf>,
    findings: &Path,
) -> Result<ExitCode> {
    use sim::fuzz::{self, Target};
    let target = match target {
        "scenario" => Target::Scenario,
        "trace" => Target::Trace,
        other => anyhow::bail!("fuzz target `{other}`: expected `scenario` or `trace`"),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        anyhow::bail!("--seconds {seconds}: expected a positive number");
    }
    let mut dirs = Vec::new();
    match corpus {
        Some(d) => dirs.push(d),
        None => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            dirs.push(root.join("fuzz-corpus").join(target.name()));
            if target == Target::Scenario {
                dirs.push(default_scenarios());
            }
        }
    }
    let mut inputs = Vec::new();
    for d in &dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("cannot read corpus folder {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            inputs.push(std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?);
        }
    }
    let stats = fuzz::fuzz(
        target,
        &inputs,
        seed,
        Duration::from_secs_f64(seconds),
        None,
    );
    for (i, (input, msg)) in stats.panics.iter().enumerate() {
        std::fs::create_dir_all(findings)?;
        let p = findings.join(format!("{}-panic-{seed}-{i}", target.name()));
        std::fs::write(&p, input)?;
        println!("PANIC {}: {msg}", p.display());
    }
    for (i, input) in stats.hangs.iter().enumerate() {
        std::fs::create_dir_all(findings)?;
        let p = findings.join(format!("{}-hang-{seed}-{i}", target.name()));
        std::fs::write(&p, input)?;
        println!("HANG {}", p.display());
    }
    println!(
        "{} parser, seed {seed}: {} executions from {} corpus inputs, {} accepted, {} rejected with an error, {} panics, {} hangs; slowest {:.1} ms",
        target.name(),
        stats.executions,
        inputs.len(),
        stats.accepted,
        stats.rejected,
        stats.panics.len(),
        stats.hangs.len(),
        stats.slowest.as_secs_f64() * 1000.0
    );
    Ok(ExitCode::from(
        if stats.panics.is_empty() && stats.hangs.is_empty() {
            0
        } else {
            EXIT_MISMATCH
        },
    ))
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
        "    stats: breadth-first, {} thread(s), {storage}, symmetry {}; {} states, {} unique, {:.0} states/s, {:.1} bytes per stored state, peak frontier {:.1} MiB, peak resident {:.1} MiB, collision probability {collision}",
        opts.search.threads,
        if opts.search.symmetry { "on" } else { "off" },
        r.states,
        r.unique_states,
        r.states as f64 / secs,
        r.bytes_per_state,
        r.peak_frontier_bytes as f64 / (1 << 20) as f64,
        sim::bfs::peak_resident_bytes() as f64 / (1 << 20) as f64,
    );
    match &r.liveness {
        Some(l) => println!(
            "    liveness: fair-cycle search over {} unique states (whole states), {} owed edges, {:.2} s of the {:.2} s",
            l.unique_states,
            l.edges,
            l.elapsed.as_secs_f64(),
            secs
        ),
        None => println!("    liveness: not checked"),
    }
}
