//! `pivotcheck conform`: model traces replayed against a real QEMU (`conform`).

use std::path::PathBuf;
use std::time::Duration;

use conform::suite::{self, Request};

use crate::exit::Exit;
use crate::flags;
use crate::progress::Progress;

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example: pivotcheck conform target/pivotcheck/blockdev-modern.no-lost-writes.trace.json"
)]
pub struct Args {
    /// Trace files (JSON, as `check` writes them). Default: the built-in corpus.
    traces: Vec<PathBuf>,
    /// List the corpus (name and what each trace covers) and exit.
    #[arg(long)]
    list: bool,
    /// Write the corpus as trace files into this folder and exit.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Keep each run's folder (images, QEMU's log) under the system temp folder.
    #[arg(long)]
    keep: bool,
    /// Seconds a sync point waits for QEMU to reach a predicted state.
    #[arg(long, default_value = "3", value_parser = flags::seconds)]
    sync_timeout: Duration,
}

/// Exit codes: 0 every trace conforms; 1 some disagree; 2 bad input or usage; 3
/// something could not be run (QEMU missing, a trace needs what this setup cannot do,
/// the harness failed).
pub fn run(a: Args) -> Exit {
    let mut observer = Shown(Progress::new(true));
    let outcome = suite::run_observed(
        Request {
            traces: a.traces,
            list: a.list,
            export: a.export,
            keep: a.keep,
            sync_timeout: a.sync_timeout,
        },
        &mut observer,
    );
    observer.0.finish();
    outcome.into()
}

/// The conformance run's reports, printed around the terminal's progress bar.
struct Shown(Progress);

impl suite::Observer for Shown {
    fn progress(&mut self, done: usize, total: usize, disagreeing: usize) {
        self.0.count(
            "traces replayed against QEMU",
            done as u64,
            total as u64,
            &format!("{disagreeing} disagree so far"),
        );
    }
    fn print(&mut self, text: &str) {
        self.0.suspend(|| print!("{text}"));
    }
}
