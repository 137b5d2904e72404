//! `pivotcheck mutate`: every plausible single edit of a safe scenario, killed or argued.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sim::mutate::{self, Tally, Verdict};

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(after_help = "Example: pivotcheck mutate write-ahead")]
pub struct Args {
    /// A preset name (its scenario is `scenarios/<name>.toml`) or a scenario file.
    target: String,
    /// Equivalence arguments for survivors. Default: `scenarios/mutants/<name>.toml`.
    #[arg(long)]
    arguments: Option<PathBuf>,
    /// Write each mutant as a scenario file into this folder.
    #[arg(long)]
    write: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<Exit> {
    let path = if a.target.ends_with(".toml") {
        PathBuf::from(&a.target)
    } else {
        super::default_scenarios().join(format!("{}.toml", a.target))
    };
    let base = match trace::scenario::load(&path) {
        Ok(s) => s,
        Err(e) => return Ok(exit::bad_input(e)),
    };
    let arguments_path = a.arguments.unwrap_or_else(|| {
        super::default_scenarios()
            .join("mutants")
            .join(format!("{}.toml", base.name))
    });
    let arguments = match mutate::load_arguments(&arguments_path) {
        Ok(a) => a,
        Err(e) => return Ok(exit::bad_input(e)),
    };
    if let Some(dir) = &a.write {
        mutate::write_mutants(&base, dir)
            .with_context(|| format!("cannot write the mutants into {}", dir.display()))?;
    }
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let family = match mutate::family(&base, dir) {
        Ok(f) => f,
        Err(e) => return Ok(exit::bad_input(e)),
    };
    let mut progress = crate::progress::Progress::new(true);
    let (guarded, results) =
        mutate::run_observed(&base, &family, &arguments, &mut |done, total| {
            progress.count(
                "mutants",
                done as u64,
                total as u64,
                &format!("checked across {} scenarios", family.len()),
            )
        });
    progress.finish();
    println!(
        "mutating {} [{}] across its family ({}); properties that hold in {} and must catch each mutant: {}",
        base.name,
        base.variant,
        family.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
        base.name,
        guarded.join(", ")
    );
    for r in &results {
        match &r.verdict {
            Verdict::Killed(p, len, by) => {
                let how = if *len == 0 {
                    "no longer reached".to_string()
                } else {
                    format!("violated in {len} steps")
                };
                println!("  killed      {:<60} {p} {how} in {by}", r.id);
            }
            Verdict::Equivalent(why) => println!("  equivalent  {:<60} {why}", r.id),
            Verdict::Unexplained => {
                println!("  SURVIVED    {:<60} no equivalence argument", r.id)
            }
        }
    }
    let stale = mutate::stale_arguments(&arguments, &results);
    for s in &stale {
        println!("  STALE       {s:<60} argued equivalent, but no such surviving mutant");
    }
    let t = Tally::of(&results);
    println!(
        "mutants: {} total, {} killed, {} equivalent ({} derived, {} argued), {} unexplained",
        results.len(),
        t.killed,
        t.derived + t.argued,
        t.derived,
        t.argued,
        t.unexplained
    );
    Ok(if t.unexplained == 0 && stale.is_empty() {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}
