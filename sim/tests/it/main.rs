//! The single integration-test binary of `sim`: the scenario suite, pinned
//! counterexamples, procedure mutations, and the `pivotcheck` command line.

mod cli;
mod live;
mod reliability;
mod reports;
mod suite;
mod trace;

use std::path::PathBuf;

/// The repository's `scenarios/` folder.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
}
