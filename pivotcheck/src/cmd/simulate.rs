//! `pivotcheck simulate`: seeded random walks, failures shrunk and written as traces.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use sim::simulate::{self, SimOptions};

use crate::exit::{self, Exit};
use crate::flags;

#[derive(clap::Args)]
#[command(
    after_help = "Example: pivotcheck simulate scenarios/blockdev-modern.toml --seed 1 --runs 10000 --swarm"
)]
pub struct Args {
    scenario: PathBuf,
    /// Root seed: a number, or a 40-hex commit hash. Without it one is picked and printed.
    #[arg(long, value_parser = flags::seed)]
    seed: Option<u64>,
    /// Rerun only the run with this seed (as printed with a failure).
    #[arg(long, conflicts_with_all = ["seed", "runs"])]
    run_seed: Option<u64>,
    /// Number of runs.
    #[arg(long, default_value = "1000", value_parser = flags::runs)]
    runs: u64,
    /// Steps per run at most.
    #[arg(long, default_value = "200", value_parser = flags::depth)]
    depth: usize,
    /// Draw which of the scenario's faults are enabled from each run's seed.
    #[arg(long)]
    swarm: bool,
    /// Folder for the traces of failing runs.
    #[arg(long, default_value = "target/pivotcheck")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
    /// Run only the I-th of N disjoint slices of the runs (run numbers congruent to I-1
    /// modulo N), for a CI job matrix; `pivotcheck merge` combines the shards' --json
    /// results into the result of one machine.
    #[arg(long, value_name = "I/N", value_parser = flags::shard, conflicts_with = "run_seed")]
    shard: Option<simulate::Shard>,
}

/// A seed from the clock and the process id, printed so the run can be repeated.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ (u64::from(std::process::id()) << 32)
}

pub fn run(a: Args) -> Result<Exit> {
    let s = match trace::scenario::load(&a.scenario) {
        Ok(s) => s,
        Err(e) => return Ok(exit::bad_input(e)),
    };
    let (root, runs, single) = match (a.run_seed, a.seed) {
        (Some(r), _) => (r, 1, true),
        (None, Some(seed)) => (seed, a.runs, false),
        (None, None) => (fresh_seed(), a.runs, false),
    };
    let (depth, swarm) = (a.depth, a.swarm);
    let shard = a.shard.unwrap_or(simulate::Shard::WHOLE);
    let started = std::time::Instant::now();
    let report = if single {
        simulate::rerun(&s, root, depth, swarm)
    } else {
        let mut progress = crate::progress::Progress::new(!a.json);
        let report = simulate::simulate_observed(
            &s,
            &SimOptions {
                root_seed: root,
                runs,
                depth,
                swarm,
                shard,
            },
            &mut |done, failed| {
                progress.count(
                    "runs",
                    done,
                    shard.len(runs),
                    &format!("{failed} properties failed so far"),
                )
            },
        );
        progress.finish();
        report
    };
    let elapsed = started.elapsed();

    let mut violations = Vec::new();
    for f in &report.failures {
        let path = a.out.join(format!(
            "{}.sim-{}.{}.trace.json",
            s.name, f.seed, f.property
        ));
        trace::encode::write(&f.trace(), &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        violations.push((f, path));
    }
    let unexpected: Vec<&str> = report
        .failures
        .iter()
        .map(|f| f.property)
        .filter(|p| !s.expect_violated.iter().any(|e| e == p))
        .collect();

    if a.json {
        let v: Vec<serde_json::Value> = violations
            .iter()
            .map(|(f, p)| {
                json!({"property": f.property, "run": f.run, "seed": f.seed,
                       "trace": p.display().to_string(),
                       "expected": s.expect_violated.iter().any(|e| e == f.property),
                       "length": f.actions.len(), "shrunk_length": f.shrunk.len()})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string(&json!({"scenario": s.name, "root_seed": root,
                "depth": depth, "swarm": swarm, "runs_total": runs,
                "shard": format!("{}/{}", shard.index + 1, shard.count),
                "runs": report.runs, "steps": report.steps,
                "distinct_states": report.distinct_states, "violations": v}))?
        );
    } else {
        let mode = if swarm { ", swarm" } else { "" };
        if single {
            println!("SEED={root} (one run){mode}, depth {depth}: {}", s.name);
        } else if shard != simulate::Shard::WHOLE {
            println!(
                "SEED={root}: shard {}/{} of {runs} runs ({} runs){mode}, depth {depth}: {}",
                shard.index + 1,
                shard.count,
                shard.len(runs),
                s.name
            );
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
                a.scenario.display(),
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
    Ok(if unexpected.is_empty() {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}
