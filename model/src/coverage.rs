//! What a search covered: how often each kind of step was explored, and in which *window*
//! each fault struck.
//!
//! A proof says "no reachable state violates P"; a reader also wants to see that the
//! search really went through the windows the proof is about, for example that libvirtd
//! crashed between sending the pivot command and reading its reply in some hundred
//! states, not in none. The search (`sim::bfs`) calls [`Coverage::record`] once per
//! explored transition; everything here is a pure function of the state and the action,
//! cheap enough for every transition (a `match` and, for faults only, a classification).

use crate::action::{Action, FaultKind};
use crate::config::{Command, Config, Fault};
use crate::state::{ProgramKind, World};

/// The kinds of step (parameters such as the block folded into one kind), as
/// [`Action::kind`] numbers them.
pub use crate::action::KINDS as ACTION_KINDS;

/// Where in the pivot a state is, as far as a fault striking it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// No pivot command has reached QEMU and libvirtd runs no pivot procedure.
    BeforePivot,
    /// libvirtd runs its pivot procedure and has not sent the pivot command yet.
    PivotBeforeCommand,
    /// libvirtd sent the pivot command; QEMU has not read it.
    PivotCommandUnread,
    /// QEMU executed the pivot command; libvirtd has not read the reply.
    PivotReplyUnread,
    /// libvirtd read the pivot command's reply and runs the rest of its pivot procedure.
    PivotAfterReply,
    /// libvirtd runs its reconnect procedure.
    Reconnect,
    /// libvirtd runs its concluded-job handler.
    ConcludedHandler,
    /// libvirtd is down.
    LibvirtdDown,
    /// The pivot command was executed and no procedure of libvirtd runs.
    AfterPivot,
}

/// The commands whose execution switches (or may switch) the guest's image.
fn switching(c: Command) -> bool {
    c.is_pivot() || c == Command::JobFinalize
}

/// Classifies a state. Pure; used to name the window a fault falls into.
pub fn phase(w: &World) -> Phase {
    let l = &w.libvirtd;
    if !l.up {
        return Phase::LibvirtdDown;
    }
    if let Some(c) = l.awaiting.filter(|c| switching(*c)) {
        return if w.qemu.inbox == Some(c) {
            Phase::PivotCommandUnread
        } else {
            Phase::PivotReplyUnread
        };
    }
    match l.program.map(|p| p.kind) {
        Some(ProgramKind::Pivot) if w.ghost.pivot_sent => Phase::PivotAfterReply,
        Some(ProgramKind::Pivot) => Phase::PivotBeforeCommand,
        Some(ProgramKind::Reconnect) => Phase::Reconnect,
        Some(ProgramKind::Concluded) => Phase::ConcludedHandler,
        None if w.ghost.pivot_sent => Phase::AfterPivot,
        None => Phase::BeforePivot,
    }
}

/// What each fault of [`FaultKind::ALL`] did, completing the sentence "<fault> <phase>".
fn fault_words(fault: FaultKind) -> &'static str {
    match fault {
        FaultKind::LibvirtdCrash => "libvirtd crashed",
        FaultKind::GuestPowerOff => "the guest powered off",
        FaultKind::QemuCrash => "QEMU crashed",
        FaultKind::HostCrash => "the host crashed",
        FaultKind::AppCrash => "the app crashed",
    }
}

/// The crash window `fault` falls into when it strikes state `w`, as words: "libvirtd
/// crashed between QEMU executing the pivot command and libvirtd reading its reply".
pub fn window_words(w: &World, fault: FaultKind) -> String {
    let words = PHASES[phase_index(phase(w))].1;
    format!("{} {words}", fault_words(fault))
}

/// The phases a fault is classified by, with the words that complete the sentence
/// "<fault> <words>".
pub const PHASES: [(Phase, &str); 9] = [
    (Phase::BeforePivot, "before the pivot began"),
    (
        Phase::PivotBeforeCommand,
        "in the pivot procedure, before sending the pivot command",
    ),
    (
        Phase::PivotCommandUnread,
        "between sending the pivot command and QEMU reading it",
    ),
    (
        Phase::PivotReplyUnread,
        "between QEMU executing the pivot command and libvirtd reading its reply",
    ),
    (
        Phase::PivotAfterReply,
        "in the pivot procedure, after reading the pivot command's reply",
    ),
    (Phase::Reconnect, "during the reconnect procedure"),
    (Phase::ConcludedHandler, "during the concluded-job handler"),
    (Phase::LibvirtdDown, "while libvirtd was down"),
    (
        Phase::AfterPivot,
        "after the pivot command, with libvirtd idle",
    ),
];

fn phase_index(p: Phase) -> usize {
    PHASES
        .iter()
        .position(|(q, _)| *q == p)
        .expect("every phase is listed")
}

/// Whether `fault` can strike in `phase` at all (a libvirtd crash cannot happen while
/// libvirtd is down, nor in a handler the variant does not have); impossible windows
/// are not listed.
fn possible(cfg: &Config, fault: FaultKind, phase: Phase) -> bool {
    // The app's call is in flight only while libvirtd is up and has not restarted since:
    // a libvirtd crash breaks the call's connection (the app recovers then), so the app
    // cannot crash with a call in flight while libvirtd is down or reconnecting.
    if fault == FaultKind::AppCrash && matches!(phase, Phase::LibvirtdDown | Phase::Reconnect) {
        return false;
    }
    match phase {
        Phase::LibvirtdDown => fault != FaultKind::LibvirtdCrash,
        Phase::ConcludedHandler => !cfg.procedures.concluded.is_empty(),
        Phase::Reconnect => !cfg.procedures.reconnect.is_empty(),
        _ => true,
    }
}

/// One line of a coverage report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub name: String,
    pub count: usize,
}

/// Counts per action kind and per (fault, phase) window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// Transitions explored, per kind of [`ACTION_KINDS`].
    pub actions: [usize; ACTION_KINDS.len()],
    /// Fault transitions explored, per fault of [`FaultKind::ALL`] and phase of
    /// [`PHASES`]: the number of explored states in which that fault struck in that window.
    pub windows: [[usize; PHASES.len()]; FaultKind::ALL.len()],
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage {
            actions: [0; ACTION_KINDS.len()],
            windows: [[0; PHASES.len()]; FaultKind::ALL.len()],
        }
    }
}

impl Coverage {
    /// Adds the counts of `other` (a search thread's share) to these.
    pub fn add(&mut self, other: &Coverage) {
        for (a, b) in self.actions.iter_mut().zip(other.actions) {
            *a += b;
        }
        for (row, other_row) in self.windows.iter_mut().zip(other.windows) {
            for (a, b) in row.iter_mut().zip(other_row) {
                *a += b;
            }
        }
    }

    /// Records one explored transition: `action` taken in `from`.
    pub fn record(&mut self, from: &World, action: Action) {
        self.actions[action.kind()] += 1;
        if let Action::Fault(f) = action {
            self.windows[f.index()][phase_index(phase(from))] += 1;
        }
    }

    /// Every action kind that the model could take, with its count (zero included, so a
    /// kind never explored shows).
    pub fn action_counts(&self) -> Vec<Count> {
        ACTION_KINDS
            .iter()
            .zip(self.actions)
            .map(|(name, count)| Count {
                name: name.to_string(),
                count,
            })
            .collect()
    }

    /// The windows of every fault the scenario enables, in a fixed order, with their
    /// counts (zero included: a window the search never reached is visible).
    pub fn window_counts(&self, cfg: &Config) -> Vec<Count> {
        let mut out = Vec::new();
        for fault in FaultKind::ALL {
            if cfg.faults[fault] == Fault::Off {
                continue;
            }
            for (pi, (phase, pname)) in PHASES.iter().enumerate() {
                if possible(cfg, fault, *phase) {
                    out.push(Count {
                        name: format!("{} {pname}", fault_words(fault)),
                        count: self.windows[fault.index()][pi],
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use crate::presets;
    use crate::PivotModel;

    #[test]
    fn phases_of_a_pivot_in_order() {
        let cfg = Config {
            blocks: 1,
            disks: 1,
            app_order: crate::config::AppOrder::Sequential,
            copy_mode: CopyMode::Background,
            no_shutdown: true,
            quit_cancel: QuitCancel::Force,
            persistent: true,
            faults: Faults::OFF.with(FaultKind::LibvirtdCrash, Fault::Unbounded),
            recovery: Recovery::Seed,
            procedures: presets::preset("reopen-unpaused").unwrap(),
            app: AppProcedure::default(),
        };
        let m = PivotModel::new(cfg);
        let mut w = m.init_state();
        assert_eq!(phase(&w), Phase::BeforePivot);
        // Drive the model until libvirtd sends the pivot command, always taking the first
        // non-fault action; the phases must go through the pivot window in order.
        let mut seen = vec![phase(&w)];
        for _ in 0..60 {
            let enabled = m.enabled(&w);
            let Some(&a) = enabled
                .iter()
                .find(|a| !a.is_fault() && !matches!(a, Action::Guest(_)))
            else {
                break;
            };
            w = m.step(&w, a);
            let p = phase(&w);
            if seen.last() != Some(&p) {
                seen.push(p);
            }
        }
        assert_eq!(
            seen,
            vec![
                Phase::BeforePivot,
                Phase::PivotBeforeCommand,
                Phase::PivotCommandUnread,
                Phase::PivotReplyUnread,
                Phase::PivotAfterReply,
                Phase::AfterPivot
            ]
        );
    }
}
