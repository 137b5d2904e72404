//! A conformance run over many traces (default: the corpus) against QEMU, as
//! `pivotcheck conform` does it; the command line itself is the `pivotcheck` crate's.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::replay::{self, Options, Replayable, TraceReport, Verdict};

/// What to run: the flags of `pivotcheck conform`, validated.
#[derive(Debug, Clone)]
pub struct Request {
    /// Trace files; empty means the built-in corpus.
    pub traces: Vec<PathBuf>,
    /// List the corpus and stop.
    pub list: bool,
    /// Write the corpus as trace files into this folder and stop.
    pub export: Option<PathBuf>,
    /// Keep each run's folder.
    pub keep: bool,
    /// How long a sync point waits for QEMU.
    pub sync_timeout: Duration,
}

/// What a run tells its caller as it goes, so that the command line can keep a progress
/// bar on the terminal without this crate knowing terminals: each trace's report as text
/// (printed by the caller, around its bar), and how many traces are done.
pub trait Observer {
    /// Trace `done + 1` of `total` starts; `disagreeing` disagreed so far.
    fn progress(&mut self, done: usize, total: usize, disagreeing: usize);
    /// Text for standard output (a trace's report, the summary).
    fn print(&mut self, text: &str);
}

/// Prints to standard output and shows no progress.
pub struct Plain;

impl Observer for Plain {
    fn progress(&mut self, _: usize, _: usize, _: usize) {}
    fn print(&mut self, text: &str) {
        print!("{text}");
    }
}

/// How a conformance run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every trace conforms (or the corpus was listed or exported).
    Conforms,
    /// Some trace disagrees.
    Disagrees,
    /// Bad input: a trace file, the corpus, or a flag combination.
    BadInput,
    /// Something could not be run: QEMU missing, a trace needs what this setup cannot do,
    /// the harness failed, a file could not be written.
    CannotRun,
}

/// Whether QEMU and its tools run here; the message says how to install them.
pub fn qemu_missing() -> Option<String> {
    let missing: Vec<&str> = ["qemu-system-x86_64", "qemu-img", "qemu-io", "stdbuf"]
        .into_iter()
        .filter(|b| {
            !Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} not found: install QEMU 10 with qmp/INSTALL-QEMU.sh (Debian bookworm-backports)",
            missing.join(", ")
        )
    })
}

/// A run folder per trace, short enough for a unix socket path.
pub fn run_dir(i: usize) -> PathBuf {
    std::env::temp_dir().join(format!("pc-conform-{}-{i}", std::process::id()))
}

pub fn print_report(out: &mut impl Write, r: &TraceReport) {
    let head = match &r.verdict {
        Verdict::Conforms => "conforms",
        Verdict::Disagrees(_) => "DISAGREES",
        Verdict::NotReplayable(_) => "NOT-REPLAYED",
        Verdict::HarnessError(_) => "ERROR",
    };
    let _ = writeln!(
        out,
        "{head:<12} {} ({} steps, {:.2} s)",
        r.name,
        r.steps,
        r.elapsed.as_secs_f64()
    );
    match &r.verdict {
        Verdict::Conforms => {}
        Verdict::Disagrees(d) => {
            let _ = writeln!(
                out,
                "    first disagreement at step {}: {}",
                d.step, d.label
            );
            let _ = writeln!(out, "      {}", d.what);
            let _ = writeln!(out, "        model predicts: {}", d.model);
            let _ = writeln!(out, "        QEMU shows:     {}", d.qemu);
        }
        Verdict::NotReplayable(why) | Verdict::HarnessError(why) => {
            let _ = writeln!(out, "    {why}");
        }
    }
}

/// Runs the request, printing one report per trace and a summary.
pub fn run(args: Request) -> Outcome {
    run_observed(args, &mut Plain)
}

/// [`run`], telling `observer` each trace's report and the progress.
pub fn run_observed(args: Request, observer: &mut dyn Observer) -> Outcome {
    let traces: Vec<Replayable> = if args.traces.is_empty() {
        let corpus = match crate::corpus() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pivotcheck conform: corpus: {e}");
                return Outcome::BadInput;
            }
        };
        if args.list {
            for (e, r) in &corpus {
                println!("{:<36} {:>3} steps  {}", e.name, r.actions.len(), e.covers);
            }
            return Outcome::Conforms;
        }
        if let Some(dir) = &args.export {
            for (e, r) in &corpus {
                let path = dir.join(format!("{}.trace.json", e.name));
                if let Err(err) = trace::encode::write(&crate::to_trace(e, r), &path) {
                    eprintln!("pivotcheck conform: cannot write {}: {err}", path.display());
                    return Outcome::CannotRun;
                }
            }
            println!("{} traces written to {}", corpus.len(), dir.display());
            return Outcome::Conforms;
        }
        corpus.into_iter().map(|(_, r)| r).collect()
    } else {
        if args.list || args.export.is_some() {
            eprintln!("pivotcheck conform: --list and --export apply to the corpus: give no TRACE");
            return Outcome::BadInput;
        }
        let mut v = Vec::new();
        for p in &args.traces {
            match crate::load(p) {
                Ok(r) => v.push(r),
                Err(e) => {
                    eprintln!("pivotcheck conform: {e}");
                    return Outcome::BadInput;
                }
            }
        }
        v
    };
    if let Some(why) = qemu_missing() {
        eprintln!("pivotcheck conform: {why}");
        return Outcome::CannotRun;
    }
    let opts = Options {
        sync_timeout: args.sync_timeout,
        keep: args.keep,
        tamper: None,
    };
    let started = Instant::now();
    let mut reports: Vec<TraceReport> = Vec::new();
    for (i, t) in traces.iter().enumerate() {
        let disagreeing = reports
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Disagrees(_)))
            .count();
        observer.progress(i, traces.len(), disagreeing);
        let r = replay::replay(t, &run_dir(i), &opts);
        let mut text = Vec::new();
        print_report(&mut text, &r);
        observer.print(&String::from_utf8_lossy(&text));
        reports.push(r);
    }
    let count = |f: fn(&Verdict) -> bool| reports.iter().filter(|r| f(&r.verdict)).count();
    let conforming = count(|v| matches!(v, Verdict::Conforms));
    let disagreeing = count(|v| matches!(v, Verdict::Disagrees(_)));
    let other = reports.len() - conforming - disagreeing;
    observer.progress(reports.len(), traces.len(), disagreeing);
    observer.print(&format!(
        "\n{} traces: {conforming} conform, {disagreeing} disagree, {other} not run or failed; {:.1} s\n",
        reports.len(),
        started.elapsed().as_secs_f64()
    ));
    if disagreeing > 0 {
        Outcome::Disagrees
    } else if other > 0 {
        Outcome::CannotRun
    } else {
        Outcome::Conforms
    }
}
