//! One module per subcommand: its flags (clap) and its rendering.

pub mod capture;
pub mod check;
pub mod completions;
pub mod conform;
pub mod diagnose;
pub mod explain;
pub mod explore;
pub mod fuzz;
pub mod live;
pub mod merge;
pub mod mutate;
pub mod new;
pub mod replay;
pub mod report;
pub mod simulate;

use std::path::{Path, PathBuf};

/// The default suite: `scenarios/` under the current folder, or beside the workspace.
pub fn default_scenarios() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
}
