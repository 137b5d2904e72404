//! Words for people: a label for each step and each actor's state as named fields, so
//! that a trace can show what changed in which actor instead of dumping whole states.

use crate::action::{
    Action, AppAction, DiskStep, FaultKind, GuestAction, LibvirtdAction, QemuAction,
};
use crate::config::{Config, Image, Recovery};
use crate::state::*;

/// The actors, in the order reports draw their lifelines.
pub const ACTORS: [&str; 5] = ["guest", "qemu", "libvirtd", "app", "storage"];

fn reply_text(r: Reply) -> String {
    match r {
        Reply::Ok => "ok".into(),
        Reply::Error => "error".into(),
        Reply::Jobs(None) => "no job".into(),
        Reply::Jobs(Some(v)) => format!(
            "job {}{}",
            v.status.name(),
            if v.error { " with error" } else { "" }
        ),
        Reply::Block(i) => format!("active image is the {i}"),
        Reply::Status(s) => format!("run state {}", run_state(s)),
    }
}

fn event_text(e: Event) -> &'static str {
    match e {
        Event::Stop => "STOP",
        Event::Resume => "RESUME",
        Event::Shutdown => "SHUTDOWN",
        Event::Ready => "BLOCK_JOB_READY",
        Event::Pending => "JOB_STATUS_CHANGE pending",
        Event::Concluded { error: false } => "BLOCK_JOB_COMPLETED (concluded)",
        Event::Concluded { error: true } => "BLOCK_JOB_COMPLETED with error (concluded)",
    }
}

fn run_state(s: RunState) -> &'static str {
    match s {
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::Shutdown => "shutdown",
    }
}

/// A one-line description of `action` taken in `last`, leading to `next`. With several
/// disks, a step about one disk is described on that disk's view and says which disk.
pub fn step_label(cfg: &Config, last: &World, action: Action, next: &World) -> String {
    if last.others.is_empty() {
        return step_label_one(cfg, last, action, next);
    }
    let d = crate::world::disk_of_step(cfg, last, action);
    let label = step_label_one(cfg, &last.focused(d), action.base(), &next.focused(d));
    let about_a_disk = DiskStep::of(action).is_some()
        || matches!(
            action,
            Action::Qemu(QemuAction::Execute)
                | Action::Libvirtd(
                    LibvirtdAction::Step | LibvirtdAction::Read | LibvirtdAction::Eof
                )
        );
    if about_a_disk {
        format!("disk {d}: {label}")
    } else {
        label
    }
}

fn step_label_one(cfg: &Config, last: &World, action: Action, next: &World) -> String {
    match action {
        Action::Disk(..) => unreachable!("step_label hands a plain action"),
        Action::Guest(GuestAction::Write(b)) => format!("guest writes block {b} (to the {})", last.qemu.active),
        Action::Fault(FaultKind::GuestPowerOff) => {
            if cfg.no_shutdown {
                "guest powers off; QEMU stays in run state shutdown (-no-shutdown)".into()
            } else {
                "guest powers off; QEMU exits".into()
            }
        }
        Action::Qemu(QemuAction::Execute) => {
            let cmd = last.qemu.inbox.map(|c| c.qmp_name()).unwrap_or("?");
            match next.qemu.outbox.last() {
                Some(QmpMessage::Reply(_, r)) => format!("QEMU executes {cmd}: {}", reply_text(*r)),
                _ => format!("QEMU executes {cmd} (nobody reads the reply)"),
            }
        }
        Action::Qemu(QemuAction::CopyRead(b)) => format!("mirror reads dirty block {b} from the source"),
        Action::Qemu(QemuAction::CopyWrite) => {
            let c = last.qemu.inflight.expect("copy in flight");
            let what = if c.fresh { "current" } else { "outdated" };
            format!("mirror writes the {what} block {} to the target", c.block)
        }
        Action::Qemu(QemuAction::JobReady) => "job converges: ready, BLOCK_JOB_READY".into(),
        Action::Qemu(QemuAction::JobWaiting) => "completing job converged: waiting (guest I/O drained)".into(),
        Action::Qemu(QemuAction::JobPending) => "job pending, JOB_STATUS_CHANGE pending".into(),
        Action::Qemu(QemuAction::JobFinalize) if last.qemu.job.as_ref().is_some_and(|j| j.soft_cancel) => {
            "soft-cancelled job finalizes: no switch, the target is in sync; concluded".into()
        }
        Action::Qemu(QemuAction::JobFinalize) => "job finalizes: the guest now uses the target; concluded".into(),
        Action::Qemu(QemuAction::JobAutoDismiss) => "concluded job auto-dismissed (gone from query-jobs)".into(),
        Action::Libvirtd(LibvirtdAction::Step) => match last.libvirtd.current_step(&cfg.procedures) {
            Some(step) => {
                let prog = last.libvirtd.program.map(|p| p.kind.name()).unwrap_or("?");
                match step.command() {
                    Some(_) if next.libvirtd.awaiting.is_some() => {
                        format!(
                            "libvirtd [{prog}] {step}: sends {}",
                            step.command().map(|c| c.qmp_name()).unwrap_or("")
                        )
                    }
                    Some(_) if !last.qemu.monitor => {
                        format!("libvirtd [{prog}] {step}: monitor closed, fails")
                    }
                    _ => format!("libvirtd [{prog}] {step}"),
                }
            }
            None => "libvirtd starts its concluded-job handler".into(),
        },
        Action::Libvirtd(LibvirtdAction::Read) => match last.qemu.outbox.first() {
            Some(QmpMessage::Reply(c, r)) => format!(
                "libvirtd reads the reply to {}: {}",
                c.qmp_name(),
                reply_text(*r)
            ),
            Some(QmpMessage::Event(e)) => format!("libvirtd handles event {}", event_text(*e)),
            None => "libvirtd reads nothing".into(),
        },
        Action::Libvirtd(LibvirtdAction::Eof) => "libvirtd sees the monitor close (QEMU gone)".into(),
        Action::Libvirtd(LibvirtdAction::Kill) => "libvirtd's SHUTDOWN handler kills QEMU".into(),
        Action::Libvirtd(LibvirtdAction::StopDomain) => {
            if last.libvirtd.defined {
                "libvirtd marks the domain shut off; status XML removed".into()
            } else {
                "libvirtd forgets the transient domain; status XML removed".into()
            }
        }
        Action::App(AppAction::RequestPivot) => {
            "app asks libvirt to pivot (virDomainBlockJobAbort PIVOT)".into()
        }
        Action::App(AppAction::Recover) => match next.app.phase {
            AppPhase::Settled(i)
                if next.ghost.recovered_by_query_block && !last.ghost.recovered_by_query_block =>
            {
                format!("app recovers: query-block says {i}; settles on the {i}")
            }
            AppPhase::Settled(i) if cfg.recovery == Recovery::Nova => format!(
                "app (Nova) gets an error from abort_job(pivot=True): VolumeRebaseFailed, keeps the {i}"
            ),
            AppPhase::Settled(i) if cfg.recovery == Recovery::Vdsm => format!(
                "app (VDSM) finds no replication job: deletes its replica record, keeps the {i}"
            ),
            AppPhase::Settled(i) => {
                format!("app recovers from libvirt's state: settles on the {i}")
            }
            AppPhase::Idle => {
                "app (VDSM's engine) retries the finish: blockJobInfo shows the job ready".into()
            }
            _ => "app recovers".into(),
        },
        Action::App(AppAction::Resume) => "app resumes the paused guest".into(),
        Action::App(AppAction::Step) => app_step_label(cfg, last, next),
        Action::App(AppAction::HardReboot) => format!(
            "app hard-reboots the instance from its record: domain defined and booted on the {}",
            next.qemu.active
        ),
        Action::App(AppAction::VirshStart) => format!(
            "operator runs virsh start: a new QEMU boots the {} (libvirt's config)",
            next.qemu.active
        ),
        Action::Fault(FaultKind::LibvirtdCrash) => {
            "FAULT libvirtd crashes (connection and queued messages lost)".into()
        }
        Action::Libvirtd(LibvirtdAction::Restart)
            if last.libvirtd.status_unloadable && last.libvirtd.domain == Domain::Active =>
        {
            "libvirtd restarts, cannot load its status XML and drops the domain; QEMU runs on unmanaged".into()
        }
        Action::Libvirtd(LibvirtdAction::Restart) => "libvirtd restarts and reads its status XML".into(),
        Action::Fault(FaultKind::QemuCrash) => "FAULT QEMU crashes (SIGKILL)".into(),
        Action::Fault(FaultKind::HostCrash) => "FAULT host crashes (/run lost)".into(),
        Action::Fault(FaultKind::AppCrash) => {
            "FAULT app crashes and restarts (its pivot call and libvirt's answer lost; its record kept)".into()
        }
    }
}

fn bits(cfg: &Config, mask: u8) -> String {
    if mask == cfg.all_blocks() {
        return "all writes".into();
    }
    let missing: Vec<String> = (0..cfg.blocks)
        .filter(|b| mask & (1 << b) == 0)
        .map(|b| b.to_string())
        .collect();
    format!("stale block {}", missing.join(","))
}

fn disk(d: &DiskDef) -> String {
    let mirror = d
        .mirror
        .map(|m| format!(", mirror {}", m.name()))
        .unwrap_or_default();
    let paused = if d.paused_by_libvirt {
        ", paused by libvirt"
    } else {
        ""
    };
    format!("source={}{mirror}{paused}", short(d.source))
}

fn short(i: Image) -> &'static str {
    match i {
        Image::Source => "S",
        Image::Target => "D",
    }
}

/// Each actor's state as (actor, field, value), in a fixed order. Reports diff two of
/// these to say what a step changed. With several disks, each further disk's own fields
/// follow, named with their disk (`disk 1: job`).
pub fn fields(cfg: &Config, w: &World) -> Vec<(&'static str, &'static str, String)> {
    let mut out = fields_one(cfg, w);
    for d in 1..w.disks() {
        for (actor, field, value) in fields_one(cfg, &w.focused(d)) {
            if let Some(name) = disk_field(d, field) {
                out.push((actor, name, value));
            }
        }
    }
    out
}

/// The name of disk `d`'s own field `field`; `None` for the domain's shared fields.
fn disk_field(d: u8, field: &str) -> Option<&'static str> {
    const FIELDS: [&str; 11] = [
        "source",
        "target",
        "active",
        "job",
        "dirty",
        "copy in flight",
        "outcome",
        "live definition",
        "status XML",
        "persistent config",
        "phase",
    ];
    const DISK1: [&str; 11] = [
        "disk 1: source",
        "disk 1: target",
        "disk 1: active",
        "disk 1: job",
        "disk 1: dirty",
        "disk 1: copy in flight",
        "disk 1: outcome",
        "disk 1: live definition",
        "disk 1: status XML",
        "disk 1: persistent config",
        "disk 1: phase",
    ];
    const DISK2: [&str; 11] = [
        "disk 2: source",
        "disk 2: target",
        "disk 2: active",
        "disk 2: job",
        "disk 2: dirty",
        "disk 2: copy in flight",
        "disk 2: outcome",
        "disk 2: live definition",
        "disk 2: status XML",
        "disk 2: persistent config",
        "disk 2: phase",
    ];
    let i = FIELDS.iter().position(|f| *f == field)?;
    match d {
        1 => Some(DISK1[i]),
        2 => Some(DISK2[i]),
        _ => None,
    }
}

fn fields_one(cfg: &Config, w: &World) -> Vec<(&'static str, &'static str, String)> {
    let q = &w.qemu;
    let l = &w.libvirtd;
    let mut out = vec![
        ("storage", "source", bits(cfg, w.storage.source)),
        ("storage", "target", bits(cfg, w.storage.target)),
        ("qemu", "alive", q.alive.to_string()),
        ("qemu", "run state", run_state(q.run_state).into()),
        ("qemu", "active", q.active.to_string()),
    ];
    if cfg.procedures.reads_bitmap() {
        // Only where the copy keeps a persistent bitmap, so other traces read as before.
        let word = match w.storage.bitmap {
            Some(image) => format!("stored, names the {image}"),
            None => "in use (no word)".into(),
        };
        out.insert(2, ("storage", "persistent bitmap", word));
    }
    let job = match &q.job {
        None => "none".to_string(),
        Some(j) => format!(
            "{}{}{}{}",
            j.status.name(),
            if j.should_complete {
                ", completing"
            } else {
                ""
            },
            if j.soft_cancel { ", cancelling" } else { "" },
            if j.error { ", error" } else { "" }
        ),
    };
    out.push(("qemu", "job", job));
    let dirty: Vec<String> = (0..cfg.blocks)
        .filter(|b| q.dirty & (1 << b) != 0)
        .map(|b| b.to_string())
        .collect();
    out.push((
        "qemu",
        "dirty",
        if dirty.is_empty() {
            "none".into()
        } else {
            dirty.join(",")
        },
    ));
    out.push((
        "qemu",
        "copy in flight",
        q.inflight
            .map(|c| {
                format!(
                    "block {}{}",
                    c.block,
                    if c.fresh { "" } else { " (outdated)" }
                )
            })
            .unwrap_or("none".into()),
    ));
    out.push((
        "qemu",
        "monitor",
        if q.monitor { "connected" } else { "closed" }.into(),
    ));
    out.push((
        "qemu",
        "unread command",
        q.inbox
            .map(|c| c.qmp_name().to_string())
            .unwrap_or("none".into()),
    ));
    let outbox: Vec<String> = q
        .outbox
        .iter()
        .map(|m| match m {
            QmpMessage::Reply(c, r) => format!("reply to {} ({})", c.qmp_name(), reply_text(*r)),
            QmpMessage::Event(e) => event_text(*e).to_string(),
        })
        .collect();
    out.push((
        "qemu",
        "unread replies/events",
        if outbox.is_empty() {
            "none".into()
        } else {
            outbox.join("; ")
        },
    ));
    out.push(("libvirtd", "up", l.up.to_string()));
    let program = match (l.program, l.current_step(&cfg.procedures)) {
        (Some(p), Some(s)) => format!("{} step {} ({s})", p.kind.name(), p.pc + 1),
        _ => "idle".into(),
    };
    out.push(("libvirtd", "program", program));
    out.push((
        "libvirtd",
        "awaiting",
        l.awaiting
            .map(|c| c.qmp_name().to_string())
            .unwrap_or("nothing".into()),
    ));
    out.push((
        "libvirtd",
        "outcome",
        format!("{:?}", l.outcome).to_lowercase(),
    ));
    let live = if l.up {
        disk(&l.live)
    } else {
        "(lost with the crash)".into()
    };
    out.push(("libvirtd", "live definition", live));
    out.push((
        "libvirtd",
        "status XML",
        match l.status {
            Some(d) if l.status_unloadable => format!("{} (unloadable)", disk(&d)),
            Some(d) => disk(&d),
            None => "none".into(),
        },
    ));
    out.push((
        "libvirtd",
        "persistent config",
        if l.defined {
            short(l.config_source).into()
        } else {
            "transient".into()
        },
    ));
    out.push((
        "libvirtd",
        "domain",
        format!("{:?}", l.domain).to_lowercase(),
    ));
    let app = match w.app.phase {
        AppPhase::Idle => "waiting for ready".to_string(),
        AppPhase::Waiting => "waiting for libvirt's answer".to_string(),
        AppPhase::Recovering => "answer lost, recovering".to_string(),
        AppPhase::Settled(i) => format!("settled on the {i}"),
        AppPhase::Abandoned => "gone (procedure abandoned)".to_string(),
    };
    out.push(("app", "phase", app));
    if !cfg.app.steps.is_empty() {
        let step = match (w.app.phase, crate::app::current_step(cfg, w)) {
            (AppPhase::Abandoned, _) => "none (abandoned)".to_string(),
            (_, Some(s)) => s.to_string(),
            (_, None) => "done".to_string(),
        };
        out.push(("app", "step", step));
        out.push(("app", "record", w.app.record.to_string()));
    }
    out
}

/// The label of the app's own step, from what it changed.
fn app_step_label(cfg: &Config, last: &World, next: &World) -> String {
    use crate::config::AppStep;
    let Some(step) = crate::app::current_step(cfg, last) else {
        return "app runs a step".into();
    };
    match step {
        AppStep::Undefine if !next.libvirtd.defined => {
            "app undefines the domain (it runs on as a transient one)".into()
        }
        AppStep::Undefine => "app finds the domain stopped: the swap fails before it starts".into(),
        AppStep::Pivot => {
            "app finds no block job: abort_job(pivot) fails, the swap rolls back".into()
        }
        AppStep::Redefine if next.libvirtd.defined => format!(
            "app's finally redefines the domain: config names the {}",
            next.libvirtd.config_source
        ),
        AppStep::Redefine => {
            "app's finally cannot reach libvirtd: redefine lost, the swap rolls back".into()
        }
        AppStep::RecordDb => format!("app records the {} in its database", next.app.record),
    }
}
