//! `pivotcheck conform [TRACE...]`: replay traces (default: the corpus) against QEMU.
//!
//! Exit codes, like `check`: 0 every trace conforms; 1 some disagree; 2 bad input or
//! usage; 3 something could not be run (QEMU missing, a trace needs what this setup
//! cannot do, the harness failed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Args;

use crate::replay::{self, Options, Replayable, TraceReport, Verdict};
use crate::ParseScenario;

pub const EXIT_DISAGREE: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_CANNOT_RUN: u8 = 3;

#[derive(Args, Debug, Clone)]
pub struct ConformArgs {
    /// Trace files (JSON, as `check` writes them). Default: the built-in corpus.
    pub traces: Vec<PathBuf>,
    /// List the corpus (name and what each trace covers) and exit.
    #[arg(long)]
    pub list: bool,
    /// Write the corpus as trace files into this folder and exit.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// Keep each run's folder (images, QEMU's log) under the system temp folder.
    #[arg(long)]
    pub keep: bool,
    /// Seconds a sync point waits for QEMU to reach a predicted state.
    #[arg(long, default_value_t = 3.0)]
    pub sync_timeout: f64,
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

fn load(path: &Path, parse: ParseScenario) -> Result<Replayable, String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
    let trace: reports::trace::Trace = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{file}:{}:{}: expected a pivotcheck trace (JSON): {e}",
            e.line(),
            e.column()
        )
    })?;
    if trace.format != reports::trace::FORMAT || trace.version != reports::trace::VERSION {
        return Err(format!(
            "{file}: expected format \"{}\" version {}, found \"{}\" version {}",
            reports::trace::FORMAT,
            reports::trace::VERSION,
            trace.format,
            trace.version
        ));
    }
    let config = parse(
        &trace.scenario.name,
        &format!("{file} (embedded scenario)"),
        &trace.scenario.toml,
    )?;
    let actions = crate::actions_of(&config, &trace).map_err(|e| format!("{file}: {e}"))?;
    Ok(Replayable {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(file),
        config,
        actions,
    })
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

/// Runs the subcommand; returns the process exit code.
pub fn run(args: ConformArgs, parse: ParseScenario) -> u8 {
    if !(args.sync_timeout.is_finite() && args.sync_timeout > 0.0) {
        eprintln!(
            "pivotcheck conform: --sync-timeout {}: expected a positive number of seconds",
            args.sync_timeout
        );
        return EXIT_BAD_INPUT;
    }
    let traces: Vec<Replayable> = if args.traces.is_empty() {
        let corpus = match crate::corpus(parse) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pivotcheck conform: corpus: {e}");
                return EXIT_BAD_INPUT;
            }
        };
        if args.list {
            for (e, r) in &corpus {
                println!("{:<36} {:>3} steps  {}", e.name, r.actions.len(), e.covers);
            }
            return 0;
        }
        if let Some(dir) = &args.export {
            for (e, r) in &corpus {
                let path = dir.join(format!("{}.trace.json", e.name));
                let text =
                    serde_json::to_string_pretty(&crate::to_trace(e, r)).expect("traces serialize");
                if let Err(err) =
                    std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, text + "\n"))
                {
                    eprintln!("pivotcheck conform: cannot write {}: {err}", path.display());
                    return EXIT_CANNOT_RUN;
                }
            }
            println!("{} traces written to {}", corpus.len(), dir.display());
            return 0;
        }
        corpus.into_iter().map(|(_, r)| r).collect()
    } else {
        if args.list || args.export.is_some() {
            eprintln!("pivotcheck conform: --list and --export apply to the corpus: give no TRACE");
            return EXIT_BAD_INPUT;
        }
        let mut v = Vec::new();
        for p in &args.traces {
            match load(p, parse) {
                Ok(r) => v.push(r),
                Err(e) => {
                    eprintln!("pivotcheck conform: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
        v
    };
    if let Some(why) = qemu_missing() {
        eprintln!("pivotcheck conform: {why}");
        return EXIT_CANNOT_RUN;
    }
    let opts = Options {
        sync_timeout: Duration::from_secs_f64(args.sync_timeout),
        keep: args.keep,
        tamper: None,
    };
    let started = Instant::now();
    let mut stdout = std::io::stdout();
    let mut reports = Vec::new();
    for (i, t) in traces.iter().enumerate() {
        let r = replay::replay(t, &run_dir(i), &opts);
        print_report(&mut stdout, &r);
        reports.push(r);
    }
    let count = |f: fn(&Verdict) -> bool| reports.iter().filter(|r| f(&r.verdict)).count();
    let conforming = count(|v| matches!(v, Verdict::Conforms));
    let disagreeing = count(|v| matches!(v, Verdict::Disagrees(_)));
    let other = reports.len() - conforming - disagreeing;
    println!(
        "\n{} traces: {conforming} conform, {disagreeing} disagree, {other} not run or failed; {:.1} s",
        reports.len(),
        started.elapsed().as_secs_f64()
    );
    if disagreeing > 0 {
        EXIT_DISAGREE
    } else if other > 0 {
        EXIT_CANNOT_RUN
    } else {
        0
    }
}
