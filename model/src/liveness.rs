//! Liveness: what must *eventually* happen, and which steps the system may rely on.
//!
//! An `always` property cannot see a hang: a guest whose disk stays drained forever, a
//! pivot call that never returns, a job held for a `job-finalize` nobody sends. Each
//! property here is "always eventually GOAL" (□◇ GOAL): it is violated by a reachable
//! *fair* cycle on which GOAL never holds (a lasso). The search lives in `sim`
//! (`sim::liveness`); this module only says what the goals are and which steps are owed.
//!
//! ## Fairness
//!
//! Weak fairness per step class: a class of steps that stays enabled along a cycle must be
//! taken on it. The classes are the system's own progress, which the real actors do not
//! refuse for ever:
//! - QEMU's internal progress (executing a command it has read, each copy step, each job
//!   transition): QEMU's main loop and the job coroutine run;
//! - libvirtd's procedure steps, its reading of replies and events, its EOF handling, its
//!   kill of a powered-off QEMU, its stopping of a domain whose QEMU is gone, and its
//!   restart after a crash (systemd restarts it);
//! - the management app (asking for the pivot, recovering, resuming a paused guest, the
//!   steps of its own procedure).
//!
//! Its hard reboot and the operator's `virsh start` are choices, not progress: never owed.
//!
//! Never owed, and never allowed to repeat for ever on a violating cycle: faults (libvirtd,
//! QEMU and host crashes, unbounded ones included) and the guest (writes and power-off).
//! A cycle made of crashes and restarts is a system that keeps failing; liveness is asked
//! of the runs where faults eventually stop, the usual assumption of fault-tolerance
//! arguments. Guest writes are excluded for the same reason in the other direction: an
//! endless stream of writes keeps the background copy from converging (`waiting` needs a
//! converged job), which real QEMU breaks by draining guest I/O for its final pass; the
//! model expresses that by letting the guest stop writing. Bounded faults cannot lie on a
//! cycle anyway: their counters are part of the state.
//!
//! A state where no owed step is enabled is a fair end: the system stutters there for
//! ever, and if GOAL does not hold there, that is a violation too (a lasso whose cycle is
//! empty).

use crate::action::{Action, AppAction, GuestAction, LibvirtdAction, QemuAction};
use crate::config::{Config, Image};
use crate::properties::PropertyId;
use crate::state::*;

/// Whether a step is owed under fairness, and if so its class (an index below
/// [`CLASSES`]). Faults and guest steps are not owed.
pub fn fairness_class(action: Action) -> Option<u8> {
    Some(match action.base() {
        Action::Guest(GuestAction::Write(_)) | Action::Fault(_) => return None,
        Action::Disk(..) => unreachable!("base() is a plain action"),
        Action::Qemu(q) => match q {
            QemuAction::Execute => 0,
            QemuAction::CopyRead(_) => 1,
            QemuAction::CopyWrite => 2,
            QemuAction::JobReady => 3,
            QemuAction::JobWaiting => 4,
            QemuAction::JobPending => 5,
            QemuAction::JobFinalize => 6,
            QemuAction::JobAutoDismiss => 7,
        },
        Action::Libvirtd(l) => match l {
            LibvirtdAction::Step => 8,
            LibvirtdAction::Read => 9,
            LibvirtdAction::Eof => 10,
            LibvirtdAction::Kill => 11,
            LibvirtdAction::StopDomain => 12,
            LibvirtdAction::Restart => 13,
        },
        Action::App(a) => match a {
            AppAction::RequestPivot => 14,
            AppAction::Recover => 15,
            AppAction::Resume => 16,
            AppAction::Step => 17,
            // Choices of the operator, not progress anyone owes: a run may stop before them.
            AppAction::HardReboot | AppAction::VirshStart => return None,
        },
    })
}

/// The fairness classes' names, by index of [`fairness_class`].
pub const CLASSES: [&str; 18] = [
    "QEMU executes a command",
    "QEMU's copy reads",
    "QEMU's copy writes",
    "QEMU's job becomes ready",
    "QEMU's job becomes waiting",
    "QEMU's job becomes pending",
    "QEMU's job finalizes",
    "QEMU's job is auto-dismissed",
    "libvirtd runs a procedure step",
    "libvirtd reads a reply or event",
    "libvirtd sees the monitor close",
    "libvirtd kills a powered-off QEMU",
    "libvirtd stops a domain whose QEMU is gone",
    "libvirtd restarts",
    "the app asks for the pivot",
    "the app recovers",
    "the app resumes the guest",
    "the app runs a step of its own procedure",
];

/// The set of owed classes enabled among `enabled`, one bit per class.
pub fn owed(enabled: &[Action]) -> u32 {
    enabled
        .iter()
        .filter_map(|&a| fairness_class(a))
        .fold(0, |m, c| m | 1 << c)
}

/// One liveness property: always eventually `goal`.
pub struct LivenessDef {
    pub id: PropertyId,
    pub name: &'static str,
    pub goal: fn(&Config, &World) -> bool,
    /// The one-disk goal that `goal` asks of every disk (`properties::every_disk`).
    pub disk: fn(&Config, &World) -> bool,
    /// One line for reports: what a violation means.
    pub meaning: &'static str,
}

fn holds_all(cfg: &Config, w: &World, image: Image) -> bool {
    w.storage.fresh(image) == cfg.all_blocks()
}

/// The guest's disk is usable: QEMU runs unpaused with no job draining guest I/O, or QEMU
/// is gone (nothing is left to wait for). A disk drained for ever is a guest frozen for
/// ever, whatever libvirt reports; a QEMU left in run state `shutdown` or paused for ever
/// is the same hang.
fn guest_runs_disk(_: &Config, w: &World) -> bool {
    let q = &w.qemu;
    !q.alive
        || (q.run_state == RunState::Running
            && !matches!(
                q.job.as_ref().map(|j| j.status),
                Some(JobStatus::Waiting | JobStatus::Pending)
            ))
}

/// The app's pivot call is not outstanding: it was never made, or it has been answered
/// or settled by the app's recovery rule. An API call that never returns blocks the app's
/// whole workflow for the domain.
fn call_settled_disk(_: &Config, w: &World) -> bool {
    !matches!(w.app.phase, AppPhase::Waiting | AppPhase::Recovering)
}

/// QEMU holds no job that waits for libvirt: a `pending` job waiting for `job-finalize`
/// (auto-finalize off) or a `concluded` one waiting for `job-dismiss` (auto-dismiss off).
/// A held pending job drains the guest's I/O; a concluded one blocks the next block job on
/// the disk and leaks QEMU's job state.
fn no_job_held_disk(cfg: &Config, w: &World) -> bool {
    let q = &w.qemu;
    !q.alive
        || !q.job.as_ref().is_some_and(|j| match j.status {
            JobStatus::Pending => !cfg.procedures.job.auto_finalize,
            JobStatus::Concluded => !cfg.procedures.job.auto_dismiss,
            _ => false,
        })
}

/// libvirt's view and the truth agree: libvirtd is up and manages the domain, and its
/// live disk source is QEMU's active image; or QEMU is gone and the image the next boot
/// uses (the persistent config, or the source of a transient domain) holds every write.
/// A disagreement that lasts sends every later operation to the wrong image.
fn libvirt_agrees_disk(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    if w.qemu.alive {
        l.up && l.domain == Domain::Active && l.live.source == w.qemu.active
    } else {
        let next_boot = if w.libvirtd.defined {
            l.config_source
        } else {
            Image::Source
        };
        holds_all(cfg, w, next_boot)
    }
}

// Each goal holds when it holds for every disk (the `_disk` functions, above, are the
// one-disk goals).
fn guest_runs(cfg: &Config, w: &World) -> bool {
    crate::properties::every_disk(cfg, w, guest_runs_disk)
}
fn call_settled(cfg: &Config, w: &World) -> bool {
    crate::properties::every_disk(cfg, w, call_settled_disk)
}
fn no_job_held(cfg: &Config, w: &World) -> bool {
    crate::properties::every_disk(cfg, w, no_job_held_disk)
}
fn libvirt_agrees(cfg: &Config, w: &World) -> bool {
    crate::properties::every_disk(cfg, w, libvirt_agrees_disk)
}

pub const LIVENESS: [LivenessDef; 4] = [
    LivenessDef {
        id: PropertyId::GuestEventuallyRuns,
        name: "guest-eventually-runs",
        goal: guest_runs,
        disk: guest_runs_disk,
        meaning: "eventually QEMU runs unpaused with no job draining guest I/O, or QEMU is gone",
    },
    LivenessDef {
        id: PropertyId::PivotCallReturns,
        name: "pivot-call-returns",
        goal: call_settled,
        disk: call_settled_disk,
        meaning: "the app's pivot call is eventually answered or settled by its recovery rule",
    },
    LivenessDef {
        id: PropertyId::NoJobHeldForever,
        name: "no-job-held-forever",
        goal: no_job_held,
        disk: no_job_held_disk,
        meaning: "QEMU eventually holds no job waiting for libvirt's job-finalize or job-dismiss",
    },
    LivenessDef {
        id: PropertyId::LibvirtEventuallyAgrees,
        name: "libvirt-eventually-agrees",
        goal: libvirt_agrees,
        disk: libvirt_agrees_disk,
        meaning: "eventually libvirtd's live source is QEMU's active image, or QEMU is gone and the next boot's image holds every write",
    },
];

pub fn liveness(name: &str) -> Option<&'static LivenessDef> {
    LIVENESS.iter().find(|p| p.name == name)
}
