//! Symmetry between blocks: the blocks of the disk are interchangeable.
//!
//! Nothing in the model treats one block differently from another: the guest may write
//! any block, the copy may take any dirty block, and every property asks only whether
//! *all* blocks hold the last acknowledged write. Renaming blocks therefore maps reachable
//! states to reachable states and keeps every verdict, so a search may store one
//! representative per class of states that differ only by a renaming of blocks. The
//! representative sorts blocks by what the state says about them.
//!
//! With several disks (issue 16) this renames the blocks of disk 0 (the world's fields)
//! only: renaming one disk's blocks is a symmetry on its own, so the reduction stays sound,
//! and the actions of disks 1 and 2 ([`Action::Disk`]) are left as they are. Disks are not
//! renamed: libvirt's reconnect and concluded handler take them in order, QEMU's exit
//! cancels their jobs in order, and the sequential app orders them, so a renaming of disks
//! does not map the model's transitions onto themselves.

use crate::action::{Action, GuestAction, QemuAction};
use crate::config::{Config, Image};
use crate::state::World;

/// A renaming of blocks: block `b` of the original is block `to[b]` of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renaming {
    pub to: [u8; Config::MAX_BLOCKS as usize],
}

impl Renaming {
    pub fn identity() -> Renaming {
        let mut to = [0; Config::MAX_BLOCKS as usize];
        for (i, t) in to.iter_mut().enumerate() {
            *t = i as u8;
        }
        Renaming { to }
    }

    pub fn inverse(&self, blocks: u8) -> Renaming {
        let mut to = Renaming::identity().to;
        for b in 0..blocks as usize {
            to[self.to[b] as usize] = b as u8;
        }
        Renaming { to }
    }

    fn mask(&self, blocks: u8, mask: u8) -> u8 {
        (0..blocks)
            .filter(|&b| mask & (1 << b) != 0)
            .fold(0, |m, b| m | 1 << self.to[b as usize])
    }

    /// The same action on renamed blocks.
    pub fn action(&self, action: Action) -> Action {
        match action {
            Action::Guest(GuestAction::Write(b)) => {
                Action::Guest(GuestAction::Write(self.to[b as usize]))
            }
            Action::Qemu(QemuAction::CopyRead(b)) => {
                Action::Qemu(QemuAction::CopyRead(self.to[b as usize]))
            }
            other => other,
        }
    }

    /// The same state with blocks renamed.
    pub fn state(&self, blocks: u8, w: &World) -> World {
        let mut r = w.clone();
        self.rename(blocks, &mut r);
        r
    }

    /// Renames the blocks of `w` in place.
    fn rename(&self, blocks: u8, w: &mut World) {
        w.storage.source = self.mask(blocks, w.storage.source);
        w.storage.target = self.mask(blocks, w.storage.target);
        w.qemu.dirty = self.mask(blocks, w.qemu.dirty);
        if let Some(c) = w.qemu.inflight.as_mut() {
            c.block = self.to[c.block as usize];
        }
    }
}

/// What the state says about block `b`, the sort key of the representative.
fn key(w: &World, b: u8) -> (bool, bool, bool, u8) {
    let bit = |m: u8| m & (1 << b) != 0;
    let inflight = match w.qemu.inflight {
        Some(c) if c.block == b => 1 + u8::from(c.fresh),
        _ => 0,
    };
    (
        bit(w.storage.fresh(Image::Source)),
        bit(w.storage.fresh(Image::Target)),
        bit(w.qemu.dirty),
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
/// that did it. The search calls this on every successor, so it neither allocates nor
/// copies the state, and leaves a state that is already sorted untouched.
pub fn canonicalize(cfg: &Config, w: &mut World) -> Renaming {
    const MAX: usize = Config::MAX_BLOCKS as usize;
    let blocks = cfg.blocks as usize;
    let mut keys = [(false, false, false, 0u8); MAX];
    let mut order = [0u8; MAX];
    for b in 0..blocks {
        keys[b] = key(w, b as u8);
        order[b] = b as u8;
    }
    // The block's own number breaks ties, so an unstable sort gives one order.
    order[..blocks].sort_unstable_by_key(|&b| (keys[b as usize], b));
    let mut to = Renaming::identity().to;
    for (rank, &b) in order[..blocks].iter().enumerate() {
        to[b as usize] = rank as u8;
    }
    let renaming = Renaming { to };
    if renaming != Renaming::identity() {
        renaming.rename(cfg.blocks, w);
    }
    renaming
}
