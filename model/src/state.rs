//! The state of every actor, split into what survives which fault.
//!
//! | part | survives a libvirtd crash | survives QEMU's death | survives a host crash | survives the app's crash |
//! |---|---|---|---|---|
//! | storage (images) | yes | yes | yes | yes |
//! | the persistent bitmap's word (in the images) | yes | written on a clean exit; in use (no word) after a crash | no word (in use) | yes |
//! | QEMU (run state, job, monitor queues) | yes, but the monitor queues are dropped | no | no | yes |
//! | libvirtd volatile (program, live definition) | no | yes | no | yes |
//! | libvirtd status XML (`/run`) | yes | deleted when libvirtd stops the domain | no | yes |
//! | libvirtd persistent config | yes | yes | yes | yes |
//! | management app's record (asked for a pivot; the image it settled on) | yes | yes | yes | yes |
//! | management app's call in flight, its step in its own procedure | no (its pending answer is lost) | yes | yes | no |
//!
//! The app runs on another host than the domain (as Nova's and oVirt's engines do), so a
//! host crash does not touch it.
//!
//! All collections are `Vec`s or fixed fields, so hashing and iteration are deterministic.

use arrayvec::ArrayVec;

use crate::config::{Command, Config, Image, Step};

/// At most this many replies and events wait on the monitor: one reply and its events for
/// the one command in flight, SHUTDOWN and the app's RESUME, plus each disk's READY,
/// pending and concluded, each at most once per connection (three disks: 14). Inline, so
/// that copying a state allocates nothing; below 16, so its length packs in 4 bits.
pub const OUTBOX_CAPACITY: usize = 15;

/// Images as a per-block "holds the latest acknowledged write" bitmask. Exact versions are
/// not needed: every property asks only whether an image holds the last acknowledged write
/// of each block, so this is an exact abstraction with no bound on the number of writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Storage {
    pub source: u8,
    pub target: u8,
    /// The persistent dirty bitmap's word on the images (`persistent-bitmap`): which image
    /// holds the newest data, as the last QEMU left it. `None` while a QEMU has the images
    /// open (qcow2 sets the bitmap's `in_use` flag when it opens it read-write) and after
    /// an unclean death, which leaves that flag set ("the bitmap was not saved correctly
    /// and may be inconsistent", QEMU `docs/interop/qcow2.txt`): only a clean close
    /// (`qcow2_store_persistent_dirty_bitmaps` on inactivation) writes a word a reader may
    /// trust. Writes go only to the active image (or to both), so the per-block bits all
    /// name the image QEMU used last: one word per disk is exact. Always `None` when the
    /// procedures do not read the bitmap, so other presets keep their states.
    pub bitmap: Option<Image>,
}

impl Storage {
    pub fn fresh(&self, image: Image) -> u8 {
        match image {
            Image::Source => self.source,
            Image::Target => self.target,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunState {
    Running,
    Paused,
    /// The guest powered off under `-no-shutdown`: vCPUs stopped, process alive.
    Shutdown,
}

/// QEMU's `JobStatus` for the mirror job, less the states no step here reaches
/// (`created`, `standby`, `aborting`: nothing pauses or aborts the job in these procedures).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Running,
    Ready,
    Waiting,
    Pending,
    Concluded,
}

impl JobStatus {
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Ready => "ready",
            JobStatus::Waiting => "waiting",
            JobStatus::Pending => "pending",
            JobStatus::Concluded => "concluded",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Job {
    pub status: JobStatus,
    /// Set by an accepted `job-complete`: once converged, the job finishes with a pivot.
    pub should_complete: bool,
    /// A concluded job's `error` (force-cancelled, or failed).
    pub error: bool,
    /// Set by a soft `block-job-cancel` in `ready`: once converged, the job finishes like a
    /// completion (waiting, pending, concluded without error) but never switches.
    pub soft_cancel: bool,
}

/// A chunk the background copy has read from the source and not yet written to the
/// target. `fresh` turns false if the guest rewrites the block meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InflightCopy {
    pub block: u8,
    pub fresh: bool,
}

/// What QEMU tells `query-jobs` / `query-block-jobs` about the one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobView {
    pub status: JobStatus,
    pub error: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    Ok,
    Error,
    Jobs(Option<JobView>),
    Block(Image),
    Status(RunState),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    Stop,
    Resume,
    Shutdown,
    /// BLOCK_JOB_READY.
    Ready,
    /// JOB_STATUS_CHANGE(pending).
    Pending,
    /// BLOCK_JOB_COMPLETED / BLOCK_JOB_CANCELLED / JOB_STATUS_CHANGE(concluded), folded into
    /// one message: libvirt reacts to them the same way.
    Concluded {
        error: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QmpMessage {
    Reply(Command, Reply),
    Event(Event),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Qemu {
    pub alive: bool,
    pub run_state: RunState,
    pub active: Image,
    pub job: Option<Job>,
    /// Blocks the background copy still has to copy.
    pub dirty: u8,
    pub inflight: Option<InflightCopy>,
    /// The job has converged once: write-blocking mode now writes to both images.
    pub synced: bool,
    /// libvirtd's monitor connection is open.
    pub monitor: bool,
    /// A command written to the monitor socket and not yet read by QEMU.
    pub inbox: Option<Command>,
    /// Replies and events QEMU has written and libvirtd has not read, in order.
    pub outbox: CopyVec<QmpMessage, OUTBOX_CAPACITY>,
    /// The disk each outbox message is about, two bits per message from the lowest up
    /// (QMP's `device` / job id); always 0 with one disk. A reply is about the disk of
    /// libvirtd's procedure, which sent the command.
    pub outbox_disks: u32,
}

impl Qemu {
    /// The job still copies and will still drain the dirty blocks into the target.
    pub fn job_live(&self) -> bool {
        matches!(
            self.job.as_ref().map(|j| j.status),
            Some(JobStatus::Running | JobStatus::Ready | JobStatus::Waiting | JobStatus::Pending)
        )
    }
    pub fn converged(&self) -> bool {
        self.dirty == 0 && self.inflight.is_none()
    }
}

/// libvirt's view of the copy in a domain definition (`<mirror ready=...>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MirrorState {
    Copying,
    Ready,
    Pivoting,
}

impl MirrorState {
    pub fn name(self) -> &'static str {
        match self {
            MirrorState::Copying => "copying",
            MirrorState::Ready => "ready",
            MirrorState::Pivoting => "pivoting",
        }
    }
}

/// The part of a domain definition the model needs: the disk source and the mirror record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DiskDef {
    pub source: Image,
    pub mirror: Option<MirrorState>,
    pub paused_by_libvirt: bool,
}

/// What libvirtd currently believes about the pivot's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    None,
    /// `job-complete` was accepted; the switch happens later.
    Accepted,
    Pivoted,
    Failed,
    /// QEMU went away before it answered.
    Unknown,
    /// The job concluded and libvirt could not ask how (JOB_STATUS_CHANGE carries no
    /// error, and `query-concluded` got no answer or no such job): libvirt 9.0 and 11.3
    /// take the abort path (source kept, mirror dropped), and the pivot API, which fails
    /// only on a FAILED job, returns 0.
    Concluded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramKind {
    Pivot,
    Reconnect,
    Concluded,
}

impl ProgramKind {
    pub fn name(self) -> &'static str {
        match self {
            ProgramKind::Pivot => "pivot",
            ProgramKind::Reconnect => "reconnect",
            ProgramKind::Concluded => "concluded",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Program {
    pub kind: ProgramKind,
    pub pc: u8,
    /// The disk the procedure is about: libvirt's per-domain job lock runs one at a time.
    pub disk: u8,
}

/// Whether libvirt manages the domain, as `virsh list --all` would show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    Active,
    /// Persistent domain, shut off: only the config remains.
    Inactive,
    /// Transient domain that stopped: libvirt forgot it.
    Gone,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Libvirtd {
    pub up: bool,
    // Volatile.
    pub program: Option<Program>,
    pub awaiting: Option<Command>,
    pub outcome: Outcome,
    /// The job's last status libvirtd has seen (from `query-jobs`, an event).
    pub job_seen: Option<JobView>,
    /// `query-jobs` said the job no longer exists.
    pub job_vanished: bool,
    /// `query-concluded` found the job in its reply (libvirt's `refreshed`): the
    /// `-if-queried` saves happen.
    pub refreshed: bool,
    /// The reconnect's `refresh-jobs` found the job concluded and read its outcome there
    /// (libvirt's second concluded path): `query-concluded` is skipped.
    pub outcome_from_refresh: bool,
    /// A SHUTDOWN event was handled; QEMU is to be killed.
    pub shutdown_seen: bool,
    pub live: DiskDef,
    // Durable.
    pub domain: Domain,
    /// The status XML in `/run`; `None` once the domain stopped or a host crash cleared `/run`.
    pub status: Option<DiskDef>,
    /// The status XML cannot be loaded (`save-status-unloadable`): a restart drops the
    /// domain and leaves its QEMU unmanaged. Always `false` while `status` is `None`.
    pub status_unloadable: bool,
    pub config_source: Image,
    /// The domain has a persistent config (`virsh list --all` keeps it when it stops).
    /// Starts as the scenario's `persistent`; the app's `undefine` and `redefine` and its
    /// hard reboot change it.
    pub defined: bool,
}

impl Libvirtd {
    pub fn idle(&self) -> bool {
        self.up && self.program.is_none()
    }
    pub fn current_step(&self, procedures: &crate::config::Procedures) -> Option<Step> {
        let p = self.program?;
        let list = match p.kind {
            ProgramKind::Pivot => &procedures.pivot,
            ProgramKind::Reconnect => &procedures.reconnect,
            ProgramKind::Concluded => &procedures.concluded,
        };
        list.get(p.pc as usize).copied()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    Pivoted,
    Failed,
    /// libvirt returned an error that does not say what happened ("domain is not running").
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppPhase {
    /// Waiting for the copy to be ready before asking for the pivot.
    Idle,
    /// The pivot API call is in flight.
    Waiting,
    /// The answer was lost or told nothing: the recovery rule decides.
    Recovering,
    /// The app has settled on an image and will use it from now on.
    Settled(Image),
    /// The app's process died inside its own procedure and, restarted, does not resume
    /// it (nova-compute has no recovery for an interrupted swap): its durable record
    /// stands as it was, and only a later hard reboot acts on it.
    Abandoned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct App {
    pub phase: AppPhase,
    /// Volatile: the index of the app's current step in `Config::app.steps` (0 for the
    /// plain app, which has none).
    pub pc: u8,
    /// Durable: the image the app's own database names for the disk (Nova's block device
    /// mapping); what its hard reboot boots. Written only by its `record-db` step.
    pub record: Image,
}

/// Facts no actor knows, recorded for the properties (history variables, as in TLA+).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ghost {
    /// QEMU has executed a pivot command: from here on there is an outcome to know.
    pub pivot_sent: bool,
    /// libvirtd restarted after a pivot command was sent: its memory of the pivot is gone.
    pub amnesia: bool,
    /// How often QEMU's active image changed (saturates at 2).
    pub switches: u8,
    /// libvirt answered the app something that did not match QEMU at that moment.
    pub answer_lie: bool,
    /// libvirtd destroyed evidence of the outcome before making it durable.
    pub evidence_destroyed_early: bool,
    /// libvirtd crashed while it awaited the pivot command's reply.
    pub crash_in_pivot_window: bool,
    /// The guest powered off while libvirtd was down.
    pub poweroff_while_down: bool,
    /// The app settled through `query-block`.
    pub recovered_by_query_block: bool,
    /// libvirt answered the app's pivot call with "pivoted".
    pub answered_pivoted: bool,
    /// How often each fault struck, counted only for bounded faults (unbounded ones stay
    /// 0, which keeps the state space finite).
    pub faults_used: crate::config::PerFault<u8>,
}

/// The whole system: one domain, its disks, one copy job per disk from source to target.
///
/// The fields hold disk 0 and everything shared (QEMU's process and monitor, libvirtd's
/// procedure, the domain); `others` holds each further disk's own parts ([`DiskParts`]).
/// A step of disk `d` swaps its parts into the fields ([`World::swap_focus`]), runs the
/// one-disk code, and swaps them back: every actor is written once, for one disk, and a
/// one-disk world is exactly what it was before disks existed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    pub storage: Storage,
    pub qemu: Qemu,
    pub libvirtd: Libvirtd,
    pub app: App,
    pub ghost: Ghost,
    /// Disks 1 and up; empty with one disk. Inline, so that copying a state of several
    /// disks allocates nothing (the search copies one per successor, and one per disk for
    /// the disks' views); an empty one copies only its length.
    pub others: Others,
    /// The disk whose parts are in the fields: 0 between steps, `d` while a step of disk
    /// `d` runs (QEMU tags the events it emits with it).
    pub focus: u8,
}

/// The parts of disks 1 and up, inline ([`Config::MAX_DISKS`] less disk 0).
pub type Others = CopyVec<DiskParts, { Config::MAX_DISKS as usize - 1 }>;

/// Each disk's view of a world of several disks (`views[d]` is `w.focused(d)`, so
/// `views[0]` is a copy of `w`), computed once per state by the search and read by its
/// enabled steps, its properties and its successors' ghost facts; empty for one disk
/// ([`World::views`]).
pub type Views = ArrayVec<World, { Config::MAX_DISKS as usize }>;

/// One disk's own parts of the world: its images, its mirror job in QEMU, libvirtd's
/// knowledge of it (the `<mirror>` record in the live definition and the status XML, the
/// persistent config's source), the app's progress with it, and its ghost facts. The
/// status XML is one file: a save writes every disk's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DiskParts {
    pub storage: Storage,
    pub active: Image,
    pub job: Option<Job>,
    pub dirty: u8,
    pub inflight: Option<InflightCopy>,
    pub synced: bool,
    pub outcome: Outcome,
    pub job_seen: Option<JobView>,
    pub job_vanished: bool,
    pub refreshed: bool,
    pub outcome_from_refresh: bool,
    pub live: DiskDef,
    pub status: Option<DiskDef>,
    pub config_source: Image,
    pub app: App,
    /// The disk's ghost facts; `faults_used` stays in the world's ghost (faults strike the
    /// domain) and is always zero here.
    pub ghost: Ghost,
}

impl World {
    /// The number of disks.
    pub fn disks(&self) -> u8 {
        1 + self.others.len() as u8
    }

    /// Swaps disk `d`'s parts into the fields (when disk 0 is focused), or back (when `d`
    /// is): an involution, so `swap_focus(d)` twice leaves the world as it was. Disk 0 is
    /// always in the fields at rest, so this is a no-op for it.
    #[inline]
    pub fn swap_focus(&mut self, d: u8) {
        if d == 0 {
            return;
        }
        debug_assert!(self.focus == 0 || self.focus == d);
        self.focus = if self.focus == d { 0 } else { d };
        // Borrowed field by field, so the disk's parts are swapped in place.
        let World {
            storage,
            qemu: q,
            libvirtd: l,
            app,
            ghost,
            others,
            focus: _,
        } = self;
        let p = &mut others[d as usize - 1];
        std::mem::swap(storage, &mut p.storage);
        std::mem::swap(&mut q.active, &mut p.active);
        std::mem::swap(&mut q.job, &mut p.job);
        std::mem::swap(&mut q.dirty, &mut p.dirty);
        std::mem::swap(&mut q.inflight, &mut p.inflight);
        std::mem::swap(&mut q.synced, &mut p.synced);
        std::mem::swap(&mut l.outcome, &mut p.outcome);
        std::mem::swap(&mut l.job_seen, &mut p.job_seen);
        std::mem::swap(&mut l.job_vanished, &mut p.job_vanished);
        std::mem::swap(&mut l.refreshed, &mut p.refreshed);
        std::mem::swap(&mut l.outcome_from_refresh, &mut p.outcome_from_refresh);
        std::mem::swap(&mut l.live, &mut p.live);
        std::mem::swap(&mut l.status, &mut p.status);
        std::mem::swap(&mut l.config_source, &mut p.config_source);
        std::mem::swap(app, &mut p.app);
        std::mem::swap(ghost, &mut p.ghost);
        std::mem::swap(&mut ghost.faults_used, &mut p.ghost.faults_used);
    }

    /// A copy of the world with disk `d` in the fields: what properties read for that disk.
    pub fn focused(&self, d: u8) -> World {
        let mut w = self.clone();
        w.swap_focus(d);
        w
    }

    /// Each disk's view ([`Views`]): empty with one disk, whose only view is the world.
    pub fn views(&self) -> Views {
        if self.others.is_empty() {
            return Views::new();
        }
        (0..self.disks()).map(|d| self.focused(d)).collect()
    }

    /// The disk of libvirtd's running procedure (0 when none runs).
    pub fn program_disk(&self) -> u8 {
        self.libvirtd.program.map_or(0, |p| p.disk)
    }
}

/// An [`ArrayVec`] of `Copy` items that copies itself with one `memcpy`: `ArrayVec`'s own
/// `clone` clones item by item, and the search copies QEMU's outbox and the further disks'
/// parts with every state it makes (profiled with three disks: those clones took about a
/// tenth of the search's time).
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct CopyVec<T: Copy, const N: usize>(ArrayVec<T, N>);

impl<T: Copy, const N: usize> CopyVec<T, N> {
    pub const fn new() -> Self {
        CopyVec(ArrayVec::new_const())
    }
}

impl<T: Copy, const N: usize> Clone for CopyVec<T, N> {
    #[inline]
    fn clone(&self) -> Self {
        let mut v = ArrayVec::new();
        v.try_extend_from_slice(&self.0)
            .expect("a copy has the capacity of its original");
        CopyVec(v)
    }
}

impl<T: Copy, const N: usize> std::ops::Deref for CopyVec<T, N> {
    type Target = ArrayVec<T, N>;
    #[inline]
    fn deref(&self) -> &ArrayVec<T, N> {
        &self.0
    }
}

impl<T: Copy, const N: usize> std::ops::DerefMut for CopyVec<T, N> {
    #[inline]
    fn deref_mut(&mut self) -> &mut ArrayVec<T, N> {
        &mut self.0
    }
}

impl<'a, T: Copy, const N: usize> IntoIterator for &'a CopyVec<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
