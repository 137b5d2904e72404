//! `pivotcheck fuzz`: the scenario or trace reader against mutated inputs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use sim::fuzz::{self, Target};

use crate::exit::Exit;
use crate::flags;

#[derive(clap::Args)]
#[command(after_help = "Example: pivotcheck fuzz scenario --seconds 60 --seed 8")]
pub struct Args {
    /// `scenario` or `trace`.
    #[arg(value_parser = target)]
    target: Target,
    /// How long to fuzz.
    #[arg(long, default_value = "10", value_parser = flags::seconds)]
    seconds: Duration,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Corpus folder (default: `sim/fuzz-corpus/<target>` and, for scenarios, `scenarios/`).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where inputs that panic or hang are saved.
    #[arg(long, default_value = "target/pivotcheck/fuzz-findings")]
    findings: PathBuf,
}

fn target(text: &str) -> Result<Target, String> {
    match text {
        "scenario" => Ok(Target::Scenario),
        "trace" => Ok(Target::Trace),
        _ => Err("expected `scenario` or `trace`".into()),
    }
}

/// The fuzzers' seed inputs, kept beside the fuzzer in `sim/`.
pub fn default_corpus(target: Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/fuzz-corpus")
        .join(target.name())
}

pub fn run(a: Args) -> Result<Exit> {
    let (target, seed, findings) = (a.target, a.seed, &a.findings);
    let mut dirs = Vec::new();
    match a.corpus {
        Some(d) => dirs.push(d),
        None => {
            dirs.push(default_corpus(target));
            if target == Target::Scenario {
                dirs.push(super::default_scenarios());
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
    let stats = fuzz::fuzz(target, &inputs, seed, a.seconds, None);
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
    Ok(if stats.panics.is_empty() && stats.hangs.is_empty() {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}
