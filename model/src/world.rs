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
use crate::config::{AppOrder, Config, Image};
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
    let mut w = World {
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
            outbox: CopyVec::new(),
            outbox_disks: 0,
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
        others: Others::new(),
        focus: 0,
    };
    // Every disk starts as disk 0 does: copying, its own job running.
    for _ in 1..cfg.disks {
        let disk0 = DiskParts {
            storage: w.storage,
            active: w.qemu.active,
            job: w.qemu.job,
            dirty: w.qemu.dirty,
            inflight: w.qemu.inflight,
            synced: w.qemu.synced,
            outcome: w.libvirtd.outcome,
            job_seen: w.libvirtd.job_seen,
            job_vanished: w.libvirtd.job_vanished,
            refreshed: w.libvirtd.refreshed,
            outcome_from_refresh: w.libvirtd.outcome_from_refresh,
            live: w.libvirtd.live,
            status: w.libvirtd.status,
            config_source: w.libvirtd.config_source,
            app: w.app,
            ghost: Ghost::default(),
        };
        w.others.push(disk0);
    }
    w
}

/// The successor of `last` by `action`: the actors move ([`apply`]), then the observer
/// records what the step means for the properties (`properties::observe`).
pub fn next_state(cfg: &Config, last: &World, action: Action) -> Option<World> {
    Some(next_state_given(cfg, last, &last.views(), action))
}

/// [`next_state`], given `last`'s views ([`World::views`]): the search computes them once
/// per state for its enabled steps and properties, and every successor's ghost facts read
/// them.
#[inline]
pub fn next_state_given(cfg: &Config, last: &World, views: &[World], action: Action) -> World {
    if let Action::Disk(d, step) = action {
        // A step of disk 1 or 2 starts from that disk's view, which has its parts in the
        // fields already: one swap back instead of two around the move and two around the
        // observer. A reconnect may chain on only after a libvirtd step, never a disk's.
        let before = &views[d as usize];
        if last
            .libvirtd
            .program
            .is_none_or(|p| p.kind != ProgramKind::Reconnect)
        {
            let mut w = before.clone();
            let plain = step.base();
            apply(cfg, &mut w, plain);
            let faults_used = w.ghost.faults_used;
            crate::properties::observe(cfg, before, plain, &mut w);
            w.ghost.faults_used = faults_used;
            w.swap_focus(d);
            return w;
        }
    }
    let mut w = last.clone();
    if last.others.is_empty() {
        apply(cfg, &mut w, action);
        crate::properties::observe(cfg, last, action, &mut w);
    } else {
        apply_multi(cfg, &mut w, action);
        crate::properties::observe_multi(cfg, views, action, &mut w);
    }
    w
}

/// The enabled actions of `w`, in the fixed order traces index: the guest, QEMU,
/// libvirtd, the app, then the faults.
#[inline]
pub fn actions(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    if !w.others.is_empty() {
        return actions_multi(cfg, w, &w.views(), out);
    }
    guest::enabled(cfg, w, out);
    qemu::enabled(cfg, w, out);
    libvirtd::enabled(cfg, w, out);
    app::enabled(cfg, w, out);
    faults::enabled(cfg, w, out);
}

/// [`actions`], given `w`'s views ([`World::views`], empty for one disk).
#[inline]
pub fn actions_given(cfg: &Config, w: &World, views: &[World], out: &mut Vec<Action>) {
    if views.is_empty() {
        actions(cfg, w, out);
    } else {
        actions_multi(cfg, w, views, out);
    }
}

/// The actors' move alone, in place: every field but the ghost, on the focused disk (the
/// world's fields). Only `next_state` calls it (and the test that checks it leaves the
/// ghost alone).
#[inline]
pub fn apply(cfg: &Config, w: &mut World, action: Action) {
    match action {
        Action::Disk(..) => apply_multi(cfg, w, action),
        Action::Guest(a) => guest::apply(cfg, w, a),
        Action::Qemu(a) => qemu::apply(w, a),
        Action::Libvirtd(a) => libvirtd::apply(cfg, w, a),
        Action::App(a) => app::apply(cfg, w, a),
        Action::Fault(f) => faults::apply(cfg, w, f),
    }
}

/// The disk a shared step works on: the reply or EOF of libvirtd's procedure is its disk's,
/// an event names its own disk, and an idle libvirtd's step starts the concluded handler of
/// the first disk whose job concluded.
pub(crate) fn disk_of_step(cfg: &Config, w: &World, action: Action) -> u8 {
    match action {
        Action::Disk(d, _) => d,
        Action::Qemu(QemuAction::Execute)
        | Action::Libvirtd(LibvirtdAction::Eof)
        | Action::Libvirtd(LibvirtdAction::Step)
            if w.libvirtd.program.is_some() =>
        {
            w.program_disk()
        }
        Action::Libvirtd(LibvirtdAction::Step) => (0..w.disks())
            .find(|&d| handler_startable(cfg, &w.focused(d)))
            .unwrap_or(0),
        Action::Libvirtd(LibvirtdAction::Read) => match w.qemu.outbox.first() {
            Some(QmpMessage::Event(_)) => (w.qemu.outbox_disks & 3) as u8,
            _ => w.program_disk(),
        },
        _ => 0,
    }
}

/// The enabled actions of a world of several disks: each disk's own steps from its
/// focused view (disk 0's as plain actions, the others' as [`Action::Disk`]), the shared
/// ones once, in the one-disk order of actors.
fn actions_multi(cfg: &Config, w: &World, views: &[World], out: &mut Vec<Action>) {
    debug_assert_eq!(views.len(), usize::from(w.disks()));
    if guest::guest_can_run(w) || views.iter().any(guest::guest_can_run) {
        for (d, v) in views.iter().enumerate() {
            if guest::guest_can_run(v) {
                let start = out.len();
                guest::writes_enabled(cfg, v, out);
                on_disk(out, start, d, &[]);
            }
        }
        if views.iter().all(guest::guest_can_run) && guest::poweroff_allowed(cfg, w) {
            out.push(Action::Fault(FaultKind::GuestPowerOff));
        }
    }
    for (d, v) in views.iter().enumerate() {
        let start = out.len();
        qemu::enabled(cfg, v, out);
        // QEMU reads its one monitor once, whichever disk's view.
        let shared: &[Action] = if d > 0 {
            &[Action::Qemu(QemuAction::Execute)]
        } else {
            &[]
        };
        on_disk(out, start, d, shared);
    }
    libvirtd::enabled_multi(cfg, w, views, out);
    for (d, v) in views.iter().enumerate() {
        let start = out.len();
        app::enabled(cfg, v, out);
        let mut held = ArrayVec::<Action, 2>::new();
        if cfg.app_order == AppOrder::Sequential {
            // Sequentially, disk d's pivot is asked for once every earlier disk is settled.
            let earlier_settled = views[..d]
                .iter()
                .all(|e| matches!(e.app.phase, AppPhase::Settled(_)));
            if !earlier_settled {
                held.push(Action::App(AppAction::RequestPivot));
            }
            // Sequentially, the app resumes a guest it left paused before it goes on to
            // the next disk; once it has, disk d is behind it. Concurrent workers resume
            // whenever their own disk is settled, whichever disk's pivot paused the guest.
            let later_untouched = views[d + 1..].iter().all(|e| e.app.phase == AppPhase::Idle);
            if !later_untouched {
                held.push(Action::App(AppAction::Resume));
            }
        }
        on_disk(out, start, d, &held);
    }
    faults::enabled(cfg, w, out);
}

/// Names the steps from `start` on, which a disk's view pushed, as disk `d`'s, less
/// the `dropped` plain steps (not the disk's to take now); in place, in order.
#[inline]
fn on_disk(out: &mut Vec<Action>, start: usize, d: usize, dropped: &[Action]) {
    let mut k = start;
    for i in start..out.len() {
        let a = out[i];
        if !dropped.contains(&a) {
            out[k] = a.on_disk(d as u8);
            k += 1;
        }
    }
    out.truncate(k);
}

/// A step of a world of several disks: a disk's own step runs on its focused view; a
/// shared step runs on the view of the disk it is about ([`disk_of_step`]); the
/// actors reach the other disks where the real systems do (the status XML's saves, QEMU's
/// exit, libvirtd's crash and restart). A reconnect that finished one disk goes on with
/// the next.
pub(crate) fn apply_multi(cfg: &Config, w: &mut World, action: Action) {
    let d = disk_of_step(cfg, w, action);
    let before = w.libvirtd.program;
    w.swap_focus(d);
    apply(cfg, w, action.base());
    w.swap_focus(d);
    chain_reconnect(cfg, w, before);
}

/// libvirt's reconnect refreshes every disk's job: when the reconnect of disk `d` ends
/// with QEMU still there, the next disk's starts.
fn chain_reconnect(cfg: &Config, w: &mut World, before: Option<Program>) {
    let Some(p) = before.filter(|p| p.kind == ProgramKind::Reconnect) else {
        return;
    };
    let next = p.disk + 1;
    let l = &w.libvirtd;
    if l.program.is_none()
        && next < w.disks()
        && l.up
        && l.domain == Domain::Active
        && w.qemu.alive
        && w.qemu.monitor
    {
        w.swap_focus(next);
        libvirtd::start_program(cfg, w, ProgramKind::Reconnect);
        w.swap_focus(next);
    }
}
