//! The transition relation: which steps are enabled, and what each one does.
//!
//! Every step of `model.md` §3 is its own action, because a fault between any two of them
//! is the point of the tool: a command reaching QEMU, a reply or event reaching libvirtd,
//! each libvirtd procedure step, each step of QEMU's job, guest writes and power-off, and
//! the faults. `actions` pushes in one fixed order so that a trace, stored as action
//! indices, replays exactly.

use crate::config::{Command, Config, CopyMode, Image, QuitCancel, Recovery, ShutdownKill, Step};
use crate::state::*;
use arrayvec::ArrayVec;

/// One atomic step of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The guest writes block `n`; the write is acknowledged in the same step.
    GuestWrite(u8),
    GuestPowerOff,
    /// QEMU reads the command on its monitor socket, executes it at once and queues its
    /// events and reply.
    QemuExecute,
    /// The background copy reads dirty block `n` from the source.
    QemuCopyRead(u8),
    /// The background copy writes the chunk it read to the target.
    QemuCopyWrite,
    /// The job converged for the first time: `ready`, BLOCK_JOB_READY.
    QemuJobReady,
    /// A completing job has converged: `waiting` (guest I/O is drained from here on).
    QemuJobWaiting,
    QemuJobPending,
    /// Finalize: the graph switch (the pivot), `concluded`, BLOCK_JOB_COMPLETED.
    QemuJobFinalize,
    /// `auto-dismiss`: the concluded job disappears (`null`).
    QemuJobAutoDismiss,
    /// libvirtd runs the current step of its procedure, or starts its `concluded` handler.
    LibvirtdStep,
    /// The oldest reply or event on the monitor reaches libvirtd and is handled.
    LibvirtdRead,
    /// libvirtd sees the monitor close because QEMU died.
    LibvirtdEof,
    /// libvirtd's SHUTDOWN handler kills a QEMU whose guest powered off.
    LibvirtdKill,
    /// libvirtd stops the domain whose QEMU is gone: status XML removed; a transient domain
    /// vanishes.
    LibvirtdStopDomain,
    AppRequestPivot,
    /// The app applies its recovery rule after a lost or uninformative answer.
    AppRecover,
    /// The app resumes a guest left paused, once it has settled.
    AppResume,
    LibvirtdCrash,
    LibvirtdRestart,
    QemuCrash,
    HostCrash,
}

pub fn init(cfg: &Config) -> World {
    let all = cfg.all_blocks();
    let live = DiskDef {
        source: Image::Source,
        mirror: Some(MirrorState::Copying),
        paused_by_libvirt: false,
    };
    World {
        // The target starts empty: it lacks even the disk's initial contents.
        storage: Storage {
            source: all,
            target: 0,
        },
        qemu: Qemu {
            alive: true,
            run_state: RunState::Running,
            active: Image::Source,
            job: Some(Job {
                status: JobStatus::Running,
                should_complete: false,
                error: false,
                soft_cancel: false,
            }),
            dirty: all,
            inflight: None,
            synced: false,
            monitor: true,
            inbox: None,
            outbox: ArrayVec::new(),
        },
        libvirtd: Libvirtd {
            up: true,
            program: None,
            awaiting: None,
            outcome: Outcome::None,
            job_seen: None,
            job_vanished: false,
            shutdown_seen: false,
            live,
            domain: Domain::Active,
            status: Some(live),
            status_unloadable: false,
            config_source: Image::Source,
        },
        app: App {
            phase: AppPhase::Idle,
        },
        ghost: Ghost::default(),
    }
}

/// libvirtd's canonical empty memory after a crash, so that crashed states do not differ
/// by leftovers nobody can read.
const FORGOTTEN: DiskDef = DiskDef {
    source: Image::Source,
    mirror: None,
    paused_by_libvirt: false,
};

/// libvirtd, idle, has a concluded job to process: its `concluded` handler is about to run.
pub fn handler_startable(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    l.idle()
        && !cfg.procedures.concluded.is_empty()
        && l.domain == Domain::Active
        && l.live.mirror.is_some()
        && matches!(
            l.job_seen,
            Some(JobView {
                status: JobStatus::Concluded,
                ..
            })
        )
}

fn wait_satisfied(w: &World) -> bool {
    let l = &w.libvirtd;
    l.outcome == Outcome::Failed
        || l.outcome == Outcome::Unknown
        || matches!(
            l.job_seen,
            Some(JobView {
                status: JobStatus::Concluded,
                ..
            })
        )
        || l.job_vanished
        || !w.qemu.monitor
}

fn pending_seen(w: &World) -> bool {
    let l = &w.libvirtd;
    l.outcome == Outcome::Failed
        || l.outcome == Outcome::Unknown
        || matches!(
            l.job_seen,
            Some(JobView {
                status: JobStatus::Pending | JobStatus::Concluded,
                ..
            })
        )
        || l.job_vanished
        || !w.qemu.monitor
}

/// In the reconnect, `job-complete`, `wait-pending` and `job-finalize` resume a pivot from
/// its durable intent: they act only when the status XML just loaded records `pivoting`,
/// and are skipped otherwise (no pivot was asked for, or its intent never became durable).
fn intent_step_skipped(w: &World, step: Step) -> bool {
    let l = &w.libvirtd;
    l.program.is_some_and(|p| p.kind == ProgramKind::Reconnect)
        && matches!(
            step,
            Step::JobComplete | Step::WaitPending | Step::JobFinalize
        )
        && l.live.mirror != Some(MirrorState::Pivoting)
}

fn step_enabled(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    if !l.up || l.awaiting.is_some() {
        return false;
    }
    match l.current_step(&cfg.procedures) {
        Some(step) if intent_step_skipped(w, step) => true,
        Some(Step::WaitConcluded) => wait_satisfied(w),
        Some(Step::WaitPending) => pending_seen(w),
        Some(_) => true,
        None => handler_startable(cfg, w),
    }
}

fn kill_enabled(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    l.up && l.shutdown_seen
        && w.qemu.alive
        && w.qemu.monitor
        && w.qemu.run_state == RunState::Shutdown
        && match cfg.procedures.shutdown_kill {
            ShutdownKill::Immediate => true,
            ShutdownKill::WhenIdle => {
                l.program.is_none() && l.live.mirror != Some(MirrorState::Pivoting)
            }
        }
}

/// What the app's recovery rule settles on now, `None` while it must wait for libvirt.
/// The second field says the answer came from `query-block`.
pub fn recovery_choice(cfg: &Config, w: &World) -> Option<(Image, bool)> {
    let l = &w.libvirtd;
    match l.domain {
        Domain::Active => {
            if cfg.recovery == Recovery::Seed
                && w.qemu.alive
                && w.qemu.run_state == RunState::Paused
            {
                Some((w.qemu.active, true))
            } else if l.live.mirror == Some(MirrorState::Pivoting) {
                None
            } else {
                Some((l.live.source, false))
            }
        }
        Domain::Inactive => Some((l.config_source, false)),
        // A transient domain is forgotten: the app falls back on the image it last knew.
        Domain::Gone => Some((Image::Source, false)),
    }
}

fn app_can_recover(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    w.app.phase == AppPhase::Recovering
        && l.idle()
        && !handler_startable(cfg, w)
        // libvirt reports a dead QEMU only once it has noticed; wait for that.
        && (l.domain != Domain::Active || w.qemu.alive)
        && recovery_choice(cfg, w).is_some()
}

fn guest_can_run(w: &World) -> bool {
    let q = &w.qemu;
    // Waiting/pending: QEMU drains guest I/O around the graph switch.
    q.alive
        && q.run_state == RunState::Running
        && !matches!(
            q.job.as_ref().map(|j| j.status),
            Some(JobStatus::Waiting | JobStatus::Pending)
        )
}

pub fn actions(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    let q = &w.qemu;
    let l = &w.libvirtd;
    let g = &w.ghost;
    let f = &cfg.faults;

    // Guest.
    if guest_can_run(w) {
        for b in 0..cfg.blocks {
            // Write-blocking mode serializes a guest write with an in-flight copy of the
            // same block (QEMU waits for overlapping requests).
            let blocked = cfg.copy_mode == CopyMode::WriteBlocking
                && q.synced
                && q.inflight.is_some_and(|c| c.block == b);
            if !blocked {
                out.push(Action::GuestWrite(b));
            }
        }
        if f.guest_poweroff.allows(g.guest_poweroffs) {
            out.push(Action::GuestPowerOff);
        }
    }

    // QEMU.
    if q.alive {
        if q.inbox.is_some() {
            out.push(Action::QemuExecute);
        }
        if let Some(job) = &q.job {
            let copying = matches!(job.status, JobStatus::Running | JobStatus::Ready)
                && q.active == Image::Source;
            if copying {
                match q.inflight {
                    None => {
                        for b in 0..cfg.blocks {
                            if q.dirty & (1 << b) != 0 {
                                out.push(Action::QemuCopyRead(b));
                            }
                        }
                    }
                    Some(_) => out.push(Action::QemuCopyWrite),
                }
            }
            match job.status {
                JobStatus::Running if q.converged() => out.push(Action::QemuJobReady),
                JobStatus::Ready if (job.should_complete || job.soft_cancel) && q.converged() => {
                    out.push(Action::QemuJobWaiting)
                }
                JobStatus::Waiting => out.push(Action::QemuJobPending),
                JobStatus::Pending if cfg.procedures.job.auto_finalize => {
                    out.push(Action::QemuJobFinalize)
                }
                JobStatus::Concluded if cfg.procedures.job.auto_dismiss => {
                    out.push(Action::QemuJobAutoDismiss)
                }
                _ => {}
            }
        }
    }

    // libvirtd.
    if l.up {
        if step_enabled(cfg, w) {
            out.push(Action::LibvirtdStep);
        }
        if q.monitor && !q.outbox.is_empty() {
            out.push(Action::LibvirtdRead);
        }
        if q.monitor && !q.alive && q.outbox.is_empty() {
            out.push(Action::LibvirtdEof);
        }
        if kill_enabled(cfg, w) {
            out.push(Action::LibvirtdKill);
        }
        if l.idle() && l.domain == Domain::Active && !q.alive && !q.monitor {
            out.push(Action::LibvirtdStopDomain);
        }
    }

    // Management app.
    if w.app.phase == AppPhase::Idle
        && l.idle()
        && l.domain == Domain::Active
        && l.live.mirror == Some(MirrorState::Ready)
    {
        out.push(Action::AppRequestPivot);
    }
    if app_can_recover(cfg, w) {
        out.push(Action::AppRecover);
    }
    if matches!(w.app.phase, AppPhase::Settled(_))
        && l.idle()
        && l.domain == Domain::Active
        && q.alive
        && q.run_state == RunState::Paused
    {
        out.push(Action::AppResume);
    }

    // Faults.
    if l.up && f.libvirtd_crash.allows(g.libvirtd_crashes) {
        out.push(Action::LibvirtdCrash);
    }
    if !l.up {
        out.push(Action::LibvirtdRestart);
    }
    if q.alive && f.qemu_crash.allows(g.qemu_crashes) {
        out.push(Action::QemuCrash);
    }
    if (q.alive || l.up) && f.host_crash.allows(g.host_crashes) {
        out.push(Action::HostCrash);
    }
}

fn bump(counter: &mut u8, bounded: bool) {
    if bounded {
        *counter = counter.saturating_add(1);
    }
}

fn bounded(f: crate::config::Fault) -> bool {
    matches!(f, crate::config::Fault::AtMost(_))
}

/// libvirtd destroys QEMU-side evidence: record whether the outcome it could tell was
/// already durable (`evidence-outlives-doubt`).
fn destroy_evidence(cfg: &Config, w: &mut World) {
    if !w.ghost.pivot_sent {
        return;
    }
    let active = w.qemu.active;
    let status_ok = w.libvirtd.status.is_some_and(|s| s.source == active);
    let config_ok = !cfg.persistent || w.libvirtd.config_source == active;
    if !(status_ok && config_ok) {
        w.ghost.evidence_destroyed_early = true;
    }
}

/// QEMU exits cleanly (quit, SIGTERM, guest power-off without `-no-shutdown`):
/// `job_cancel_sync_all` with the scenario's cancel semantics.
///
/// QEMU announces the exit before it closes the monitor, and libvirtd reads it: SHUTDOWN,
/// then, for a live job, BLOCK_JOB_CANCELLED (seen for the forced cancel on QEMU 10.0.2
/// by `pivotcheck conform`, traces `quit-*`; `real-qemu.md` §4 b). The soft cancel of
/// QEMU < 6.2 is assumed to announce itself the same way (libvirt reports an aborted
/// copy as cancelled); this QEMU cannot show it.
fn qemu_quit(cfg: &Config, w: &mut World) {
    let live = w.qemu.job_live();
    let q = &mut w.qemu;
    let mut soft_completed = false;
    if let Some(job) = &q.job {
        let was_ready = matches!(
            job.status,
            JobStatus::Ready | JobStatus::Waiting | JobStatus::Pending
        );
        if was_ready && cfg.quit_cancel == QuitCancel::Soft && q.active == Image::Source {
            // Final sync, no pivot: the target becomes a point-in-time copy of the source.
            w.storage.target = w.storage.source;
            soft_completed = true;
        }
    }
    emit(w, QmpMessage::Event(Event::Shutdown));
    if live {
        // A soft cancel of a ready mirror ends like a completion: BLOCK_JOB_COMPLETED with
        // no error (domain.md §3.3, §3.5), though nothing pivoted. A forced cancel, or a
        // job not yet ready, ends with BLOCK_JOB_CANCELLED.
        emit(
            w,
            QmpMessage::Event(Event::Concluded {
                error: !soft_completed,
            }),
        );
    }
    let q = &mut w.qemu;
    q.job = None;
    q.inflight = None;
    q.alive = false;
    q.inbox = None;
}

fn qemu_died(w: &mut World) {
    w.qemu.alive = false;
    w.qemu.inbox = None;
}

fn emit(w: &mut World, m: QmpMessage) {
    if w.qemu.monitor {
        w.qemu
            .outbox
            .try_push(m)
            .expect("the monitor never holds more than OUTBOX_CAPACITY messages");
    }
}

fn finalize(w: &mut World) {
    let q = &mut w.qemu;
    let soft_cancel = q.job.as_ref().is_some_and(|j| j.soft_cancel);
    if q.active != Image::Target && !soft_cancel {
        q.active = Image::Target;
        w.ghost.switches = (w.ghost.switches + 1).min(2);
    }
    if let Some(job) = q.job.as_mut() {
        job.status = JobStatus::Concluded;
        job.error = false;
    }
    emit(w, QmpMessage::Event(Event::Concluded { error: false }));
}

fn qemu_execute(cfg: &Config, w: &mut World) {
    let cmd = w
        .qemu
        .inbox
        .take()
        .expect("QemuExecute is enabled only with a command in the inbox");
    if cmd.is_pivot() {
        w.ghost.pivot_sent = true;
    }
    let q = &mut w.qemu;
    let mut events: Vec<Event> = Vec::new();
    let reply = match cmd {
        // QEMU 10.0.2 accepts `stop` of a paused guest and `cont` of a running one as
        // no-ops without an event (`pivotcheck conform`, trace `stop-when-paused-bg`).
        // In run state `shutdown` both stay refused here: not observable without guest
        // code (`cont` needs a reset there; `stop` is unverified).
        Command::Stop => match q.run_state {
            RunState::Running => {
                q.run_state = RunState::Paused;
                events.push(Event::Stop);
                Reply::Ok
            }
            RunState::Paused => Reply::Ok,
            RunState::Shutdown => Reply::Error,
        },
        Command::Cont => match q.run_state {
            RunState::Paused => {
                q.run_state = RunState::Running;
                events.push(Event::Resume);
                Reply::Ok
            }
            RunState::Running => Reply::Ok,
            RunState::Shutdown => Reply::Error,
        },
        Command::DriveReopen => {
            let ready = q.job.as_ref().is_some_and(|j| j.status == JobStatus::Ready);
            if ready && q.converged() && q.active == Image::Source {
                q.active = Image::Target;
                q.job = None;
                w.ghost.switches = (w.ghost.switches + 1).min(2);
                Reply::Ok
            } else {
                // The reopen failed and QEMU went back to the source, abandoning the mirror.
                if q.job_live() {
                    q.job = None;
                    q.inflight = None;
                }
                Reply::Error
            }
        }
        // `job-complete` is a verb of the `ready` state; a repeated one is accepted too
        // (mirror_complete only sets should_complete again).
        Command::JobComplete => match q.job.as_mut() {
            Some(j) if j.status == JobStatus::Ready => {
                j.should_complete = true;
                Reply::Ok
            }
            _ => Reply::Error,
        },
        Command::JobFinalize => {
            if q.job
                .as_ref()
                .is_some_and(|j| j.status == JobStatus::Pending)
            {
                finalize(w);
                Reply::Ok
            } else {
                Reply::Error
            }
        }
        // QEMU's mirror_cancel: a soft cancel of a `ready` job finishes it without the
        // switch; in any other live state the cancel is forced (aborting, then concluded
        // with BLOCK_JOB_CANCELLED); a concluded job is dismissed.
        Command::JobCancel => match q.job.as_ref().map(|j| j.status) {
            Some(JobStatus::Ready) => {
                q.job.as_mut().expect("matched a job").soft_cancel = true;
                Reply::Ok
            }
            Some(JobStatus::Running | JobStatus::Waiting | JobStatus::Pending) => {
                let j = q.job.as_mut().expect("matched a job");
                j.status = JobStatus::Concluded;
                j.error = true;
                q.inflight = None;
                events.push(Event::Concluded { error: true });
                Reply::Ok
            }
            Some(JobStatus::Concluded) => {
                destroy_evidence(cfg, w);
                w.qemu.job = None;
                Reply::Ok
            }
            None => Reply::Error,
        },
        Command::JobDismiss => {
            if q.job
                .as_ref()
                .is_some_and(|j| j.status == JobStatus::Concluded)
            {
                destroy_evidence(cfg, w);
                w.qemu.job = None;
                Reply::Ok
            } else {
                Reply::Error
            }
        }
        Command::BlockdevDel => {
            destroy_evidence(cfg, w);
            Reply::Ok
        }
        Command::QueryJobs | Command::QueryBlockJobs => {
            Reply::Jobs(q.job.as_ref().map(|j| JobView {
                status: j.status,
                error: j.error,
            }))
        }
        Command::QueryBlock => Reply::Block(q.active),
        Command::QueryStatus => Reply::Status(q.run_state),
    };
    for e in events {
        emit(w, QmpMessage::Event(e));
    }
    emit(w, QmpMessage::Reply(cmd, reply));
}

/// The outcome a concluded job means to libvirt: success counts as a pivot only if
/// libvirt asked for one (a soft cancel in `ready` also concludes without error).
fn outcome_of_concluded(l: &Libvirtd, error: bool) -> Outcome {
    if error {
        Outcome::Failed
    } else if l.live.mirror == Some(MirrorState::Pivoting) || l.outcome == Outcome::Accepted {
        Outcome::Pivoted
    } else {
        Outcome::Failed
    }
}

fn procedure_len(cfg: &Config, kind: ProgramKind) -> usize {
    match kind {
        ProgramKind::Pivot => cfg.procedures.pivot.len(),
        ProgramKind::Reconnect => cfg.procedures.reconnect.len(),
        ProgramKind::Concluded => cfg.procedures.concluded.len(),
    }
}

fn start_program(cfg: &Config, w: &mut World, kind: ProgramKind) {
    w.libvirtd.program = if procedure_len(cfg, kind) == 0 {
        None
    } else {
        Some(Program { kind, pc: 0 })
    };
}

fn advance(cfg: &Config, w: &mut World) {
    if let Some(p) = w.libvirtd.program.as_mut() {
        p.pc += 1;
        if p.pc as usize >= procedure_len(cfg, p.kind) {
            w.libvirtd.program = None;
        }
    }
}

/// libvirtd answers the app's pivot call, and the app takes the answer.
fn answer_app(cfg: &Config, w: &mut World, answer: Answer) {
    if w.app.phase != AppPhase::Waiting {
        return;
    }
    let q = &w.qemu;
    let will_switch = q.alive
        && q.job.as_ref().is_some_and(|j| {
            j.should_complete
                && matches!(
                    j.status,
                    JobStatus::Ready | JobStatus::Waiting | JobStatus::Pending
                )
        });
    // Past `waiting` the switch follows by itself, unless the job waits for a
    // `job-finalize` that libvirt may never send (auto-finalize off).
    let cannot_fail = q.alive
        && cfg.procedures.job.auto_finalize
        && q.job
            .as_ref()
            .is_some_and(|j| matches!(j.status, JobStatus::Waiting | JobStatus::Pending));
    let truthful = match answer {
        Answer::Pivoted => q.active == Image::Target || cannot_fail,
        Answer::Failed => q.active == Image::Source && !will_switch,
        Answer::Unknown => true,
    };
    if !truthful {
        w.ghost.answer_lie = true;
    }
    if answer == Answer::Pivoted {
        w.ghost.answered_pivoted = true;
    }
    w.app.phase = match answer {
        Answer::Pivoted => AppPhase::Settled(Image::Target),
        Answer::Failed => AppPhase::Settled(Image::Source),
        Answer::Unknown => AppPhase::Recovering,
    };
}

fn answer_of(outcome: Outcome) -> Answer {
    match outcome {
        Outcome::Pivoted | Outcome::Accepted => Answer::Pivoted,
        Outcome::Failed => Answer::Failed,
        Outcome::None | Outcome::Unknown => Answer::Unknown,
    }
}

fn kill_qemu(cfg: &Config, w: &mut World) {
    destroy_evidence(cfg, w);
    qemu_quit(cfg, w);
}

/// libvirtd handles the reply to the command of its current step; `None` means the
/// monitor closed before a reply came.
fn handle_reply(cfg: &Config, w: &mut World, reply: Option<Reply>) {
    let Some(step) = w.libvirtd.current_step(&cfg.procedures) else {
        return;
    };
    let l = &mut w.libvirtd;
    match step {
        Step::Pause => match reply {
            Some(Reply::Ok) => l.live.paused_by_libvirt = true,
            other => {
                // qemuDomainBlockPivot returns at once if it cannot pause.
                let kind = l.program.map(|p| p.kind);
                l.program = None;
                if kind == Some(ProgramKind::Pivot) {
                    let answer = if other.is_none() {
                        Answer::Unknown
                    } else {
                        Answer::Failed
                    };
                    answer_app(cfg, w, answer);
                }
                return;
            }
        },
        Step::Resume => {
            if reply == Some(Reply::Ok) {
                l.live.paused_by_libvirt = false;
            }
        }
        // The reconnect re-sends job-complete for a durable intent: an error there only
        // says the job is past `ready` (waiting, pending, concluded), not that the pivot
        // failed; query-jobs and query-block decide.
        Step::JobComplete
            if l.program.is_some_and(|p| p.kind == ProgramKind::Reconnect)
                && matches!(reply, Some(Reply::Error)) => {}
        Step::DriveReopen | Step::JobComplete => {
            l.outcome = match (step, reply) {
                (Step::DriveReopen, Some(Reply::Ok)) => Outcome::Pivoted,
                (_, Some(Reply::Ok)) => Outcome::Accepted,
                (_, Some(_)) => Outcome::Failed,
                (_, None) => Outcome::Unknown,
            };
        }
        Step::QueryJobs => {
            if let Some(Reply::Jobs(view)) = reply {
                l.job_seen = view;
                l.job_vanished = view.is_none();
                if let Some(v) = view.filter(|v| v.status == JobStatus::Concluded) {
                    l.outcome = outcome_of_concluded(l, v.error);
                }
            }
        }
        Step::RefreshJobs => match reply {
            Some(Reply::Jobs(Some(v))) => {
                if v.status == JobStatus::Concluded {
                    l.job_seen = Some(v);
                } else if v.status == JobStatus::Ready
                    && l.live.mirror == Some(MirrorState::Copying)
                {
                    l.live.mirror = Some(MirrorState::Ready);
                }
            }
            Some(Reply::Jobs(None)) => {
                // qemuBlockJobRefreshJobs: a tracked job QEMU no longer reports is
                // unregistered with no transition of the disk source, and the `<mirror>`
                // stays in the definition (real libvirt 9.0, real-libvirt.md §4 W2).
                l.job_vanished = true;
            }
            _ => {}
        },
        Step::RefreshJobsLegacy => {
            if let Some(Reply::Jobs(Some(v))) = reply {
                if v.status == JobStatus::Ready && l.live.mirror == Some(MirrorState::Copying) {
                    l.live.mirror = Some(MirrorState::Ready);
                }
            }
        }
        Step::QueryBlock => match reply {
            Some(Reply::Block(Image::Target)) => l.outcome = Outcome::Pivoted,
            Some(Reply::Block(Image::Source)) => {
                // The job cannot switch any more if it is gone or concluded, or if it waits
                // for a `job-finalize` that only libvirt would send.
                let held = !cfg.procedures.job.auto_finalize
                    && matches!(
                        l.job_seen,
                        Some(JobView {
                            status: JobStatus::Running
                                | JobStatus::Ready
                                | JobStatus::Waiting
                                | JobStatus::Pending,
                            ..
                        })
                    );
                let over = held
                    || l.job_vanished
                    || matches!(
                        l.job_seen,
                        Some(JobView {
                            status: JobStatus::Concluded,
                            ..
                        })
                    );
                if over {
                    l.outcome = Outcome::Failed;
                }
            }
            _ => {}
        },
        Step::FinishShutdown => {
            if reply == Some(Reply::Status(RunState::Shutdown)) {
                kill_qemu(cfg, w);
                // "Finishing shutdown sequence": the rest of the reconnect is skipped.
                w.libvirtd.program = None;
                return;
            }
        }
        Step::JobFinalize | Step::JobCancel | Step::JobDismiss | Step::BlockdevDel => {}
        Step::WaitConcluded
        | Step::WaitPending
        | Step::MarkPivoting
        | Step::ApplyOutcome
        | Step::SaveStatus
        | Step::SaveStatusUnloadable
        | Step::SaveConfig
        | Step::ReplyApp => unreachable!("{step} sends no command"),
    }
    advance(cfg, w);
}

fn libvirtd_step(cfg: &Config, w: &mut World) {
    let Some(step) = w.libvirtd.current_step(&cfg.procedures) else {
        // Idle with a concluded job to process: the `concluded` handler starts.
        let l = &mut w.libvirtd;
        let error = l.job_seen.is_some_and(|v| v.error);
        l.outcome = outcome_of_concluded(l, error);
        l.job_seen = None;
        start_program(cfg, w, ProgramKind::Concluded);
        return;
    };
    if intent_step_skipped(w, step) {
        advance(cfg, w);
        return;
    }
    if let Some(cmd) = step.command() {
        if step == Step::Resume && !w.libvirtd.live.paused_by_libvirt {
            advance(cfg, w);
            return;
        }
        if !w.qemu.monitor {
            // The monitor is closed: the command fails at once.
            handle_reply(cfg, w, None);
            return;
        }
        w.qemu.inbox = Some(cmd);
        w.libvirtd.awaiting = Some(cmd);
        return;
    }
    let l = &mut w.libvirtd;
    match step {
        Step::WaitConcluded => {
            if let Some(v) = l.job_seen.filter(|v| v.status == JobStatus::Concluded) {
                l.outcome = outcome_of_concluded(l, v.error);
            } else if l.outcome == Outcome::Accepted {
                l.outcome = Outcome::Unknown;
            }
        }
        Step::WaitPending => {}
        Step::MarkPivoting => {
            if l.live.mirror.is_some() {
                l.live.mirror = Some(MirrorState::Pivoting);
            }
        }
        Step::ApplyOutcome => match l.outcome {
            Outcome::Pivoted | Outcome::Accepted => {
                l.live.source = Image::Target;
                l.live.mirror = None;
            }
            Outcome::Failed => l.live.mirror = None,
            Outcome::None | Outcome::Unknown => {}
        },
        Step::SaveStatus | Step::SaveStatusUnloadable => {
            if l.domain == Domain::Active {
                l.status = Some(l.live);
                l.status_unloadable = step == Step::SaveStatusUnloadable;
            }
        }
        Step::SaveConfig => {
            if cfg.persistent {
                l.config_source = l.live.source;
            }
        }
        Step::ReplyApp => {
            if w.libvirtd.program.map(|p| p.kind) == Some(ProgramKind::Pivot) {
                let answer = answer_of(w.libvirtd.outcome);
                answer_app(cfg, w, answer);
            }
        }
        _ => unreachable!("{step} sends a command"),
    }
    advance(cfg, w);
}

fn libvirtd_read(cfg: &Config, w: &mut World) {
    let msg = w.qemu.outbox.remove(0);
    match msg {
        QmpMessage::Reply(cmd, reply) => {
            if w.libvirtd.awaiting == Some(cmd) {
                w.libvirtd.awaiting = None;
                handle_reply(cfg, w, Some(reply));
            }
        }
        QmpMessage::Event(e) => {
            let l = &mut w.libvirtd;
            match e {
                // The lifecycle handlers rewrite the status XML (the only status writes
                // in the 2012 pivot path).
                Event::Stop | Event::Resume => rewrite_status(l),
                Event::Shutdown => l.shutdown_seen = true,
                // libvirt saves the status XML with the ready mirror (`<mirror
                // ready='yes'>`, seen in libvirt 9.0's status after a restart: `pivotcheck
                // live`, double crashes after the job-complete reply).
                Event::Ready => {
                    if l.live.mirror == Some(MirrorState::Copying) {
                        l.live.mirror = Some(MirrorState::Ready);
                        rewrite_status(l);
                    }
                }
                Event::Pending => {
                    if l.job_seen.is_none_or(|v| v.status != JobStatus::Concluded) {
                        l.job_seen = Some(JobView {
                            status: JobStatus::Pending,
                            error: false,
                        });
                    }
                }
                Event::Concluded { error } => {
                    l.job_seen = Some(JobView {
                        status: JobStatus::Concluded,
                        error,
                    });
                }
            }
        }
    }
}

/// An event handler's status save: the live definition, serialized with the same disk
/// record as before, so an unloadable record stays unloadable.
fn rewrite_status(l: &mut Libvirtd) {
    if l.domain == Domain::Active {
        l.status = Some(l.live);
    }
}

fn stop_domain(cfg: &Config, w: &mut World) {
    let l = &mut w.libvirtd;
    l.status = None;
    l.status_unloadable = false;
    l.domain = if cfg.persistent {
        Domain::Inactive
    } else {
        Domain::Gone
    };
}

fn forget(w: &mut World) {
    let l = &mut w.libvirtd;
    l.up = false;
    l.program = None;
    l.awaiting = None;
    l.outcome = Outcome::None;
    l.job_seen = None;
    l.job_vanished = false;
    l.shutdown_seen = false;
    l.live = FORGOTTEN;
    let q = &mut w.qemu;
    q.monitor = false;
    q.inbox = None;
    q.outbox.clear();
    if w.app.phase == AppPhase::Waiting {
        w.app.phase = AppPhase::Recovering;
    }
}

fn guest_write(cfg: &Config, w: &mut World, b: u8) {
    let bit = 1u8 << b;
    let q = &mut w.qemu;
    let s = &mut w.storage;
    match q.active {
        Image::Source => {
            s.source |= bit;
            if q.job_live() {
                if cfg.copy_mode == CopyMode::WriteBlocking && q.synced {
                    s.target |= bit;
                } else {
                    s.target &= !bit;
                    q.dirty |= bit;
                    if let Some(c) = q.inflight.as_mut().filter(|c| c.block == b) {
                        c.fresh = false;
                    }
                }
            } else {
                s.target &= !bit;
            }
        }
        Image::Target => {
            s.target |= bit;
            s.source &= !bit;
        }
    }
}

pub fn next_state(cfg: &Config, last: &World, action: Action) -> Option<World> {
    let mut w = last.clone();
    let f = cfg.faults;
    match action {
        Action::GuestWrite(b) => guest_write(cfg, &mut w, b),
        Action::GuestPowerOff => {
            bump(&mut w.ghost.guest_poweroffs, bounded(f.guest_poweroff));
            if !w.libvirtd.up {
                w.ghost.poweroff_while_down = true;
            }
            if cfg.no_shutdown {
                w.qemu.run_state = RunState::Shutdown;
                emit(&mut w, QmpMessage::Event(Event::Shutdown));
            } else {
                qemu_quit(cfg, &mut w);
            }
        }
        Action::QemuExecute => qemu_execute(cfg, &mut w),
        Action::QemuCopyRead(b) => {
            w.qemu.dirty &= !(1 << b);
            let fresh = w.storage.source & (1 << b) != 0;
            w.qemu.inflight = Some(InflightCopy { block: b, fresh });
        }
        Action::QemuCopyWrite => {
            let c = w
                .qemu
                .inflight
                .take()
                .expect("enabled only with a copy in flight");
            if c.fresh {
                w.storage.target |= 1 << c.block;
            } else {
                w.storage.target &= !(1 << c.block);
            }
        }
        Action::QemuJobReady => {
            w.qemu.job.as_mut().expect("job").status = JobStatus::Ready;
            w.qemu.synced = true;
            emit(&mut w, QmpMessage::Event(Event::Ready));
        }
        Action::QemuJobWaiting => w.qemu.job.as_mut().expect("job").status = JobStatus::Waiting,
        Action::QemuJobPending => {
            w.qemu.job.as_mut().expect("job").status = JobStatus::Pending;
            emit(&mut w, QmpMessage::Event(Event::Pending));
        }
        Action::QemuJobFinalize => finalize(&mut w),
        Action::QemuJobAutoDismiss => w.qemu.job = None,
        Action::LibvirtdStep => libvirtd_step(cfg, &mut w),
        Action::LibvirtdRead => libvirtd_read(cfg, &mut w),
        Action::LibvirtdEof => {
            w.qemu.monitor = false;
            if w.libvirtd.awaiting.take().is_some() {
                handle_reply(cfg, &mut w, None);
            }
        }
        Action::LibvirtdKill => kill_qemu(cfg, &mut w),
        Action::LibvirtdStopDomain => stop_domain(cfg, &mut w),
        Action::AppRequestPivot => {
            w.app.phase = AppPhase::Waiting;
            w.libvirtd.outcome = Outcome::None;
            w.libvirtd.job_seen = None;
            w.libvirtd.job_vanished = false;
            start_program(cfg, &mut w, ProgramKind::Pivot);
        }
        Action::AppRecover => {
            let (image, by_query_block) =
                recovery_choice(cfg, &w).expect("enabled only with a choice");
            w.app.phase = AppPhase::Settled(image);
            if by_query_block {
                w.ghost.recovered_by_query_block = true;
            }
        }
        Action::AppResume => {
            // virDomainResume: libvirt sends `cont` under its own job; the QMP round trip
            // is not a window this model explores. QEMU's RESUME event still reaches
            // libvirtd's monitor (QEMU 10.0.2, `pivotcheck conform`, trace
            // `paused-crash-recover-bg`), and libvirtd handles it like any other.
            w.qemu.run_state = RunState::Running;
            w.libvirtd.live.paused_by_libvirt = false;
            emit(&mut w, QmpMessage::Event(Event::Resume));
        }
        Action::LibvirtdCrash => {
            bump(&mut w.ghost.libvirtd_crashes, bounded(f.libvirtd_crash));
            if w.libvirtd.awaiting.is_some_and(Command::is_pivot) {
                w.ghost.crash_in_pivot_window = true;
            }
            forget(&mut w);
        }
        Action::LibvirtdRestart => {
            w.libvirtd.up = true;
            if w.ghost.pivot_sent {
                w.ghost.amnesia = true;
            }
            if w.libvirtd.domain == Domain::Active {
                match w.libvirtd.status {
                    // libvirt 9.0 fails to parse the record and drops the domain without
                    // touching its QEMU (no monitor, no kill): a persistent domain shows
                    // `shut off` while its QEMU still runs, a transient one is forgotten.
                    Some(_) if w.libvirtd.status_unloadable => stop_domain(cfg, &mut w),
                    Some(status) if w.qemu.alive => {
                        w.libvirtd.live = status;
                        w.qemu.monitor = true;
                        start_program(cfg, &mut w, ProgramKind::Reconnect);
                    }
                    // The monitor cannot be reached: qemuProcessStop.
                    _ => stop_domain(cfg, &mut w),
                }
            }
        }
        Action::QemuCrash => {
            bump(&mut w.ghost.qemu_crashes, bounded(f.qemu_crash));
            qemu_died(&mut w);
        }
        Action::HostCrash => {
            bump(&mut w.ghost.host_crashes, bounded(f.host_crash));
            qemu_died(&mut w);
            forget(&mut w);
            w.libvirtd.status = None;
            w.libvirtd.status_unloadable = false;
        }
    }
    Some(w)
}
