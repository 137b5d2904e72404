//! The named properties of `model.md` §5.
//!
//! `no-lost-writes` is what users care about; the other `always` properties are the
//! mechanisms that make it hold, each a separate verdict so that a counterexample says
//! which promise broke. The `sometimes` properties prove the model is not vacuous: a
//! proof over a model that never reaches its crash windows proves nothing.

use crate::config::{Config, Image};
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

/// One property: a stable name, its kind and its condition.
pub struct PropertyDef {
    pub name: &'static str,
    pub kind: Kind,
    pub condition: fn(&Config, &World) -> bool,
    /// One line for reports: what a violation (or a reach) means.
    pub meaning: &'static str,
}

fn holds_all(cfg: &Config, w: &World, image: Image) -> bool {
    w.storage.fresh(image) == cfg.all_blocks()
}

/// Once the app has settled on an image, that image holds every acknowledged write, and
/// the guest keeps writing to it. Before the app settles, a dead QEMU leaves only the
/// image the next boot would use (the persistent config, or the source of a transient
/// domain), and that image must hold every acknowledged write. Data loss is the one
/// outcome users cannot repair, which is why this is the headline property.
fn no_lost_writes(cfg: &Config, w: &World) -> bool {
    match w.app.phase {
        AppPhase::Settled(image) => holds_all(cfg, w, image),
        _ if !w.qemu.alive => {
            let next_boot = if cfg.persistent {
                w.libvirtd.config_source
            } else {
                Image::Source
            };
            holds_all(cfg, w, next_boot)
        }
        _ => true,
    }
}

/// An answer about the pivot matches QEMU at the moment it is given: an app that trusts a
/// wrong "pivoted" or "failed" will use the wrong image. Recorded by the transition that
/// answers (see `world::answer_app`).
fn truthful_answer(_: &Config, w: &World) -> bool {
    !w.ghost.answer_lie
}

/// When libvirtd is idle and QEMU alive, libvirt's live disk source is the image QEMU
/// uses, unless the status XML says a pivot is in flight. Idle means no procedure runs, no
/// concluded job waits for its handler, and no reply or event from QEMU is still unread:
/// a view that lags only by a message on its way is not stale. Every management app reads this
/// definition; a stale one sends the next operation (snapshot, migration, a new copy) to
/// the wrong image.
fn libvirt_state_matches(cfg: &Config, w: &World) -> bool {
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
    let durable_tells = match (l.domain, l.status) {
        (Domain::Active, Some(status)) => status.mirror.is_none(),
        // The domain stopped: a persistent config is libvirt's durable word.
        (Domain::Inactive, _) => true,
        (Domain::Active, None) => cfg.persistent,
        (Domain::Gone, _) => false,
    };
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
fn uncertainty_is_frozen(cfg: &Config, w: &World) -> bool {
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
fn uncertainty_keeps_qemu(cfg: &Config, w: &World) -> bool {
    !uncertain(cfg, w) || w.qemu.alive
}

/// A persistent domain whose QEMU is gone boots next from its config; that image must
/// hold every acknowledged write (libvirt gitlab #240 is this going wrong).
fn config_holds_data(cfg: &Config, w: &World) -> bool {
    !cfg.persistent || w.qemu.alive || holds_all(cfg, w, w.libvirtd.config_source)
}

/// Whenever QEMU runs, libvirt manages it: the domain is active in libvirt. An unmanaged
/// QEMU is invisible to every management app: a persistent domain that shows `shut off`
/// while its QEMU still writes to the target is started again on the config's image,
/// beside the first QEMU (W2b in `reports/live-findings.md`, seen on libvirt 9.0).
fn qemu_is_managed(_: &Config, w: &World) -> bool {
    !w.qemu.alive || w.libvirtd.domain == Domain::Active
}

/// libvirtd dismisses a concluded job, deletes a block node or kills QEMU only when the
/// outcome is already durable in the status XML and the config: otherwise the last
/// witness of the outcome is gone while libvirt's records still say otherwise.
fn evidence_outlives_doubt(_: &Config, w: &World) -> bool {
    !w.ghost.evidence_destroyed_early
}

/// Whether only the guest and faults could still move: the protocol itself has stopped.
fn quiescent(cfg: &Config, w: &World) -> bool {
    let mut enabled = Vec::new();
    crate::world::actions(cfg, w, &mut enabled);
    enabled.iter().all(|a| {
        matches!(
            a,
            crate::world::Action::GuestWrite(_)
                | crate::world::Action::GuestPowerOff
                | crate::world::Action::LibvirtdCrash
                | crate::world::Action::QemuCrash
                | crate::world::Action::HostCrash
        )
    })
}

/// Liveness as a safety check over quiescent states (`model.md` §5): once nothing but the
/// guest and faults can move, the app's pivot call has an answer it acted on, and libvirtd
/// runs no procedure. A violation is a protocol that can hang for good: an API call that
/// never returns, a pivot recorded `pivoting` forever, a guest drained forever.
fn pivot_terminates(cfg: &Config, w: &World) -> bool {
    let pending = matches!(w.app.phase, AppPhase::Waiting | AppPhase::Recovering)
        || w.libvirtd.program.is_some();
    !pending || !quiescent(cfg, w)
}

fn pivot_completes(_: &Config, w: &World) -> bool {
    w.qemu.active == Image::Target && matches!(w.app.phase, AppPhase::Settled(Image::Target))
}

fn restart_in_pivot_window(_: &Config, w: &World) -> bool {
    w.ghost.crash_in_pivot_window && w.libvirtd.up
}

fn poweroff_while_libvirtd_down(_: &Config, w: &World) -> bool {
    w.ghost.poweroff_while_down
}

fn recovery_by_query_block(_: &Config, w: &World) -> bool {
    w.ghost.recovered_by_query_block
}

fn answer_pivoted(_: &Config, w: &World) -> bool {
    w.ghost.answered_pivoted
}

// `single-switch` (QEMU's active image changes at most once) left this list in issue 11:
// no step of the model ever switches back to the source (a failed drive-reopen or a
// cancelled job leaves `active` untouched, as QEMU does), so no scenario or mutant could
// violate it, and a property that cannot fail proves nothing. `Ghost::switches` still
// counts the switches for the model's own tests.
pub const PROPERTIES: [PropertyDef; 14] = [
    PropertyDef {
        name: "no-lost-writes",
        kind: Kind::Always,
        condition: no_lost_writes,
        meaning: "the image the app uses (or the next boot uses) holds every acknowledged write",
    },
    PropertyDef {
        name: "truthful-answer",
        kind: Kind::Always,
        condition: truthful_answer,
        meaning: "libvirt's answer about the pivot matches QEMU's active image",
    },
    PropertyDef {
        name: "libvirt-state-matches",
        kind: Kind::Always,
        condition: libvirt_state_matches,
        meaning: "idle libvirtd's live disk source is QEMU's active image unless a pivot is recorded in flight",
    },
    PropertyDef {
        name: "uncertainty-is-frozen",
        kind: Kind::Always,
        condition: uncertainty_is_frozen,
        meaning: "while the outcome cannot be told, the guest cannot write and both images hold every write",
    },
    PropertyDef {
        name: "uncertainty-keeps-qemu",
        kind: Kind::Always,
        condition: uncertainty_keeps_qemu,
        meaning: "while the outcome cannot be told, QEMU is alive so query-block can answer",
    },
    PropertyDef {
        name: "config-holds-data",
        kind: Kind::Always,
        condition: config_holds_data,
        meaning: "a persistent domain's config names an image holding every write whenever QEMU is gone",
    },
    PropertyDef {
        name: "evidence-outlives-doubt",
        kind: Kind::Always,
        condition: evidence_outlives_doubt,
        meaning: "libvirtd destroys QEMU-side evidence only after the outcome is durable",
    },
    PropertyDef {
        name: "pivot-terminates",
        kind: Kind::Always,
        condition: pivot_terminates,
        meaning: "once only the guest and faults can move, the pivot call is settled and libvirtd runs no procedure",
    },
    PropertyDef {
        name: "qemu-is-managed",
        kind: Kind::Always,
        condition: qemu_is_managed,
        meaning: "whenever QEMU runs, libvirt manages it (the domain is active, not shut off or forgotten)",
    },
    PropertyDef {
        name: "pivot-completes",
        kind: Kind::Sometimes,
        condition: pivot_completes,
        meaning: "QEMU switched to the target and the app settled on it",
    },
    PropertyDef {
        name: "answer-pivoted",
        kind: Kind::Sometimes,
        condition: answer_pivoted,
        meaning: "libvirt answered the app's pivot call with \"pivoted\" (the API returns a definite outcome)",
    },
    PropertyDef {
        name: "restart-in-pivot-window",
        kind: Kind::Sometimes,
        condition: restart_in_pivot_window,
        meaning: "libvirtd restarted after a crash between sending the pivot command and reading its reply",
    },
    PropertyDef {
        name: "poweroff-while-libvirtd-down",
        kind: Kind::Sometimes,
        condition: poweroff_while_libvirtd_down,
        meaning: "the guest powered off while libvirtd was down",
    },
    PropertyDef {
        name: "recovery-by-query-block",
        kind: Kind::Sometimes,
        condition: recovery_by_query_block,
        meaning: "the app settled through query-block",
    },
];

pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|p| p.name == name)
}

/// Whether a `sometimes` property must be reached in a scenario: only where the faults
/// and rules it needs are enabled.
pub fn sometimes_required(cfg: &Config, name: &str) -> bool {
    let f = &cfg.faults;
    match name {
        "pivot-completes" | "answer-pivoted" => true,
        "restart-in-pivot-window" => f.libvirtd_crash.enabled(),
        "poweroff-while-libvirtd-down" => f.libvirtd_crash.enabled() && f.guest_poweroff.enabled(),
        "recovery-by-query-block" => {
            cfg.recovery == crate::config::Recovery::Seed
                && f.libvirtd_crash.enabled()
                && cfg.procedures.pivot.contains(&crate::config::Step::Pause)
        }
        _ => false,
    }
}
