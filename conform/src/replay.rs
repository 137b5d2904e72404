//! Replaying one model trace against the real QEMU and comparing, step by step.
//!
//! For each model action the harness does the real counterpart (see the table in
//! `conform/README.md`), then compares what the model predicts with what QEMU reports:
//! the reply to a command, the run state, the job's status and error, the active image,
//! the events on libvirtd's connection; after the run, the image contents offline.
//!
//! **QEMU-internal progress is a set, not a point.** The model's QEMU moves on its own
//! (copies, ready, waiting, pending, finalize, auto-dismiss) in steps the trace schedules
//! at chosen moments; the real QEMU takes them when it likes, usually at once. So after
//! each step the prediction is the *internal closure* of the model's state: every state
//! the model's QEMU reaches from it by internal actions alone. QEMU conforms at that
//! step if what it shows is one of them; it must not lag behind (the harness waits for
//! it, a sync point, up to a timeout) nor run ahead to something the model cannot reach.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use model::action::{AppAction, FaultKind, GuestAction, LibvirtdAction, QemuAction};
use model::state::{Event, JobStatus, QmpMessage, Reply, RunState, World};
use model::{describe, world, Action, Command, Config, CopyMode, Image};

use crate::real::{self, HarnessError, Observation, Real};

/// A deliberately wrong prediction, for testing that the harness can fail: after step
/// `step` (1-based) the predicted world is passed through `change` before it is
/// compared (the model itself carries on unchanged).
#[derive(Clone, Copy)]
pub struct Tamper {
    pub step: usize,
    pub change: fn(&mut World),
}

#[derive(Clone)]
pub struct Options {
    /// How long a sync point waits for QEMU to reach a predicted state.
    pub sync_timeout: Duration,
    /// Keep the run folder (images, QEMU's log) for inspection.
    pub keep: bool,
    pub tamper: Option<Tamper>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync_timeout: Duration::from_secs(3),
            keep: false,
            tamper: None,
        }
    }
}

/// The first step where model and QEMU disagree, with both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// 1-based step number; `steps + 1` for the offline image check after the run.
    pub step: usize,
    /// The step in words (or "after the run").
    pub label: String,
    /// What was compared: `reply to ...`, `job`, `active image`, `run state`, `events on
    /// libvirtd's connection`, `QEMU alive`, `source image block 0`, ...
    pub what: String,
    pub model: String,
    pub qemu: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Conforms,
    Disagrees(Disagreement),
    /// The trace uses something the harness cannot do on this QEMU (a RHEL-only command,
    /// a guest power-off under `-no-shutdown` that needs guest code).
    NotReplayable(String),
    /// The harness itself failed (QEMU would not start, a tool failed).
    HarnessError(String),
}

#[derive(Clone, Debug)]
pub struct TraceReport {
    pub name: String,
    pub steps: usize,
    pub verdict: Verdict,
    pub elapsed: Duration,
}

/// One trace to replay: a configuration and the actions taken from its initial state.
#[derive(Clone, Debug)]
pub struct Replayable {
    pub name: String,
    pub config: Config,
    pub actions: Vec<Action>,
}

/// How often the harness tries to start QEMU and the copy before it gives up.
const START_ATTEMPTS: usize = 3;

/// Which actions the real QEMU takes on its own.
fn qemu_internal(a: Action) -> bool {
    matches!(a, Action::Qemu(q) if q.is_internal())
}

/// Every world the model's QEMU reaches from `w` by internal actions alone, `w` first.
/// The search is small (one job, at most three blocks); `HashSet` is for lookup only,
/// the order comes from the queue.
pub fn closure(cfg: &Config, w: &World) -> Vec<World> {
    let mut seen: HashSet<World> = HashSet::new();
    let mut out = vec![w.clone()];
    seen.insert(w.clone());
    let mut i = 0;
    while i < out.len() {
        let mut acts = Vec::new();
        world::actions(cfg, &out[i], &mut acts);
        for a in acts.into_iter().filter(|a| qemu_internal(*a)) {
            let next = world::next_state(cfg, &out[i], a).expect("enabled");
            if seen.insert(next.clone()) {
                out.push(next);
            }
        }
        i += 1;
    }
    out
}

fn events_of(msgs: &[QmpMessage]) -> Vec<Event> {
    msgs.iter()
        .filter_map(|m| match m {
            QmpMessage::Event(e) => Some(*e),
            QmpMessage::Reply(..) => None,
        })
        .collect()
}

/// The events the model queued for libvirtd in the step `w0 -> w1`.
fn pushed_events(w0: &World, w1: &World, a: Action) -> Vec<Event> {
    if !w1.qemu.monitor {
        return Vec::new();
    }
    let kept = if !w0.qemu.monitor {
        0
    } else if a == Action::Libvirtd(LibvirtdAction::Read) {
        w0.qemu.outbox.len() - 1
    } else {
        w0.qemu.outbox.len()
    };
    events_of(&w1.qemu.outbox[kept.min(w1.qemu.outbox.len())..])
}

/// A real event in the model's words; `None` for events the model does not model
/// (JOB_STATUS_CHANGE other than `pending`, BLOCK_JOB_PENDING, POWERDOWN, ...).
/// `JOB_STATUS_CHANGE(ready)` is left out because it duplicates BLOCK_JOB_READY and also
/// follows every drain's `standby`.
pub fn model_event(e: &qmp::Event) -> Option<Event> {
    let job_event = e.data_str("id") == Some("mirror0") || e.data_str("device") == Some("mirror0");
    Some(match e.event.as_str() {
        "STOP" => Event::Stop,
        "RESUME" => Event::Resume,
        "SHUTDOWN" => Event::Shutdown,
        "BLOCK_JOB_READY" if job_event => Event::Ready,
        "JOB_STATUS_CHANGE" if job_event && e.data_str("status") == Some("pending") => {
            Event::Pending
        }
        "BLOCK_JOB_COMPLETED" if job_event => Event::Concluded {
            error: e.data.get("error").is_some(),
        },
        "BLOCK_JOB_CANCELLED" if job_event => Event::Concluded { error: true },
        _ => return None,
    })
}

/// BLOCK_JOB_READY, JOB_STATUS_CHANGE(pending), BLOCK_JOB_COMPLETED/CANCELLED.
fn is_job_event(e: &Event) -> bool {
    matches!(e, Event::Ready | Event::Pending | Event::Concluded { .. })
}

fn run_state_name(s: RunState) -> &'static str {
    match s {
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::Shutdown => "shutdown",
    }
}

/// What the observer would see of a model world.
fn predicted(w: &World) -> Observation {
    Observation {
        run_state: run_state_name(w.qemu.run_state).to_string(),
        job: w
            .qemu
            .job
            .as_ref()
            .map(|j| (j.status.name().to_string(), j.error)),
        active: Some(w.qemu.active),
    }
}

fn show_obs(o: &Observation) -> String {
    let job = match &o.job {
        None => "no job".to_string(),
        Some((s, e)) => format!("job {s}{}", if *e { " with error" } else { "" }),
    };
    let active = match o.active {
        Some(Image::Source) => "src",
        Some(Image::Target) => "tgt",
        None => "another node",
    };
    format!("run state {}, {job}, drive0 on {active}", o.run_state)
}

fn show_events(es: &[Event]) -> String {
    if es.is_empty() {
        return "none".into();
    }
    es.iter()
        .map(|e| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_reply(r: &Reply) -> String {
    format!("{r:?}")
}

fn show_set<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    let mut v: Vec<String> = items.iter().map(f).collect();
    v.dedup();
    if v.len() == 1 {
        v.remove(0)
    } else {
        format!("one of [{}]", v.join(" | "))
    }
}

/// Why taking `a` in `w` cannot be replayed deterministically, if it cannot: a guest
/// write or an end of QEMU whose effect depends on QEMU-internal progress the model has
/// not scheduled yet (the switch, the job ending, the copy reaching ready). The real QEMU
/// makes that progress within milliseconds, so the trace's interleaving cannot be forced.
fn races_qemu(cfg: &Config, w: &World, a: Action) -> Option<String> {
    let sensitive = matches!(
        a,
        Action::Guest(GuestAction::Write(_))
            | Action::Fault(FaultKind::GuestPowerOff)
            | Action::Fault(FaultKind::QemuCrash)
            | Action::Fault(FaultKind::HostCrash)
            | Action::Libvirtd(LibvirtdAction::Kill)
    );
    if !sensitive || !w.qemu.alive {
        return None;
    }
    let now = predicted(w);
    let moves = closure(cfg, w).iter().map(predicted).find(|o| {
        if matches!(a, Action::Guest(GuestAction::Write(_))) {
            // A write before or after READY is mirrored alike; it matters only whether
            // the switch happened or the job stopped mirroring.
            let mirroring =
                |x: &Observation| x.job.as_ref().is_some_and(|(s, e)| !e && s != "concluded");
            o.active != now.active || mirroring(o) != mirroring(&now)
        } else {
            o.job != now.job || o.active != now.active
        }
    })?;
    Some(format!(
        "the model's QEMU is at '{}' but may move on its own to '{}'; the real QEMU does that within milliseconds, so this interleaving cannot be forced (see conform/README.md)",
        show_obs(&now),
        show_obs(&moves)
    ))
}

/// Why a trace cannot be replayed on this setup, if it cannot.
pub fn unreplayable(cfg: &Config, actions: &[Action]) -> Option<String> {
    let mut w = world::init(cfg);
    for (i, &a) in actions.iter().enumerate() {
        if a == Action::Fault(FaultKind::GuestPowerOff) && cfg.no_shutdown {
            return Some(format!(
                "step {}: a guest power-off under -no-shutdown needs guest code; -machine none has none (replay with no_shutdown = false)",
                i + 1
            ));
        }
        if a == Action::Qemu(QemuAction::Execute) {
            if let Some(
                c @ (Command::DriveReopen | Command::BlockdevDel | Command::BlockdevDelMirror),
            ) = w.qemu.inbox
            {
                return Some(format!(
                    "step {}: {} is not replayed (RHEL 6 only, or needs a -blockdev source; see conform/README.md)",
                    i + 1,
                    c.qmp_name()
                ));
            }
        }
        w = world::next_state(cfg, &w, a).expect("validated trace");
    }
    None
}

struct Run<'a> {
    cfg: &'a Config,
    opts: &'a Options,
    real: Real,
    /// Events the model queued on libvirtd's current connection, in order, each marked
    /// `optional` when QEMU may have announced it before the connection opened.
    model_events: Vec<(Event, bool)>,
    /// libvirtd's current connection was opened by a reconnect: QEMU's own progress since
    /// the disconnect may have happened before it opened, and QMP does not replay events.
    reconnected: bool,
    /// Events QEMU sent on libvirtd's current connection, in the model's words.
    real_events: Vec<Event>,
}

type Step = Result<(), Failure>;

enum Failure {
    Disagree(Disagreement),
    /// The trace needs QEMU to lose a race it does not lose.
    Race(String),
    Harness(HarnessError),
}

impl From<HarnessError> for Failure {
    fn from(e: HarnessError) -> Self {
        Failure::Harness(e)
    }
}

impl From<qmp::QmpError> for Failure {
    fn from(e: qmp::QmpError) -> Self {
        Failure::Harness(e.into())
    }
}

/// Replays `t` on a fresh QEMU in `dir` and returns the verdict.
pub fn replay(t: &Replayable, dir: &Path, opts: &Options) -> TraceReport {
    let started = Instant::now();
    let verdict = match unreplayable(&t.config, &t.actions) {
        Some(why) => Verdict::NotReplayable(why),
        None => {
            let _ = std::fs::remove_dir_all(dir);
            let v = run(t, dir, opts);
            if !opts.keep {
                let _ = std::fs::remove_dir_all(dir);
            }
            v
        }
    };
    TraceReport {
        name: t.name.clone(),
        steps: t.actions.len(),
        verdict,
        elapsed: started.elapsed(),
    }
}

fn run(t: &Replayable, dir: &Path, opts: &Options) -> Verdict {
    let cfg = &t.config;
    // QEMU 10.0.2 sometimes dies with SIGSEGV when a QMP client connects while it is
    // still starting up (seen under CPU load, about once in a hundred starts). That is
    // before the trace's first step, so starting afresh changes nothing the trace says.
    let mut attempt = 0;
    let real = loop {
        attempt += 1;
        let _ = std::fs::remove_dir_all(dir);
        match Real::start(
            dir,
            cfg.copy_mode == CopyMode::WriteBlocking,
            cfg.no_shutdown,
            cfg.procedures.job.auto_finalize,
            cfg.procedures.job.auto_dismiss,
            cfg.blocks,
        ) {
            Ok(r) => break r,
            Err(e) if attempt >= START_ATTEMPTS => {
                return Verdict::HarnessError(format!(
                    "cannot start QEMU ({attempt} attempts): {e}"
                ))
            }
            Err(_) => continue,
        }
    };
    let mut run = Run {
        cfg,
        opts,
        real,
        model_events: Vec::new(),
        reconnected: false,
        real_events: Vec::new(),
    };
    match run.all(&t.actions) {
        Ok(()) => Verdict::Conforms,
        Err(Failure::Disagree(d)) => Verdict::Disagrees(d),
        Err(Failure::Race(why)) => Verdict::NotReplayable(why),
        Err(Failure::Harness(e)) => Verdict::HarnessError(e.to_string()),
    }
    // `run.real` drops here: QEMU, if still running, is killed and reaped.
}

impl Run<'_> {
    fn all(&mut self, actions: &[Action]) -> Step {
        let cfg = self.cfg;
        let mut w = world::init(cfg);
        // The initial state: a running copy, nothing on libvirtd's connection yet.
        self.sync(0, "the copy starts", &w)?;
        for (i, &a) in actions.iter().enumerate() {
            let n = i + 1;
            let next = world::next_state(cfg, &w, a).expect("validated trace");
            let label = describe::step_label(cfg, &w, a, &next);
            if let Some(why) = races_qemu(cfg, &w, a) {
                return Err(Failure::Race(format!("step {n} ({label}): {why}")));
            }
            let following = actions.get(i + 1).copied();
            self.act(n, &label, &w, a, &next, following)?;
            let mut prediction = next.clone();
            if let Some(t) = self.opts.tamper.filter(|t| t.step == n) {
                (t.change)(&mut prediction);
            }
            self.sync(n, &label, &prediction)?;
            w = next;
        }
        self.after_run(actions.len() + 1, &w)
    }

    fn disagree(step: usize, label: &str, what: &str, model: String, qemu: String) -> Failure {
        Failure::Disagree(Disagreement {
            step,
            label: label.to_string(),
            what: what.to_string(),
            model,
            qemu,
        })
    }

    /// Does the real counterpart of `a`.
    fn act(
        &mut self,
        n: usize,
        label: &str,
        w0: &World,
        a: Action,
        w1: &World,
        following: Option<Action>,
    ) -> Step {
        let cfg = self.cfg;
        match a {
            // The harness drives one disk: a trace of several cannot be replayed here.
            Action::Disk(..) => {
                return Err(Failure::Race(format!(
                    "{}: the conformance harness replays one disk",
                    a.name()
                )))
            }
            Action::Guest(GuestAction::Write(b)) => {
                // Hold back background copies: from `ready` on the model copies a
                // rewritten block only in explicit steps, the real job within 100 ms.
                let ready = w0
                    .qemu
                    .job
                    .as_ref()
                    .is_some_and(|j| j.status == JobStatus::Ready);
                if cfg.copy_mode == CopyMode::Background
                    && ready
                    && w0.qemu.active == Image::Source
                    && !self.real.held
                {
                    self.real.hold()?;
                }
                self.real.guest_write(b)?;
            }
            Action::Fault(FaultKind::GuestPowerOff) => self.real.quit()?,
            Action::Qemu(QemuAction::Execute) => {
                let cmd = w0.qemu.inbox.expect("QemuExecute has a command");
                let id = self.real.send(cmd)?;
                self.model_events_push(w0, w1, a);
                // A libvirtd that dies right after writing the command never reads the
                // reply: close the connection at once, as libvirtd's death would.
                if matches!(
                    following,
                    Some(
                        Action::Fault(FaultKind::LibvirtdCrash)
                            | Action::Fault(FaultKind::HostCrash)
                    )
                ) {
                    return Ok(());
                }
                let got = self.real.reply(id, cmd)?;
                let expected: Vec<Reply> = closure(cfg, w0)
                    .iter()
                    .filter_map(|n| {
                        let after = world::next_state(cfg, n, Action::Qemu(QemuAction::Execute))?;
                        after.qemu.outbox.iter().rev().find_map(|m| match m {
                            QmpMessage::Reply(c, r) if *c == cmd => Some(*r),
                            _ => None,
                        })
                    })
                    .collect();
                if !expected.contains(&got) {
                    return Err(Self::disagree(
                        n,
                        label,
                        &format!("reply to {}", cmd.qmp_name()),
                        show_set(&expected, show_reply),
                        show_reply(&got),
                    ));
                }
                self.release_if_converged(w1)?;
                return Ok(());
            }
            Action::Qemu(_) => {
                // QEMU does these on its own; the sync point below waits for them.
                self.release_if_converged(w1)?;
                // A write the model takes before `ready` may land after the real job's
                // READY (1 MiB converges within milliseconds), and a job in `ready` copies
                // a rewritten block on its next iteration, up to 100 ms later: without
                // waiting, a SIGKILL that follows finds the target stale where the model
                // copied (seen under CPU load).
                if a == Action::Qemu(QemuAction::CopyWrite) && !self.real.held {
                    self.await_copies(w1)?;
                }
            }
            Action::Fault(FaultKind::LibvirtdCrash) => {
                self.reconnected = false;
                self.real.disconnect();
                self.model_events.clear();
                self.real_events.clear();
            }
            Action::Fault(FaultKind::HostCrash) => {
                self.reconnected = false;
                self.real.disconnect();
                self.model_events.clear();
                self.real_events.clear();
                self.real.sigkill()?;
            }
            Action::Libvirtd(LibvirtdAction::Restart) => {
                if w1.qemu.monitor && !self.real.libvirtd_connected() {
                    self.real.reconnect()?;
                    self.reconnected = true;
                }
            }
            Action::Fault(FaultKind::QemuCrash) => self.real.sigkill()?,
            // libvirt's qemuProcessKill: SIGTERM first (QEMU exits cleanly).
            Action::Libvirtd(LibvirtdAction::Kill) => self.real.sigterm()?,
            // virDomainResume: `cont`.
            Action::App(AppAction::Resume) => self.real.cont()?,
            Action::Libvirtd(LibvirtdAction::Step)
            | Action::Libvirtd(LibvirtdAction::Read)
            | Action::Libvirtd(LibvirtdAction::Eof)
            | Action::Libvirtd(LibvirtdAction::StopDomain)
            | Action::App(AppAction::RequestPivot)
            | Action::App(AppAction::Recover)
            // The app's own steps are libvirt API calls on definitions, not QMP.
            | Action::App(AppAction::Step)
            // The app is not a process here: its crash touches no QEMU.
            | Action::Fault(FaultKind::AppCrash) => {}
            // A second QEMU process is outside what conformance drives: refused, not
            // silently skipped.
            Action::App(AppAction::HardReboot) | Action::App(AppAction::VirshStart) => {
                return Err(Failure::Harness(HarnessError::Tool(format!(
                    "step {n} ({label}): booting a new QEMU is not replayed by conform"
                ))));
            }
        }
        self.model_events_push(w0, w1, a);
        Ok(())
    }

    fn model_events_push(&mut self, w0: &World, w1: &World, a: Action) {
        let optional = self.reconnected && qemu_internal(a);
        self.model_events
            .extend(pushed_events(w0, w1, a).into_iter().map(|e| (e, optional)));
    }

    /// Lets a held job go once the model has copied everything, and waits until the
    /// copies the model made are on the real target.
    fn release_if_converged(&mut self, w1: &World) -> Step {
        let converged = w1.qemu.converged()
            || !w1.qemu.alive
            || w1
                .qemu
                .job
                .as_ref()
                .is_none_or(|j| j.status != JobStatus::Ready);
        if !(self.real.held && converged) {
            return Ok(());
        }
        self.real.release()?;
        self.await_copies(w1)
    }

    /// Waits until the real target holds every block the model's target holds, while
    /// the guest still writes to the source.
    fn await_copies(&mut self, w1: &World) -> Step {
        if w1.qemu.alive && w1.qemu.active == Image::Source {
            for b in 0..self.cfg.blocks {
                if w1.storage.target & (1 << b) != 0 {
                    let landed = real::poll(self.opts.sync_timeout, || {
                        Ok(self.real.target_holds_now(b)?.then_some(()))
                    })?;
                    if landed.is_none() {
                        return Err(Failure::Harness(HarnessError::Tool(format!(
                            "the job did not copy block {b} within {:?}",
                            self.opts.sync_timeout
                        ))));
                    }
                }
            }
        }
        Ok(())
    }

    /// The sync point after a step: waits until QEMU shows one of the predicted states.
    fn sync(&mut self, n: usize, label: &str, w: &World) -> Step {
        let cfg = self.cfg;
        if !w.qemu.alive {
            let exited = real::poll(
                real::QMP_TIMEOUT,
                || Ok((!self.real.alive()?).then_some(())),
            )?;
            if exited.is_none() {
                return Err(Self::disagree(
                    n,
                    label,
                    "QEMU alive",
                    "exited".into(),
                    "still running".into(),
                ));
            }
            // Whatever QEMU said before it went is still on the socket.
            let evs = self.real.libvirtd_events()?;
            self.real_events.extend(evs.iter().filter_map(model_event));
            return self.compare_events(n, label, std::slice::from_ref(w), w);
        }
        let options = closure(cfg, w);
        let expected: Vec<Observation> = options.iter().map(predicted).collect();
        let deadline = Instant::now() + self.opts.sync_timeout;
        loop {
            if !self.real.alive()? {
                return Err(Self::disagree(
                    n,
                    label,
                    "QEMU alive",
                    "running".into(),
                    "exited".into(),
                ));
            }
            let got = self.real.observe()?;
            let evs = self.real.libvirtd_events()?;
            self.real_events.extend(evs.iter().filter_map(model_event));
            let obs_ok = expected.contains(&got);
            let ev = self.compare_events(n, label, &options, w);
            if obs_ok && ev.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                if !obs_ok {
                    let what = if expected.iter().any(|e| e.job == got.job) {
                        if expected.iter().any(|e| e.active == got.active) {
                            "run state"
                        } else {
                            "active image"
                        }
                    } else {
                        "job"
                    };
                    return Err(Self::disagree(
                        n,
                        label,
                        what,
                        show_set(&expected, show_obs),
                        show_obs(&got),
                    ));
                }
                return ev;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The model's events on libvirtd's connection must be a prefix of QEMU's, and
    /// QEMU's extra events those of some internal continuation in `options`. On a
    /// reconnected connection the first `j` events of QEMU's own progress may be missing
    /// (for some `j`): QEMU made that progress before the connection opened.
    fn compare_events(&self, n: usize, label: &str, options: &[World], w: &World) -> Step {
        for class in [false, true] {
            self.compare_event_class(n, label, options, w, class)?;
        }
        Ok(())
    }

    /// [`Run::compare_events`] for one class of events: the run-state events (STOP,
    /// RESUME, SHUTDOWN) or the job's (`job == true`). The order *between* the classes
    /// is not compared: the trace places QEMU's own progress at one moment among many,
    /// and a real QEMU that is ahead announces it before a later command's event.
    fn compare_event_class(
        &self,
        n: usize,
        label: &str,
        options: &[World],
        w: &World,
        job: bool,
    ) -> Step {
        let keep = |e: &Event| is_job_event(e) == job;
        let r: Vec<Event> = self.real_events.iter().copied().filter(keep).collect();
        let r = &r;
        let model_events: Vec<(Event, bool)> = self
            .model_events
            .iter()
            .copied()
            .filter(|(e, _)| keep(e))
            .collect();
        let optional = model_events.iter().filter(|(_, o)| *o).count();
        let base = w.qemu.outbox.len();
        for j in 0..=optional {
            let mut dropped = 0;
            let m: Vec<Event> = model_events
                .iter()
                .filter(|(_, o)| {
                    let drop = *o && dropped < j;
                    if drop {
                        dropped += 1;
                    }
                    !drop
                })
                .map(|(e, _)| *e)
                .collect();
            if r.len() < m.len() || r[..m.len()] != m[..] {
                continue;
            }
            let extra = &r[m.len()..];
            let fits = extra.is_empty()
                || (w.qemu.monitor
                    && options.iter().any(|o| {
                        o.qemu.outbox.len() >= base
                            && events_of(&o.qemu.outbox[base..])
                                .into_iter()
                                .filter(keep)
                                .collect::<Vec<_>>()
                                == extra
                    }));
            if fits {
                return Ok(());
            }
        }
        let m: Vec<Event> = model_events.iter().map(|(e, _)| *e).collect();
        Err(Self::disagree(
            n,
            label,
            if job {
                "job events on libvirtd's connection"
            } else {
                "run-state events on libvirtd's connection"
            },
            show_events(&m),
            show_events(r),
        ))
    }

    /// After the last step: stop QEMU without changing the images (SIGKILL), then compare
    /// the images offline with the model's storage.
    fn after_run(&mut self, n: usize, w: &World) -> Step {
        let cfg = self.cfg;
        let label = "after the run (images read offline)";
        let options = if w.qemu.alive {
            self.real.sigkill()?;
            closure(cfg, w)
        } else {
            vec![w.clone()]
        };
        let dir = self.real.dir().to_path_buf();
        let mut got = (0u8, 0u8);
        for b in 0..cfg.blocks {
            let p = self.real.patterns[b as usize];
            if real::holds(&dir, Image::Source, b, p)? {
                got.0 |= 1 << b;
            }
            if real::holds(&dir, Image::Target, b, p)? {
                got.1 |= 1 << b;
            }
        }
        let expected: Vec<(u8, u8)> = options
            .iter()
            .map(|o| (o.storage.source, o.storage.target))
            .collect();
        let show = |s: &(u8, u8)| {
            let img = |mask: u8| {
                let stale: Vec<String> = (0..cfg.blocks)
                    .filter(|b| mask & (1 << b) == 0)
                    .map(|b| b.to_string())
                    .collect();
                if stale.is_empty() {
                    "every latest write".to_string()
                } else {
                    format!("stale block {}", stale.join(","))
                }
            };
            format!("source: {}; target: {}", img(s.0), img(s.1))
        };
        if !expected.contains(&got) {
            return Err(Self::disagree(
                n,
                label,
                "image contents",
                show_set(&expected, show),
                show(&got),
            ));
        }
        // `qemu-img compare` as a second opinion where the model is exact: both images
        // hold every write (identical), or exactly one does (they differ).
        let all = cfg.all_blocks();
        if let [only] = expected.as_slice() {
            let want = match (only.0 == all, only.1 == all) {
                (true, true) => Some(true),
                (true, false) | (false, true) => Some(false),
                (false, false) => None,
            };
            if let Some(want) = want {
                let same = real::identical(&dir)?;
                if same != want {
                    let say = |b: bool| if b { "identical" } else { "different" }.to_string();
                    return Err(Self::disagree(
                        n,
                        label,
                        "qemu-img compare source target",
                        say(want),
                        say(same),
                    ));
                }
            }
        }
        Ok(())
    }
}
