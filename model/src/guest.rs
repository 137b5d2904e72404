//! The guest: it writes blocks while QEMU runs it (its power-off is a fault, in
//! `faults.rs`).

use crate::action::{Action, FaultKind, GuestAction};
use crate::config::{Config, CopyMode, Image};
use crate::state::*;

/// The guest's steps in `w`, in trace order: a write per block, then its power-off (a
/// fault, listed here because only a running guest can power off).
#[inline]
pub fn enabled(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    if !guest_can_run(w) {
        return;
    }
    writes_enabled(cfg, w, out);
    if poweroff_allowed(cfg, w) {
        out.push(Action::Fault(FaultKind::GuestPowerOff));
    }
}

/// Whether the scenario's bound allows one more power-off.
#[inline]
pub(crate) fn poweroff_allowed(cfg: &Config, w: &World) -> bool {
    cfg.faults[FaultKind::GuestPowerOff].allows(w.ghost.faults_used[FaultKind::GuestPowerOff])
}

/// The guest's writes to the focused disk (the guest can run).
#[inline]
pub(crate) fn writes_enabled(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    let q = &w.qemu;
    for b in 0..cfg.blocks {
        // Write-blocking mode serializes a guest write with an in-flight copy of the
        // same block (QEMU waits for overlapping requests).
        let blocked = cfg.copy_mode == CopyMode::WriteBlocking
            && q.synced
            && q.inflight.is_some_and(|c| c.block == b);
        if !blocked {
            out.push(Action::Guest(GuestAction::Write(b)));
        }
    }
}

#[inline]
pub fn apply(cfg: &Config, w: &mut World, action: GuestAction) {
    match action {
        GuestAction::Write(b) => guest_write(cfg, w, b),
    }
}

#[inline]
pub(crate) fn guest_can_run(w: &World) -> bool {
    let q = &w.qemu;
    // Waiting/pending: QEMU drains guest I/O around the graph switch.
    q.alive
        && q.run_state == RunState::Running
        && !matches!(
            q.job.as_ref().map(|j| j.status),
            Some(JobStatus::Waiting | JobStatus::Pending)
        )
}

#[inline]
fn guest_write(cfg: &Config, w: &mut World, b: u8) {
    let bit = 1u8 << b;
    let q = &mut w.qemu;
    let s = &mut w.storage;
    match q.active {
        Image::Source => {
            s.source |= bit;
            if q.job_live() {
                if cfg.copy_mode == CopyMode::WriteBlocking && q.synced {
                    s.target |= bit;
                } else {
                    s.target &= !bit;
                    q.dirty |= bit;
                    if let Some(c) = q.inflight.as_mut().filter(|c| c.block == b) {
                        c.fresh = false;
                    }
                }
            } else {
                s.target &= !bit;
            }
        }
        Image::Target => {
            s.target |= bit;
            s.source &= !bit;
        }
    }
}
