//! `pivotcheck explore`: stateright's web explorer over one scenario, with readable
//! action labels and the path so far drawn as a sequence diagram.
//!
//! The explorer needs a `stateright::Model`; [`ExplorerModel`] wraps the pure
//! `PivotModel` and adds what only a viewer needs (labels without a state, and the SVG
//! from `reports::diagram`), so that `model` stays free of rendering.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

use model::action::{AppAction, FaultKind, GuestAction, LibvirtdAction, QemuAction};
use model::properties::{self, Kind};
use model::{Action, PivotModel, World};
use stateright::{Checker, Model, Path, Property};

#[derive(Clone, Debug)]
pub struct ExplorerModel {
    pub inner: PivotModel,
}

/// What each action does, in words, before one knows the state it is taken in (the
/// explorer's action column; the outcome column has the full step label).
pub fn action_words(action: &Action) -> String {
    match action {
        Action::Disk(d, step) => format!("disk {d}: {}", action_words(&step.base())),
        Action::Guest(GuestAction::Write(b)) => format!("guest writes block {b}"),
        Action::Fault(FaultKind::GuestPowerOff) => "FAULT guest powers off".into(),
        Action::Qemu(QemuAction::Execute) => {
            "QEMU reads and executes the command on its monitor".into()
        }
        Action::Qemu(QemuAction::CopyRead(b)) => format!("mirror reads dirty block {b}"),
        Action::Qemu(QemuAction::CopyWrite) => "mirror writes the chunk it read".into(),
        Action::Qemu(QemuAction::JobReady) => "job becomes ready".into(),
        Action::Qemu(QemuAction::JobWaiting) => "completing job waits".into(),
        Action::Qemu(QemuAction::JobPending) => "job becomes pending".into(),
        Action::Qemu(QemuAction::JobFinalize) => "job finalizes (switch)".into(),
        Action::Qemu(QemuAction::JobAutoDismiss) => "job auto-dismissed".into(),
        Action::Libvirtd(LibvirtdAction::Step) => "libvirtd runs its next procedure step".into(),
        Action::Libvirtd(LibvirtdAction::Read) => "libvirtd reads the next reply or event".into(),
        Action::Libvirtd(LibvirtdAction::Eof) => "libvirtd sees the monitor close".into(),
        Action::Libvirtd(LibvirtdAction::Kill) => "libvirtd kills QEMU after SHUTDOWN".into(),
        Action::Libvirtd(LibvirtdAction::StopDomain) => "libvirtd stops the domain".into(),
        Action::App(AppAction::RequestPivot) => "app asks libvirt to pivot".into(),
        Action::App(AppAction::Recover) => "app recovers".into(),
        Action::App(AppAction::Resume) => "app resumes the guest".into(),
        Action::App(AppAction::Step) => "app runs the next step of its own procedure".into(),
        Action::App(AppAction::HardReboot) => "app hard-reboots from its own record".into(),
        Action::App(AppAction::VirshStart) => "operator runs virsh start".into(),
        Action::Fault(FaultKind::LibvirtdCrash) => "FAULT libvirtd crashes".into(),
        Action::Libvirtd(LibvirtdAction::Restart) => "libvirtd restarts".into(),
        Action::Fault(FaultKind::QemuCrash) => "FAULT QEMU crashes".into(),
        Action::Fault(FaultKind::HostCrash) => "FAULT host crashes".into(),
        Action::Fault(FaultKind::AppCrash) => "FAULT app crashes and restarts".into(),
    }
}

macro_rules! property_fns {
    ($($i:literal => $f:ident),* $(,)?) => {
        $(fn $f(m: &ExplorerModel, s: &World) -> bool {
            (properties::PROPERTIES[$i].condition)(&m.inner.config, s)
        })*
        const PROPERTY_FNS: [fn(&ExplorerModel, &World) -> bool; properties::PROPERTIES.len()] = [$($f),*];
    };
}

property_fns! {
    0 => p0, 1 => p1, 2 => p2, 3 => p3, 4 => p4, 5 => p5,
    6 => p6, 7 => p7, 8 => p8, 9 => p9, 10 => p10, 11 => p11, 12 => p12, 13 => p13,
}

impl Model for ExplorerModel {
    type State = World;
    type Action = Action;

    fn init_states(&self) -> Vec<World> {
        self.inner.init_states()
    }
    fn actions(&self, state: &World, actions: &mut Vec<Action>) {
        self.inner.actions(state, actions)
    }
    fn next_state(&self, last: &World, action: Action) -> Option<World> {
        self.inner.next_state(last, action)
    }
    fn format_action(&self, action: &Action) -> String {
        action_words(action)
    }
    fn format_step(&self, last: &World, action: Action) -> Option<String> {
        self.inner.format_step(last, action)
    }
    fn as_svg(&self, path: Path<World, Action>) -> Option<String> {
        // stateright's path carries the states it explored: the diagram renders them.
        let (states, actions): (Vec<World>, Vec<Option<Action>>) =
            path.into_vec().into_iter().unzip();
        let actions: Vec<Action> = actions.into_iter().flatten().collect();
        Some(reports::diagram::svg(
            &self.inner.config,
            &actions,
            &states,
            None,
            "",
        ))
    }
    fn properties(&self) -> Vec<Property<Self>> {
        properties::PROPERTIES
            .iter()
            .zip(PROPERTY_FNS)
            .map(|(p, f)| match p.kind {
                Kind::Always => Property::always(p.name, f),
                Kind::Sometimes => Property::sometimes(p.name, f),
                Kind::Eventually => unreachable!("PROPERTIES holds no liveness property"),
            })
            .collect()
    }
}

/// Checks that 127.0.0.1:`port` is free, so that a taken port is a clear error rather
/// than a panic inside the explorer's HTTP server.
pub fn port_available(port: u16) -> std::io::Result<()> {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).map(drop)
}

/// Serves the explorer on 127.0.0.1:`port`; returns only if the server stops.
pub fn serve(model: PivotModel, port: u16) {
    let m = ExplorerModel { inner: model };
    let checker = m
        .checker()
        .serve(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    let _ = checker.unique_state_count();
}
