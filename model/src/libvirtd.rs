//! libvirtd: its procedures (pivot, reconnect, concluded-job handler) interpreted step by
//! step, what it does with each reply and event, its SHUTDOWN handler, stopping a domain
//! whose QEMU is gone, forgetting everything in a crash and reading its status XML on
//! restart.

use crate::action::{Action, LibvirtdAction};
use crate::config::{Command, Config, Image, ShutdownKill, Step};
use crate::qemu::qemu_quit;
use crate::state::*;

/// libvirtd's steps in `w`, in trace order (its restart is listed with the faults, after
/// the crash it follows: `faults::enabled`).
#[inline]
pub fn enabled(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    let q = &w.qemu;
    let l = &w.libvirtd;
    if !l.up {
        return;
    }
    if step_enabled(cfg, w) {
        out.push(Action::Libvirtd(LibvirtdAction::Step));
    }
    if q.monitor && !q.outbox.is_empty() {
        out.push(Action::Libvirtd(LibvirtdAction::Read));
    }
    if q.monitor && !q.alive && q.outbox.is_empty() {
        out.push(Action::Libvirtd(LibvirtdAction::Eof));
    }
    if kill_enabled(cfg, w) {
        out.push(Action::Libvirtd(LibvirtdAction::Kill));
    }
    if l.idle() && l.domain == Domain::Active && !q.alive && !q.monitor {
        out.push(Action::Libvirtd(LibvirtdAction::StopDomain));
    }
}

/// libvirtd's steps in a world of several disks, given each disk's focused view (`views[d]`
/// has disk `d` in its fields): the procedure's step reads its own disk; an idle libvirtd
/// starts the concluded handler of any disk whose job concluded; a kill that waits for
/// idleness waits for every disk.
pub fn enabled_multi(cfg: &Config, w: &World, views: &[World], out: &mut Vec<Action>) {
    let q = &w.qemu;
    let l = &w.libvirtd;
    if !l.up {
        return;
    }
    let step = match l.program {
        Some(p) => step_enabled(cfg, &views[p.disk as usize]),
        None => views.iter().any(|v| step_enabled(cfg, v)),
    };
    if step {
        out.push(Action::Libvirtd(LibvirtdAction::Step));
    }
    if q.monitor && !q.outbox.is_empty() {
        out.push(Action::Libvirtd(LibvirtdAction::Read));
    }
    if q.monitor && !q.alive && q.outbox.is_empty() {
        out.push(Action::Libvirtd(LibvirtdAction::Eof));
    }
    if views.iter().all(|v| kill_enabled(cfg, v)) {
        out.push(Action::Libvirtd(LibvirtdAction::Kill));
    }
    if l.idle() && l.domain == Domain::Active && !q.alive && !q.monitor {
        out.push(Action::Libvirtd(LibvirtdAction::StopDomain));
    }
}

/// libvirtd restarts only after it went down.
#[inline]
pub fn restart_enabled(w: &World) -> bool {
    !w.libvirtd.up
}

#[inline]
pub fn apply(cfg: &Config, w: &mut World, action: LibvirtdAction) {
    match action {
        LibvirtdAction::Step => libvirtd_step(cfg, w),
        LibvirtdAction::Read => libvirtd_read(cfg, w),
        LibvirtdAction::Eof => {
            w.qemu.monitor = false;
            if w.libvirtd.awaiting.take().is_some() {
                handle_reply(cfg, w, None);
            }
        }
        LibvirtdAction::Kill => kill_qemu(cfg, w),
        LibvirtdAction::StopDomain => stop_domain(cfg, w),
        LibvirtdAction::Restart => restart(cfg, w),
    }
}

/// libvirtd starts again and reads its status XML: it reconnects to a live QEMU and runs
/// its reconnect procedure, or stops a domain it cannot reach.
#[inline]
fn restart(cfg: &Config, w: &mut World) {
    w.libvirtd.up = true;
    if w.libvirtd.domain == Domain::Active {
        match w.libvirtd.status {
            // libvirt 9.0 fails to parse the record and drops the domain without
            // touching its QEMU (no monitor, no kill): a persistent domain shows
            // `shut off` while its QEMU still runs, a transient one is forgotten.
            Some(_) if w.libvirtd.status_unloadable => stop_domain(cfg, w),
            Some(status) if w.qemu.alive => {
                w.libvirtd.live = status;
                // The status XML holds every disk's record; the reconnect starts with
                // disk 0 and goes on disk by disk (`world::chain_reconnect`).
                for p in w.others.iter_mut() {
                    p.live = p.status.expect("one status XML holds every disk");
                }
                w.qemu.monitor = true;
                start_program(cfg, w, ProgramKind::Reconnect);
            }
            // The monitor cannot be reached: qemuProcessStop.
            _ => stop_domain(cfg, w),
        }
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
#[inline]
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

#[inline]
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

#[inline]
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
///
/// With several disks the reconnect runs disk by disk (`world::chain_reconnect`), and its
/// `finish-shutdown`, which is about the domain, runs once: in disk 0's pass when it leads
/// the list (libvirt's order: the shutdown is finished before any job is refreshed), else
/// in the last disk's pass (after every disk's jobs, as the write-ahead design asks).
fn intent_step_skipped(w: &World, step: Step) -> bool {
    let l = &w.libvirtd;
    if step == Step::QueryConcluded {
        return !concluded_query_due(l);
    }
    if let Some(p) = l.program.filter(|p| p.kind == ProgramKind::Reconnect) {
        if step == Step::FinishShutdown && w.disks() > 1 {
            let pass = if p.pc == 0 { 0 } else { w.disks() - 1 };
            return p.disk != pass;
        }
    }
    l.program.is_some_and(|p| p.kind == ProgramKind::Reconnect)
        && matches!(
            step,
            Step::JobComplete | Step::WaitPending | Step::JobFinalize
        )
        && l.live.mirror != Some(MirrorState::Pivoting)
}

#[inline]
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

#[inline]
fn kill_enabled(cfg: &Config, w: &World) -> bool {
    let l = &w.libvirtd;
    l.up && l.shutdown_seen
        && w.qemu.alive
        && w.qemu.monitor
        && w.qemu.run_state == RunState::Shutdown
        && match cfg.procedures.shutdown_kill {
            ShutdownKill::Immediate | ShutdownKill::SaveImmediate => true,
            ShutdownKill::WhenIdle => {
                l.program.is_none() && l.live.mirror != Some(MirrorState::Pivoting)
            }
        }
}

/// `query-concluded` asks only when libvirtd learnt of the conclusion from an event (the
/// outcome so far is the event's, pivoted or failed) and not from the reconnect's refresh,
/// which already read the job's error: libvirt's `job->newstate == CONCLUDED` guard. After
/// QEMU vanished before the job concluded (outcome unknown) the pivot API has already
/// failed with "domain is not running" and nothing is asked.
fn concluded_query_due(l: &Libvirtd) -> bool {
    !l.outcome_from_refresh && matches!(l.outcome, Outcome::Pivoted | Outcome::Failed)
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

/// The per-handler flags of libvirt's concluded-job processing end with the procedure
/// that used them.
fn end_program(w: &mut World) {
    let l = &mut w.libvirtd;
    if l.program.is_some_and(|p| p.kind != ProgramKind::Reconnect) {
        l.refreshed = false;
        l.outcome_from_refresh = false;
    }
    l.program = None;
}

pub(crate) fn start_program(cfg: &Config, w: &mut World, kind: ProgramKind) {
    w.libvirtd.program = if procedure_len(cfg, kind) == 0 {
        None
    } else {
        Some(Program {
            kind,
            pc: 0,
            disk: w.focus,
        })
    };
}

fn advance(cfg: &Config, w: &mut World) {
    if let Some(p) = w.libvirtd.program.as_mut() {
        p.pc += 1;
        if p.pc as usize >= procedure_len(cfg, p.kind) {
            end_program(w);
        }
    }
}

/// libvirtd answers the app's pivot call, and the app takes the answer (whether it was
/// true is judged by `properties::observe`).
fn answer_app(cfg: &Config, w: &mut World, answer: Answer) {
    if w.app.phase != AppPhase::Waiting {
        return;
    }
    match answer {
        Answer::Pivoted => crate::app::settle(cfg, w, Image::Target),
        Answer::Failed => crate::app::settle(cfg, w, Image::Source),
        Answer::Unknown => w.app.phase = AppPhase::Recovering,
    }
}

fn answer_of(outcome: Outcome) -> Answer {
    match outcome {
        // libvirt's pivot API fails only on a FAILED job: an abort it took because it
        // could not ask (`concluded`) returns 0 as well.
        Outcome::Pivoted | Outcome::Accepted | Outcome::Concluded => Answer::Pivoted,
        Outcome::Failed => Answer::Failed,
        Outcome::None | Outcome::Unknown => Answer::Unknown,
    }
}

/// libvirtd kills QEMU (SIGTERM, a clean exit): evidence of the outcome goes with it.
fn kill_qemu(cfg: &Config, w: &mut World) {
    qemu_quit(cfg, w);
}

/// libvirtd handles the reply to the command of its current step; `None` means the
/// monitor closed before a reply came.
#[inline]
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
        // qemuDomainBlockPivot: when the monitor command fails (QEMU refused job-complete,
        // or the monitor closed) it returns -1 at once ("The pivot failed. The block job
        // in QEMU remains in the synchronised state"): no `pivoting` mark, no save, no
        // wait; qemuDomainBlockJobAbort ends its job and the API fails.
        Step::JobComplete
            if l.program.is_some_and(|p| p.kind == ProgramKind::Pivot)
                && reply != Some(Reply::Ok) =>
        {
            l.outcome = if reply.is_none() {
                Outcome::Unknown
            } else {
                Outcome::Failed
            };
            l.program = None;
            let answer = answer_of(l.outcome);
            answer_app(cfg, w, answer);
            return;
        }
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
        Step::QueryConcluded => {
            // qemuBlockJobEventProcessConcluded: the job listed in the reply decides; no
            // reply or no such job leaves the state `concluded`, handled as an abort.
            match reply {
                Some(Reply::Jobs(Some(v))) => {
                    l.outcome = outcome_of_concluded(l, v.error);
                    l.refreshed = true;
                }
                _ => l.outcome = Outcome::Concluded,
            }
        }
        Step::RefreshJobs => match reply {
            Some(Reply::Jobs(Some(v))) => {
                if v.status == JobStatus::Concluded {
                    // qemuBlockJobRefreshJobs reads the error here (newstate completed or
                    // failed), so the handler asks no second time.
                    l.job_seen = Some(v);
                    l.outcome_from_refresh = true;
                } else if v.status == JobStatus::Ready
                    && l.live.mirror == Some(MirrorState::Copying)
                {
                    // A ready job whose READY event libvirtd never handled (state new or
                    // running in the record): qemuBlockJobEventProcess marks the mirror
                    // ready and saves the status XML.
                    l.live.mirror = Some(MirrorState::Ready);
                    rewrite_status(w);
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
        // A refused blockdev-del (the mirror chain QEMU already made active: "in use")
        // changes nothing either.
        Step::JobFinalize | Step::JobCancel | Step::JobDismiss | Step::BlockdevDel => {}
        Step::WaitConcluded
        | Step::WaitPending
        | Step::MarkPivoting
        | Step::ApplyOutcome
        | Step::SaveStatus
        | Step::SaveStatusUnloadable
        | Step::SaveStatusIfQueried
        | Step::SaveStatusUnloadableIfQueried
        | Step::SaveConfig
        | Step::ReplyApp
        | Step::ReadBitmap => unreachable!("{step} sends no command"),
    }
    advance(cfg, w);
}

#[inline]
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
        let cmd = match (cmd, w.libvirtd.outcome) {
            // The abort path deletes the mirror chain, not the old source.
            (Command::BlockdevDel, Outcome::Failed | Outcome::Concluded) => {
                Command::BlockdevDelMirror
            }
            (cmd, _) => cmd,
        };
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
    if step == Step::ReadBitmap {
        // Only a gone QEMU's cleanly stored word speaks; a live QEMU holds the bitmap in
        // use (its monitor is the source then), and a crashed one left it inconsistent.
        if let (false, Some(image)) = (w.qemu.alive, w.storage.bitmap) {
            w.libvirtd.outcome = match image {
                Image::Target => Outcome::Pivoted,
                Image::Source => Outcome::Failed,
            };
        }
        advance(cfg, w);
        return;
    }
    let l = &mut w.libvirtd;
    match step {
        Step::WaitConcluded => {
            // With `query-concluded` (libvirt -blockdev) a pivot command that got no reply
            // has already failed the API call: the event, which carries no error, cannot
            // turn that into an outcome.
            let lost = l.outcome == Outcome::Unknown
                && cfg.procedures.pivot.contains(&Step::QueryConcluded);
            if lost {
            } else if let Some(v) = l.job_seen.filter(|v| v.status == JobStatus::Concluded) {
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
            Outcome::Failed | Outcome::Concluded => l.live.mirror = None,
            Outcome::None | Outcome::Unknown => {}
        },
        Step::SaveStatus
        | Step::SaveStatusUnloadable
        | Step::SaveStatusIfQueried
        | Step::SaveStatusUnloadableIfQueried => {
            let due = match step {
                Step::SaveStatusIfQueried | Step::SaveStatusUnloadableIfQueried => l.refreshed,
                _ => true,
            };
            if due && l.domain == Domain::Active {
                l.status = Some(l.live);
                l.status_unloadable = matches!(
                    step,
                    Step::SaveStatusUnloadable | Step::SaveStatusUnloadableIfQueried
                );
                save_other_disks(w);
            }
        }
        Step::SaveConfig => {
            if l.defined {
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

#[inline]
fn libvirtd_read(cfg: &Config, w: &mut World) {
    let msg = w.qemu.outbox.remove(0);
    w.qemu.outbox_disks >>= 2;
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
                Event::Stop | Event::Resume => rewrite_status(w),
                Event::Shutdown => {
                    l.shutdown_seen = true;
                    if cfg.procedures.shutdown_kill == ShutdownKill::SaveImmediate {
                        rewrite_status(w);
                    }
                }
                // libvirt saves the status XML with the ready mirror (`<mirror
                // ready='yes'>`, seen in libvirt 9.0's status after a restart: `pivotcheck
                // live`, double crashes after the job-complete reply).
                Event::Ready => {
                    if l.live.mirror == Some(MirrorState::Copying) {
                        l.live.mirror = Some(MirrorState::Ready);
                        rewrite_status(w);
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
fn rewrite_status(w: &mut World) {
    if w.libvirtd.domain == Domain::Active {
        w.libvirtd.status = Some(w.libvirtd.live);
        save_other_disks(w);
    }
}

/// The status XML is one file for the whole domain: a save made for one disk writes
/// every other disk's in-memory record too, half-done pivots included (issue 16).
fn save_other_disks(w: &mut World) {
    for p in w.others.iter_mut() {
        p.status = Some(p.live);
    }
}

pub(crate) fn stop_domain(cfg: &Config, w: &mut World) {
    // persistent-bitmap: stopping a domain whose QEMU is gone, libvirt reads the copy's
    // bitmap (as `read-bitmap` does) and writes the image it names into the config, so
    // the next boot uses the newer image whatever the status XML said.
    if let (true, false, Some(image)) = (
        cfg.procedures.reads_bitmap(),
        w.qemu.alive,
        w.storage.bitmap,
    ) {
        if w.libvirtd.defined {
            w.libvirtd.config_source = image;
        }
    }
    let l = &mut w.libvirtd;
    l.status = None;
    l.status_unloadable = false;
    for p in w.others.iter_mut() {
        p.status = None;
    }
    l.domain = if l.defined {
        Domain::Inactive
    } else {
        Domain::Gone
    };
}

/// libvirtd's memory of a QEMU's pivot and job, emptied: after its own crash, and when a
/// new QEMU boots for the domain (which has no job to remember).
pub(crate) fn forget_the_job(l: &mut Libvirtd) {
    l.awaiting = None;
    l.outcome = Outcome::None;
    l.job_seen = None;
    l.job_vanished = false;
    l.refreshed = false;
    l.outcome_from_refresh = false;
    l.shutdown_seen = false;
}

pub(crate) fn forget(w: &mut World) {
    let l = &mut w.libvirtd;
    l.up = false;
    l.program = None;
    forget_the_job(l);
    l.live = FORGOTTEN;
    let q = &mut w.qemu;
    q.monitor = false;
    q.inbox = None;
    q.outbox.clear();
    q.outbox_disks = 0;
    if w.app.phase == AppPhase::Waiting {
        w.app.phase = AppPhase::Recovering;
    }
    for p in w.others.iter_mut() {
        p.outcome = Outcome::None;
        p.job_seen = None;
        p.job_vanished = false;
        p.refreshed = false;
        p.outcome_from_refresh = false;
        p.live = FORGOTTEN;
        if p.app.phase == AppPhase::Waiting {
            p.app.phase = AppPhase::Recovering;
        }
    }
}
