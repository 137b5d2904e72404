//! The management app: it asks for the pivot once the copy is ready, takes libvirt's
//! answer, applies its recovery rule when the answer is lost or tells nothing, and
//! resumes a guest left paused.
//!
//! The app keeps a durable record of its own (its database): that it asked for a pivot,
//! written before it calls libvirt, and the image it settled on. Its crash (`app_crash`)
//! loses only what it held in memory, the call in flight and so libvirt's answer; on
//! restart it reads its record and runs its recovery rule, as it does for a lost answer.
//!
//! An app with a procedure of its own (`Config::app.steps`, Nova's `_swap_volume`) runs
//! it step by step around the pivot call, like libvirtd's procedures: `pc` is its place,
//! volatile; `record` is its database, durable. Such an app, killed inside its procedure,
//! does not resume it (`AppPhase::Abandoned`). Its hard reboot and the operator's
//! `virsh start` play a wrong record out: they boot a new QEMU on the image a record
//! names, and `no-lost-writes` sees a stale image at the moment it boots.

use crate::action::{Action, AppAction};
use crate::config::{AppStep, Config, Image, Recovery};
use crate::libvirtd::{forget_the_job, handler_startable, start_program};
use crate::qemu::emit;
use crate::state::*;

/// The app's steps in `w`, in trace order.
#[inline]
pub fn enabled(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    let q = &w.qemu;
    let l = &w.libvirtd;
    if w.app.phase == AppPhase::Idle
        && at_pivot(cfg, w)
        && l.idle()
        && l.domain == Domain::Active
        && l.live.mirror == Some(MirrorState::Ready)
    {
        out.push(Action::App(AppAction::RequestPivot));
    }
    if step_enabled(cfg, w) {
        out.push(Action::App(AppAction::Step));
    }
    if app_can_recover(cfg, w) {
        out.push(Action::App(AppAction::Recover));
    }
    if matches!(w.app.phase, AppPhase::Settled(_))
        && l.idle()
        && l.domain == Domain::Active
        && q.alive
        && q.run_state == RunState::Paused
    {
        out.push(Action::App(AppAction::Resume));
    }
    if cfg.app.hard_reboot && hard_reboot_enabled(cfg, w) {
        out.push(Action::App(AppAction::HardReboot));
    }
    if cfg.app.virsh_start
        && procedure_over(cfg, w)
        && l.idle()
        && l.domain == Domain::Inactive
        && !q.alive
    {
        out.push(Action::App(AppAction::VirshStart));
    }
}

/// The app's current step in its own procedure; `None` for the plain app and once the
/// procedure ended.
#[inline]
pub fn current_step(cfg: &Config, w: &World) -> Option<AppStep> {
    cfg.app.steps.get(w.app.pc as usize).copied()
}

/// The app is where it asks for the pivot: always for the plain app.
#[inline]
fn at_pivot(cfg: &Config, w: &World) -> bool {
    cfg.app.steps.is_empty() || current_step(cfg, w) == Some(AppStep::Pivot)
}

/// The app has nothing left to do in its procedure: settled with no step left, or gone.
#[inline]
fn procedure_over(cfg: &Config, w: &World) -> bool {
    match w.app.phase {
        AppPhase::Settled(_) => current_step(cfg, w).is_none(),
        AppPhase::Abandoned => true,
        _ => false,
    }
}

/// Whether the app's current step (other than the pivot call) can run now.
#[inline]
fn step_enabled(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    match (w.app.phase, current_step(cfg, w)) {
        // libvirt API calls wait for libvirtd (the client library reconnects).
        (AppPhase::Idle, Some(AppStep::Undefine)) => l.idle(),
        // `is_job_complete` sees no job (the domain stopped, or a restarted libvirtd
        // dropped the job): `abort_job(pivot=True)` then fails at once.
        (AppPhase::Idle, Some(AppStep::Pivot)) => {
            l.idle() && (l.domain != Domain::Active || l.live.mirror.is_none())
        }
        // The `finally`: runs when libvirtd answers, fails when it is down.
        (AppPhase::Settled(_), Some(AppStep::Redefine)) => l.idle() || !l.up,
        // The app's database is on another host: always reachable.
        (AppPhase::Settled(_), Some(AppStep::RecordDb)) => true,
        _ => false,
    }
}

/// The hard reboot is asked for once the app's procedure is over and the guest is down
/// (libvirt noticed), or the app gave up on it mid-procedure (an instance in error,
/// which operators repair with `nova reboot --hard`).
#[inline]
fn hard_reboot_enabled(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    procedure_over(cfg, w)
        && l.idle()
        && (w.app.phase == AppPhase::Abandoned || (!w.qemu.alive && l.domain != Domain::Active))
}

/// The image the app's durable record names: the database for an app with a procedure,
/// the image it settled on for the plain app.
#[inline]
pub fn record_image(cfg: &Config, w: &World) -> Image {
    match w.app.phase {
        AppPhase::Settled(i) if cfg.app.steps.is_empty() => i,
        _ => w.app.record,
    }
}

/// The app takes a definite answer (libvirt's, or its own recovery's) and, with a
/// procedure of its own, moves past the pivot call.
#[inline]
pub(crate) fn settle(cfg: &Config, w: &mut World, image: Image) {
    w.app.phase = AppPhase::Settled(image);
    if !cfg.app.steps.is_empty() {
        w.app.pc += 1;
    }
}

/// A new QEMU boots `image` for the domain: no job, a running guest, a fresh monitor;
/// libvirt manages it as an active domain with that disk source.
fn boot(w: &mut World, image: Image) {
    // The new QEMU opens the images: the bitmap is in use again.
    w.storage.bitmap = None;
    let q = &mut w.qemu;
    q.alive = true;
    q.run_state = RunState::Running;
    q.active = image;
    q.job = None;
    q.dirty = 0;
    q.inflight = None;
    q.synced = false;
    q.monitor = true;
    q.inbox = None;
    q.outbox.clear();
    let l = &mut w.libvirtd;
    forget_the_job(l);
    l.live = DiskDef {
        source: image,
        mirror: None,
        paused_by_libvirt: false,
    };
    l.domain = Domain::Active;
    l.status = Some(l.live);
    l.status_unloadable = false;
}

/// The app's current step, run.
fn run_step(cfg: &Config, w: &mut World) {
    let step = current_step(cfg, w).expect("enabled only at a step");
    let l = &mut w.libvirtd;
    match (step, w.app.phase) {
        (AppStep::Undefine, _) => {
            // A domain that already stopped fails the swap before it changed anything.
            if l.domain == Domain::Active {
                l.defined = false;
                w.app.pc += 1;
            } else {
                w.app.phase = AppPhase::Settled(Image::Source);
                w.app.pc = cfg.app.steps.len() as u8;
            }
        }
        (AppStep::Pivot, _) => settle(cfg, w, Image::Source),
        (AppStep::Redefine, AppPhase::Settled(image)) => {
            if l.up {
                // The live XML after a pivot that returned, else the saved inactive XML.
                let source = if image == Image::Target {
                    l.live.source
                } else {
                    Image::Source
                };
                l.defined = true;
                l.config_source = source;
                if l.domain == Domain::Gone {
                    l.domain = Domain::Inactive;
                }
                w.app.pc += 1;
            } else {
                // The `finally` raised: the manager rolls back, the record keeps the source.
                w.app.phase = AppPhase::Settled(Image::Source);
                w.app.pc = cfg.app.steps.len() as u8;
            }
        }
        (AppStep::RecordDb, AppPhase::Settled(image)) => {
            w.app.record = image;
            w.app.pc += 1;
        }
        _ => unreachable!("{step} is not enabled in {:?}", w.app.phase),
    }
}

#[inline]
pub fn apply(cfg: &Config, w: &mut World, action: AppAction) {
    match action {
        AppAction::RequestPivot => {
            w.app.phase = AppPhase::Waiting;
            w.libvirtd.outcome = Outcome::None;
            w.libvirtd.job_seen = None;
            w.libvirtd.job_vanished = false;
            start_program(cfg, w, ProgramKind::Pivot);
        }
        AppAction::Recover if retries_pivot(cfg, w) => {
            // The engine's retry of the finish: the pivot is asked for again.
            w.app.phase = AppPhase::Idle;
        }
        AppAction::Recover => {
            let (image, _) = recovery_choice(cfg, w).expect("enabled only with a choice");
            settle(cfg, w, image);
        }
        AppAction::Step => run_step(cfg, w),
        AppAction::HardReboot => {
            let image = record_image(cfg, w);
            boot(w, image);
            w.libvirtd.defined = true;
            w.libvirtd.config_source = image;
            w.app.phase = AppPhase::Settled(image);
            w.app.pc = cfg.app.steps.len() as u8;
        }
        AppAction::VirshStart => {
            let image = w.libvirtd.config_source;
            boot(w, image);
        }
        AppAction::Resume => {
            // virDomainResume: libvirt sends `cont` under its own job; the QMP round trip
            // is not a window this model explores. QEMU's RESUME event still reaches
            // libvirtd's monitor (QEMU 10.0.2, `pivotcheck conform`, trace
            // `paused-crash-recover-bg`), and libvirtd handles it like any other.
            w.qemu.run_state = RunState::Running;
            w.libvirtd.live.paused_by_libvirt = false;
            emit(w, QmpMessage::Event(Event::Resume));
        }
    }
}

/// What the app's recovery rule settles on now, `None` while it must wait for libvirt.
/// The second field says the answer came from `query-block`.
#[inline]
pub fn recovery_choice(cfg: &Config, w: &World) -> Option<(Image, bool)> {
    let l = &w.libvirtd;
    if cfg.recovery == Recovery::Nova {
        // VolumeRebaseFailed: the saved XML and the old volume, at once.
        return Some((Image::Source, false));
    }
    if cfg.recovery == Recovery::Vdsm {
        return match (l.domain, l.live.mirror) {
            // `blockJobInfo` shows the job not yet mirroring (`cur != end`), or libvirt
            // still pivots it: the engine's retry waits. A ready job is retried
            // ([`retries_pivot`]), not settled.
            (Domain::Active, Some(_)) => None,
            // No job: "replication job not found", the replica record is deleted and the
            // drive stays on the source, in VDSM's record and the engine's.
            _ => Some((Image::Source, false)),
        };
    }
    match l.domain {
        Domain::Active => {
            if cfg.recovery == Recovery::Seed
                && w.qemu.alive
                && w.qemu.run_state == RunState::Paused
            {
                Some((w.qemu.active, true))
            } else if l.live.mirror == Some(MirrorState::Pivoting) {
                None
            } else {
                Some((l.live.source, false))
            }
        }
        Domain::Inactive => Some((l.config_source, false)),
        // A transient domain is forgotten: the app falls back on the image it last knew,
        // unless a cleanly stored persistent bitmap (`persistent-bitmap`) names another.
        Domain::Gone => Some((w.storage.bitmap.unwrap_or(Image::Source), false)),
    }
}

/// VDSM's rule meets a job libvirt still shows ready (`cur == end`): the engine's retry of
/// the finish asks for the pivot again.
#[inline]
pub fn retries_pivot(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    cfg.recovery == Recovery::Vdsm
        && l.domain == Domain::Active
        && l.live.mirror == Some(MirrorState::Ready)
}

#[inline]
fn app_can_recover(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    if cfg.recovery == Recovery::Nova {
        // The exception reaches Nova's `finally` at once, libvirtd up or not.
        return w.app.phase == AppPhase::Recovering;
    }
    w.app.phase == AppPhase::Recovering
        && l.idle()
        && !handler_startable(cfg, w)
        // libvirt reports a dead QEMU only once it has noticed; wait for that.
        && (l.domain != Domain::Active || w.qemu.alive)
        && (recovery_choice(cfg, w).is_some() || retries_pivot(cfg, w))
}

/// The app's crash changes something only while its pivot call is in flight: before it
/// asked there is nothing to lose, and once it recovers or settles its record already
/// says all it knows. Crashes that change nothing are not explored (they would only
/// multiply states by the fault counter).
///
/// An app with a procedure of its own also loses its place in it: from its first step
/// done to its last, its crash leaves it [`AppPhase::Abandoned`].
#[inline]
pub fn app_crash_enabled(cfg: &Config, w: &World) -> bool {
    if cfg.app.steps.is_empty() {
        return w.app.phase == AppPhase::Waiting
            || w.others.iter().any(|p| p.app.phase == AppPhase::Waiting);
    }
    match w.app.phase {
        AppPhase::Idle => w.app.pc > 0,
        AppPhase::Waiting | AppPhase::Recovering => true,
        AppPhase::Settled(_) => current_step(cfg, w).is_some(),
        AppPhase::Abandoned => false,
    }
}

/// The app dies and restarts at once: libvirt's answer to the call it had in flight has
/// no one to reach (`libvirtd` drops it, as for any closed connection), and the restarted
/// app, whose record says it asked for a pivot, runs its recovery rule.
///
/// An app with a procedure of its own does not resume it (nova-compute's restart has no
/// recovery for an interrupted swap): what it did so far stays done, its record stays.
#[inline]
pub fn app_crashed(cfg: &Config, w: &mut World) {
    if !cfg.app.steps.is_empty() {
        w.app.phase = AppPhase::Abandoned;
        w.app.pc = 0;
    } else if w.app.phase == AppPhase::Waiting {
        w.app.phase = AppPhase::Recovering;
    }
    for p in w.others.iter_mut() {
        if p.app.phase == AppPhase::Waiting {
            p.app.phase = AppPhase::Recovering;
        }
    }
}
