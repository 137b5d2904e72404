//! What a scenario fixes before the search starts: QEMU's options, the fault switches,
//! the management app's recovery rule and libvirtd's procedures.
//!
//! Everything here is plain data. The `sim` crate builds it from TOML; the model never
//! reads a file. Procedures are step lists so that a libvirt developer can ask "is *this*
//! ordering safe?" without writing Rust.

use crate::action::FaultKind;
use std::fmt;

/// Which image a disk uses, or which image holds data: the copy's `source` or its `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Image {
    Source,
    Target,
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Image::Source => "source",
            Image::Target => "target",
        })
    }
}

/// QEMU's `copy-mode` of the mirror job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CopyMode {
    /// Guest writes land on the source and mark the dirty bitmap; the job copies later.
    Background,
    /// Once the job is ready, guest writes go to source and target before they are acknowledged.
    WriteBlocking,
}

/// What QEMU does to a live mirror job when it exits cleanly (`quit`, SIGTERM, or a guest
/// power-off without `-no-shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuitCancel {
    /// QEMU >= 6.2: the job is force-cancelled; the target may miss writes.
    Force,
    /// Older QEMU: a ready mirror makes a final sync (target = source) but does not pivot.
    Soft,
}

/// How the management app decides which image to use when libvirt's answer was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// The seed patch's recipe: if the guest is paused and QEMU alive, ask `query-block`;
    /// otherwise use libvirt's state.
    Seed,
    /// Always use what libvirt says (live disk source, else persistent config).
    TrustLibvirt,
    /// oVirt VDSM's replica record (`vdsm/libvirtvm.py` `diskReplicateFinish`, oVirt/vdsm
    /// at f56159d): a finish whose `blockJobAbort(PIVOT)` raised deletes the replica record
    /// in its `finally` and leaves the drive on the source; the engine retries a failed
    /// finish, which pivots again only if `blockJobInfo` still shows the job with
    /// `cur == end`, waits while it does not, and gives up on the source ("replication
    /// job not found") once the job is gone. Never asks which image QEMU uses. Current
    /// vdsm (`lib/vdsm/virt/vm.py` at fd4b0df) keeps the replica record after a raising
    /// `blockJobAbort`, so its retried finish reaches `blockJobInfo` again: the same rule.
    Vdsm,
    /// OpenStack Nova's `_swap_volume` (`nova/virt/libvirt/driver.py`): any error from
    /// `abort_job(pivot=True)`, a lost answer included, becomes `VolumeRebaseFailed`; the
    /// `finally` redefines the saved inactive XML (the source) and the compute manager
    /// rolls the swap back, so the app keeps the source in its block device mapping.
    /// Never asks which image QEMU uses.
    Nova,
}

/// The steps of the management app's own procedure around libvirt's pivot call (its
/// `[app] steps`). An empty list is the plain app: ask for the pivot once the copy is
/// ready, take the answer, apply the recovery rule. `scenarios/README.md` documents
/// each step with its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppStep {
    /// `guest.delete_configuration()` (virDomainUndefineFlags): Nova undefines a
    /// persistent domain because libvirt refuses a copy on one; the domain runs on as a
    /// transient one, and if it stops now libvirt forgets it.
    Undefine,
    /// Poll `is_job_complete` (the job at `cur == end`, or no job at all) and call
    /// `abort_job(pivot=True)` (virDomainBlockJobAbort PIVOT). A job already gone makes
    /// the call fail at once ("no job"), which the app handles like any failure.
    Pivot,
    /// The `finally` of `_swap_volume`: `write_instance_config(xml)` defines the domain
    /// again, from the live XML read after a pivot that returned (its disk source is
    /// libvirt's live source), else from the inactive XML saved before the undefine (the
    /// source). Lost when libvirtd is down: the `finally` itself raises.
    Redefine,
    /// The compute manager's `bdm.save()` after the driver returned: the app's durable
    /// record (the block device mapping) names the new volume. Skipped after a failure
    /// (the manager's rollback keeps the old volume).
    RecordDb,
}

/// The longest app procedure a scenario may give (the packed state keeps its place in
/// 3 bits).
pub const MAX_APP_STEPS: usize = 7;

impl AppStep {
    pub const ALL: [AppStep; 4] = [
        AppStep::Undefine,
        AppStep::Pivot,
        AppStep::Redefine,
        AppStep::RecordDb,
    ];

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            AppStep::Undefine => "undefine",
            AppStep::Pivot => "pivot",
            AppStep::Redefine => "redefine",
            AppStep::RecordDb => "record-db",
        }
    }

    pub fn from_name(name: &str) -> Option<AppStep> {
        AppStep::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for AppStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The management app's procedure and the operator's next moves after it: the steps
/// that play a wrong record out until the guest boots from it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AppProcedure {
    /// The app's steps; empty for the plain app (see [`AppStep`]).
    pub steps: Vec<AppStep>,
    /// The app's hard reboot (Nova's `_hard_reboot`): once its procedure ended or was
    /// abandoned and the guest is down (or the app gave up on it), the app destroys any
    /// QEMU, regenerates the domain XML from its own record (not from libvirt's config),
    /// defines it and boots the image the record names.
    pub hard_reboot: bool,
    /// The operator's `virsh start` of a shut-off persistent domain: a new QEMU boots the
    /// image libvirt's config names, which may be the stale one.
    pub virsh_start: bool,
}

/// When libvirtd kills a QEMU whose guest powered off (`-no-shutdown` leaves it in run
/// state `shutdown`) while libvirtd is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShutdownKill {
    /// Real libvirt: the SHUTDOWN handler kills QEMU as soon as the event is handled, even
    /// while an API call waits for a monitor reply (the domain lock is dropped then).
    Immediate,
    /// A safer design: the kill waits until no procedure runs and no pivot is in flight.
    WhenIdle,
    /// libvirt with -blockdev (9.0, 11.3): as `Immediate`, and the SHUTDOWN handler first
    /// writes the live definition to the status XML (`qemuProcessHandleShutdown` saves the
    /// status before it SIGTERMs QEMU), so a record of an unsaved change can appear there.
    SaveImmediate,
}

/// One fault kind's switch: off, on without bound, or on at most `n` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    Off,
    Unbounded,
    AtMost(u8),
}

impl Fault {
    pub fn enabled(self) -> bool {
        !matches!(self, Fault::Off | Fault::AtMost(0))
    }
    /// Whether one more occurrence is allowed after `used` ones. Unbounded faults keep no
    /// counter in the state, which is what keeps the state space finite.
    pub fn allows(self, used: u8) -> bool {
        match self {
            Fault::Off => false,
            Fault::Unbounded => true,
            Fault::AtMost(n) => used < n,
        }
    }
}

/// One value per fault kind, indexed by [`FaultKind`]: the scenario's fault switches, a
/// swarm run's draw. The faults are listed once, in [`FaultKind::ALL`]; a table of them
/// is this type, so a fifth fault cannot be forgotten in one copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PerFault<T>([T; FaultKind::ALL.len()]);

/// Hashes the entries one by one, without the length prefix of an array's hash: a state
/// hashes (and fingerprints) as it did when the entries were separate fields.
impl<T: std::hash::Hash> std::hash::Hash for PerFault<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for entry in &self.0 {
            entry.hash(state);
        }
    }
}

impl<T: Copy> PerFault<T> {
    /// The table whose entry for each fault is `f(fault)`, computed in
    /// [`FaultKind::ALL`] order.
    pub fn from_fn(mut f: impl FnMut(FaultKind) -> T) -> PerFault<T> {
        PerFault(FaultKind::ALL.map(&mut f))
    }

    /// Every fault with its entry, in [`FaultKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (FaultKind, T)> + '_ {
        FaultKind::ALL.into_iter().map(|k| (k, self[k]))
    }
}

impl<T> std::ops::Index<FaultKind> for PerFault<T> {
    type Output = T;
    fn index(&self, kind: FaultKind) -> &T {
        &self.0[kind.index()]
    }
}

impl<T> std::ops::IndexMut<FaultKind> for PerFault<T> {
    fn index_mut(&mut self, kind: FaultKind) -> &mut T {
        &mut self.0[kind.index()]
    }
}

/// The scenario's fault switches.
pub type Faults = PerFault<Fault>;

impl Faults {
    /// Every fault off: the start of a table built with [`Faults::with`].
    pub const OFF: Faults = PerFault([Fault::Off; FaultKind::ALL.len()]);

    pub fn with(mut self, kind: FaultKind, fault: Fault) -> Faults {
        self[kind] = fault;
        self
    }
}

/// The mirror job's lifecycle options, set by libvirt when it starts the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobOptions {
    pub auto_finalize: bool,
    pub auto_dismiss: bool,
}

/// The step vocabulary of libvirtd's procedures. Steps that name a QMP command send it and
/// wait for its reply; the others are local and atomic. `scenarios/README.md` documents
/// each step for scenario authors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// `stop`: pause the guest's vCPUs; remembered as "paused by libvirt". If QEMU refuses,
    /// the procedure ends at once with a "failed" answer, as `qemuDomainBlockPivot` did.
    Pause,
    /// `cont`, only if libvirt paused the guest itself.
    Resume,
    /// RHEL 6.3 `__com.redhat_drive-reopen`: synchronous pivot.
    DriveReopen,
    /// `block-job-complete` / `job-complete`: asynchronous pivot (the reply means accepted).
    /// In the reconnect it resumes a pivot whose intent is durable: sent only when the
    /// loaded status records `pivoting`, and its error (QEMU's job verb table allows
    /// `complete` only in `ready`) then means "past ready", not "failed".
    JobComplete,
    /// `job-finalize`, for jobs started with `auto-finalize=false`. In the reconnect, sent
    /// only when the loaded status records `pivoting`: a job held in `pending` waits for
    /// exactly this command, and a restarted libvirtd that never sends it freezes the guest
    /// (issue 11).
    JobFinalize,
    /// `block-job-cancel` without `force` (libvirt's `virsh blockjob --abort` of a copy):
    /// in `ready` the job finishes like a completion, with the target in sync, but without
    /// the switch. Added for conformance against QEMU 10 (`conform/`).
    JobCancel,
    /// `job-dismiss` of a concluded job: destroys QEMU-side evidence of the outcome.
    JobDismiss,
    /// `blockdev-del` of the node the disk no longer uses: destroys evidence too.
    BlockdevDel,
    /// `query-jobs`: the job's status and error; a concluded job gives the outcome.
    QueryJobs,
    /// `query-jobs` as libvirt's concluded-job processing sends it
    /// (`qemuBlockJobEventProcessConcluded`): JOB_STATUS_CHANGE carries no error, so this
    /// reply alone decides the outcome. A listed job gives pivoted or failed by its error;
    /// no reply (QEMU gone) or no such job leaves the outcome `concluded`, which libvirt
    /// handles as an abort (source kept, mirror dropped) while its API still returns 0.
    /// Skipped when the reconnect's `refresh-jobs` already read the outcome (libvirt's
    /// second concluded path: no second `query-jobs`).
    QueryConcluded,
    /// `query-block`: the image the guest really uses; decides the outcome from the graph.
    QueryBlock,
    /// Wait until libvirtd has seen the job conclude (event or query) or lost QEMU.
    WaitConcluded,
    /// Wait until libvirtd has seen the job reach `pending` (JOB_STATUS_CHANGE), for jobs
    /// with `auto-finalize=false`: the point where only `job-finalize` can switch. In the
    /// reconnect, skipped unless the loaded status records `pivoting`.
    WaitPending,
    /// Record the intent in the live definition: the mirror state becomes `pivoting`.
    MarkPivoting,
    /// Apply the known outcome to the live definition (pivoted: source := target).
    ApplyOutcome,
    /// Write the live definition to the status XML (one atomic rename).
    SaveStatus,
    /// Write a status XML libvirtd itself cannot load on restart. libvirt 9.0 does this
    /// after `job-dismiss`: the record's `<mirror type='file' job=''>` makes its parser fail
    /// (`unknown mirror job type ''`), and the restarted libvirtd drops the domain while
    /// QEMU runs on, unmanaged (`reports/live-findings.md`, W2b; measured by `pivotcheck
    /// live`). A step of its own so that the bug is a protocol choice a scenario can make
    /// or remove, not a property of every save.
    SaveStatusUnloadable,
    /// `save-status`, only if `query-concluded` found the job (libvirt's `if (refreshed)
    /// qemuDomainSaveStatus`): the intermediate save after `job-dismiss` happens when the
    /// outcome came from that reply, not after a refresh or when QEMU was gone.
    SaveStatusIfQueried,
    /// `save-status-unloadable`, only if `query-concluded` found the job: libvirt 9.0's
    /// intermediate save (W2b), on the live pivot and on a concluded event after a restart.
    SaveStatusUnloadableIfQueried,
    /// Write the live disk source to the persistent config (persistent domains only).
    SaveConfig,
    /// Answer the management app's API call with the outcome as libvirtd knows it.
    ReplyApp,
    /// Reconnect: `query-status`; if the guest powered off, kill QEMU and skip the rest.
    FinishShutdown,
    /// Reconnect, legacy (pre-blockdev): `query-block-jobs`; a vanished job is ignored.
    RefreshJobsLegacy,
    /// Reconnect, blockdev: `query-jobs`; a concluded job is handed to the `concluded`
    /// handler, a vanished tracked job is unregistered silently.
    RefreshJobs,
    /// The seed's upstream plan (`persistent-bitmap`): when QEMU is gone, read the copy's
    /// persistent bitmap from the images and, if a clean exit stored it, take the image it
    /// names as the outcome. A procedure that lists this step also makes QEMU keep the
    /// bitmap, and libvirt's stop of a domain whose QEMU is gone set the persistent config
    /// from it. Reads the image headers, not the monitor: no QMP command.
    ReadBitmap,
}

impl Step {
    /// Every step, in the order `scenarios/README.md` lists them.
    pub const ALL: [Step; 25] = [
        Step::Pause,
        Step::Resume,
        Step::DriveReopen,
        Step::JobComplete,
        Step::JobFinalize,
        Step::JobCancel,
        Step::JobDismiss,
        Step::BlockdevDel,
        Step::QueryJobs,
        Step::QueryConcluded,
        Step::QueryBlock,
        Step::WaitConcluded,
        Step::WaitPending,
        Step::MarkPivoting,
        Step::ApplyOutcome,
        Step::SaveStatus,
        Step::SaveStatusUnloadable,
        Step::SaveStatusIfQueried,
        Step::SaveStatusUnloadableIfQueried,
        Step::SaveConfig,
        Step::ReplyApp,
        Step::FinishShutdown,
        Step::RefreshJobsLegacy,
        Step::RefreshJobs,
        Step::ReadBitmap,
    ];

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Step::Pause => "pause",
            Step::Resume => "resume",
            Step::DriveReopen => "drive-reopen",
            Step::JobComplete => "job-complete",
            Step::JobFinalize => "job-finalize",
            Step::JobCancel => "job-cancel",
            Step::JobDismiss => "job-dismiss",
            Step::BlockdevDel => "blockdev-del",
            Step::QueryJobs => "query-jobs",
            Step::QueryConcluded => "query-concluded",
            Step::QueryBlock => "query-block",
            Step::WaitConcluded => "wait-concluded",
            Step::WaitPending => "wait-pending",
            Step::MarkPivoting => "mark-pivoting",
            Step::ApplyOutcome => "apply-outcome",
            Step::SaveStatus => "save-status",
            Step::SaveStatusUnloadable => "save-status-unloadable",
            Step::SaveStatusIfQueried => "save-status-if-queried",
            Step::SaveStatusUnloadableIfQueried => "save-status-unloadable-if-queried",
            Step::SaveConfig => "save-config",
            Step::ReplyApp => "reply-app",
            Step::FinishShutdown => "finish-shutdown",
            Step::RefreshJobsLegacy => "refresh-jobs-legacy",
            Step::RefreshJobs => "refresh-jobs",
            Step::ReadBitmap => "read-bitmap",
        }
    }

    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// The QMP command the step sends, if any.
    pub fn command(self) -> Option<Command> {
        Some(match self {
            Step::Pause => Command::Stop,
            Step::Resume => Command::Cont,
            Step::DriveReopen => Command::DriveReopen,
            Step::JobComplete => Command::JobComplete,
            Step::JobFinalize => Command::JobFinalize,
            Step::JobCancel => Command::JobCancel,
            Step::JobDismiss => Command::JobDismiss,
            Step::BlockdevDel => Command::BlockdevDel,
            Step::QueryJobs | Step::QueryConcluded | Step::RefreshJobs => Command::QueryJobs,
            Step::QueryBlock => Command::QueryBlock,
            Step::FinishShutdown => Command::QueryStatus,
            Step::RefreshJobsLegacy => Command::QueryBlockJobs,
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
            | Step::ReadBitmap => return None,
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// QMP commands libvirtd can send. `DriveReopen` and `JobComplete` are the pivot commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    Stop,
    Cont,
    DriveReopen,
    JobComplete,
    JobFinalize,
    /// `block-job-cancel` without `force`.
    JobCancel,
    JobDismiss,
    BlockdevDel,
    /// `blockdev-del` of the mirror chain (the target), sent by the abort path of a copy
    /// (`qemuBlockJobProcessEventConcludedCopyAbort`): QEMU refuses it ("in use") when the
    /// graph already switched to the target.
    BlockdevDelMirror,
    QueryJobs,
    QueryBlockJobs,
    QueryBlock,
    QueryStatus,
}

impl Command {
    /// Every command: tables indexed by command (the packed state) are built from this,
    /// so a command added to the enum and not here fails the packing tests.
    pub const ALL: [Command; 13] = [
        Command::Stop,
        Command::Cont,
        Command::DriveReopen,
        Command::JobComplete,
        Command::JobFinalize,
        Command::JobCancel,
        Command::JobDismiss,
        Command::BlockdevDel,
        Command::BlockdevDelMirror,
        Command::QueryJobs,
        Command::QueryBlockJobs,
        Command::QueryBlock,
        Command::QueryStatus,
    ];

    pub fn qmp_name(self) -> &'static str {
        match self {
            Command::Stop => "stop",
            Command::Cont => "cont",
            Command::DriveReopen => "__com.redhat_drive-reopen",
            Command::JobComplete => "job-complete",
            Command::JobFinalize => "job-finalize",
            Command::JobCancel => "block-job-cancel",
            Command::JobDismiss => "job-dismiss",
            Command::BlockdevDel | Command::BlockdevDelMirror => "blockdev-del",
            Command::QueryJobs => "query-jobs",
            Command::QueryBlockJobs => "query-block-jobs",
            Command::QueryBlock => "query-block",
            Command::QueryStatus => "query-status",
        }
    }

    pub fn is_pivot(self) -> bool {
        matches!(self, Command::DriveReopen | Command::JobComplete)
    }
}

/// libvirtd's programs. `concluded` is the handler that runs when libvirtd, idle, learns
/// that a job it tracks has concluded (an event, or `refresh-jobs` on reconnect).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Procedures {
    pub pivot: Vec<Step>,
    pub reconnect: Vec<Step>,
    pub concluded: Vec<Step>,
    pub shutdown_kill: ShutdownKill,
    pub job: JobOptions,
}

impl Procedures {
    /// The copy keeps a persistent bitmap (`persistent-bitmap`): some procedure reads it.
    /// QEMU stores its word only then, so every other preset keeps its state space.
    pub fn reads_bitmap(&self) -> bool {
        [&self.pivot, &self.reconnect, &self.concluded]
            .iter()
            .any(|list| list.contains(&Step::ReadBitmap))
    }
}

/// How the management app pivots a domain's disks (issue 16): oVirt's live storage
/// migration and Nova's volume swap each finish one disk's copy per API call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppOrder {
    /// Disk by disk: the app asks for disk `n + 1`'s pivot only once it has settled on an
    /// image for disk `n`.
    Sequential,
    /// Each disk's copy is finished by its own worker: the app asks for any ready disk's
    /// pivot whenever libvirt takes the call (its per-domain job lock serializes them).
    Concurrent,
}

impl AppOrder {
    pub fn name(self) -> &'static str {
        match self {
            AppOrder::Sequential => "sequential",
            AppOrder::Concurrent => "concurrent",
        }
    }
}

/// Everything that stays fixed during one search.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Number of guest blocks (1 to 4) of each disk. Two blocks let a write race a copy of
    /// another block.
    pub blocks: u8,
    /// Number of the domain's disks being copied and pivoted (1 to [`Config::MAX_DISKS`]),
    /// each with its own source, target, mirror job and `<mirror>` record.
    pub disks: u8,
    /// The order in which the app asks for the disks' pivots (meaningless for one disk).
    pub app_order: AppOrder,
    pub copy_mode: CopyMode,
    /// libvirt passes `-no-shutdown`: a guest power-off leaves QEMU alive in run state
    /// `shutdown` until someone kills it.
    pub no_shutdown: bool,
    pub quit_cancel: QuitCancel,
    /// A persistent domain has a config that survives QEMU; a transient one vanishes.
    pub persistent: bool,
    pub faults: Faults,
    pub recovery: Recovery,
    pub procedures: Procedures,
    /// The app's own procedure and the operator's moves after it (issue 15).
    pub app: AppProcedure,
}

impl Config {
    pub const MAX_BLOCKS: u8 = 4;
    /// What the packed state holds (`packed.rs`), and QEMU's outbox with every disk's
    /// READY, pending and concluded events at once.
    pub const MAX_DISKS: u8 = 3;

    /// The bitmask with one bit per block: "every block holds the latest acknowledged write".
    pub fn all_blocks(&self) -> u8 {
        (1u8 << self.blocks) - 1
    }
}
