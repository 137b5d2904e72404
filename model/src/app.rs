//! The management app: it asks for the pivot once the copy is ready, takes libvirt's
//! answer, applies its recovery rule when the answer is lost or tells nothing, and
//! resumes a guest left paused.
//!
//! The app keeps a durable record of its own (its database): that it asked for a pivot,
//! written before it calls libvirt, and the image it settled on. Its crash (`app_crash`)
//! loses only what it held in memory, the call in flight and so libvirt's answer; on
//! restart it reads its record and runs its recovery rule, as it does for a lost answer.

use crate::action::{Action, AppAction};
use crate::config::{Config, Image, Recovery};
use crate::libvirtd::{handler_startable, start_program};
use crate::qemu::emit;
use crate::state::*;

/// The app's steps in `w`, in trace order.
#[inline]
pub fn enabled(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    let q = &w.qemu;
    let l = &w.libvirtd;
    if w.app.phase == AppPhase::Idle
        && l.idle()
        && l.domain == Domain::Active
        && l.live.mirror == Some(MirrorState::Ready)
    {
        out.push(Action::App(AppAction::RequestPivot));
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
            w.app.phase = AppPhase::Settled(image);
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
        // A transient domain is forgotten: the app falls back on the image it last knew.
        Domain::Gone => Some((Image::Source, false)),
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
#[inline]
pub fn app_crash_enabled(w: &World) -> bool {
    w.app.phase == AppPhase::Waiting || w.others.iter().any(|p| p.app.phase == AppPhase::Waiting)
}

/// The app dies and restarts at once: libvirt's answer to the call it had in flight has
/// no one to reach (`libvirtd` drops it, as for any closed connection), and the restarted
/// app, whose record says it asked for a pivot, runs its recovery rule.
#[inline]
pub fn app_crashed(w: &mut World) {
    if w.app.phase == AppPhase::Waiting {
        w.app.phase = AppPhase::Recovering;
    }
    for p in w.others.iter_mut() {
        if p.app.phase == AppPhase::Waiting {
            p.app.phase = AppPhase::Recovering;
        }
    }
}
