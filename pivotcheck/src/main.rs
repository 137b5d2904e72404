//! `pivotcheck`: the command line. Each subcommand turns its flags into one call of the
//! engine (`sim`), the conformance harness (`conform`) or the live suite (`live`), and
//! renders what comes back. Exit codes are [`exit::Exit`].

mod cmd;
mod exit;
mod explorer;
mod flags;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::Exit;

#[derive(Parser)]
#[command(
    name = "pivotcheck",
    version,
    about = "Model checker for the crash windows around a libvirt/QEMU disk pivot"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check scenarios exhaustively and compare the verdicts with their expectations.
    Check(cmd::check::Args),
    /// Render trace files as a report folder (summary.md, junit.xml, index.html, ITF).
    Report(cmd::report::Args),
    /// Serve stateright's web explorer for one scenario on 127.0.0.1.
    Explore(cmd::explore::Args),
    /// Generate every plausible single edit of a safe scenario's procedures and check that
    /// the gate kills each one (or that it carries an equivalence argument).
    Mutate(cmd::mutate::Args),
    /// Fuzz a parser (scenario files or trace files) with mutated inputs from a corpus.
    Fuzz(cmd::fuzz::Args),
    /// Re-execute a trace file step by step, showing what changed in each actor.
    Replay(cmd::replay::Args),
    /// Random walks over a scenario on a portable seeded PRNG, with shrinking of failures.
    Simulate(cmd::simulate::Args),
    /// Combine the --json results of `simulate --shard I/N` into one machine's result.
    Merge(cmd::merge::Args),
    /// Crash real libvirtd at each QMP command of a real pivot and compare with the model.
    Live(cmd::live::Args),
    /// Match a real libvirtd debug log against the model: consistent or not, the crash
    /// window, where QEMU runs, which image holds every acknowledged write.
    Diagnose(cmd::diagnose::Args),
    /// Drive a real libvirtd through a pivot and the reconnects after a crash at each
    /// command (or read a `live --record` recording) and write its procedures as a
    /// scenario file, in the step names of scenarios/README.md.
    Capture(cmd::capture::Args),
    /// Replay traces (default: the conformance corpus) against a real QEMU and report,
    /// per trace, conformance or the first step where model and QEMU disagree.
    Conform(cmd::conform::Args),
    /// Write a new scenario file that starts from a preset: every option and fault with a
    /// comment, the procedures as editable step lists, today's verdicts as expectations.
    New(cmd::new::Args),
    /// Say what the model means by a step, property, preset, fault or scenario option.
    Explain(cmd::explain::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::CompletionsArgs),
    /// Print the manual page (roff), generated from the command line's definition.
    Man(cmd::completions::ManArgs),
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
            // Usage errors (a bad flag value names the flag) exit 2; --help and
            // --version are not errors.
            let code = if e.use_stderr() {
                Exit::BadInput
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    let result = match cli.command {
        Cmd::Check(a) => cmd::check::run(a),
        Cmd::Report(a) => cmd::report::run(a),
        Cmd::Explore(a) => cmd::explore::run(a),
        Cmd::Mutate(a) => cmd::mutate::run(a),
        Cmd::Fuzz(a) => cmd::fuzz::run(a),
        Cmd::Replay(a) => cmd::replay::run(a),
        Cmd::Simulate(a) => cmd::simulate::run(a),
        Cmd::Merge(a) => cmd::merge::run(a),
        Cmd::Live(a) => return ExitCode::from(cmd::live::run(a)),
        Cmd::Conform(a) => Ok(cmd::conform::run(a)),
        Cmd::Diagnose(a) => cmd::diagnose::run(a),
        Cmd::Capture(a) => cmd::capture::run(a),
        Cmd::New(a) => cmd::new::run(a),
        Cmd::Explain(a) => cmd::explain::run(a),
        Cmd::Completions(a) => cmd::completions::completions(a),
        Cmd::Man(a) => cmd::completions::man(a),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("pivotcheck: {e:#}");
            Exit::BadInput.into()
        }
    }
}
