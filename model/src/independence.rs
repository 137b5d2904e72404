//! Which steps commute: the footprint of each step over named parts of the state, for the
//! search's partial-order reduction (`sim::bfs`, sleep sets).
//!
//! Two steps enabled in a state are *independent* there when taking them in either order
//! gives the same state (ghost facts included) and neither disables the other. The search
//! may then skip the second edge of the diamond: of `s -a-> -b->` and `s -b-> -a->` it
//! needs only one (ARCHITECTURE.md says which and why every state keeps its depth).
//!
//! Independence is declared, not computed: a step's [`Footprint`] names the parts of the
//! state it reads (its guard included, and whatever `properties::observe` reads for it)
//! and the parts it writes (ghost facts included). Two steps are independent when neither
//! writes a part the other reads or writes. A footprint may depend on the state (a copy
//! write touches the block in flight), never on the other step. A step not analysed here
//! gets [`Footprint::ALL`], which conflicts with everything: forgetting a step costs
//! reduction, never soundness. A test (`model/src/tests.rs`) takes every pair of steps
//! declared independent in every reachable state of every preset and checks that they
//! commute, so a wrong footprint fails there.
//!
//! Adding a part (for example per-disk state): add a constant below with the next free
//! bit (one line; `disk(d)` style functions for indexed parts, like [`block`]), and add it
//! to the footprints of the steps that read or write it. Steps of different disks then
//! commute when their footprints name only their own disk's parts.

use crate::action::{Action, DiskStep, GuestAction, LibvirtdAction, QemuAction};
use crate::config::Config;
use crate::state::{QmpMessage, Reply, RunState, World};

/// A set of named parts of the state, one bit each.
pub type Parts = u64;

/// Block `b`'s data: its bit in the source and the target, its dirty bit, and the copy
/// in flight when it is of block `b` (with its freshness). Bits 0 to 7.
pub const fn block(b: u8) -> Parts {
    1 << b
}
/// Every block's data.
pub const BLOCKS: Parts = 0xff;
/// Whether a copy is in flight at all (which block is part of that block's data).
pub const INFLIGHT: Parts = 1 << 8;
/// QEMU's process and jobs: alive, run state, and each disk's active image, job, synced.
pub const QEMU: Parts = 1 << 9;
/// The monitor: connection, the command in QEMU's inbox, the replies and events queued.
pub const MONITOR: Parts = 1 << 10;
/// libvirtd's memory and its durable records (status XML, persistent config).
pub const LIBVIRTD: Parts = 1 << 11;
/// The management app.
pub const APP: Parts = 1 << 12;
/// The ghost facts (`World::ghost`) and fault counters.
pub const GHOST: Parts = 1 << 13;
/// The persistent bitmap's word in the images (`Storage::bitmap`): written by QEMU's clean
/// exit (libvirtd's kill, a power-off: both `Footprint::ALL`) and a new QEMU's boot (an
/// app step, `ALL`); read by libvirtd's `read-bitmap`, its stop of a domain and the
/// properties `observe` checks for its steps.
pub const BITMAP: Parts = 1 << 14;

/// Block `b`'s data of disk `d` (1 or 2): bits 16 to 31, as [`block`] is for disk 0.
pub const fn disk_block(d: u8, b: u8) -> Parts {
    1 << (16 + 8 * (d as u32 - 1) + b as u32)
}
/// Whether disk `d` (1 or 2) has a copy in flight, as [`INFLIGHT`] is for disk 0.
pub const fn disk_inflight(d: u8) -> Parts {
    1 << (32 + d as u32)
}

/// The footprint of disk `d`'s own step `step` (`Action::Disk`): disk 0's footprint of
/// the same step with disk 0's block and copy parts renamed to disk `d`'s.
fn disk_footprint(w: &World, d: u8, step: DiskStep) -> Footprint {
    let parts = &w.others[d as usize - 1];
    match step {
        DiskStep::Guest(GuestAction::Write(b)) => Footprint {
            reads: QEMU | disk_block(d, b),
            writes: disk_block(d, b),
        },
        DiskStep::Qemu(QemuAction::CopyRead(b)) => Footprint {
            reads: QEMU | disk_inflight(d) | disk_block(d, b),
            writes: disk_inflight(d) | disk_block(d, b),
        },
        DiskStep::Qemu(QemuAction::CopyWrite) => match parts.inflight {
            Some(c) => Footprint {
                reads: QEMU | disk_inflight(d) | disk_block(d, c.block),
                writes: disk_inflight(d) | disk_block(d, c.block),
            },
            None => Footprint::ALL,
        },
        _ => Footprint::ALL,
    }
}

/// What a step reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    pub reads: Parts,
    pub writes: Parts,
}

impl Footprint {
    /// A step that touches everything: dependent on every step.
    pub const ALL: Footprint = Footprint {
        reads: Parts::MAX,
        writes: Parts::MAX,
    };

    /// Whether the two steps may not commute: one writes what the other touches.
    pub fn conflicts(self, other: Footprint) -> bool {
        self.writes & (other.reads | other.writes) != 0
            || other.writes & (self.reads | self.writes) != 0
    }
}

/// The footprint of `action` in `w` (where it is enabled).
pub fn footprint(_cfg: &Config, w: &World, action: Action) -> Footprint {
    match action {
        // guest.rs: the guard reads QEMU's run state and job, and whether the copy in
        // flight is of block `b`; the write changes block `b`'s bits and that copy's
        // freshness. `observe` records nothing for a guest step.
        Action::Guest(GuestAction::Write(b)) => Footprint {
            reads: QEMU | block(b),
            writes: block(b),
        },
        // qemu.rs: the guard reads the job, the active image and that no copy is in
        // flight; the read clears block `b`'s dirty bit and starts its copy.
        Action::Qemu(QemuAction::CopyRead(b)) => Footprint {
            reads: QEMU | INFLIGHT | block(b),
            writes: INFLIGHT | block(b),
        },
        // The write lands the block in flight on the target and ends the copy.
        Action::Qemu(QemuAction::CopyWrite) => match w.qemu.inflight {
            Some(c) => Footprint {
                reads: QEMU | INFLIGHT | block(c.block),
                writes: INFLIGHT | block(c.block),
            },
            None => Footprint::ALL,
        },
        // libvirtd.rs: libvirtd's procedures read QEMU's state through the monitor and
        // the run state, write the monitor, its own records and the app's answer; none
        // reads a block. Its kill of QEMU changes QEMU (and every block, through the
        // copy's cancellation): `Kill`, and reading run state `shutdown` in the
        // reconnect's finish-shutdown step. `observe` reads QEMU and libvirtd and writes
        // ghost facts.
        Action::Libvirtd(l) if l != LibvirtdAction::Kill && !reads_shutdown(w) => Footprint {
            reads: QEMU | MONITOR | LIBVIRTD | APP | GHOST | BITMAP,
            writes: MONITOR | LIBVIRTD | APP | GHOST,
        },
        // A step of disk 1 or 2: its guest writes and its copy touch that disk's blocks
        // and copy in flight (their own parts, below) and read QEMU's process and jobs,
        // as disk 0's do; its other steps are not analysed.
        Action::Disk(d, step) => disk_footprint(w, d, step),
        // The app's steps, QEMU's monitor and job transitions (which read every block
        // through `converged`), libvirtd's kill and the faults: not analysed.
        _ => Footprint::ALL,
    }
}

/// Whether the next message libvirtd reads says QEMU is in run state `shutdown` (its
/// reconnect then kills QEMU).
fn reads_shutdown(w: &World) -> bool {
    matches!(
        w.qemu.outbox.first(),
        Some(QmpMessage::Reply(_, Reply::Status(RunState::Shutdown)))
    )
}

/// Whether `a` and `b`, both enabled in `w`, commute there (as declared by footprints).
pub fn independent(cfg: &Config, w: &World, a: Action, b: Action) -> bool {
    a != b && !footprint(cfg, w, a).conflicts(footprint(cfg, w, b))
}

/// A set of actions, one bit each (see [`bit`]): the search's sleep sets.
pub type ActionSet = u64;

/// The bit of `action` in an [`ActionSet`]: distinct for distinct actions of a model with
/// at most `Config::MAX_BLOCKS` blocks (a test checks that).
pub fn bit(action: Action) -> ActionSet {
    use crate::action::AppAction;
    const B: u32 = Config::MAX_BLOCKS as u32;
    let n: u32 = match action {
        Action::Guest(GuestAction::Write(b)) => u32::from(b),
        Action::Qemu(q) => match q {
            QemuAction::CopyRead(b) => B + u32::from(b),
            QemuAction::Execute => 2 * B,
            QemuAction::CopyWrite => 2 * B + 1,
            QemuAction::JobReady => 2 * B + 2,
            QemuAction::JobWaiting => 2 * B + 3,
            QemuAction::JobPending => 2 * B + 4,
            QemuAction::JobFinalize => 2 * B + 5,
            QemuAction::JobAutoDismiss => 2 * B + 6,
        },
        Action::Libvirtd(l) => {
            2 * B
                + 7
                + match l {
                    LibvirtdAction::Step => 0,
                    LibvirtdAction::Read => 1,
                    LibvirtdAction::Eof => 2,
                    LibvirtdAction::Kill => 3,
                    LibvirtdAction::StopDomain => 4,
                    LibvirtdAction::Restart => 5,
                }
        }
        Action::App(a) => {
            2 * B
                + 13
                + match a {
                    AppAction::RequestPivot => 0,
                    AppAction::Recover => 1,
                    AppAction::Resume => 2,
                    AppAction::Step => 3,
                    AppAction::HardReboot => 4,
                    AppAction::VirshStart => 5,
                }
        }
        Action::Fault(f) => 2 * B + 19 + f.index() as u32,
        // Disk 1's and 2's guest writes and copy steps, the only steps of theirs a
        // footprint lets commute, after every plain action (bits 32 to 49). Their other
        // steps conflict with everything (`Footprint::ALL`), so they are never put to
        // sleep: no bit, an empty set.
        Action::Disk(d, step) => {
            let base = 2 * B + 24 + (u32::from(d) - 1) * (2 * B + 1);
            match step {
                DiskStep::Guest(GuestAction::Write(b)) => base + u32::from(b),
                DiskStep::Qemu(QemuAction::CopyRead(b)) => base + B + u32::from(b),
                DiskStep::Qemu(QemuAction::CopyWrite) => base + 2 * B,
                _ => return 0,
            }
        }
    };
    1 << n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::FaultKind;
    use crate::config::{CopyMode, Fault};
    use crate::presets::PRESET_NAMES;
    use crate::world;
    use std::collections::BTreeSet;

    fn config(variant: &str, blocks: u8, copy_mode: CopyMode) -> Config {
        let mut cfg = crate::tests::config(variant);
        for f in FaultKind::ALL {
            cfg.faults = cfg.faults.with(f, Fault::Unbounded);
        }
        Config {
            blocks,
            copy_mode,
            ..cfg
        }
    }

    fn enabled(cfg: &Config, w: &World) -> Vec<Action> {
        let mut out = Vec::new();
        world::actions(cfg, w, &mut out);
        out
    }

    /// Every pair of steps declared independent, in every reachable state: the number of
    /// such pairs, and the first pair that does not commute (`None`: all commute).
    fn check_commutation(
        cfg: &Config,
        independent: &dyn Fn(&World, Action, Action) -> bool,
    ) -> (usize, Option<(World, Action, Action)>) {
        let mut seen = BTreeSet::new();
        let mut queue = vec![world::init(cfg)];
        let mut pairs = 0;
        while let Some(s) = queue.pop() {
            if !seen.insert(crate::packed::pack(&s).0) {
                continue;
            }
            let en = enabled(cfg, &s);
            for (i, &a) in en.iter().enumerate() {
                let sa = world::next_state(cfg, &s, a).expect("successor");
                for &b in &en[..i] {
                    if !independent(&s, a, b) {
                        continue;
                    }
                    pairs += 1;
                    let sb = world::next_state(cfg, &s, b).expect("successor");
                    let commutes = enabled(cfg, &sa).contains(&b)
                        && enabled(cfg, &sb).contains(&a)
                        && world::next_state(cfg, &sa, b) == world::next_state(cfg, &sb, a);
                    if !commutes {
                        return (pairs, Some((s, a, b)));
                    }
                }
                queue.push(sa);
            }
        }
        (pairs, None)
    }

    /// The footprints' claim, checked: in every reachable state of every preset (two
    /// blocks, every fault unbounded, both copy modes), two steps declared independent
    /// are both still enabled after the other and reach the same state either way.
    #[test]
    fn steps_declared_independent_commute_in_every_reachable_state() {
        let mut total = 0;
        for name in PRESET_NAMES {
            for mode in [CopyMode::Background, CopyMode::WriteBlocking] {
                let cfg = config(name, 2, mode);
                let (pairs, bad) = check_commutation(&cfg, &|w, a, b| independent(&cfg, w, a, b));
                assert!(bad.is_none(), "{name} {mode:?}: {bad:?} do not commute");
                total += pairs;
            }
        }
        // The reduction has something to prune (guest writes against copies of other
        // blocks and against libvirtd's steps).
        assert!(total > 10_000, "only {total} independent pairs");
    }

    /// The check can fail: a guest write and the copy of the same block do not commute
    /// (the write makes the block dirty again), and neither do libvirtd's steps and
    /// QEMU's execution of the command it sent.
    #[test]
    fn a_wrong_footprint_is_caught() {
        let cfg = config("blockdev-modern", 2, CopyMode::Background);
        let careless = |w: &World, a: Action, b: Action| {
            independent(&cfg, w, a, b)
                || matches!(
                    (a, b),
                    (
                        Action::Qemu(QemuAction::CopyRead(x)),
                        Action::Guest(GuestAction::Write(y))
                    ) if x == y
                )
        };
        let (_, bad) = check_commutation(&cfg, &careless);
        assert!(bad.is_some());
        let everything = |_: &World, a: Action, b: Action| a != b;
        assert!(check_commutation(&cfg, &everything).1.is_some());
    }

    /// Distinct actions get distinct bits (the sleep sets would confuse them otherwise).
    #[test]
    fn action_bits_are_distinct() {
        let cfg = config("write-ahead", Config::MAX_BLOCKS, CopyMode::Background);
        let mut all = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut queue = vec![world::init(&cfg)];
        while let Some(s) = queue.pop() {
            if seen.len() > 200_000 || !seen.insert(crate::packed::pack(&s).0) {
                continue;
            }
            for a in enabled(&cfg, &s) {
                all.insert(a);
                queue.push(world::next_state(&cfg, &s, a).expect("successor"));
            }
        }
        let bits: BTreeSet<ActionSet> = all.iter().map(|&a| bit(a)).collect();
        assert_eq!(bits.len(), all.len());
        assert!(all.len() > 20, "{all:?}");
    }

    /// Several disks (issue 16): steps declared independent commute in every reachable
    /// state of two disks (two blocks each, no faults; and one block each with a libvirtd
    /// crash and a power-off), with disk 1's writes and copies among them; the bits of
    /// disk 1's and 2's steps that can sleep are distinct from each other and from every
    /// plain action's, and their other steps take none.
    #[test]
    fn steps_of_different_disks_commute_as_declared() {
        let mut total = 0;
        let across = std::cell::Cell::new(0);
        for (blocks, faulty) in [(2, false), (1, true)] {
            let mut cfg = config("write-ahead", blocks, CopyMode::Background);
            cfg.disks = 2;
            cfg.app_order = crate::config::AppOrder::Concurrent;
            cfg.faults = if faulty {
                crate::config::Faults::OFF
                    .with(FaultKind::LibvirtdCrash, Fault::AtMost(1))
                    .with(FaultKind::GuestPowerOff, Fault::AtMost(1))
            } else {
                crate::config::Faults::OFF
            };
            let (pairs, bad) = check_commutation(&cfg, &|w, a, b| {
                let yes = independent(&cfg, w, a, b);
                if yes && a.disk() != b.disk() {
                    across.set(across.get() + 1);
                }
                yes
            });
            assert!(bad.is_none(), "{blocks} blocks: {bad:?} do not commute");
            total += pairs;
        }
        let across = across.get();
        assert!(across > 1000, "only {across} pairs across disks");
        assert!(total > across);
        let plain: BTreeSet<ActionSet> = Action::all(Config::MAX_BLOCKS)
            .into_iter()
            .map(bit)
            .collect();
        let disks: Vec<ActionSet> = Action::all_disks(Config::MAX_BLOCKS, Config::MAX_DISKS)
            .into_iter()
            .map(bit)
            .filter(|&b| b != 0)
            .collect();
        let distinct: BTreeSet<ActionSet> = disks.iter().copied().collect();
        assert_eq!(distinct.len(), disks.len());
        assert_eq!(disks.len(), 2 * (2 * Config::MAX_BLOCKS as usize + 1));
        assert!(distinct.is_disjoint(&plain));
    }
}
