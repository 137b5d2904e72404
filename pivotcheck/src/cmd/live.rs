//! `pivotcheck live`: real libvirt 9.0 or 11.3 and QEMU crashed at every QMP command (`live`).

use std::path::PathBuf;

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
    let code = live::cli_observed(
        live::Args {
            only: a.only,
            exact: vec![],
            all: a.all,
            list: a.list,
            json: a.json,
            cache: a.cache,
            scenario_timeout: a.scenario_timeout,
            libvirt: a.libvirt,
            record: a.record,
        },
        &mut observer,
    );
    observer.0.finish();
    code
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
