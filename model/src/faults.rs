//! The faults: what each one destroys (`state.rs` has the table of what survives which).
//! Each is an action like any other, enabled while the scenario's bound allows one more.
//! The app's crash comes last, so that traces written before it existed keep their
//! action indices.

use crate::action::{Action, FaultKind, LibvirtdAction};
use crate::app::{app_crash_enabled, app_crashed};
use crate::config::Config;
use crate::libvirtd::{forget, restart_enabled};
use crate::qemu::{emit, qemu_died, qemu_quit};
use crate::state::*;

/// The faults enabled in `w`, in trace order, except the guest's power-off (listed with
/// the guest's steps). libvirtd's restart sits between its crash and QEMU's: traces
/// number the actions in this order.
#[inline]
pub fn enabled(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    let (q, l, g, f) = (&w.qemu, &w.libvirtd, &w.ghost, &cfg.faults);
    if l.up && f[FaultKind::LibvirtdCrash].allows(g.faults_used[FaultKind::LibvirtdCrash]) {
        out.push(Action::Fault(FaultKind::LibvirtdCrash));
    }
    if restart_enabled(w) {
        out.push(Action::Libvirtd(LibvirtdAction::Restart));
    }
    if q.alive && f[FaultKind::QemuCrash].allows(g.faults_used[FaultKind::QemuCrash]) {
        out.push(Action::Fault(FaultKind::QemuCrash));
    }
    if (q.alive || l.up) && f[FaultKind::HostCrash].allows(g.faults_used[FaultKind::HostCrash]) {
        out.push(Action::Fault(FaultKind::HostCrash));
    }
    if app_crash_enabled(cfg, w)
        && f[FaultKind::AppCrash].allows(g.faults_used[FaultKind::AppCrash])
    {
        out.push(Action::Fault(FaultKind::AppCrash));
    }
}

#[inline]
pub fn apply(cfg: &Config, w: &mut World, fault: FaultKind) {
    match fault {
        FaultKind::GuestPowerOff => {
            if cfg.no_shutdown {
                w.qemu.run_state = RunState::Shutdown;
                emit(w, QmpMessage::Event(Event::Shutdown));
            } else {
                qemu_quit(cfg, w);
            }
        }
        FaultKind::LibvirtdCrash => forget(w),
        FaultKind::QemuCrash => qemu_died(w),
        FaultKind::HostCrash => {
            qemu_died(w);
            forget(w);
            w.libvirtd.status = None;
            w.libvirtd.status_unloadable = false;
        }
        FaultKind::AppCrash => app_crashed(cfg, w),
    }
}
