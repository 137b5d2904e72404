//! The transition relation, dispatched to the actors: which steps are enabled, and the
//! successor of a step.
//!
//! Every step of `model.md` §3 is its own action, because a fault between any two of them
//! is the point of the tool: a command reaching QEMU, a reply or event reaching libvirtd,
//! each libvirtd procedure step, each step of QEMU's job, guest writes and power-off, and
//! the faults. Each actor's guards and handlers live in its own file (`guest.rs`,
//! `qemu.rs`, `libvirtd.rs`, `app.rs`, `faults.rs`); this file only dispatches.
//! `actions` asks the actors in one fixed order so that a trace, stored as action
//! indices, replays exactly.

pub use crate::action::*;
pub use crate::app::recovery_choice;
use crate::config::{Config, Image};
pub use crate::libvirtd::handler_startable;
use crate::state::*;
use crate::{app, faults, guest, libvirtd, qemu};
use arrayvec::ArrayVec;

pub fn init(cfg: &Config) -> World {
    let all = cfg.all_blocks();
    let live = DiskDef {
        source: Image::Source,
        mirror: Some(MirrorState::Copying),
        paused_by_libvirt: false,
    };
    World {
        // The target starts empty: it lacks even the disk's initial contents.
        storage: Storage {
            source: all,
            target: 0,
            bitmap: None,
        },
        qemu: Qemu {
            alive: true,
            run_state: RunState::Running,
            active: Image::Source,
            job: Some(Job {
                status: JobStatus::Running,
                should_complete: false,
                error: false,
                soft_cancel: false,
            }),
            dirty: all,
            inflight: None,
            synced: false,
            monitor: true,
            inbox: None,
            outbox: ArrayVec::new(),
        },
        libvirtd: Libvirtd {
            up: true,
            program: None,
            awaiting: None,
            outcome: Outcome::None,
            job_seen: None,
            job_vanished: false,
            refreshed: false,
            outcome_from_refresh: false,
            shutdown_seen: false,
            live,
            domain: Domain::Active,
            status: Some(live),
            status_unloadable: false,
            config_source: Image::Source,
            defined: cfg.persistent,
        },
        app: App {
            phase: AppPhase::Idle,
            pc: 0,
            record: Image::Source,
        },
        ghost: Ghost::default(),
    }
}

/// The successor of `last` by `action`: the actors move ([`apply`]), then the observer
/// records what the step means for the properties (`properties::observe`).
pub fn next_state(cfg: &Config, last: &World, action: Action) -> Option<World> {
    let mut w = last.clone();
    apply(cfg, &mut w, action);
    crate::properties::observe(cfg, last, action, &mut w);
    Some(w)
}

/// The enabled actions of `w`, in the fixed order traces index: the guest, QEMU,
/// libvirtd, the app, then the faults.
#[inline]
pub fn actions(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    guest::enabled(cfg, w, out);
    qemu::enabled(cfg, w, out);
    libvirtd::enabled(cfg, w, out);
    app::enabled(cfg, w, out);
    faults::enabled(cfg, w, out);
}

/// The actors' move alone, in place: every field but the ghost. Only `next_state` calls
/// it (and the test that checks it leaves the ghost alone).
#[inline]
pub fn apply(cfg: &Config, w: &mut World, action: Action) {
    match action {
        Action::Guest(a) => guest::apply(cfg, w, a),
        Action::Qemu(a) => qemu::apply(w, a),
        Action::Libvirtd(a) => libvirtd::apply(cfg, w, a),
        Action::App(a) => app::apply(cfg, w, a),
        Action::Fault(f) => faults::apply(cfg, w, f),
    }
}
