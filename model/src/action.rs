//! The action vocabulary: every atomic step of the system, grouped by the actor that
//! takes it, and the faults.
//!
//! Every table that classifies actions (the actor of a step, coverage kinds, quiescence,
//! diagrams, the conformance mapping) matches on these types, so a new step cannot be
//! forgotten in one of them: the compiler points at each. A trace names an action by
//! [`Action::name`]; those names are the ones traces carried before the vocabulary was
//! typed (the `Debug` text of the old flat enum), so every trace written since still
//! replays.

use std::fmt;

/// One atomic step of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Guest(GuestAction),
    Qemu(QemuAction),
    Libvirtd(LibvirtdAction),
    App(AppAction),
    Fault(FaultKind),
    /// A step of disk 1 or 2 (issue 16). Disk 0's steps are the plain actions above, so a
    /// one-disk model and its traces are what they were before disks existed.
    Disk(u8, DiskStep),
}

/// The steps that belong to one disk: the guest's writes to it, its mirror job's own
/// progress, and the app's calls about it. Everything else (QEMU's monitor, libvirtd, the
/// faults) is the domain's, shared by every disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiskStep {
    Guest(GuestAction),
    Qemu(QemuAction),
    App(AppAction),
}

impl DiskStep {
    /// The plain action this step is, on disk 0.
    pub fn base(self) -> Action {
        match self {
            DiskStep::Guest(a) => Action::Guest(a),
            DiskStep::Qemu(a) => Action::Qemu(a),
            DiskStep::App(a) => Action::App(a),
        }
    }

    /// The step of a plain per-disk action; `None` for the domain's shared steps.
    pub fn of(action: Action) -> Option<DiskStep> {
        match action {
            Action::Guest(a) => Some(DiskStep::Guest(a)),
            Action::Qemu(QemuAction::Execute) => None,
            Action::Qemu(a) => Some(DiskStep::Qemu(a)),
            Action::App(a) => Some(DiskStep::App(a)),
            Action::Disk(_, s) => Some(s),
            Action::Libvirtd(_) | Action::Fault(_) => None,
        }
    }
}

/// What the running guest does on its own (its power-off is a [`FaultKind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GuestAction {
    /// The guest writes block `n`; the write is acknowledged in the same step.
    Write(u8),
}

/// QEMU's own steps: executing a monitor command and the mirror job's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QemuAction {
    /// QEMU reads the command on its monitor socket, executes it at once and queues its
    /// events and reply.
    Execute,
    /// The background copy reads dirty block `n` from the source.
    CopyRead(u8),
    /// The background copy writes the chunk it read to the target.
    CopyWrite,
    /// The job converged for the first time: `ready`, BLOCK_JOB_READY.
    JobReady,
    /// A completing job has converged: `waiting` (guest I/O is drained from here on).
    JobWaiting,
    JobPending,
    /// Finalize: the graph switch (the pivot), `concluded`, BLOCK_JOB_COMPLETED.
    JobFinalize,
    /// `auto-dismiss`: the concluded job disappears (`null`).
    JobAutoDismiss,
}

impl QemuAction {
    /// Whether QEMU takes the step on its own, with no monitor command (the job's
    /// progress), so that a real QEMU takes it whenever it likes.
    pub fn is_internal(self) -> bool {
        !matches!(self, QemuAction::Execute)
    }
}

/// libvirtd's steps: its procedures, what it reads off the monitor, its restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LibvirtdAction {
    /// libvirtd runs the current step of its procedure, or starts its `concluded` handler.
    Step,
    /// The oldest reply or event on the monitor reaches libvirtd and is handled.
    Read,
    /// libvirtd sees the monitor close because QEMU died.
    Eof,
    /// libvirtd's SHUTDOWN handler kills a QEMU whose guest powered off.
    Kill,
    /// libvirtd stops the domain whose QEMU is gone: status XML removed; a transient domain
    /// vanishes.
    StopDomain,
    /// libvirtd restarts after a crash and reads its status XML.
    Restart,
}

/// The management app's steps around its pivot call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppAction {
    RequestPivot,
    /// The app applies its recovery rule after a lost or uninformative answer.
    Recover,
    /// The app resumes a guest left paused, once it has settled.
    Resume,
    /// The app runs the current step of its own procedure (`Config::app.steps`, e.g.
    /// Nova's undefine, redefine, database update) other than the pivot call itself.
    Step,
    /// The app's hard reboot from its own record (Nova's `_hard_reboot`): any QEMU is
    /// destroyed, the domain is defined again from the app's database and booted on the
    /// image that record names.
    HardReboot,
    /// The operator's `virsh start` of a shut-off persistent domain: a new QEMU boots the
    /// image libvirt's config names (drawn on the app's lane: it is the user of libvirt's
    /// API that acts, not libvirtd).
    VirshStart,
}

/// The faults a scenario can switch on, in the order of [`FaultKind::ALL`], which is the
/// order of the scenario's `[faults]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// libvirtd crashes: its memory, its monitor connection and the queued messages are
    /// lost.
    LibvirtdCrash,
    /// The guest powers off (QEMU stays in run state `shutdown` with `-no-shutdown`).
    GuestPowerOff,
    /// QEMU is killed (SIGKILL).
    QemuCrash,
    /// The host crashes: QEMU and libvirtd die, the status XML under `/run` is lost.
    HostCrash,
    /// The management app's process dies and its service manager starts it again: the
    /// call it had in flight and its answer are lost, its own durable record survives,
    /// and it runs its own recovery.
    AppCrash,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::LibvirtdCrash,
        FaultKind::GuestPowerOff,
        FaultKind::QemuCrash,
        FaultKind::HostCrash,
        FaultKind::AppCrash,
    ];

    /// The position in [`FaultKind::ALL`], for tables indexed by fault.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The key of the scenario's `[faults]` table.
    pub fn key(self) -> &'static str {
        match self {
            FaultKind::LibvirtdCrash => "libvirtd_crash",
            FaultKind::GuestPowerOff => "guest_poweroff",
            FaultKind::QemuCrash => "qemu_crash",
            FaultKind::HostCrash => "host_crash",
            FaultKind::AppCrash => "app_crash",
        }
    }
}

/// Which actor a step belongs to, as traces and diagrams show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Actor {
    Guest,
    Qemu,
    Libvirtd,
    App,
}

impl Actor {
    pub fn name(self) -> &'static str {
        match self {
            Actor::Guest => "guest",
            Actor::Qemu => "qemu",
            Actor::Libvirtd => "libvirtd",
            Actor::App => "app",
        }
    }
}

/// The kinds of step with their names, parameters (which block) folded into one kind:
/// the rows of a coverage report, in this fixed order.
pub const KINDS: [&str; 26] = [
    "GuestWrite",
    "GuestPowerOff",
    "QemuExecute",
    "QemuCopyRead",
    "QemuCopyWrite",
    "QemuJobReady",
    "QemuJobWaiting",
    "QemuJobPending",
    "QemuJobFinalize",
    "QemuJobAutoDismiss",
    "LibvirtdStep",
    "LibvirtdRead",
    "LibvirtdEof",
    "LibvirtdKill",
    "LibvirtdStopDomain",
    "AppRequestPivot",
    "AppRecover",
    "AppResume",
    "LibvirtdCrash",
    "LibvirtdRestart",
    "QemuCrash",
    "HostCrash",
    "AppCrash",
    "AppStep",
    "AppHardReboot",
    "AppVirshStart",
];

impl Action {
    /// The action as disk 0 would take it: the step of a [`Action::Disk`], any other
    /// action itself. What classifies steps (actor, kind, fairness, labels) reads this.
    pub fn base(self) -> Action {
        match self {
            Action::Disk(_, s) => s.base(),
            other => other,
        }
    }

    /// The disk a per-disk step belongs to (0 for the plain actions).
    pub fn disk(self) -> u8 {
        match self {
            Action::Disk(d, _) => d,
            _ => 0,
        }
    }

    /// The same step on disk `disk` (the plain action for disk 0); a shared step stays itself.
    pub fn on_disk(self, disk: u8) -> Action {
        match DiskStep::of(self) {
            Some(s) if disk > 0 => Action::Disk(disk, s),
            Some(s) => s.base(),
            None => self,
        }
    }

    /// The actor that takes the step (a fault is drawn on the actor it hits; a host crash
    /// on libvirtd, whose records it wipes).
    pub fn actor(self) -> Actor {
        match self.base() {
            Action::Guest(_) | Action::Fault(FaultKind::GuestPowerOff) => Actor::Guest,
            Action::Qemu(_) | Action::Fault(FaultKind::QemuCrash) => Actor::Qemu,
            Action::Libvirtd(_)
            | Action::Fault(FaultKind::LibvirtdCrash)
            | Action::Fault(FaultKind::HostCrash) => Actor::Libvirtd,
            Action::App(_) | Action::Fault(FaultKind::AppCrash) => Actor::App,
            Action::Disk(..) => unreachable!("base() is a plain action"),
        }
    }

    pub fn is_fault(self) -> bool {
        matches!(self, Action::Fault(_))
    }

    /// The index of the action's kind in [`KINDS`].
    pub fn kind(self) -> usize {
        match self.base() {
            Action::Guest(GuestAction::Write(_)) => 0,
            Action::Fault(FaultKind::GuestPowerOff) => 1,
            Action::Qemu(q) => match q {
                QemuAction::Execute => 2,
                QemuAction::CopyRead(_) => 3,
                QemuAction::CopyWrite => 4,
                QemuAction::JobReady => 5,
                QemuAction::JobWaiting => 6,
                QemuAction::JobPending => 7,
                QemuAction::JobFinalize => 8,
                QemuAction::JobAutoDismiss => 9,
            },
            Action::Libvirtd(l) => match l {
                LibvirtdAction::Step => 10,
                LibvirtdAction::Read => 11,
                LibvirtdAction::Eof => 12,
                LibvirtdAction::Kill => 13,
                LibvirtdAction::StopDomain => 14,
                LibvirtdAction::Restart => 19,
            },
            Action::App(a) => match a {
                AppAction::RequestPivot => 15,
                AppAction::Recover => 16,
                AppAction::Resume => 17,
                AppAction::Step => 23,
                AppAction::HardReboot => 24,
                AppAction::VirshStart => 25,
            },
            Action::Fault(FaultKind::LibvirtdCrash) => 18,
            Action::Fault(FaultKind::QemuCrash) => 20,
            Action::Fault(FaultKind::HostCrash) => 21,
            Action::Fault(FaultKind::AppCrash) => 22,
            Action::Disk(..) => unreachable!("base() is a plain action"),
        }
    }

    /// The block the step is about, for the steps that take one.
    fn block(self) -> Option<u8> {
        match self.base() {
            Action::Guest(GuestAction::Write(b)) | Action::Qemu(QemuAction::CopyRead(b)) => Some(b),
            _ => None,
        }
    }

    /// The stable name a trace stores: the kind, and the block in parentheses
    /// (`GuestWrite(0)`, `LibvirtdCrash`); a step of disk 1 or 2 is prefixed with its disk
    /// (`Disk1.QemuJobReady`).
    pub fn name(self) -> String {
        let kind = KINDS[self.kind()];
        let plain = match self.block() {
            Some(b) => format!("{kind}({b})"),
            None => kind.to_string(),
        };
        match self {
            Action::Disk(d, _) => format!("Disk{d}.{plain}"),
            _ => plain,
        }
    }

    /// The action a trace's name stands for; `None` for a name no action has.
    pub fn from_name(name: &str) -> Option<Action> {
        if let Some(rest) = name.strip_prefix("Disk") {
            let (digits, plain) = rest.split_once('.')?;
            if digits.len() != 1 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let disk: u8 = digits.parse().ok()?;
            if disk == 0 || disk >= crate::config::Config::MAX_DISKS {
                return None;
            }
            let step = DiskStep::of(Action::plain_from_name(plain)?)?;
            return Some(Action::Disk(disk, step));
        }
        Action::plain_from_name(name)
    }

    fn plain_from_name(name: &str) -> Option<Action> {
        let (kind, block) = match name.split_once('(') {
            Some((kind, rest)) => {
                let digits = rest.strip_suffix(')')?;
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                (kind, Some(digits.parse::<u8>().ok()?))
            }
            None => (name, None),
        };
        let a = match (kind, block) {
            ("GuestWrite", Some(b)) => Action::Guest(GuestAction::Write(b)),
            ("QemuCopyRead", Some(b)) => Action::Qemu(QemuAction::CopyRead(b)),
            (_, Some(_)) => return None,
            ("GuestPowerOff", None) => Action::Fault(FaultKind::GuestPowerOff),
            ("QemuExecute", None) => Action::Qemu(QemuAction::Execute),
            ("QemuCopyWrite", None) => Action::Qemu(QemuAction::CopyWrite),
            ("QemuJobReady", None) => Action::Qemu(QemuAction::JobReady),
            ("QemuJobWaiting", None) => Action::Qemu(QemuAction::JobWaiting),
            ("QemuJobPending", None) => Action::Qemu(QemuAction::JobPending),
            ("QemuJobFinalize", None) => Action::Qemu(QemuAction::JobFinalize),
            ("QemuJobAutoDismiss", None) => Action::Qemu(QemuAction::JobAutoDismiss),
            ("LibvirtdStep", None) => Action::Libvirtd(LibvirtdAction::Step),
            ("LibvirtdRead", None) => Action::Libvirtd(LibvirtdAction::Read),
            ("LibvirtdEof", None) => Action::Libvirtd(LibvirtdAction::Eof),
            ("LibvirtdKill", None) => Action::Libvirtd(LibvirtdAction::Kill),
            ("LibvirtdStopDomain", None) => Action::Libvirtd(LibvirtdAction::StopDomain),
            ("LibvirtdRestart", None) => Action::Libvirtd(LibvirtdAction::Restart),
            ("AppRequestPivot", None) => Action::App(AppAction::RequestPivot),
            ("AppRecover", None) => Action::App(AppAction::Recover),
            ("AppResume", None) => Action::App(AppAction::Resume),
            ("LibvirtdCrash", None) => Action::Fault(FaultKind::LibvirtdCrash),
            ("QemuCrash", None) => Action::Fault(FaultKind::QemuCrash),
            ("HostCrash", None) => Action::Fault(FaultKind::HostCrash),
            ("AppCrash", None) => Action::Fault(FaultKind::AppCrash),
            ("AppStep", None) => Action::App(AppAction::Step),
            ("AppHardReboot", None) => Action::App(AppAction::HardReboot),
            ("AppVirshStart", None) => Action::App(AppAction::VirshStart),
            _ => return None,
        };
        Some(a)
    }

    /// Every per-disk action of disks 1 and up of a model with `disks` disks of `blocks`
    /// blocks (disk 0's are in [`Action::all`]).
    pub fn all_disks(blocks: u8, disks: u8) -> Vec<Action> {
        let mut out = Vec::new();
        for d in 1..disks {
            for a in Action::all(blocks) {
                if DiskStep::of(a).is_some() {
                    out.push(a.on_disk(d));
                }
            }
        }
        out
    }

    /// Every action of a model with `blocks` blocks, in [`KINDS`] order.
    pub fn all(blocks: u8) -> Vec<Action> {
        let mut out = Vec::new();
        for b in 0..blocks {
            out.push(Action::Guest(GuestAction::Write(b)));
        }
        out.push(Action::Fault(FaultKind::GuestPowerOff));
        out.push(Action::Qemu(QemuAction::Execute));
        for b in 0..blocks {
            out.push(Action::Qemu(QemuAction::CopyRead(b)));
        }
        out.extend(
            [
                QemuAction::CopyWrite,
                QemuAction::JobReady,
                QemuAction::JobWaiting,
                QemuAction::JobPending,
                QemuAction::JobFinalize,
                QemuAction::JobAutoDismiss,
            ]
            .map(Action::Qemu),
        );
        out.extend(
            [
                LibvirtdAction::Step,
                LibvirtdAction::Read,
                LibvirtdAction::Eof,
                LibvirtdAction::Kill,
                LibvirtdAction::StopDomain,
            ]
            .map(Action::Libvirtd),
        );
        out.extend(
            [
                AppAction::RequestPivot,
                AppAction::Recover,
                AppAction::Resume,
            ]
            .map(Action::App),
        );
        out.push(Action::Fault(FaultKind::LibvirtdCrash));
        out.push(Action::Libvirtd(LibvirtdAction::Restart));
        out.push(Action::Fault(FaultKind::QemuCrash));
        out.push(Action::Fault(FaultKind::HostCrash));
        out.push(Action::Fault(FaultKind::AppCrash));
        // The app's own procedure and the operator's moves came last (issue 15): kinds
        // keep their numbers, so coverage tables and traces written before still read.
        out.extend(
            [
                AppAction::Step,
                AppAction::HardReboot,
                AppAction::VirshStart,
            ]
            .map(Action::App),
        );
        out
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The names traces stored before the vocabulary was typed, for every kind: a trace
    /// written then must still name the same actions.
    #[test]
    fn names_are_the_ones_traces_stored() {
        let names: Vec<String> = Action::all(2).into_iter().map(Action::name).collect();
        assert_eq!(
            names,
            [
                "GuestWrite(0)",
                "GuestWrite(1)",
                "GuestPowerOff",
                "QemuExecute",
                "QemuCopyRead(0)",
                "QemuCopyRead(1)",
                "QemuCopyWrite",
                "QemuJobReady",
                "QemuJobWaiting",
                "QemuJobPending",
                "QemuJobFinalize",
                "QemuJobAutoDismiss",
                "LibvirtdStep",
                "LibvirtdRead",
                "LibvirtdEof",
                "LibvirtdKill",
                "LibvirtdStopDomain",
                "AppRequestPivot",
                "AppRecover",
                "AppResume",
                "LibvirtdCrash",
                "LibvirtdRestart",
                "QemuCrash",
                "HostCrash",
                "AppCrash",
                "AppStep",
                "AppHardReboot",
                "AppVirshStart",
            ]
        );
    }

    #[test]
    fn every_name_parses_back() {
        let all = Action::all(Config::MAX_BLOCKS);
        for a in &all {
            assert_eq!(Action::from_name(&a.name()), Some(*a), "{}", a.name());
        }
        // Every kind appears, each once per block where it takes one.
        let mut kinds: Vec<usize> = all.iter().map(|a| a.kind()).collect();
        kinds.dedup();
        assert_eq!(kinds, (0..KINDS.len()).collect::<Vec<_>>());
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in [
            "",
            "GuestWrite",
            "GuestWrite()",
            "GuestWrite(x)",
            "GuestWrite(1",
            "GuestWrite(+1)",
            "GuestWrite(256)",
            "LibvirtdCrash(0)",
            "libvirtdcrash",
            "Guest(Write(0))",
        ] {
            assert_eq!(Action::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn faults_are_their_own_actions() {
        let mut faults: Vec<Action> = Action::all(1)
            .into_iter()
            .filter(|a| a.is_fault())
            .collect();
        faults.sort();
        assert_eq!(faults, FaultKind::ALL.map(Action::Fault).to_vec());
        for (i, f) in FaultKind::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
        }
    }
}
