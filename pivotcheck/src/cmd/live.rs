//! `pivotcheck live`: real libvirt 9.0 or 11.3 and QEMU crashed at every QMP command (`live`).

use std::path::PathBuf;

use crate::exit::Exit;
use crate::progress::Progress;

#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Example: pivotcheck live --libvirt 11.3 --only job-dismiss.reply")]
pub struct Args {
    /// Run only scenarios whose name contains this text (repeatable; e.g. `job-dismiss.reply`).
    #[arg(long)]
    only: Vec<String>,
    /// Run the whole matrix (libvirt 9.0: 78 scenarios, about 2-3 minutes; 11.3: 62)
    /// instead of the default (40; 32): every crash point once transient without a
    /// power-off and once persistent with one, the double crashes on a transient domain,
    /// and the two pause scenarios (libvirtd stopped at the job-complete reply).
    #[arg(long)]
    all: bool,
    /// List the scenarios and the model's prediction for each; run nothing real.
    #[arg(long)]
    list: bool,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the results to DIR/live-<libvirt version>.json and a report of every version
    /// in DIR (summary.md, index.html): per libvirt version a matrix of crash points by
    /// compared fields. Run once per version with the same DIR to get both matrices.
    #[arg(long, value_name = "DIR", conflicts_with = "list")]
    report: Option<PathBuf>,
    /// Reuse this folder as libvirt's /var/cache (QEMU capabilities) between runs; without
    /// it the first libvirtd start probes QEMU for about 8 s. Default: $PIVOTCHECK_LIVE_CACHE.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Give up on one scenario after this many seconds (it is reported as an error).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    scenario_timeout: u64,
    /// The libvirt to drive: `9.0` (the system's), `11.3` (unpacked into /opt/libvirt-11.3
    /// by .ci/install-libvirt-11.3.sh; $PIVOTCHECK_LIBVIRT_11_3 names another folder) or
    /// the path of an unpacked install; each version is checked against its own preset.
    #[arg(long, default_value = "9.0")]
    libvirt: String,
    /// Record each scenario for `pivotcheck diagnose`: libvirtd's debug log, the status
    /// XML (at the crash and at the end), the persistent XML and the measured ground truth
    /// go to DIR/<libvirt version>/<scenario>/.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
}

/// The live suite's exit code: 0 agree, 1 disagree, 2 bad input or a harness failure (the
/// numbers of [`crate::exit::Exit`]; the suite runs itself as a child process under a
/// subreaper and passes the child's code through).
pub fn run(a: Args) -> u8 {
    // Never with --json (the rule for every command's progress), nor off a terminal.
    let mut observer = Shown(Progress::new(a.json.is_none()));
    let report = a.report;
    let json = match (&a.json, &report) {
        (Some(j), _) => Some(j.clone()),
        (None, Some(dir)) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("--report {}: cannot create the folder: {e}", dir.display());
                return Exit::BadInput as u8;
            }
            Some(dir.join(".live-run.json"))
        }
        (None, None) => None,
    };
    let code = live::cli_observed(
        live::Args {
            only: a.only,
            exact: vec![],
            all: a.all,
            list: a.list,
            json: json.clone(),
            cache: a.cache,
            scenario_timeout: a.scenario_timeout,
            libvirt: a.libvirt,
            record: a.record,
        },
        &mut observer,
    );
    observer.0.finish();
    match (report, json) {
        // The child that ran the suite returns to its parent, which then reports.
        (Some(_), _) if live::is_suite_child() => code,
        (Some(dir), Some(json)) => match write_report(&dir, &json, a.json.is_none()) {
            Ok(()) => code,
            Err(e) => {
                eprintln!("--report {}: {e}", dir.display());
                code.max(Exit::BadInput as u8)
            }
        },
        _ => code,
    }
}

/// Files this run's results as DIR/live-<version>.json (a copy when `--json` named the
/// file, a move otherwise) and renders every version's results found in DIR.
fn write_report(dir: &std::path::Path, json: &std::path::Path, owned: bool) -> Result<(), String> {
    if !json.is_file() {
        return Err("the live run wrote no results (see its output above)".into());
    }
    let suite = reports::live::read_suite(json)?;
    let target = dir.join(format!("live-{}.json", suite.libvirt));
    let moved = if owned {
        std::fs::rename(json, &target)
    } else {
        std::fs::copy(json, &target).map(|_| ())
    };
    moved.map_err(|e| format!("{}: {e}", target.display()))?;
    let mut versions = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("live-") && name.ends_with(".json") {
            versions.push(reports::live::read_suite(&entry.path())?);
        }
    }
    versions.sort_by_key(|v| version_key(&v.libvirt));
    for (name, text) in [
        ("summary.md", reports::live::summary(&versions)),
        ("index.html", reports::live::page(&versions)),
    ] {
        let path = dir.join(name);
        reports::output::write_atomic(&path, &text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("report: {}", dir.join("index.html").display());
    Ok(())
}

/// `9.0` before `11.3`: numerically, part by part.
fn version_key(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect()
}

/// The live suite's lines, printed around the terminal's progress bar.
struct Shown(Progress);

impl live::Observer for Shown {
    fn progress(&mut self, done: usize, total: usize, failed: usize) {
        self.0.count(
            "scenarios on real libvirt",
            done as u64,
            total as u64,
            &format!("{failed} disagree or fail so far"),
        );
    }
    fn line(&mut self, text: &str) {
        self.0.suspend(|| println!("{text}"));
    }
}
