//! The process exit codes, defined once. `conform` and `live` return typed outcomes (or,
//! for `live`'s child process, these same numbers) that map onto them here.

use std::process::ExitCode;

/// Why pivotcheck exits. The numbers are a contract with scripts and CI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Every scenario matches its expectation; replay: the trace still shows its property;
    /// conform: every trace conforms; live: model and libvirt agree.
    Ok = 0,
    /// Some result does not match: a verdict, a conformance or live disagreement, an
    /// unexplained or stale mutant, a fuzzing finding.
    Mismatch = 1,
    /// Bad input or usage (replay: the trace no longer fits the model).
    BadInput = 2,
    /// A search stopped before it was exhaustive (conform: something could not be run).
    Incomplete = 3,
    /// replay: the trace replays but no longer shows its property (the bug is fixed).
    Fixed = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

impl From<conform::suite::Outcome> for Exit {
    fn from(o: conform::suite::Outcome) -> Exit {
        use conform::suite::Outcome;
        match o {
            Outcome::Conforms => Exit::Ok,
            Outcome::Disagrees => Exit::Mismatch,
            Outcome::BadInput => Exit::BadInput,
            Outcome::CannotRun => Exit::Incomplete,
        }
    }
}

/// Prints a loading error the way every subcommand does, and returns the exit code.
pub fn bad_input(e: impl std::fmt::Display) -> Exit {
    eprintln!("pivotcheck: {e}");
    Exit::BadInput
}
