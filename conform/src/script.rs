//! Corpus scripts: a short way to write a model trace by hand.
//!
//! A trace is a list of model actions, and most of them are the boring "natural
//! progress" of the system (QEMU executes the command libvirtd sent, libvirtd reads the
//! reply, the next procedure step runs). A script names only the interesting actions and
//! lets a fixed scheduler fill in the rest, so a corpus entry reads like the situation it
//! tests. Expansion is deterministic: the same script always gives the same actions.
//!
//! Tokens:
//! - an action's name as traces spell it (`GuestWrite(0)`, `QemuCrash`, `LibvirtdCrash`,
//!   `AppRequestPivot`, ...): that action, which must be enabled;
//! - `...`: natural progress until nothing natural is enabled (quiescence);
//! - `..NAME`: natural progress until action `NAME` is enabled, then `NAME`;
//! - `..send:CMD`: natural progress until libvirtd has written QMP command `CMD` (its QMP
//!   name, e.g. `job-complete`) and QEMU has not read it yet.
//!
//! Natural progress never takes a fault, a guest action, `AppRequestPivot` or
//! `LibvirtdRestart`: those happen only where a script says so.

use model::action::{AppAction, GuestAction, LibvirtdAction, QemuAction};
use model::state::World;
use model::{world, Action, Config};

/// How many natural steps one token may take before the script is declared stuck.
const MAX_NATURAL: usize = 400;

/// Rank of a natural-progress action: lower goes first. QEMU first (it is fast and runs
/// on its own), then libvirtd reading, then libvirtd's procedure, then the app.
fn natural_rank(a: Action) -> Option<u8> {
    Some(match a {
        Action::Qemu(QemuAction::Execute) => 0,
        Action::Qemu(QemuAction::CopyRead(_)) => 1,
        Action::Qemu(QemuAction::CopyWrite) => 2,
        Action::Qemu(QemuAction::JobReady) => 3,
        Action::Qemu(QemuAction::JobWaiting) => 4,
        Action::Qemu(QemuAction::JobPending) => 5,
        Action::Qemu(QemuAction::JobFinalize) => 6,
        Action::Qemu(QemuAction::JobAutoDismiss) => 7,
        Action::Libvirtd(LibvirtdAction::Read) => 8,
        Action::Libvirtd(LibvirtdAction::Eof) => 9,
        Action::Libvirtd(LibvirtdAction::Step) => 10,
        Action::Libvirtd(LibvirtdAction::Kill) => 11,
        Action::Libvirtd(LibvirtdAction::StopDomain) => 12,
        Action::App(AppAction::Recover) => 13,
        Action::App(AppAction::Resume) => 14,
        Action::App(AppAction::Step) => 15,
        // The guest, the app's request, faults and restarts happen only where a script
        // says so.
        Action::Guest(_)
        | Action::App(AppAction::RequestPivot)
        | Action::App(AppAction::HardReboot)
        | Action::App(AppAction::VirshStart)
        | Action::Libvirtd(LibvirtdAction::Restart)
        | Action::Fault(_)
        // Scripts drive one disk.
        | Action::Disk(..) => return None,
    })
}

fn enabled(cfg: &Config, w: &World) -> Vec<Action> {
    let mut out = Vec::new();
    world::actions(cfg, w, &mut out);
    out
}

/// The first natural action in rank order (ties: the model's own order).
fn natural(cfg: &Config, w: &World) -> Option<Action> {
    enabled(cfg, w)
        .into_iter()
        .filter_map(|a| natural_rank(a).map(|r| (r, a)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, a)| a)
}

/// Every action of the model, by the name traces use for it.
pub fn action_by_name(name: &str) -> Option<Action> {
    Action::from_name(name).filter(|a| match a {
        Action::Guest(GuestAction::Write(b)) | Action::Qemu(QemuAction::CopyRead(b)) => {
            *b < Config::MAX_BLOCKS
        }
        _ => true,
    })
}

/// Expands `script` into the actions it stands for, checking each one is enabled.
pub fn expand(cfg: &Config, script: &[&str]) -> Result<Vec<Action>, String> {
    let mut w = world::init(cfg);
    let mut out = Vec::new();
    let take = |w: &mut World, a: Action, out: &mut Vec<Action>| {
        *w = world::next_state(cfg, w, a).expect("enabled actions have successors");
        out.push(a);
    };
    for (i, tok) in script.iter().enumerate() {
        let at = |msg: String| format!("script token {} `{tok}`: {msg}", i + 1);
        if *tok == "..." {
            let mut n = 0;
            while let Some(a) = natural(cfg, &w) {
                take(&mut w, a, &mut out);
                n += 1;
                if n > MAX_NATURAL {
                    return Err(at("natural progress does not settle".into()));
                }
            }
        } else if let Some(cmd) = tok.strip_prefix("..send:") {
            let mut n = 0;
            while w.qemu.inbox.is_none_or(|c| c.qmp_name() != cmd) {
                let a = natural(cfg, &w)
                    .ok_or_else(|| at(format!("settled before libvirtd sent {cmd}")))?;
                take(&mut w, a, &mut out);
                n += 1;
                if n > MAX_NATURAL {
                    return Err(at(format!("libvirtd never sends {cmd}")));
                }
            }
        } else if let Some(name) = tok.strip_prefix("..") {
            let target = action_by_name(name).ok_or_else(|| at("unknown action".into()))?;
            let mut n = 0;
            while !enabled(cfg, &w).contains(&target) {
                let a = natural(cfg, &w)
                    .ok_or_else(|| at(format!("settled before {name} was enabled")))?;
                take(&mut w, a, &mut out);
                n += 1;
                if n > MAX_NATURAL {
                    return Err(at(format!("{name} never becomes enabled")));
                }
            }
            take(&mut w, target, &mut out);
        } else {
            let a = action_by_name(tok).ok_or_else(|| at("unknown action".into()))?;
            if !enabled(cfg, &w).contains(&a) {
                return Err(at("not enabled here".into()));
            }
            take(&mut w, a, &mut out);
        }
    }
    Ok(out)
}
