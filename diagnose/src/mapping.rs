//! The one table between the model and the log: which model action shows as which log
//! line, and which log lines stand for model actions at all.
//!
//! | model action | in the log |
//! |---|---|
//! | libvirtd runs a step that sends a QMP command ([`model::Step::command`]) | `QEMU_MONITOR_IO_WRITE` of that command ([`COMMANDS`]) |
//! | libvirtd reads a reply | `QEMU_MONITOR_RECV_REPLY` with the command's id, its content compared ([`reply_matches`]) |
//! | libvirtd reads an event | `QEMU_MONITOR_RECV_EVENT` ([`event_of`]) |
//! | libvirtd restarts | `libvirt version: ...` |
//! | any one command, reply or event, or nothing | a monitor line cut by the crash |
//! | libvirtd stops the domain whose QEMU is gone | `qemuProcessStop: Shutting down vm=.. name=DOMAIN` |
//! | libvirtd sends a query (`query-jobs`, `query-status`, `query-block-jobs`, `query-block`) and reads its reply | the two lines, or neither ([`optional`]) |
//! | every other step: QEMU executing a command, the job's progress, guest writes and power-off, libvirtd's local steps (saves, marks), its crash, EOF, kill, stopping the domain, the app and its crash | hidden: the search may insert it anywhere |
//!
//! A real command or event with no model counterpart (`transaction`,
//! `query-named-block-nodes`, the reconnect's probes, `JOB_STATUS_CHANGE` other than
//! `pending` and `concluded`, the image-creation job's traffic) changes nothing the model
//! tracks and is skipped. A command the preset never sends is skipped too (libvirt's
//! reconnect probes with `query-block`; only a preset with a `query-block` step reads it).
//! New step kinds need no entry here as long as they send one of [`COMMANDS`] or none.

use model::action::{Action, FaultKind, LibvirtdAction};
use model::state::{Event, JobStatus, JobView, QmpMessage, Reply, RunState, World};
use model::{Command, Config};
use serde_json::Value;

/// QMP command names as libvirt sends them -> the model's command.
pub const COMMANDS: [(&str, Command); 13] = [
    ("stop", Command::Stop),
    ("cont", Command::Cont),
    ("__com.redhat_drive-reopen", Command::DriveReopen),
    ("job-complete", Command::JobComplete),
    ("block-job-complete", Command::JobComplete),
    ("job-finalize", Command::JobFinalize),
    ("block-job-cancel", Command::JobCancel),
    ("job-dismiss", Command::JobDismiss),
    ("blockdev-del", Command::BlockdevDel),
    ("query-jobs", Command::QueryJobs),
    ("query-block-jobs", Command::QueryBlockJobs),
    ("query-block", Command::QueryBlock),
    ("query-status", Command::QueryStatus),
];

/// What an observable step shows, in model terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Sent(Command),
    Reply(Command, Reply),
    Event(Event),
    Restart,
    /// libvirtd stops the domain whose QEMU is gone.
    Stop,
}

/// What a log entry says, in model terms, with what it leaves open.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    Sent(Command),
    /// A reply to the command; the pattern its content must fit.
    Reply(Command, ReplyPattern),
    Event(EventPattern),
    Restart,
    /// `qemuProcessStop: Shutting down vm=... name=DOMAIN`.
    Stop,
    /// A monitor line cut by a crash: any one monitor message, or none.
    Cut,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ReplyPattern {
    Ok,
    Error,
    /// Success or error both fit: the model does not decide it (`blockdev-del`: the model
    /// deletes any node, real QEMU refuses one still in use).
    Any,
    /// `query-jobs`: the copy job's status and whether it carries an error (`None`: no
    /// such job).
    Jobs(Option<(JobStatus, bool)>),
    /// `query-block-jobs`: the copy job present or not.
    BlockJobs(bool),
    Status(RunState),
    /// `query-block`: some image (the log does not name them in model words).
    Block,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventPattern {
    Ready,
    Pending,
    /// `JOB_STATUS_CHANGE concluded`; the error from a `BLOCK_JOB_COMPLETED` /
    /// `BLOCK_JOB_CANCELLED` read before it, if any.
    Concluded(Option<bool>),
    Shutdown,
    Stop,
    Resume,
}

/// Whether a command the model sends may be missing from the log, with its reply: a
/// query changes nothing in QEMU, and real libvirt folds some into earlier ones (its
/// reconnect hands the refresh's `query-jobs` result to the concluded-job handler, whose
/// model sends `query-jobs` again: measured on every reconnect after W1 or a `pivoting`
/// record, a difference between the model and libvirt 9.0/11.3 that changes no outcome).
pub fn optional(c: Command) -> bool {
    matches!(
        c,
        Command::QueryJobs | Command::QueryStatus | Command::QueryBlockJobs | Command::QueryBlock
    )
}

/// The command as the log shows it: the two `blockdev-del`s (the old chain after a pivot,
/// the mirror chain on the abort path) differ only in the node they name, which the
/// mapping does not follow, so both read as [`Command::BlockdevDel`] (their replies are
/// not compared either, see [`ReplyPattern::Any`]).
pub fn on_the_wire(c: Command) -> Command {
    match c {
        Command::BlockdevDelMirror => Command::BlockdevDel,
        c => c,
    }
}

/// The model's command for a real command name.
pub fn command_of(execute: &str) -> Option<Command> {
    COMMANDS
        .iter()
        .find(|(n, _)| *n == execute)
        .map(|(_, c)| *c)
}

/// Whether the preset sends `c` in any of its procedures.
pub fn preset_sends(cfg: &Config, c: Command) -> bool {
    let p = &cfg.procedures;
    p.pivot
        .iter()
        .chain(&p.reconnect)
        .chain(&p.concluded)
        .any(|s| s.command().map(on_the_wire) == Some(c))
}

/// What model action `a` from `w` to `next` shows in the log; `None`: hidden.
pub fn shown(w: &World, a: Action, next: &World) -> Option<Shown> {
    match a {
        Action::Libvirtd(LibvirtdAction::Step) => {
            let c = next.libvirtd.awaiting?;
            (w.libvirtd.awaiting.is_none() && next.qemu.inbox == Some(c))
                .then_some(Shown::Sent(on_the_wire(c)))
        }
        Action::Libvirtd(LibvirtdAction::Read) => Some(match w.qemu.outbox.first()? {
            QmpMessage::Reply(c, r) => Shown::Reply(on_the_wire(*c), *r),
            QmpMessage::Event(e) => Shown::Event(*e),
        }),
        Action::Libvirtd(LibvirtdAction::Restart) => Some(Shown::Restart),
        Action::Libvirtd(LibvirtdAction::StopDomain) => Some(Shown::Stop),
        Action::Libvirtd(LibvirtdAction::Eof | LibvirtdAction::Kill)
        | Action::Guest(_)
        | Action::Qemu(_)
        | Action::App(_)
        // A further disk's own steps (guest writes, the job's progress, the app) are
        // hidden like disk 0's; diagnose reads one disk's copy.
        | Action::Disk(..)
        | Action::Fault(
            FaultKind::LibvirtdCrash
            | FaultKind::GuestPowerOff
            | FaultKind::QemuCrash
            | FaultKind::HostCrash
            | FaultKind::AppCrash,
        ) => None,
    }
}

/// Whether what the model shows is what the log saw.
pub fn fits(shown: &Shown, seen: &Seen) -> bool {
    match (shown, seen) {
        // `shown` already gives the two `blockdev-del`s as one (`on_the_wire`).
        (Shown::Sent(a), Seen::Sent(b)) => a == b,
        (Shown::Reply(a, r), Seen::Reply(b, p)) => a == b && reply_matches(r, p),
        (Shown::Event(e), Seen::Event(p)) => event_matches(e, p),
        (Shown::Restart, Seen::Restart) | (Shown::Stop, Seen::Stop) => true,
        (Shown::Sent(_) | Shown::Reply(..) | Shown::Event(_), Seen::Cut) => true,
        _ => false,
    }
}

pub fn reply_matches(r: &Reply, p: &ReplyPattern) -> bool {
    match (r, p) {
        (_, ReplyPattern::Any) => true,
        (Reply::Ok, ReplyPattern::Ok) | (Reply::Error, ReplyPattern::Error) => true,
        (Reply::Jobs(v), ReplyPattern::Jobs(want)) => match (v, want) {
            (None, None) => true,
            (Some(JobView { status, error }), Some((s, e))) => status == s && error == e,
            _ => false,
        },
        (Reply::Jobs(v), ReplyPattern::BlockJobs(present)) => v.is_some() == *present,
        (Reply::Status(a), ReplyPattern::Status(b)) => a == b,
        (Reply::Block(_), ReplyPattern::Block) => true,
        _ => false,
    }
}

fn event_matches(e: &Event, p: &EventPattern) -> bool {
    match (e, p) {
        (Event::Ready, EventPattern::Ready)
        | (Event::Pending, EventPattern::Pending)
        | (Event::Shutdown, EventPattern::Shutdown)
        | (Event::Stop, EventPattern::Stop)
        | (Event::Resume, EventPattern::Resume) => true,
        (Event::Concluded { error }, EventPattern::Concluded(want)) => {
            want.is_none_or(|w| w == *error)
        }
        _ => false,
    }
}

/// The model's job status for QEMU's word; `None` for states the model does not reach.
fn job_status(s: &str) -> Option<JobStatus> {
    Some(match s {
        "running" => JobStatus::Running,
        "ready" => JobStatus::Ready,
        "waiting" => JobStatus::Waiting,
        "pending" => JobStatus::Pending,
        "concluded" => JobStatus::Concluded,
        _ => return None,
    })
}

/// The pattern of a real reply to `c`, given the copy job's id; `Err` names what the model
/// cannot show (a job status it has no word for).
pub fn reply_pattern(c: Command, reply: &Value, job: &str) -> Result<ReplyPattern, String> {
    if c == Command::BlockdevDel {
        return Ok(ReplyPattern::Any);
    }
    if reply.get("error").is_some() {
        return Ok(ReplyPattern::Error);
    }
    let ret = reply.get("return").cloned().unwrap_or(Value::Null);
    Ok(match c {
        Command::QueryJobs => {
            let found = ret
                .as_array()
                .into_iter()
                .flatten()
                .find(|j| j.get("id").and_then(Value::as_str) == Some(job));
            match found {
                None => ReplyPattern::Jobs(None),
                Some(j) => {
                    let s = j.get("status").and_then(Value::as_str).unwrap_or("");
                    let status = job_status(s).ok_or_else(|| {
                        format!("the copy job is in status {s:?}, which the model does not have")
                    })?;
                    ReplyPattern::Jobs(Some((status, j.get("error").is_some())))
                }
            }
        }
        Command::QueryBlockJobs => ReplyPattern::BlockJobs(
            ret.as_array()
                .into_iter()
                .flatten()
                .any(|j| j.get("device").and_then(Value::as_str) == Some(job)),
        ),
        Command::QueryStatus => ReplyPattern::Status(
            match ret.get("status").and_then(Value::as_str).unwrap_or("") {
                "running" => RunState::Running,
                "shutdown" => RunState::Shutdown,
                _ => RunState::Paused,
            },
        ),
        Command::QueryBlock => ReplyPattern::Block,
        _ => ReplyPattern::Ok,
    })
}

/// The model event for a real event of the copy job `job`; `None`: skipped. `error` is the
/// error of a `BLOCK_JOB_COMPLETED`/`CANCELLED` of the job read just before.
pub fn event_of(name: &str, data: &Value, job: &str, error: Option<bool>) -> Option<EventPattern> {
    let of_job = |key: &str| data.get(key).and_then(Value::as_str) == Some(job);
    match name {
        "BLOCK_JOB_READY" if of_job("device") => Some(EventPattern::Ready),
        "JOB_STATUS_CHANGE" if of_job("id") => match data.get("status").and_then(Value::as_str) {
            Some("pending") => Some(EventPattern::Pending),
            Some("concluded") => Some(EventPattern::Concluded(error)),
            _ => None,
        },
        // A power-off by the guest, or QEMU's own after libvirt killed it (`host-signal`):
        // the model's QEMU announces both.
        "SHUTDOWN" => Some(EventPattern::Shutdown),
        "STOP" => Some(EventPattern::Stop),
        "RESUME" => Some(EventPattern::Resume),
        _ => None,
    }
}
