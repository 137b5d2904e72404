//! Mutation testing of the gate: does the checker notice when a developer breaks a safe
//! procedure?
//!
//! For a scenario whose procedures the checker proves safe for some properties, every
//! plausible single edit is generated (drop one step, swap two adjacent steps, move a save
//! later, move an evidence-destroying or guest-resuming step earlier, flip a libvirt or QEMU
//! option, weaken the app's recovery rule) and checked. A mutant is *killed* when one of
//! those properties breaks. A mutant that survives must be equivalent, and its argument is
//! either derived from the original's state space (the edited step never runs, or never
//! changes anything when it runs) or written by a person in `scenarios/mutants/<name>.toml`.
//! An unexplained survivor fails the run: it is a hole in the gate or a missing argument.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use model::action::LibvirtdAction;
use model::properties::{Kind, PROPERTIES};
use model::state::ProgramKind;
use model::{Action, PivotModel, Recovery, ShutdownKill, Step, World};
use serde::Deserialize;

use crate::check::{check_scenario, CheckOptions, Status};
use trace::Scenario;

/// One edited copy of the scenario.
#[derive(Clone, Debug)]
pub struct Mutant {
    /// Stable, readable identity, e.g. `pivot: move save-status after resume`.
    pub id: String,
    pub scenario: Scenario,
    /// For step edits: the procedure and the original position(s) touched.
    pub touched: Vec<(ProgramKind, usize)>,
    pub dropped: bool,
}

#[derive(Clone, Debug)]
pub enum Verdict {
    /// In some scenario of the family, a property that holds for the original breaks, or
    /// a `sometimes` property the original reaches becomes unreachable: (property, trace
    /// length, the scenario that kills it).
    Killed(&'static str, usize, String),
    /// Survived, with the argument why it is still safe.
    Equivalent(String),
    Unexplained,
}

#[derive(Clone, Debug)]
pub struct MutantResult {
    pub id: String,
    pub verdict: Verdict,
}

/// Human-written equivalence arguments, keyed by mutant id.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    #[serde(default)]
    pub equivalent: Vec<Argument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argument {
    pub mutant: String,
    pub argument: String,
    /// A checkable fact the argument rests on: the named procedure (`pivot`, `reconnect`,
    /// `concluded`) runs only in states where QEMU is gone. The tool counts those states
    /// over the original's reachable state space and refuses the argument (the mutant is
    /// then unexplained) if the procedure never runs or runs once with QEMU alive.
    #[serde(default)]
    pub runs_only_without_qemu: Option<String>,
}

pub fn load_arguments(path: &Path) -> Result<Arguments, String> {
    if !path.exists() {
        return Ok(Arguments::default());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |s| {
            let before = &text[..s.start.min(text.len())];
            (
                before.matches('\n').count() + 1,
                before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            )
        });
        format!(
            "{}:{line}:{col}: {}",
            path.display(),
            e.message().lines().next().unwrap_or_default()
        )
    })
}

fn list_name(kind: ProgramKind) -> &'static str {
    kind.name()
}

fn lists(s: &Scenario) -> [(ProgramKind, Vec<Step>); 3] {
    let p = &s.config.procedures;
    [
        (ProgramKind::Pivot, p.pivot.clone()),
        (ProgramKind::Reconnect, p.reconnect.clone()),
        (ProgramKind::Concluded, p.concluded.clone()),
    ]
}

fn with_list(s: &Scenario, kind: ProgramKind, steps: Vec<Step>) -> Scenario {
    let mut m = s.clone();
    let p = &mut m.config.procedures;
    match kind {
        ProgramKind::Pivot => p.pivot = steps,
        ProgramKind::Reconnect => p.reconnect = steps,
        ProgramKind::Concluded => p.concluded = steps,
    }
    m
}

fn is_save(s: Step) -> bool {
    matches!(
        s,
        Step::SaveStatus
            | Step::SaveStatusUnloadable
            | Step::SaveConfig
            | Step::MarkPivoting
            | Step::ApplyOutcome
    )
}

fn is_destructive_or_resuming(s: Step) -> bool {
    matches!(
        s,
        Step::JobDismiss
            | Step::BlockdevDel
            | Step::FinishShutdown
            | Step::Resume
            | Step::ReplyApp
            | Step::JobFinalize
    )
}

/// Every plausible single edit of `base`, deduplicated by the procedures it yields.
pub fn mutants(base: &Scenario) -> Vec<Mutant> {
    let mut out: Vec<Mutant> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut push = |m: Mutant, out: &mut Vec<Mutant>| {
        let key = format!(
            "{:?}|{:?}",
            m.scenario.config.procedures, m.scenario.config.recovery
        );
        if m.scenario.config.procedures == base.config.procedures
            && m.scenario.config.recovery == base.config.recovery
        {
            return;
        }
        if seen.insert(key) {
            out.push(m);
        }
    };
    for (kind, steps) in lists(base) {
        let name = list_name(kind);
        for i in 0..steps.len() {
            let mut v = steps.clone();
            let removed = v.remove(i);
            if kind == ProgramKind::Pivot && v.is_empty() {
                continue;
            }
            push(
                Mutant {
                    id: format!("{name}: drop {removed} (step {})", i + 1),
                    scenario: with_list(base, kind, v),
                    touched: vec![(kind, i)],
                    dropped: true,
                },
                &mut out,
            );
        }
        for i in 0..steps.len().saturating_sub(1) {
            if steps[i] == steps[i + 1] {
                continue;
            }
            let mut v = steps.clone();
            v.swap(i, i + 1);
            push(
                Mutant {
                    id: format!(
                        "{name}: swap {} and {} (steps {}-{})",
                        steps[i],
                        steps[i + 1],
                        i + 1,
                        i + 2
                    ),
                    scenario: with_list(base, kind, v),
                    touched: vec![(kind, i), (kind, i + 1)],
                    dropped: false,
                },
                &mut out,
            );
        }
        for i in 0..steps.len() {
            let step = steps[i];
            let targets: Vec<usize> = if is_save(step) {
                (i + 1..steps.len()).collect()
            } else if is_destructive_or_resuming(step) {
                (0..i).collect()
            } else {
                Vec::new()
            };
            for j in targets {
                let mut v = steps.clone();
                let s = v.remove(i);
                v.insert(j, s);
                // The target names its position too: two moves of one step to different
                // places next to equal steps must not share an id.
                let place = if j > i {
                    format!("after {} (step {})", steps[j], j + 1)
                } else {
                    format!("before {} (step {})", steps[j], j + 1)
                };
                let touched = (i.min(j)..=i.max(j)).map(|k| (kind, k)).collect();
                push(
                    Mutant {
                        id: format!("{name}: move {step} (step {}) {place}", i + 1),
                        scenario: with_list(base, kind, v),
                        touched,
                        dropped: false,
                    },
                    &mut out,
                );
            }
        }
    }
    let mut option = |id: &str, edit: &dyn Fn(&mut Scenario)| {
        let mut m = base.clone();
        edit(&mut m);
        let mut seen_opts = BTreeSet::new();
        let key = format!("{:?}", m.config);
        if m.config != base.config && seen_opts.insert(key) {
            out.push(Mutant {
                id: id.to_string(),
                scenario: m,
                touched: Vec::new(),
                dropped: false,
            });
        }
    };
    option("option: auto-dismiss flipped", &|m| {
        m.config.procedures.job.auto_dismiss = !m.config.procedures.job.auto_dismiss
    });
    option("option: auto-finalize flipped", &|m| {
        m.config.procedures.job.auto_finalize = !m.config.procedures.job.auto_finalize
    });
    option("option: shutdown kill flipped", &|m| {
        m.config.procedures.shutdown_kill = match m.config.procedures.shutdown_kill {
            ShutdownKill::Immediate | ShutdownKill::SaveImmediate => ShutdownKill::WhenIdle,
            ShutdownKill::WhenIdle => ShutdownKill::Immediate,
        }
    });
    option("app: recovery skips query-block (trust-libvirt)", &|m| {
        m.config.recovery = Recovery::TrustLibvirt
    });
    for (i, m) in out.iter_mut().enumerate() {
        m.scenario.name = format!("{}-mutant-{:03}", base.name, i + 1);
    }
    out
}

/// For each (procedure, step position) of the original: was it ever executed, and did it
/// ever change anything besides the program counter? Computed over the original's whole
/// reachable state space.
pub struct StepUse {
    pub executed: BTreeMap<(u8, usize), bool>,
    pub effective: BTreeMap<(u8, usize), bool>,
    /// Per procedure: how many reachable states run it, and how many of those with QEMU
    /// alive (the fact behind an argument's `runs_only_without_qemu`).
    pub running: BTreeMap<&'static str, (usize, usize)>,
}

fn kind_code(k: ProgramKind) -> u8 {
    match k {
        ProgramKind::Pivot => 0,
        ProgramKind::Reconnect => 1,
        ProgramKind::Concluded => 2,
    }
}

/// Whether `after` differs from `before` in anything but the program counter (or the end
/// of the program when the step was the last).
fn changed_beyond_pc(before: &World, after: &World) -> bool {
    let mut a = after.clone();
    a.libvirtd.program = before.libvirtd.program;
    a != *before
}

pub fn step_use(base: &Scenario) -> StepUse {
    let model = PivotModel::new(base.config.clone());
    let mut executed = BTreeMap::new();
    let mut effective = BTreeMap::new();
    for (kind, steps) in lists(base) {
        for i in 0..steps.len() {
            executed.insert((kind_code(kind), i), false);
            effective.insert((kind_code(kind), i), false);
        }
    }
    let mut running = BTreeMap::new();
    let init = model.init_state();
    let mut index: HashMap<World, ()> = HashMap::new();
    index.insert(init.clone(), ());
    let mut queue = vec![init];
    let mut next = 0;
    while next < queue.len() {
        let state = queue[next].clone();
        next += 1;
        if let Some(p) = state.libvirtd.program {
            let n = running.entry(p.kind.name()).or_insert((0, 0));
            n.0 += 1;
            if state.qemu.alive {
                n.1 += 1;
            }
        }
        for a in model.enabled(&state) {
            let succ = model.step(&state, a);
            if a == Action::Libvirtd(LibvirtdAction::Step) {
                if let Some(p) = state.libvirtd.program {
                    let key = (kind_code(p.kind), p.pc as usize);
                    executed.insert(key, true);
                    // A command step's effect shows when its reply is read; count sending
                    // a command as an effect.
                    if changed_beyond_pc(&state, &succ) {
                        effective.insert(key, true);
                    }
                }
            }
            if !index.contains_key(&succ) {
                index.insert(succ.clone(), ());
                queue.push(succ);
            }
        }
    }
    StepUse {
        executed,
        effective,
        running,
    }
}

/// The fact `procedure runs only without QEMU`, checked over the original's reachable
/// states: its wording with the count, or `None` when it is false (the procedure never runs,
/// or runs in some state with QEMU alive).
pub fn runs_only_without_qemu(uses: &StepUse, procedure: &str) -> Option<String> {
    match uses.running.get(procedure) {
        Some(&(n, 0)) if n > 0 => Some(format!(
            "checked over the original's reachable states: {n} run the {procedure} procedure, none with QEMU alive"
        )),
        _ => None,
    }
}

fn automatic_argument(m: &Mutant, uses: &StepUse) -> Option<String> {
    if m.touched.is_empty() {
        return None;
    }
    let never_runs = m
        .touched
        .iter()
        .all(|(k, i)| uses.executed.get(&(kind_code(*k), *i)) == Some(&false));
    if never_runs {
        return Some("the edited steps never run in any reachable state of the original".into());
    }
    if m.dropped {
        let (k, i) = m.touched[0];
        if uses.effective.get(&(kind_code(k), i)) == Some(&false) {
            return Some(
                "the dropped step changes nothing but the program counter in every reachable state where it runs"
                    .into(),
            );
        }
    }
    None
}

/// The family of `base`: the scenarios in `dir` (not its subfolders) that use the same
/// preset (the crossings: QEMU crash, no `-no-shutdown`, write-blocking, soft quit,
/// transient, two blocks, host crash, ...), `base` first. A custom scenario is its own
/// family.
pub fn family(base: &Scenario, dir: &Path) -> Result<Vec<Scenario>, crate::ScenarioError> {
    let mut out = vec![base.clone()];
    if base.variant == "custom" {
        return Ok(out);
    }
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    for path in paths {
        let s = trace::scenario::load(&path)?;
        if s.variant == base.variant && s.name != base.name {
            out.push(s);
        }
    }
    Ok(out)
}

/// `mutant`'s edit (procedures, options, recovery rule) applied to `member`, a scenario of
/// the same preset as the mutant's original `base`.
fn transplant(base: &Scenario, mutant: &Mutant, member: &Scenario) -> Scenario {
    let mut s = member.clone();
    s.config.procedures = mutant.scenario.config.procedures.clone();
    if mutant.scenario.config.recovery != base.config.recovery {
        s.config.recovery = mutant.scenario.config.recovery;
    }
    s.name = format!("{} ({})", mutant.scenario.name, member.name);
    s
}

/// What must still hold (and still be reached) in one scenario of the family.
struct Guard {
    scenario: Scenario,
    /// Safety and liveness properties that hold for the original.
    holds: Vec<&'static str>,
    /// `sometimes` properties the original reaches (less recovery-by-query-block, which a
    /// changed recovery rule may legitimately stop using).
    reached: Vec<&'static str>,
    /// The original's app recovers through query-block somewhere here.
    query_block: bool,
}

fn guard(s: &Scenario, opts: &CheckOptions) -> Guard {
    let r = check_scenario(s, opts);
    Guard {
        scenario: s.clone(),
        holds: r
            .properties
            .iter()
            .filter(|p| p.kind != Kind::Sometimes && p.status == Status::Holds)
            .map(|p| p.name)
            .collect(),
        reached: r
            .properties
            .iter()
            .filter(|p| {
                p.kind == Kind::Sometimes
                    && p.status == Status::Reached
                    && p.name != "recovery-by-query-block"
            })
            .map(|p| p.name)
            .collect(),
        query_block: r
            .properties
            .iter()
            .any(|p| p.name == "recovery-by-query-block" && p.status == Status::Reached),
    }
}

/// The first property (in `PROPERTIES` then `LIVENESS` order) that `scenario` breaks
/// against `g`, with its counterexample's length.
fn kill(g: &Guard, scenario: &Scenario, opts: &CheckOptions) -> Option<(&'static str, usize)> {
    let r = check_scenario(scenario, opts);
    let names = PROPERTIES
        .iter()
        .map(|d| d.name)
        .chain(model::liveness::LIVENESS.iter().map(|d| d.name));
    for name in names {
        let Some(p) = r.properties.iter().find(|p| p.name == name) else {
            continue;
        };
        let broken = (g.holds.contains(&name) && p.status == Status::Violated)
            || (g.reached.contains(&name) && p.status == Status::Unreached);
        if broken {
            return Some((name, p.actions.as_ref().map_or(0, |a| a.len())));
        }
    }
    None
}

/// Checks every mutant of `base` against each scenario of `family` (`base` first, then the
/// crossings of its preset): a mutant is killed as soon as one scenario shows it breaking
/// a property that holds there for the original, and survives only if none does. Returns
/// the properties guarded in `base` and one result per mutant.
pub fn run(
    base: &Scenario,
    family: &[Scenario],
    arguments: &Arguments,
) -> (Vec<&'static str>, Vec<MutantResult>) {
    run_observed(base, family, arguments, &mut |_, _| {})
}

/// [`run`], telling `observer` after each mutant how many are judged and how many there
/// are (for a progress display).
pub fn run_observed(
    base: &Scenario,
    family: &[Scenario],
    arguments: &Arguments,
    observer: &mut dyn FnMut(usize, usize),
) -> (Vec<&'static str>, Vec<MutantResult>) {
    let opts = CheckOptions::default();
    let mut guards = vec![guard(base, &opts)];
    guards.extend(
        family
            .iter()
            .filter(|s| s.name != base.name)
            .map(|s| guard(s, &opts)),
    );
    let guarded = guards[0].holds.clone();
    let query_block_used = guards.iter().any(|g| g.query_block);
    let uses = step_use(base);
    let mut results = Vec::new();
    let all = mutants(base);
    let total = all.len();
    for m in all {
        let killed = guards.iter().find_map(|g| {
            let s = transplant(base, &m, &g.scenario);
            kill(g, &s, &opts).map(|(p, len)| (p, len, g.scenario.name.clone()))
        });
        let rule_unused = m.scenario.config.recovery != base.config.recovery && !query_block_used;
        let verdict = match killed {
            Some((p, len, by)) => Verdict::Killed(p, len, by),
            None => match arguments.equivalent.iter().find(|a| a.mutant == m.id) {
                Some(a) => match &a.runs_only_without_qemu {
                    None => Verdict::Equivalent(a.argument.clone()),
                    // The argument rests on a fact the tool checks, not on a figure
                    // written by hand: refused when the fact is false.
                    Some(kind) => match runs_only_without_qemu(&uses, kind) {
                        Some(fact) => Verdict::Equivalent(format!("{} [{fact}]", a.argument)),
                        None => Verdict::Unexplained,
                    },
                },
                None if rule_unused => Verdict::Equivalent(
                    "(derived) the original never recovers through query-block, the only branch in which the two rules differ"
                        .into(),
                ),
                None => match automatic_argument(&m, &uses) {
                    Some(a) => Verdict::Equivalent(format!("(derived) {a}")),
                    None => Verdict::Unexplained,
                },
            },
        };
        results.push(MutantResult { id: m.id, verdict });
        observer(results.len(), total);
    }
    (guarded, results)
}

/// Writes every mutant of `base` as a scenario file `<dir>/<mutant name>.toml`, with
/// [`Scenario::to_toml`], so that the file is the mutant itself: its procedures and every
/// option it flipped. Returns each mutant with its file.
pub fn write_mutants(base: &Scenario, dir: &Path) -> std::io::Result<Vec<(Mutant, PathBuf)>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for m in mutants(base) {
        let path = dir.join(format!("{}.toml", m.scenario.name));
        let text = m.scenario.to_toml(&format!("{}: {}", base.name, m.id));
        trace::encode::write_atomically(&path, text.as_bytes())?;
        written.push((m, path));
    }
    Ok(written)
}

/// The equivalence arguments that name no surviving mutant: the procedure changed, or a
/// mutant's id did, and the argument no longer explains anything.
pub fn stale_arguments<'a>(arguments: &'a Arguments, results: &[MutantResult]) -> Vec<&'a str> {
    arguments
        .equivalent
        .iter()
        .filter(|a| {
            !results
                .iter()
                .any(|r| r.id == a.mutant && matches!(r.verdict, Verdict::Equivalent(_)))
        })
        .map(|a| a.mutant.as_str())
        .collect()
}

/// How the mutants of one run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub killed: usize,
    /// Equivalent by an argument derived from the original's state space.
    pub derived: usize,
    /// Equivalent by a person's argument.
    pub argued: usize,
    pub unexplained: usize,
}

impl Tally {
    pub fn of(results: &[MutantResult]) -> Tally {
        let mut t = Tally::default();
        for r in results {
            match &r.verdict {
                Verdict::Killed(..) => t.killed += 1,
                Verdict::Equivalent(why) if why.starts_with("(derived)") => t.derived += 1,
                Verdict::Equivalent(_) => t.argued += 1,
                Verdict::Unexplained => t.unexplained += 1,
            }
        }
        t
    }
}
