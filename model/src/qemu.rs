//! QEMU: the monitor (executing a command, queueing events and the reply) and the mirror
//! job's own progress (copy, ready, waiting, pending, finalize, auto-dismiss).

use crate::action::{Action, QemuAction};
use crate::config::{Command, Config, Image, QuitCancel};
use crate::state::*;

/// QEMU's steps in `w`, in trace order.
#[inline]
pub fn enabled(cfg: &Config, w: &World, out: &mut Vec<Action>) {
    let q = &w.qemu;
    if !q.alive {
        return;
    }
    if q.inbox.is_some() {
        out.push(Action::Qemu(QemuAction::Execute));
    }
    let Some(job) = &q.job else {
        return;
    };
    let copying =
        matches!(job.status, JobStatus::Running | JobStatus::Ready) && q.active == Image::Source;
    if copying {
        match q.inflight {
            None => {
                for b in 0..cfg.blocks {
                    if q.dirty & (1 << b) != 0 {
                        out.push(Action::Qemu(QemuAction::CopyRead(b)));
                    }
                }
            }
            Some(_) => out.push(Action::Qemu(QemuAction::CopyWrite)),
        }
    }
    match job.status {
        JobStatus::Running if q.converged() => out.push(Action::Qemu(QemuAction::JobReady)),
        JobStatus::Ready if (job.should_complete || job.soft_cancel) && q.converged() => {
            out.push(Action::Qemu(QemuAction::JobWaiting))
        }
        JobStatus::Waiting => out.push(Action::Qemu(QemuAction::JobPending)),
        JobStatus::Pending if cfg.procedures.job.auto_finalize => {
            out.push(Action::Qemu(QemuAction::JobFinalize))
        }
        JobStatus::Concluded if cfg.procedures.job.auto_dismiss => {
            out.push(Action::Qemu(QemuAction::JobAutoDismiss))
        }
        _ => {}
    }
}

#[inline]
pub fn apply(w: &mut World, action: QemuAction) {
    match action {
        QemuAction::Execute => qemu_execute(w),
        QemuAction::CopyRead(b) => {
            w.qemu.dirty &= !(1 << b);
            let fresh = w.storage.source & (1 << b) != 0;
            w.qemu.inflight = Some(InflightCopy { block: b, fresh });
        }
        QemuAction::CopyWrite => {
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
        QemuAction::JobReady => {
            w.qemu.job.as_mut().expect("job").status = JobStatus::Ready;
            w.qemu.synced = true;
            emit(w, QmpMessage::Event(Event::Ready));
        }
        QemuAction::JobWaiting => w.qemu.job.as_mut().expect("job").status = JobStatus::Waiting,
        QemuAction::JobPending => {
            w.qemu.job.as_mut().expect("job").status = JobStatus::Pending;
            emit(w, QmpMessage::Event(Event::Pending));
        }
        QemuAction::JobFinalize => finalize(w),
        QemuAction::JobAutoDismiss => w.qemu.job = None,
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
///
/// Every disk's job is cancelled, each announcing itself after SHUTDOWN, disk by disk.
#[inline]
pub(crate) fn qemu_quit(cfg: &Config, w: &mut World) {
    // Called inside a step of any disk: every disk's job goes, so start from disk 0.
    let focus = w.focus;
    w.swap_focus(focus);
    emit(w, QmpMessage::Event(Event::Shutdown));
    for d in 0..w.disks() {
        w.swap_focus(d);
        cancel_job_on_quit(cfg, w);
        w.swap_focus(d);
    }
    let q = &mut w.qemu;
    q.alive = false;
    q.inbox = None;
    w.swap_focus(focus);
}

/// The focused disk's job at QEMU's clean exit.
#[inline]
fn cancel_job_on_quit(cfg: &Config, w: &mut World) {
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
    if cfg.procedures.reads_bitmap() {
        // A clean exit stores the persistent bitmap: it names the image QEMU used last,
        // which holds every acknowledged write.
        w.storage.bitmap = Some(w.qemu.active);
    }
}

#[inline]
pub(crate) fn qemu_died(w: &mut World) {
    w.qemu.alive = false;
    w.qemu.inbox = None;
}

#[inline]
pub(crate) fn emit(w: &mut World, m: QmpMessage) {
    if w.qemu.monitor {
        let at = 2 * w.qemu.outbox.len() as u32;
        w.qemu
            .outbox
            .try_push(m)
            .expect("the monitor never holds more than OUTBOX_CAPACITY messages");
        w.qemu.outbox_disks |= u32::from(w.focus) << at;
    }
}

#[inline]
fn finalize(w: &mut World) {
    let q = &mut w.qemu;
    let soft_cancel = q.job.as_ref().is_some_and(|j| j.soft_cancel);
    if q.active != Image::Target && !soft_cancel {
        q.active = Image::Target;
    }
    if let Some(job) = q.job.as_mut() {
        job.status = JobStatus::Concluded;
        job.error = false;
    }
    emit(w, QmpMessage::Event(Event::Concluded { error: false }));
}

#[inline]
fn qemu_execute(w: &mut World) {
    let cmd = w
        .qemu
        .inbox
        .take()
        .expect("QemuExecute is enabled only with a command in the inbox");
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
                w.qemu.job = None;
                Reply::Ok
            } else {
                Reply::Error
            }
        }
        // Deleting the source node destroys evidence (judged by `properties::observe`),
        // nothing QEMU shows changes in this model.
        Command::BlockdevDel => Reply::Ok,
        // The mirror chain is the node the guest uses once the graph switched: QEMU
        // refuses to delete a node in use.
        Command::BlockdevDelMirror => match q.active {
            Image::Source => Reply::Ok,
            Image::Target => Reply::Error,
        },
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
