//! The named properties of `model.md` §5.
//!
//! `no-lost-writes` is what users care about; the other `always` properties are the
//! mechanisms that make it hold, each a separate verdict so that a counterexample says
//! which promise broke. The `sometimes` properties prove the model is not vacuous: a
//! proof over a model that never reaches its crash windows proves nothing.

use crate::action::{Action, AppAction, DiskStep, FaultKind, LibvirtdAction, QemuAction};
use crate::config::{Command, Config, Fault, Image, Step};
use crate::state::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Always,
    Sometimes,
    /// Always eventually (`model::liveness`): checked by the fair-cycle search, never by
    /// the breadth-first search.
    Eventually,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Always => "always",
            Kind::Sometimes => "sometimes",
            Kind::Eventually => "eventually",
        }
    }
}

/// A property, by identity: what verdicts, expectations and reports name. Its text name
/// ([`PropertyId::name`]) is what scenario files, traces and reports print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PropertyId {
    NoLostWrites,
    TruthfulAnswer,
    LibvirtStateMatches,
    UncertaintyIsFrozen,
    UncertaintyKeepsQemu,
    ConfigHoldsData,
    EvidenceOutlivesDoubt,
    PivotTerminates,
    QemuIsManaged,
    PivotCompletes,
    AnswerPivoted,
    RestartInPivotWindow,
    PoweroffWhileLibvirtdDown,
    RecoveryByQueryBlock,
    // The liveness properties (`crate::liveness::LIVENESS`), after the others: they are not
    // in `ALL` or `PROPERTIES` (their verdicts come from the fair-cycle search), so
    // `def` is not defined for them; `crate::liveness::liveness` finds their definitions.
    GuestEventuallyRuns,
    PivotCallReturns,
    NoJobHeldForever,
    LibvirtEventuallyAgrees,
}

impl PropertyId {
    /// Every property, in the order of [`PROPERTIES`].
    pub const ALL: [PropertyId; 14] = [
        PropertyId::NoLostWrites,
        PropertyId::TruthfulAnswer,
        PropertyId::LibvirtStateMatches,
        PropertyId::UncertaintyIsFrozen,
        PropertyId::UncertaintyKeepsQemu,
        PropertyId::ConfigHoldsData,
        PropertyId::EvidenceOutlivesDoubt,
        PropertyId::PivotTerminates,
        PropertyId::QemuIsManaged,
        PropertyId::PivotCompletes,
        PropertyId::AnswerPivoted,
        PropertyId::RestartInPivotWindow,
        PropertyId::PoweroffWhileLibvirtdDown,
        PropertyId::RecoveryByQueryBlock,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PropertyId::NoLostWrites => "no-lost-writes",
            PropertyId::TruthfulAnswer => "truthful-answer",
            PropertyId::LibvirtStateMatches => "libvirt-state-matches",
            PropertyId::UncertaintyIsFrozen => "uncertainty-is-frozen",
            PropertyId::UncertaintyKeepsQemu => "uncertainty-keeps-qemu",
            PropertyId::ConfigHoldsData => "config-holds-data",
            PropertyId::EvidenceOutlivesDoubt => "evidence-outlives-doubt",
            PropertyId::PivotTerminates => "pivot-terminates",
            PropertyId::QemuIsManaged => "qemu-is-managed",
            PropertyId::PivotCompletes => "pivot-completes",
            PropertyId::AnswerPivoted => "answer-pivoted",
            PropertyId::RestartInPivotWindow => "restart-in-pivot-window",
            PropertyId::PoweroffWhileLibvirtdDown => "poweroff-while-libvirtd-down",
            PropertyId::RecoveryByQueryBlock => "recovery-by-query-block",
            PropertyId::GuestEventuallyRuns => "guest-eventually-runs",
            PropertyId::PivotCallReturns => "pivot-call-returns",
            PropertyId::NoJobHeldForever => "no-job-held-forever",
            PropertyId::LibvirtEventuallyAgrees => "libvirt-eventually-agrees",
        }
    }

    pub fn from_name(name: &str) -> Option<PropertyId> {
        PropertyId::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The definition of a safety or `sometimes` property; a liveness id has none here
    /// (`crate::liveness::liveness` by name), and asking panics.
    pub fn def(self) -> &'static PropertyDef {
        &PROPERTIES[self as usize]
    }
}

impl std::fmt::Display for PropertyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A property's verdict after a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Holds,
    Violated,
    Reached,
    Unreached,
    /// The search stopped early and found nothing: no verdict.
    Unknown,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Violated => "violated",
            Status::Reached => "reached",
            Status::Unreached => "unreached",
            Status::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a scenario expects of a property: a verdict, or `Any` for a `sometimes` property
/// whose faults are not enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expectation {
    Holds,
    Violated,
    Reached,
    Unreached,
    Any,
}

impl Expectation {
    pub fn name(self) -> &'static str {
        match self {
            Expectation::Holds => "holds",
            Expectation::Violated => "violated",
            Expectation::Reached => "reached",
            Expectation::Unreached => "unreached",
            Expectation::Any => "any",
        }
    }

    /// Whether `status` is what this expectation asks for (an unknown status never is,
    /// except for `Any`).
    pub fn admits(self, status: Status) -> bool {
        matches!(
            (self, status),
            (Expectation::Any, _)
                | (Expectation::Holds, Status::Holds)
                | (Expectation::Violated, Status::Violated)
                | (Expectation::Reached, Status::Reached)
                | (Expectation::Unreached, Status::Unreached)
        )
    }
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One property: its identity, its kind and its condition.
pub struct PropertyDef {
    pub id: PropertyId,
    /// `id.name()`, as a field because stateright's `Property` takes a `&'static str`.
    pub name: &'static str,
    pub kind: Kind,
    pub condition: fn(&Config, &World) -> bool,
    /// The one-disk condition that `condition` asks of every disk (`always`) or of some
    /// disk (`sometimes`) ([`every_disk`], [`some_disk`]); `None` for a property of the
    /// whole world.
    pub disk: Option<fn(&Config, &World) -> bool>,
    /// One line for reports: what a violation (or a reach) means.
    pub meaning: &'static str,
}

fn holds_all(cfg: &Config, w: &World, image: Image) -> bool {
    w.storage.fresh(image) == cfg.all_blocks()
}

/// The one place ghost facts are written: after every transition, from the state before,
/// the action and the state after (history variables, as in TLA+). Transitions only move
/// actors; what a step *means* for a property (was that answer a lie, was that dismiss
/// premature) is decided here, beside the properties that read it. `next` is the state
/// after the transition with the ghost of `last`, which this updates.
#[inline]
pub fn observe(cfg: &Config, last: &World, action: Action, next: &mut World) {
    // Dispatched on the actor first: most steps (guest writes, QEMU's copy, libvirtd's
    // reads) mean nothing for a ghost fact, and the search calls this on every transition.
    match action {
        Action::Guest(_) => {}
        Action::Disk(..) => unreachable!("observe_multi hands each disk its plain step"),
        Action::Fault(f) => {
            let g = &mut next.ghost;
            if let Fault::AtMost(_) = cfg.faults[f] {
                g.faults_used[f] = g.faults_used[f].saturating_add(1);
            }
            match f {
                FaultKind::GuestPowerOff if !last.libvirtd.up => g.poweroff_while_down = true,
                FaultKind::LibvirtdCrash
                    if last.libvirtd.awaiting.is_some_and(Command::is_pivot)
                        && command_is_mine(last) =>
                {
                    g.crash_in_pivot_window = true;
                }
                _ => {}
            }
        }
        Action::Qemu(q) => {
            if q == QemuAction::Execute
                && last.qemu.inbox.is_some_and(Command::is_pivot)
                && command_is_mine(last)
            {
                next.ghost.pivot_sent = true;
            }
            // Only QEMU's own steps switch its active image.
            if last.qemu.active != next.qemu.active {
                next.ghost.switches = (next.ghost.switches + 1).min(2);
            }
        }
        Action::Libvirtd(l) => {
            if l == LibvirtdAction::Restart && last.ghost.pivot_sent {
                next.ghost.amnesia = true;
            }
            // libvirtd answered the app's pivot call: the app took a definite answer.
            if let (AppPhase::Waiting, AppPhase::Settled(answer)) = (last.app.phase, next.app.phase)
            {
                if answer == Image::Target {
                    next.ghost.answered_pivoted = true;
                }
                if !answer_is_truthful(cfg, &next.qemu, answer) {
                    next.ghost.answer_lie = true;
                }
            }
        }
        Action::App(a) => {
            if a == AppAction::Recover
                && crate::world::recovery_choice(cfg, last).is_some_and(|(_, by_query)| by_query)
            {
                next.ghost.recovered_by_query_block = true;
            }
        }
    }
    if last.ghost.pivot_sent && destroys_evidence(cfg, last, action) {
        let active = last.qemu.active;
        let l = &last.libvirtd;
        let status_ok = l.status.is_some_and(|s| s.source == active);
        let config_ok = !l.defined || l.config_source == active;
        if !(status_ok && config_ok) {
            next.ghost.evidence_destroyed_early = true;
        }
    }
}

/// The ghost facts of a world of several disks: each disk's facts from its focused views
/// before and after, for its own steps and the shared ones (a command is its procedure's
/// disk's: [`command_is_mine`]); a fault is counted once. `views` are the state
/// before's ([`World::views`]).
pub fn observe_multi(cfg: &Config, views: &[World], action: Action, next: &mut World) {
    let mut faults_used = next.ghost.faults_used;
    for (d, before) in (0..).zip(views) {
        if DiskStep::of(action).is_some() && action.disk() != d {
            continue;
        }
        next.swap_focus(d);
        observe(cfg, before, action.base(), next);
        next.swap_focus(d);
        if d == 0 {
            faults_used = next.ghost.faults_used;
        } else {
            next.ghost.faults_used = faults_used;
        }
    }
}

/// Whether the command in flight (in QEMU's inbox, or awaited by libvirtd) is about the
/// focused disk: it is the running procedure's. Always true with one disk.
#[inline]
fn command_is_mine(w: &World) -> bool {
    w.libvirtd.program.is_none_or(|p| p.disk == w.focus)
}

/// Whether an answer naming `image` matches QEMU when it is given. Past `waiting` the
/// switch follows by itself, unless the job waits for a `job-finalize` that libvirt may
/// never send (auto-finalize off); a job told to complete may still switch.
#[inline]
fn answer_is_truthful(cfg: &Config, q: &Qemu, image: Image) -> bool {
    let job = q.job.as_ref().filter(|_| q.alive);
    match image {
        Image::Target => {
            let cannot_fail = cfg.procedures.job.auto_finalize
                && job.is_some_and(|j| matches!(j.status, JobStatus::Waiting | JobStatus::Pending));
            q.active == Image::Target || cannot_fail
        }
        Image::Source => {
            let will_switch = job.is_some_and(|j| {
                j.should_complete
                    && matches!(
                        j.status,
                        JobStatus::Ready | JobStatus::Waiting | JobStatus::Pending
                    )
            });
            q.active == Image::Source && !will_switch
        }
    }
}

/// Whether `action`, taken in `w`, destroys QEMU-side evidence of the pivot's outcome:
/// libvirtd dismisses or cancels a concluded job, deletes a block node, or kills QEMU
/// (its SHUTDOWN handler, or the reconnect finishing a shutdown).
#[inline]
fn destroys_evidence(cfg: &Config, w: &World, action: Action) -> bool {
    let concluded = || {
        w.qemu
            .job
            .as_ref()
            .is_some_and(|j| j.status == JobStatus::Concluded)
    };
    match action {
        Action::Qemu(QemuAction::Execute) if !command_is_mine(w) => false,
        Action::Qemu(QemuAction::Execute) => match w.qemu.inbox {
            Some(Command::BlockdevDel) => true,
            // Refused ("in use") when QEMU already switched to the mirror: nothing goes.
            Some(Command::BlockdevDelMirror) => w.qemu.active == Image::Source,
            Some(Command::JobDismiss | Command::JobCancel) => concluded(),
            _ => false,
        },
        // libvirtd's kill is a clean exit (SIGTERM): with a persistent bitmap QEMU stores
        // its image in the bitmap as it goes, so the evidence moves into the images.
        Action::Libvirtd(LibvirtdAction::Kill) => !cfg.procedures.reads_bitmap(),
        Action::Libvirtd(LibvirtdAction::Read) => {
            let l = &w.libvirtd;
            matches!(
                w.qemu.outbox.first(),
                Some(QmpMessage::Reply(cmd, Reply::Status(RunState::Shutdown)))
                    if l.awaiting == Some(*cmd)
            ) && !cfg.procedures.reads_bitmap()
                && l.current_step(&cfg.procedures) == Some(Step::FinishShutdown)
        }
        _ => false,
    }
}

/// Once the app has settled on an image, that image holds every acknowledged write, and
/// the guest keeps writing to it. Before the app settles, a dead QEMU leaves only the
/// image the next boot would use (the persistent config, or the source of a transient
/// domain), and that image must hold every acknowledged write. Data loss is the one
/// outcome users cannot repair, which is why this is the headline property.
///
/// A running QEMU's own image holds every acknowledged write too: only the copy's switch
/// changes it, and only once the target caught up, so this can fail only where a new
/// QEMU boots a stale image (the app's hard reboot from a wrong record, the operator's
/// `virsh start` on a stale config): the loss, at the moment it happens.
fn no_lost_writes_disk(cfg: &Config, w: &World) -> bool {
    if w.qemu.alive && !holds_all(cfg, w, w.qemu.active) {
        return false;
    }
    // An app that reboots the guest from its own record (Nova) uses an image only when it
    // boots it: a wrong record, or a stale config under a dead QEMU, is judged at that
    // boot by the line above, so the counterexample plays the story out to the loss.
    if cfg.app.hard_reboot {
        return true;
    }
    match w.app.phase {
        AppPhase::Settled(image) => holds_all(cfg, w, image),
        _ if !w.qemu.alive => holds_all(cfg, w, next_boot(cfg, w)),
        _ => true,
    }
}

/// The image the next boot of a domain whose QEMU is gone uses: the persistent config, or
/// the app's original image for a transient domain. With a persistent bitmap
/// (`persistent-bitmap`) that a clean exit stored, libvirt writes the bitmap's image into
/// the config when it stops the domain, before anything can boot it, and the app reads it
/// for a forgotten transient domain: until that stop the config file is stale, but no
/// boot can read it.
pub fn next_boot(cfg: &Config, w: &World) -> Image {
    let l = &w.libvirtd;
    match w.storage.bitmap {
        Some(image)
            if cfg.procedures.reads_bitmap() && !(l.defined && l.domain != Domain::Active) =>
        {
            image
        }
        _ if l.defined => l.config_source,
        _ => Image::Source,
    }
}

/// An answer about the pivot matches QEMU at the moment it is given: an app that trusts a
/// wrong "pivoted" or "failed" will use the wrong image. Judged by [`observe`] when the
/// app takes the answer.
fn truthful_answer_disk(_: &Config, w: &World) -> bool {
    !w.ghost.answer_lie
}

/// When libvirtd is idle and QEMU alive, libvirt's live disk source is the image QEMU
/// uses, unless the status XML says a pivot is in flight. Idle means no procedure runs, no
/// concluded job waits for its handler, and no reply or event from QEMU is still unread:
/// a view that lags only by a message on its way is not stale. Every management app reads this
/// definition; a stale one sends the next operation (snapshot, migration, a new copy) to
/// the wrong image.
fn libvirt_state_matches_disk(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    let idle = l.idle()
        && !crate::world::handler_startable(cfg, w)
        && l.domain == Domain::Active
        && w.qemu.outbox.is_empty();
    if !(idle && w.qemu.alive) {
        return true;
    }
    let in_flight = l
        .status
        .is_some_and(|s| s.mirror == Some(MirrorState::Pivoting));
    in_flight || l.live.source == w.qemu.active
}

/// libvirtd restarted after sending a pivot command, the app has not settled yet, and
/// neither the status XML nor a live QEMU's job list tells the outcome. This is the
/// window the seed patch is about.
pub fn uncertain(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    if !(w.ghost.pivot_sent && w.ghost.amnesia && l.up) {
        return false;
    }
    if matches!(w.app.phase, AppPhase::Settled(_)) {
        return false;
    }
    let durable_tells =
        match (l.domain, l.status) {
            (Domain::Active, Some(status)) => status.mirror.is_none(),
            // The domain stopped: a persistent config is libvirt's durable word.
            (Domain::Inactive, _) => true,
            (Domain::Active, None) => l.defined,
            (Domain::Gone, _) => false,
        } || (w.storage.bitmap.is_some() && !w.qemu.alive && cfg.procedures.reads_bitmap());
    let pivoting_recorded = l
        .status
        .is_some_and(|s| s.mirror == Some(MirrorState::Pivoting));
    let jobs_tell = w.qemu.alive
        && w.qemu
            .job
            .as_ref()
            .is_some_and(|j| j.status != JobStatus::Concluded || j.error || pivoting_recorded);
    !(durable_tells || jobs_tell)
}

/// In the uncertain window the guest cannot write, and both images hold every
/// acknowledged write (the target may lag only while a live job will drain it). The data
/// half of the seed's guarantee: whatever image recovery picks, nothing is lost.
fn uncertainty_is_frozen_disk(cfg: &Config, w: &World) -> bool {
    if !uncertain(cfg, w) {
        return true;
    }
    let q = &w.qemu;
    let frozen = !q.alive || q.run_state != RunState::Running;
    let source_ok = holds_all(cfg, w, Image::Source);
    let target_ok = holds_all(cfg, w, Image::Target) || (q.alive && q.job_live());
    frozen && source_ok && target_ok
}

/// In the uncertain window QEMU is alive, so `query-block` can still answer. The other
/// half of the seed's guarantee, separate so that a break of it alone shows as harmless
/// or harmful by the other verdicts.
fn uncertainty_keeps_qemu_disk(cfg: &Config, w: &World) -> bool {
    !uncertain(cfg, w) || w.qemu.alive
}

/// A persistent domain whose QEMU is gone boots next from its config; that image must
/// hold every acknowledged write (libvirt gitlab #240 is this going wrong).
fn config_holds_data_disk(cfg: &Config, w: &World) -> bool {
    !w.libvirtd.defined || w.qemu.alive || holds_all(cfg, w, next_boot(cfg, w))
}

/// Whenever QEMU runs, libvirt manages it: the domain is active in libvirt. An unmanaged
/// QEMU is invisible to every management app: a persistent domain that shows `shut off`
/// while its QEMU still writes to the target is started again on the config's image,
/// beside the first QEMU (W2b in `reports/live-findings.md`, seen on libvirt 9.0).
fn qemu_is_managed_disk(_: &Config, w: &World) -> bool {
    !w.qemu.alive || w.libvirtd.domain == Domain::Active
}

/// libvirtd dismisses a concluded job, deletes a block node or kills QEMU only when the
/// outcome is already durable in the status XML and the config: otherwise the last
/// witness of the outcome is gone while libvirt's records still say otherwise.
fn evidence_outlives_doubt_disk(_: &Config, w: &World) -> bool {
    !w.ghost.evidence_destroyed_early
}

/// Whether only the guest and faults could still move: the protocol itself has stopped.
fn quiescent(enabled: &[Action]) -> bool {
    enabled
        .iter()
        .all(|a| matches!(a.base(), Action::Guest(_) | Action::Fault(_)))
}

/// Liveness as a safety check over quiescent states (`model.md` §5): once nothing but the
/// guest and faults can move, the app's pivot call has an answer it acted on, and libvirtd
/// runs no procedure. A violation is a protocol that can hang for good: an API call that
/// never returns, a pivot recorded `pivoting` forever, a guest drained forever.
fn pivot_terminates(cfg: &Config, w: &World) -> bool {
    !pivot_pending_any(w) || {
        let mut enabled = Vec::new();
        crate::world::actions(cfg, w, &mut enabled);
        !quiescent(&enabled)
    }
}

fn pivot_pending(w: &World) -> bool {
    matches!(w.app.phase, AppPhase::Waiting | AppPhase::Recovering) || w.libvirtd.program.is_some()
}

/// Some disk's pivot call is outstanding, or libvirtd runs a procedure.
fn pivot_pending_any(w: &World) -> bool {
    pivot_pending(w)
        || w.others
            .iter()
            .any(|p| matches!(p.app.phase, AppPhase::Waiting | AppPhase::Recovering))
}

/// An `always` property of several disks holds when it holds for each disk, read from
/// the world with that disk in the fields. With one disk this is the property itself.
#[inline]
pub fn every_disk(cfg: &Config, w: &World, one: fn(&Config, &World) -> bool) -> bool {
    if w.others.is_empty() {
        return one(cfg, w);
    }
    (0..w.disks()).all(|d| one(cfg, &w.focused(d)))
}

/// A `sometimes` property of several disks is reached when some disk reaches it.
#[inline]
pub fn some_disk(cfg: &Config, w: &World, one: fn(&Config, &World) -> bool) -> bool {
    if w.others.is_empty() {
        return one(cfg, w);
    }
    (0..w.disks()).any(|d| one(cfg, &w.focused(d)))
}

/// Whether `def` holds in `w`, given the actions enabled in `w` and `w`'s views
/// ([`World::views`], empty for one disk): the search enumerates them anyway, and
/// `pivot-terminates` would otherwise enumerate them a second time for every state, and
/// each property of several disks would copy the world for each disk. Same answer as
/// `def.condition` (a test compares them).
#[inline]
pub fn holds_given(
    def: &PropertyDef,
    cfg: &Config,
    w: &World,
    views: &[World],
    enabled: &[Action],
) -> bool {
    match (def.id, def.disk) {
        (PropertyId::PivotTerminates, _) => !pivot_pending_any(w) || !quiescent(enabled),
        (_, Some(one)) if !views.is_empty() => match def.kind {
            Kind::Sometimes => views.iter().any(|v| one(cfg, v)),
            _ => views.iter().all(|v| one(cfg, v)),
        },
        _ => (def.condition)(cfg, w),
    }
}

fn pivot_completes_disk(_: &Config, w: &World) -> bool {
    w.qemu.active == Image::Target && matches!(w.app.phase, AppPhase::Settled(Image::Target))
}

fn restart_in_pivot_window_disk(_: &Config, w: &World) -> bool {
    w.ghost.crash_in_pivot_window && w.libvirtd.up
}

fn poweroff_while_libvirtd_down_disk(_: &Config, w: &World) -> bool {
    w.ghost.poweroff_while_down
}

fn recovery_by_query_block_disk(_: &Config, w: &World) -> bool {
    w.ghost.recovered_by_query_block
}

fn answer_pivoted_disk(_: &Config, w: &World) -> bool {
    w.ghost.answered_pivoted
}

// Each property over every disk (`always`) or some disk (`sometimes`); the `_disk`
// functions are the one-disk definitions, documented where they are defined.
fn no_lost_writes(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, no_lost_writes_disk)
}
fn truthful_answer(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, truthful_answer_disk)
}
fn libvirt_state_matches(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, libvirt_state_matches_disk)
}
fn uncertainty_is_frozen(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, uncertainty_is_frozen_disk)
}
fn uncertainty_keeps_qemu(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, uncertainty_keeps_qemu_disk)
}
fn config_holds_data(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, config_holds_data_disk)
}
fn evidence_outlives_doubt(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, evidence_outlives_doubt_disk)
}
fn qemu_is_managed(cfg: &Config, w: &World) -> bool {
    every_disk(cfg, w, qemu_is_managed_disk)
}
fn pivot_completes(cfg: &Config, w: &World) -> bool {
    some_disk(cfg, w, pivot_completes_disk)
}
fn answer_pivoted(cfg: &Config, w: &World) -> bool {
    some_disk(cfg, w, answer_pivoted_disk)
}
fn restart_in_pivot_window(cfg: &Config, w: &World) -> bool {
    some_disk(cfg, w, restart_in_pivot_window_disk)
}
fn poweroff_while_libvirtd_down(cfg: &Config, w: &World) -> bool {
    some_disk(cfg, w, poweroff_while_libvirtd_down_disk)
}
fn recovery_by_query_block(cfg: &Config, w: &World) -> bool {
    some_disk(cfg, w, recovery_by_query_block_disk)
}

// `single-switch` (QEMU's active image changes at most once) left this list in issue 11:
// no step of the model ever switches back to the source (a failed drive-reopen or a
// cancelled job leaves `active` untouched, as QEMU does), so no scenario or mutant could
// violate it, and a property that cannot fail proves nothing. `Ghost::switches` still
// counts the switches for the model's own tests.
pub const PROPERTIES: [PropertyDef; 14] = [
    PropertyDef {
        id: PropertyId::NoLostWrites,
        name: "no-lost-writes",
        kind: Kind::Always,
        condition: no_lost_writes,
        disk: Some(no_lost_writes_disk),
        meaning: "the image the app uses (or the next boot uses) holds every acknowledged write",
    },
    PropertyDef {
        id: PropertyId::TruthfulAnswer,
        name: "truthful-answer",
        kind: Kind::Always,
        condition: truthful_answer,
        disk: Some(truthful_answer_disk),
        meaning: "libvirt's answer about the pivot matches QEMU's active image",
    },
    PropertyDef {
        id: PropertyId::LibvirtStateMatches,
        name: "libvirt-state-matches",
        kind: Kind::Always,
        condition: libvirt_state_matches,
        disk: Some(libvirt_state_matches_disk),
        meaning: "idle libvirtd's live disk source is QEMU's active image unless a pivot is recorded in flight",
    },
    PropertyDef {
        id: PropertyId::UncertaintyIsFrozen,
        name: "uncertainty-is-frozen",
        kind: Kind::Always,
        condition: uncertainty_is_frozen,
        disk: Some(uncertainty_is_frozen_disk),
        meaning: "while the outcome cannot be told, the guest cannot write and both images hold every write",
    },
    PropertyDef {
        id: PropertyId::UncertaintyKeepsQemu,
        name: "uncertainty-keeps-qemu",
        kind: Kind::Always,
        condition: uncertainty_keeps_qemu,
        disk: Some(uncertainty_keeps_qemu_disk),
        meaning: "while the outcome cannot be told, QEMU is alive so query-block can answer",
    },
    PropertyDef {
        id: PropertyId::ConfigHoldsData,
        name: "config-holds-data",
        kind: Kind::Always,
        condition: config_holds_data,
        disk: Some(config_holds_data_disk),
        meaning: "a persistent domain's config names an image holding every write whenever QEMU is gone",
    },
    PropertyDef {
        id: PropertyId::EvidenceOutlivesDoubt,
        name: "evidence-outlives-doubt",
        kind: Kind::Always,
        condition: evidence_outlives_doubt,
        disk: Some(evidence_outlives_doubt_disk),
        meaning: "libvirtd destroys QEMU-side evidence only after the outcome is durable",
    },
    PropertyDef {
        id: PropertyId::PivotTerminates,
        name: "pivot-terminates",
        kind: Kind::Always,
        condition: pivot_terminates,
        disk: None,
        meaning: "once only the guest and faults can move, the pivot call is settled and libvirtd runs no procedure",
    },
    PropertyDef {
        id: PropertyId::QemuIsManaged,
        name: "qemu-is-managed",
        kind: Kind::Always,
        condition: qemu_is_managed,
        disk: Some(qemu_is_managed_disk),
        meaning: "whenever QEMU runs, libvirt manages it (the domain is active, not shut off or forgotten)",
    },
    PropertyDef {
        id: PropertyId::PivotCompletes,
        name: "pivot-completes",
        kind: Kind::Sometimes,
        condition: pivot_completes,
        disk: Some(pivot_completes_disk),
        meaning: "QEMU switched to the target and the app settled on it",
    },
    PropertyDef {
        id: PropertyId::AnswerPivoted,
        name: "answer-pivoted",
        kind: Kind::Sometimes,
        condition: answer_pivoted,
        disk: Some(answer_pivoted_disk),
        meaning: "libvirt answered the app's pivot call with \"pivoted\" (the API returns a definite outcome)",
    },
    PropertyDef {
        id: PropertyId::RestartInPivotWindow,
        name: "restart-in-pivot-window",
        kind: Kind::Sometimes,
        condition: restart_in_pivot_window,
        disk: Some(restart_in_pivot_window_disk),
        meaning: "libvirtd restarted after a crash between sending the pivot command and reading its reply",
    },
    PropertyDef {
        id: PropertyId::PoweroffWhileLibvirtdDown,
        name: "poweroff-while-libvirtd-down",
        kind: Kind::Sometimes,
        condition: poweroff_while_libvirtd_down,
        disk: Some(poweroff_while_libvirtd_down_disk),
        meaning: "the guest powered off while libvirtd was down",
    },
    PropertyDef {
        id: PropertyId::RecoveryByQueryBlock,
        name: "recovery-by-query-block",
        kind: Kind::Sometimes,
        condition: recovery_by_query_block,
        disk: Some(recovery_by_query_block_disk),
        meaning: "the app settled through query-block",
    },
];

pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PropertyId::from_name(name).map(PropertyId::def)
}

/// Whether a `sometimes` property must be reached in a scenario: only where the faults
/// and rules it needs are enabled.
pub fn sometimes_required(cfg: &Config, id: PropertyId) -> bool {
    let f = &cfg.faults;
    match id {
        PropertyId::PivotCompletes | PropertyId::AnswerPivoted => true,
        PropertyId::RestartInPivotWindow => f[FaultKind::LibvirtdCrash].enabled(),
        PropertyId::PoweroffWhileLibvirtdDown => {
            f[FaultKind::LibvirtdCrash].enabled() && f[FaultKind::GuestPowerOff].enabled()
        }
        PropertyId::RecoveryByQueryBlock => {
            cfg.recovery == crate::config::Recovery::Seed
                && f[FaultKind::LibvirtdCrash].enabled()
                && cfg.procedures.pivot.contains(&crate::config::Step::Pause)
        }
        // `always` properties are not reached; they hold or are violated.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_the_table_agree() {
        for (i, def) in PROPERTIES.iter().enumerate() {
            assert_eq!(PropertyId::ALL[i], def.id);
            assert_eq!(def.id.name(), def.name);
            assert_eq!(PropertyId::from_name(def.name), Some(def.id));
            assert_eq!(def.id.def().name, def.name);
        }
        assert_eq!(PropertyId::from_name("no-such-property"), None);
    }

    #[test]
    fn expectations_admit_only_their_status() {
        use Status::*;
        let all = [Holds, Violated, Reached, Unreached, Unknown];
        for e in [
            Expectation::Holds,
            Expectation::Violated,
            Expectation::Reached,
            Expectation::Unreached,
        ] {
            let admitted: Vec<Status> = all.into_iter().filter(|s| e.admits(*s)).collect();
            assert_eq!(admitted.len(), 1, "{e}");
            assert_eq!(admitted[0].name(), e.name());
        }
        assert!(all.into_iter().all(|s| Expectation::Any.admits(s)));
    }
}
