//! `pivotcheck report`: trace files judged by the engine and rendered as a report folder.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(after_help = "Example: pivotcheck report target/pivotcheck/*.trace.json --out report/")]
pub struct Args {
    /// Trace files written by `check` (or any producer of the trace format).
    #[arg(required = true)]
    traces: Vec<PathBuf>,
    /// Folder for the report.
    #[arg(long, default_value = "target/pivotcheck/report")]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<Exit> {
    let mut cxs = Vec::new();
    for t in &a.traces {
        match sim::reporting::load_trace(t) {
            Ok(c) => cxs.push(c),
            Err(e) => return Ok(exit::bad_input(e)),
        }
    }
    let all_show = cxs.iter().all(|c| c.expected);
    for c in &cxs {
        println!("{} {}: {}", c.scenario, c.property, c.verdict);
    }
    let run = sim::reporting::run_of_traces(cxs);
    reports::output::write_dir(&run, &a.out)
        .with_context(|| format!("cannot write the report into {}", a.out.display()))?;
    println!("report written to {}", a.out.display());
    Ok(if all_show { Exit::Ok } else { Exit::Mismatch })
}
