//! Symmetry between blocks: the blocks of a disk are interchangeable.
//!
//! Nothing in the model treats one block differently from another: the guest may write
//! any block, the copy may take any dirty block, and every property asks only whether
//! *all* blocks hold the last acknowledged write. Renaming blocks therefore maps reachable
//! states to reachable states and keeps every verdict, so a search may store one
//! representative per class of states that differ only by a renaming of blocks. The
//! representative sorts blocks by what the state says about them.
//!
//! With several disks (issue 16) each disk's blocks are renamed on their own: the guest
//! writes, and each mirror job copies, one disk's blocks without regard to another's, and
//! no property relates block `b` of one disk to block `b` of another, so the renamings of
//! every disk together (the product of the disks' groups) are a symmetry, and each disk's
//! blocks are sorted by that disk's key. A model test checks on every reachable state of
//! two disks of two blocks that renaming commutes with every step.
//!
//! Disks themselves are not renamed: libvirt's reconnect and concluded handler take them
//! in order, QEMU's exit cancels their jobs in order, and the sequential app orders them,
//! so a renaming of disks does not map the model's transitions onto themselves. The same
//! model test finds, for each of those places, a reachable state where swapping two disks
//! and then stepping differs from stepping and then swapping, and another shows that a
//! search merging swapped disks would report longer counterexamples (`disk_tests.rs`).

use crate::action::{Action, GuestAction, QemuAction};
use crate::config::{Config, Image};
use crate::state::{InflightCopy, Storage, World};

const BLOCKS: usize = Config::MAX_BLOCKS as usize;
const DISKS: usize = Config::MAX_DISKS as usize;

/// One disk's renaming of blocks: block `b` is block `row[b]` of the image.
type Row = [u8; BLOCKS];

const IDENTITY: Row = {
    let mut row = [0; BLOCKS];
    let mut i = 0;
    while i < BLOCKS {
        row[i] = i as u8;
        i += 1;
    }
    row
};

/// A renaming of blocks, one per disk: block `b` of disk `d` in the original is block
/// `to[d][b]` of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renaming {
    pub to: [Row; DISKS],
}

impl Renaming {
    pub fn identity() -> Renaming {
        Renaming {
            to: [IDENTITY; DISKS],
        }
    }

    /// Disk `disk`'s blocks renamed by `row`, every other disk's left as they are.
    pub fn of_disk(disk: u8, row: Row) -> Renaming {
        let mut r = Renaming::identity();
        r.to[disk as usize] = row;
        r
    }

    pub fn inverse(&self, blocks: u8) -> Renaming {
        let mut inv = Renaming::identity();
        for (row, out) in self.to.iter().zip(inv.to.iter_mut()) {
            for b in 0..blocks as usize {
                out[row[b] as usize] = b as u8;
            }
        }
        inv
    }

    /// The same action on renamed blocks (of the action's own disk).
    pub fn action(&self, action: Action) -> Action {
        let d = action.disk();
        let row = &self.to[d as usize];
        match action.base() {
            Action::Guest(GuestAction::Write(b)) => {
                Action::Guest(GuestAction::Write(row[b as usize])).on_disk(d)
            }
            Action::Qemu(QemuAction::CopyRead(b)) => {
                Action::Qemu(QemuAction::CopyRead(row[b as usize])).on_disk(d)
            }
            _ => action,
        }
    }

    /// The same state with blocks renamed.
    pub fn state(&self, blocks: u8, w: &World) -> World {
        let mut r = w.clone();
        self.rename(blocks, &mut r);
        r
    }

    /// Renames the blocks of every disk of `w` in place.
    fn rename(&self, blocks: u8, w: &mut World) {
        each_disk(w, |d, storage, dirty, inflight| {
            rename_disk(&self.to[d], blocks, storage, dirty, inflight)
        });
    }
}

/// Calls `f` with each disk's number and block-indexed parts (its images, QEMU's dirty
/// bitmap of its job, the copy in flight): disk 0's in the world's fields, then the others.
#[inline]
fn each_disk(
    w: &mut World,
    mut f: impl FnMut(usize, &mut Storage, &mut u8, &mut Option<InflightCopy>),
) {
    let q = &mut w.qemu;
    f(0, &mut w.storage, &mut q.dirty, &mut q.inflight);
    for (i, p) in w.others.iter_mut().enumerate() {
        f(i + 1, &mut p.storage, &mut p.dirty, &mut p.inflight);
    }
}

fn mask(row: &Row, blocks: u8, mask: u8) -> u8 {
    (0..blocks)
        .filter(|&b| mask & (1 << b) != 0)
        .fold(0, |m, b| m | 1 << row[b as usize])
}

/// Renames one disk's blocks (its parts as [`each_disk`] hands them).
fn rename_disk(
    row: &Row,
    blocks: u8,
    storage: &mut Storage,
    dirty: &mut u8,
    inflight: &mut Option<InflightCopy>,
) {
    storage.source = mask(row, blocks, storage.source);
    storage.target = mask(row, blocks, storage.target);
    *dirty = mask(row, blocks, *dirty);
    if let Some(c) = inflight.as_mut() {
        c.block = row[c.block as usize];
    }
}

/// What a disk's parts say about its block `b`, the sort key of the representative.
fn key(
    storage: &Storage,
    dirty: u8,
    inflight: Option<InflightCopy>,
    b: u8,
) -> (bool, bool, bool, u8) {
    let bit = |m: u8| m & (1 << b) != 0;
    let inflight = match inflight {
        Some(c) if c.block == b => 1 + u8::from(c.fresh),
        _ => 0,
    };
    (
        bit(storage.fresh(Image::Source)),
        bit(storage.fresh(Image::Target)),
        bit(dirty),
        inflight,
    )
}

/// The representative of `w`'s class and the renaming that maps `w` to it.
pub fn canonical(cfg: &Config, w: &World) -> (World, Renaming) {
    let mut r = w.clone();
    let renaming = canonicalize(cfg, &mut r);
    (r, renaming)
}

/// Turns `w` into the representative of its class, in place, and returns the renaming
/// that did it: each disk's blocks sorted by that disk's key. The search calls this on
/// every successor, so it neither allocates nor copies the state, and leaves a state that
/// is already sorted untouched.
pub fn canonicalize(cfg: &Config, w: &mut World) -> Renaming {
    let mut renaming = Renaming::identity();
    if cfg.blocks == 1 {
        return renaming;
    }
    each_disk(w, |d, storage, dirty, inflight| {
        renaming.to[d] = sort_disk(cfg.blocks, storage, dirty, inflight)
    });
    renaming
}

/// Sorts one disk's blocks by their keys, in place; the renaming that did it.
fn sort_disk(
    blocks: u8,
    storage: &mut Storage,
    dirty: &mut u8,
    inflight: &mut Option<InflightCopy>,
) -> Row {
    let n = blocks as usize;
    let mut keys = [(false, false, false, 0u8); BLOCKS];
    let mut order = IDENTITY;
    for (b, k) in keys[..n].iter_mut().enumerate() {
        *k = key(storage, *dirty, *inflight, b as u8);
    }
    // The block's own number breaks ties, so an unstable sort gives one order.
    order[..n].sort_unstable_by_key(|&b| (keys[b as usize], b));
    let mut row = IDENTITY;
    for (rank, &b) in order[..n].iter().enumerate() {
        row[b as usize] = rank as u8;
    }
    if row != IDENTITY {
        rename_disk(&row, blocks, storage, dirty, inflight);
    }
    row
}
