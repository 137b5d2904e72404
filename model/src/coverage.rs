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
use crate::config::{AppStep, Command, Config, Fault, MAX_APP_STEPS};
use crate::state::{AppPhase, ProgramKind, World};

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
    // An app with a procedure of its own can also crash outside the call (between its
    // steps, libvirtd down or not).
    if fault == FaultKind::AppCrash
        && cfg.app.steps.is_empty()
        && matches!(phase, Phase::LibvirtdDown | Phase::Reconnect)
    {
        return false;
    }
    match phase {
        Phase::LibvirtdDown => fault != FaultKind::LibvirtdCrash,
        Phase::ConcludedHandler => !cfg.procedures.concluded.is_empty(),
        Phase::Reconnect => !cfg.procedures.reconnect.is_empty(),
        _ => true,
    }
}

/// Where the app is in its own procedure (`Config::app.steps`, Nova's `_swap_volume`)
/// when a fault strikes: its phase and its place, numbered for the counters below. The
/// libvirtd phases above cannot tell "after `abort_job` returned, before the `finally`"
/// from "after the `finally`": both are libvirtd idle after the pivot, and that is where
/// Nova's own order loses data.
fn app_place(w: &World) -> usize {
    let phase = match w.app.phase {
        AppPhase::Idle => IDLE,
        AppPhase::Waiting => WAITING,
        AppPhase::Recovering => RECOVERING,
        AppPhase::Settled(_) => SETTLED,
        AppPhase::Abandoned => ABANDONED,
    };
    place(phase, w.app.pc as usize)
}

/// The app's phases, as `app_place` numbers them.
const IDLE: usize = 0;
const WAITING: usize = 1;
const RECOVERING: usize = 2;
const SETTLED: usize = 3;
const ABANDONED: usize = 4;

/// Places per app phase: every step of the longest procedure, and the end.
const APP_PCS: usize = MAX_APP_STEPS + 1;
const APP_PLACES: usize = (ABANDONED + 1) * APP_PCS;

/// The counter of the app in `phase` at step `pc` of its procedure.
const fn place(phase: usize, pc: usize) -> usize {
    phase * APP_PCS + if pc < APP_PCS { pc } else { APP_PCS - 1 }
}

/// The places an app with procedure `steps` can be in, in the order it goes through
/// them, with the words that complete "<fault> <words>". Before its pivot call the app
/// is idle at each step; at the call it waits for the answer or recovers from a lost
/// one; after it, settled, it runs the remaining steps; a crash of the app itself leaves
/// it abandoned.
fn app_places(steps: &[AppStep]) -> Vec<(usize, String)> {
    let pivot = steps.iter().position(|s| *s == AppStep::Pivot);
    let mut out = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        let before_pivot = pivot.is_none_or(|p| k <= p);
        let phase = if before_pivot { IDLE } else { SETTLED };
        let words = match k {
            0 => format!("before the app's `{step}`"),
            _ => format!("between the app's `{}` and `{step}`", steps[k - 1]),
        };
        out.push((place(phase, k), words));
        if *step == AppStep::Pivot {
            out.push((
                place(WAITING, k),
                format!("while the app's `{step}` call was in flight"),
            ));
            out.push((
                place(RECOVERING, k),
                format!("while the app recovered from a lost or failed `{step}` call"),
            ));
        }
    }
    if let Some(last) = steps.last() {
        out.push((
            place(SETTLED, steps.len()),
            format!("after the app's last step, `{last}`"),
        ));
    }
    // A crash of the app resets its place to 0.
    out.push((
        place(ABANDONED, 0),
        "after the app, restarted, abandoned its procedure".to_string(),
    ));
    out
}

/// Whether `fault` can strike with the app at `place` (the app's own crash changes
/// nothing once its procedure is over or abandoned, so it is not explored there).
fn app_possible(steps: &[AppStep], fault: FaultKind, at: usize) -> bool {
    // Nor before its first step, where it has done nothing yet.
    fault != FaultKind::AppCrash
        || ![
            place(IDLE, 0),
            place(ABANDONED, 0),
            place(SETTLED, steps.len()),
        ]
        .contains(&at)
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
    /// Fault transitions explored, per fault and place of the app in its own procedure
    /// (see `app_place`); reported only for an app with a procedure.
    pub app_windows: [[usize; APP_PLACES]; FaultKind::ALL.len()],
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage {
            actions: [0; ACTION_KINDS.len()],
            windows: [[0; PHASES.len()]; FaultKind::ALL.len()],
            app_windows: [[0; APP_PLACES]; FaultKind::ALL.len()],
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
        for (row, other_row) in self.app_windows.iter_mut().zip(other.app_windows) {
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
            self.app_windows[f.index()][app_place(from)] += 1;
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

    /// The windows around the app's own steps, for every fault the scenario enables, in
    /// the order the app goes through them (zero included); empty for the plain app,
    /// whose only step is the pivot call, which the libvirtd windows already split.
    /// Each fault's counts add up to that fault's count in [`Coverage::window_counts`].
    pub fn app_window_counts(&self, cfg: &Config) -> Vec<Count> {
        let steps = &cfg.app.steps;
        if steps.is_empty() {
            return Vec::new();
        }
        let places = app_places(steps);
        let mut out = Vec::new();
        for fault in FaultKind::ALL {
            if cfg.faults[fault] == Fault::Off {
                continue;
            }
            for (at, words) in &places {
                if app_possible(steps, fault, *at) {
                    out.push(Count {
                        name: format!("{} {words}", fault_words(fault)),
                        count: self.app_windows[fault.index()][*at],
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
