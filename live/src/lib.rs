//! `pivotcheck live`: crash a real libvirtd at every QMP command of a real `virsh blockjob
//! --pivot`, before the command is sent and when its reply arrives; while libvirtd is down
//! let the guest write and maybe power off; restart libvirtd; observe libvirt's view,
//! QEMU's truth and where each acknowledged guest write is; replay the same crash point in
//! the model (the preset of the libvirt version driven: `libvirt-9.0`, `libvirt-11.3`) and
//! compare.
//!
//! Modules: [`install`] (which libvirt: the system's or an unpacked prefix), [`matrix`]
//! (per version: the scenarios and the real-to-model crash point map), [`real`]
//! (one scenario on real libvirt), [`predict`] (the same in the model), [`observe`] (the
//! shared outcome shape), [`harness`] (libvirtd in its own namespace, virsh, QMP, guest,
//! processes). `trigger.c` (the crash trigger) and `guest.asm` (the guest) are built from
//! source into the run's temp dir.

pub mod harness;
pub mod install;
pub mod matrix;
pub mod observe;
pub mod predict;
pub mod real;
pub mod record;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use matrix::Spec;
use observe::{differences, fmt_qemu, opt, Observation};

pub const EXIT_OK: u8 = 0;
pub const EXIT_DISAGREE: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// Set in the child that runs the suite under the subreaper ([`cli`] re-runs the whole
/// command line): a command that calls [`cli`] runs again there, and the parent only waits.
pub const INNER_ENV: &str = "PIVOTCHECK_LIVE_INNER";

/// What `pivotcheck live` runs (its flags, validated by the `pivotcheck` crate, which
/// documents each).
#[derive(Debug, Clone)]
pub struct Args {
    /// Only scenarios whose name contains one of these texts.
    pub only: Vec<String>,
    /// Only the scenarios with exactly these names (`pivotcheck capture` runs just the
    /// crash points it reads).
    pub exact: Vec<String>,
    /// The whole matrix instead of the default half.
    pub all: bool,
    /// List the scenarios and the model's predictions; run nothing real.
    pub list: bool,
    /// Write the results as JSON to this file (atomically).
    pub json: Option<PathBuf>,
    /// libvirt's /var/cache between runs.
    pub cache: Option<PathBuf>,
    /// Give up on one scenario after this many seconds.
    pub scenario_timeout: u64,
    /// The libvirt to drive: `9.0`, `11.3` or the path of an unpacked install
    /// ([`install::Install::parse`]).
    pub libvirt: String,
    /// Save each scenario's libvirtd log, status XML, persistent XML and ground truth
    /// under this folder ([`record`]).
    pub record: Option<PathBuf>,
}

/// How a live scenario compares with the model's prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Not compared yet.
    Pending,
    Agree,
    Disagree,
    /// The harness failed; nothing was compared.
    Error,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pending => "pending",
            Verdict::Agree => "agree",
            Verdict::Disagree => "disagree",
            Verdict::Error => "error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

#[derive(Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub spec: Spec,
    pub model_point: Option<matrix::ModelPoint>,
    pub model: Observation,
    pub real: Option<Observation>,
    pub error: Option<String>,
    pub differences: Vec<String>,
    pub verdict: Verdict,
    /// The harness errors of earlier attempts at this scenario, oldest first (see
    /// [`ATTEMPTS`]); empty when the first attempt gave the result.
    pub retried: Vec<String>,
    pub millis: u128,
    pub reproduce: String,
}

#[derive(Serialize)]
pub struct SuiteResult {
    /// `major.minor` of the libvirt driven.
    pub libvirt: &'static str,
    pub preset: &'static str,
    pub scenarios: Vec<ScenarioResult>,
    pub seconds: f64,
    pub agree: usize,
    pub disagree: usize,
    pub errors: usize,
}

fn selected(args: &Args, libvirt: matrix::Libvirt) -> Vec<Spec> {
    matrix::all(libvirt)
        .into_iter()
        .filter(|s| {
            args.all
                || !args.only.is_empty()
                || !args.exact.is_empty()
                || (s.persistent == s.poweroff && !s.slow)
                || s.pause.is_some()
                || (s.slow && s.persistent)
        })
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| s.name.contains(o.as_str())))
        .filter(|s| args.exact.is_empty() || args.exact.contains(&s.name))
        .collect()
}

/// What the suite tells its caller as it goes, so that the command line can keep a
/// progress bar on the terminal without this crate knowing terminals: the text for
/// standard output (printed by the caller, around its bar) and how many scenarios are done.
pub trait Observer {
    /// Scenario `done + 1` of `total` starts; `failed` disagreed or failed so far.
    fn progress(&mut self, done: usize, total: usize, failed: usize);
    /// A line for standard output, without its newline.
    fn line(&mut self, text: &str);
}

/// Prints to standard output and shows no progress.
pub struct Plain;

impl Observer for Plain {
    fn progress(&mut self, _: usize, _: usize, _: usize) {}
    fn line(&mut self, text: &str) {
        println!("{text}");
    }
}

/// Whether this process is the child that runs the suite (see `subreaper_parent`): the
/// command line runs in both, and work done after the suite (`live --report`) belongs to
/// the parent alone.
pub fn is_suite_child() -> bool {
    std::env::var_os(INNER_ENV).is_some()
}

/// Entry point of `pivotcheck live`: returns the process exit code.
pub fn cli(args: Args) -> u8 {
    cli_observed(args, &mut Plain)
}

/// [`cli`], telling `observer` the suite's lines and progress (in the child process that
/// runs the suite; the parent only waits for it).
pub fn cli_observed(args: Args, observer: &mut dyn Observer) -> u8 {
    match cli_inner(args, observer) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pivotcheck live: {e:#}");
            EXIT_BAD_INPUT
        }
    }
}

fn cli_inner(args: Args, observer: &mut dyn Observer) -> Result<u8> {
    let install = install::Install::parse(&args.libvirt)?;
    let specs = selected(&args, install.libvirt);
    if specs.is_empty() {
        anyhow::bail!(
            "--only {:?} matches no scenario; `pivotcheck live --list` lists them",
            args.only
        );
    }
    if args.list {
        for s in &specs {
            let m = predict::predict(s)?;
            println!(
                "{:45} model: domain={} live={} mirror={} config={} qemu={} write-down={} write-after={}",
                s.name,
                m.domain,
                opt(&m.live_source),
                opt(&m.mirror),
                opt(&m.config_source),
                fmt_qemu(&Some(m.qemu.clone())),
                m.write_down.name(),
                m.write_after.name()
            );
        }
        return Ok(EXIT_OK);
    }
    let missing = harness::missing_prerequisites(&install);
    if !missing.is_empty() {
        anyhow::bail!(
            "cannot run the live suite here:\n  {}\n(.ci/run installs them)",
            missing.join("\n  ")
        );
    }
    if std::env::var_os(INNER_ENV).is_none() {
        return subreaper_parent();
    }
    run_suite(&args, &specs, install, observer)
}

/// Runs this same command as a child under a child-subreaper: QEMU processes that libvirtd
/// double-forks are re-parented here when their libvirtd dies, are reaped at once (PID 1
/// here reaps only every ~1.5 s, which slowed each kill and destroy), and any left when the
/// suite ends are descendants of this process, killed by PID.
fn subreaper_parent() -> Result<u8> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only changes this process's attribute.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        anyhow::bail!("prctl(PR_SET_CHILD_SUBREAPER) failed");
    }
    let exe = std::env::current_exe()?;
    let child = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(INNER_ENV, "1")
        .spawn()?;
    let inner = child.id() as i32;
    let mut code: u8 = EXIT_BAD_INPUT;
    loop {
        let mut st: libc::c_int = 0;
        // SAFETY: plain waitpid on any child of ours.
        let p = unsafe { libc::waitpid(-1, &mut st, 0) };
        if p < 0 {
            break; // ECHILD: nothing left
        }
        if p == inner {
            code = if libc::WIFEXITED(st) {
                libc::WEXITSTATUS(st) as u8
            } else {
                EXIT_BAD_INPUT
            };
            // The suite is over: any adopted process left (a QEMU) is ours. Kill by PID.
            let left = adopted_children();
            for pid in &left {
                eprintln!("pivotcheck live: killing leftover process {pid}");
                // SAFETY: `pid` is a child of this process (an adopted descendant).
                unsafe {
                    libc::kill(*pid, libc::SIGKILL);
                }
            }
            if !left.is_empty() && code == EXIT_OK {
                code = EXIT_DISAGREE;
            }
        }
    }
    drop(child);
    Ok(code)
}

/// Live children of this process (adopted orphans), from /proc.
fn adopted_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let ppid = s
                    .lines()
                    .find_map(|l| l.strip_prefix("PPid:"))
                    .map(|v| v.trim().to_string());
                let zombie = s
                    .lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'));
                if ppid.as_deref() == Some(me.as_str()) && !zombie {
                    out.push(pid);
                }
            }
        }
    }
    out
}

fn run_suite(
    args: &Args,
    specs: &[Spec],
    install: install::Install,
    observer: &mut dyn Observer,
) -> Result<u8> {
    let t0 = Instant::now();
    let cache = args
        .cache
        .clone()
        .or_else(|| std::env::var_os("PIVOTCHECK_LIVE_CACHE").map(PathBuf::from));
    let preset = install.libvirt.preset();
    let version = install.libvirt.name();
    let mut work = harness::Work::create(cache, install)?;
    if let Some(dir) = &args.record {
        record::enable(&work)?;
        work.record = Some(dir.clone());
    }
    observer.line(&format!(
        "pivotcheck live: {} scenario(s) against libvirt {version} in {} (preset {preset})",
        specs.len(),
        work.dir.display(),
    ));
    let mut daemon: Option<harness::Libvirtd> = None;
    let mut results: Vec<ScenarioResult> = Vec::new();
    for spec in specs {
        let failed = results
            .iter()
            .filter(|r| r.verdict != Verdict::Agree)
            .count();
        observer.progress(results.len(), specs.len(), failed);
        let model = predict::predict(spec)?;
        let started = Instant::now();
        let mut retried = Vec::new();
        let real = loop {
            match run_with_timeout(&work, &mut daemon, spec, args.scenario_timeout) {
                Err(e) if run_again(&e, retried.len() + 1) => {
                    observer.line(&format!(
                        "{:9} {}: attempt {} failed in the harness ({e:#}); running it again",
                        Verdict::Error,
                        spec.name,
                        retried.len() + 1
                    ));
                    retried.push(format!("{e:#}"));
                    let _ = real::clean_slate(&work, &daemon);
                    if let Some(d) = daemon.take() {
                        let _ = d.stop();
                    }
                }
                other => break other,
            }
        };
        let millis = started.elapsed().as_millis();
        let mut r = ScenarioResult {
            name: spec.name.clone(),
            spec: spec.clone(),
            model_point: spec.model_point(),
            model,
            real: None,
            error: None,
            differences: vec![],
            verdict: Verdict::Pending,
            retried,
            millis,
            reproduce: spec.command_line(),
        };
        match real {
            Ok(run) => {
                r.differences = differences(&run.obs, &r.model);
                r.verdict = if r.differences.is_empty() {
                    Verdict::Agree
                } else {
                    Verdict::Disagree
                };
                r.real = Some(run.obs);
            }
            Err(e) => {
                r.verdict = Verdict::Error;
                r.error = Some(format!("{e:#}"));
                // Start the next scenario from a clean daemon and no leftovers.
                let _ = real::clean_slate(&work, &daemon);
                if let Some(d) = daemon.take() {
                    let _ = d.stop();
                }
            }
        }
        for line in result_lines(&r) {
            observer.line(&line);
        }
        results.push(r);
    }
    if let Some(d) = daemon.take() {
        d.stop()?;
    }
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    let suite = SuiteResult {
        libvirt: version,
        preset,
        seconds: t0.elapsed().as_secs_f64(),
        agree: count(Verdict::Agree),
        disagree: count(Verdict::Disagree),
        errors: count(Verdict::Error),
        scenarios: results,
    };
    observer.progress(
        suite.scenarios.len(),
        specs.len(),
        suite.disagree + suite.errors,
    );
    observer.line(&format!(
        "{} passed, {} failed; {} agree, {} disagree, {} errors in {:.1} s",
        suite.agree,
        suite.disagree + suite.errors,
        suite.agree,
        suite.disagree,
        suite.errors,
        suite.seconds
    ));
    if let Some(path) = &args.json {
        // Atomically, like every file pivotcheck writes: a reader never sees half a result.
        let mut text = serde_json::to_string_pretty(&suite)?;
        text.push('\n');
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
    }
    if suite.disagree + suite.errors == 0 {
        let _ = std::fs::remove_dir_all(&work.dir);
        Ok(EXIT_OK)
    } else {
        observer.line(&format!(
            "work dir kept for inspection: {}",
            work.dir.display()
        ));
        Ok(EXIT_DISAGREE)
    }
}

/// Runs one scenario; past the timeout the scenario is abandoned: libvirtd is stopped and
/// the scenario's QEMU reaped, so nothing is left running.
/// How many times a scenario runs at most when the harness, not the comparison, fails.
///
/// A harness error says the experiment did not happen as designed: libvirtd went on past
/// the trigger's stop (a stop signal raced with libvirtd's other threads), a `virsh` call
/// timed out on the loaded machine. Running the scenario again repeats the same
/// experiment; it cannot turn a disagreement into an agreement, because a disagreement is
/// a result and is never run again. Every retry is printed and kept in the JSON
/// (`retried`), and a scenario whose every attempt fails is an error.
pub const ATTEMPTS: usize = 3;

/// A scenario over its time budget is not run again: a hang would only hang again, and
/// three budgets would stretch the suite.
#[derive(Debug)]
struct OverBudget(String);

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OverBudget {}

/// Whether attempt `failed` (1-based), which ended in `error`, is followed by another.
fn run_again(error: &anyhow::Error, failed: usize) -> bool {
    failed < ATTEMPTS && error.downcast_ref::<OverBudget>().is_none()
}

fn run_with_timeout(
    work: &harness::Work,
    daemon: &mut Option<harness::Libvirtd>,
    spec: &Spec,
    timeout: u64,
) -> Result<real::RealRun> {
    // Each wait inside `real::run` is bounded; the sum is bounded by this budget check.
    let deadline = Duration::from_secs(timeout);
    let t = Instant::now();
    let r = real::run(work, daemon, spec);
    if t.elapsed() > deadline {
        return Err(OverBudget(format!(
            "scenario took {:?}, over its {timeout} s budget",
            t.elapsed()
        ))
        .into());
    }
    r
}

/// A scenario's result line and its differences, one per line.
fn result_lines(r: &ScenarioResult) -> Vec<String> {
    let real = r.real.as_ref();
    let mut lines = vec![format!(
        "{:9} {:45} {:>5} ms  real: {}",
        r.verdict,
        r.name,
        r.millis,
        match real {
            Some(o) => format!(
                "domain={} live={} mirror={} config={} qemu={} down={} write-down={} write-after={}",
                o.domain,
                opt(&o.live_source),
                opt(&o.mirror),
                opt(&o.config_source),
                fmt_qemu(&Some(o.qemu.clone())),
                fmt_qemu(&o.down),
                o.write_down.name(),
                o.write_after.name()
            ),
            None => r.error.clone().unwrap_or_default(),
        }
    )];
    lines.extend(r.differences.iter().map(|d| format!("          {d}")));
    lines
}

#[cfg(test)]
mod verdict_tests {
    use super::{run_again, OverBudget, Verdict, ATTEMPTS};

    #[test]
    fn only_harness_errors_within_the_attempts_are_run_again() {
        let harness = anyhow::anyhow!("libvirtd went on after the trigger's stop");
        assert!(run_again(&harness, 1));
        assert!(run_again(&harness, ATTEMPTS - 1));
        assert!(
            !run_again(&harness, ATTEMPTS),
            "the last attempt's error stands"
        );
        let hang = anyhow::Error::from(OverBudget("scenario took 61 s".into()));
        assert!(
            !run_again(&hang, 1),
            "a scenario over its budget is not run again"
        );
        // Wrapped in context, as `?` with `.context(..)` would leave it, it is still seen.
        let wrapped = anyhow::Error::from(OverBudget("over".into())).context("pivot");
        assert!(!run_again(&wrapped, 1));
    }

    /// `live --json` keeps the words it wrote when the verdict was a string.
    #[test]
    fn verdicts_serialize_as_their_names() {
        for v in [
            Verdict::Pending,
            Verdict::Agree,
            Verdict::Disagree,
            Verdict::Error,
        ] {
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.name())
            );
        }
        assert_eq!(format!("{:9}|", Verdict::Agree), "agree    |");
    }
}
