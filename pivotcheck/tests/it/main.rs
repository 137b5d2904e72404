//! The single integration-test binary of `pivotcheck`: the scenario suite, pinned
//! counterexamples, procedure mutations, and the `pivotcheck` command line.

mod capture;
mod ci_examples;
mod cli;
mod diagnose;
mod disks;
mod headers;
mod live;
mod pinned;
mod readme;
mod reliability;
mod reports;
mod scaffold;
mod shards;
mod suite;
mod trace;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's `scenarios/` folder.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
}

/// The `pivotcheck` binary run in `dir`.
pub fn pivotcheck(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pivotcheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs")
}

/// A fresh, empty folder for one test; names are unique across the test modules.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The path of `scenarios/<name>.toml`.
pub fn scenario_path(name: &str) -> String {
    scenarios_dir()
        .join(format!("{name}.toml"))
        .display()
        .to_string()
}

/// The default suite's files, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    scenario_files_in("")
}

/// The scenario files of `scenarios/<sub>` (not its subfolders), sorted.
pub fn scenario_files_in(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(scenarios_dir().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// proptest's settings for this binary: under CI (`CI` set, whatever its value) a fixed
/// seed, so a red run is reproduced by rerunning it and a green one is not luck of the
/// draw; elsewhere a fresh seed each run, so developers' runs keep exploring. A failure
/// found locally is saved in `sim/tests/proptest-regressions/` and replayed first.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    let mut config = proptest::test_runner::Config::with_cases(cases);
    if std::env::var_os("CI").is_some() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x0070_6976_6f74_636b);
    }
    config
}

/// A command's standard error as text.
pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
