//! # The pivot model
//!
//! A block copy mirrors a guest disk from a `source` image to a `target`; the *pivot*
//! switches the running guest to the target. libvirtd drives it over QMP and drops its
//! locks while a monitor command is in flight, so libvirtd can die and restart before the
//! reply, the guest can power off meanwhile, QEMU can die. This crate models the four
//! actors (QEMU with its mirror job, the guest, libvirtd with its status XML and
//! persistent config, the management app) as one state machine and states, as named
//! properties, what "the images stay recoverable" means.
//!
//! The crate is pure: no I/O, no clock, no randomness, no `HashMap` iteration. Scenario
//! files, traces and reports live in `sim` and `reports`.
//!
//! Why a custom [`stateright::Model`] and not `ActorModel`: in `ActorModel` a message sent
//! to a crashed actor waits in the network and is delivered after recovery, while a
//! libvirtd restart must lose its QMP connection, the replies and events queued on it,
//! and the command QEMU has not read yet (`peers.md` §1.6, §5.3). The custom model also
//! gives each step of a libvirtd procedure its own action, keeps the action order under
//! our control (traces are action indices) and keeps fault counters out of the state
//! when faults are unbounded.
//!
//! Modules: [`config`] (what a scenario fixes), [`presets`] (the named protocol
//! variants as step lists), [`state`] (actors, split by what survives which fault),
//! [`world`] (the transition relation), [`properties`] (the verdicts), [`describe`]
//! (labels and per-actor fields for traces).

pub mod action;
pub mod app;
pub mod config;
pub mod coverage;
pub mod describe;
pub mod docs;
pub mod faults;
pub mod guest;
pub mod independence;
pub mod libvirtd;
pub mod liveness;
pub mod packed;
pub mod presets;
pub mod properties;
pub mod qemu;
pub mod state;
pub mod symmetry;
pub mod world;

#[cfg(test)]
mod disk_tests;
#[cfg(test)]
mod tests;

pub use action::{Action, Actor, AppAction, FaultKind, GuestAction, LibvirtdAction, QemuAction};
pub use config::*;
pub use state::World;

/// The model of one scenario: its configuration. States are [`World`]s.
#[derive(Clone, Debug)]
pub struct PivotModel {
    pub config: Config,
}

impl PivotModel {
    pub fn new(config: Config) -> PivotModel {
        assert!(
            (1..=Config::MAX_BLOCKS).contains(&config.blocks),
            "blocks must be 1 to {}, the scenario loader checks this",
            Config::MAX_BLOCKS
        );
        assert!(
            (1..=Config::MAX_DISKS).contains(&config.disks),
            "disks must be 1 to {}, the scenario loader checks this",
            Config::MAX_DISKS
        );
        assert!(
            config.disks == 1
                || (config.app.steps.is_empty() && !config.app.hard_reboot && !config.app.virsh_start),
            "the app's own steps, hard reboot and virsh start are modelled for one disk, the scenario loader checks this"
        );
        PivotModel { config }
    }

    pub fn init_state(&self) -> World {
        world::init(&self.config)
    }

    /// The enabled actions in their fixed order: a trace step is an index into this list.
    pub fn enabled(&self, state: &World) -> Vec<Action> {
        let mut out = Vec::new();
        world::actions(&self.config, state, &mut out);
        out
    }

    pub fn step(&self, state: &World, action: Action) -> World {
        world::next_state(&self.config, state, action)
            .expect("every enabled action has a successor")
    }
}

/// The condition of property `i` of [`properties::PROPERTIES`]. stateright takes plain
/// `fn` pointers, so each index gets its own function.
macro_rules! property_fns {
    ($($i:literal => $f:ident),* $(,)?) => {
        $(fn $f(m: &PivotModel, s: &World) -> bool {
            (properties::PROPERTIES[$i].condition)(&m.config, s)
        })*
        const PROPERTY_FNS: [fn(&PivotModel, &World) -> bool; properties::PROPERTIES.len()] = [$($f),*];
    };
}

property_fns! {
    0 => p0, 1 => p1, 2 => p2, 3 => p3, 4 => p4, 5 => p5,
    6 => p6, 7 => p7, 8 => p8, 9 => p9, 10 => p10, 11 => p11, 12 => p12, 13 => p13,
}

impl stateright::Model for PivotModel {
    type State = World;
    type Action = Action;

    fn init_states(&self) -> Vec<World> {
        vec![self.init_state()]
    }

    fn actions(&self, state: &World, actions: &mut Vec<Action>) {
        world::actions(&self.config, state, actions);
    }

    fn next_state(&self, last: &World, action: Action) -> Option<World> {
        world::next_state(&self.config, last, action)
    }

    fn format_action(&self, action: &Action) -> String {
        action.name()
    }

    fn format_step(&self, last: &World, action: Action) -> Option<String> {
        let next = world::next_state(&self.config, last, action)?;
        Some(describe::step_label(&self.config, last, action, &next))
    }

    fn properties(&self) -> Vec<stateright::Property<Self>> {
        properties::PROPERTIES
            .iter()
            .zip(PROPERTY_FNS)
            .map(|(p, f)| match p.kind {
                properties::Kind::Always => stateright::Property::always(p.name, f),
                properties::Kind::Sometimes => stateright::Property::sometimes(p.name, f),
                properties::Kind::Eventually => {
                    unreachable!("PROPERTIES holds no liveness property")
                }
            })
            .collect()
    }
}
