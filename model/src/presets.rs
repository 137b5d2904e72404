//! The named protocol variants of `model.md` §6 as step lists.
//!
//! Each preset says where its steps come from. Where the real code's order is uncertain
//! (`domain.md` §9), the list follows the reading recorded in `domain.md` and the comment
//! says so, because that ordering decides the verdict.

use crate::action::FaultKind;
use crate::config::{
    AppProcedure, Config, CopyMode, Fault, Faults, JobOptions, Procedures, QuitCancel, Recovery,
    ShutdownKill, Step,
};
use Step::*;

/// Preset names, in the order the README lists them.
pub const PRESET_NAMES: [&str; 11] = [
    "reopen-unpaused",
    "reopen-paused-2012",
    "reopen-paused",
    "complete-paused-async",
    "complete-legacy",
    "blockdev-modern",
    "write-ahead",
    "paused-wait",
    "libvirt-9.0",
    "libvirt-11.3",
    "persistent-bitmap",
];

/// The 2012 era's reconnect: finish a pending guest shutdown; nothing about block jobs
/// survived a restart (commit `febf84c` says so).
fn reconnect_2012() -> Vec<Step> {
    vec![FinishShutdown]
}

const AUTO: JobOptions = JobOptions {
    auto_finalize: true,
    auto_dismiss: true,
};
const KEEP: JobOptions = JobOptions {
    auto_finalize: true,
    auto_dismiss: false,
};

/// A preset as the real setup of `pivotcheck live` runs it (QEMU with `-no-shutdown`, a
/// background mirror, a forced quit, libvirtd crashes and guest power-offs at any time,
/// the seed's app), so that the live predictions and `diagnose` match real runs against
/// one configuration. `blocks`: how many data blocks the caller follows.
pub fn live_setup(name: &str, persistent: bool, blocks: u8) -> Option<Config> {
    Some(Config {
        blocks,
        disks: 1,
        app_order: crate::config::AppOrder::Sequential,
        copy_mode: CopyMode::Background,
        no_shutdown: true,
        quit_cancel: QuitCancel::Force,
        persistent,
        faults: Faults::OFF
            .with(FaultKind::LibvirtdCrash, Fault::Unbounded)
            .with(FaultKind::GuestPowerOff, Fault::Unbounded),
        recovery: Recovery::Seed,
        procedures: preset(name)?,
        app: AppProcedure::default(),
    })
}

pub fn preset(name: &str) -> Option<Procedures> {
    let p = match name {
        // RHEL 6.3 libvirt before 400ac797: reopen, update the live definition, answer.
        // No status save at all in the pivot path (domain.md §1.3 step 9).
        "reopen-unpaused" => Procedures {
            pivot: vec![DriveReopen, ApplyOutcome, ReplyApp],
            reconnect: reconnect_2012(),
            concluded: vec![],
            shutdown_kill: ShutdownKill::Immediate,
            job: AUTO,
        },
        // The seed patch as merged (LV2013): stop, reopen, update the live definition, cont.
        // The status XML is written only by the STOP/RESUME event handlers.
        "reopen-paused-2012" => Procedures {
            pivot: vec![Pause, DriveReopen, ApplyOutcome, Resume, ReplyApp],
            reconnect: reconnect_2012(),
            concluded: vec![],
            shutdown_kill: ShutdownKill::Immediate,
            job: AUTO,
        },
        // The seed patch with the outcome made durable before the guest runs again.
        "reopen-paused" => Procedures {
            pivot: vec![
                Pause,
                DriveReopen,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                Resume,
                ReplyApp,
            ],
            reconnect: reconnect_2012(),
            concluded: vec![],
            shutdown_kill: ShutdownKill::Immediate,
            job: AUTO,
        },
        // The seed's pause around upstream `block-job-complete`: LV2013 rewrites the disk
        // source on the reply and resumes, before QEMU has switched.
        "complete-paused-async" => Procedures {
            pivot: vec![Pause, JobComplete, ApplyOutcome, Resume, ReplyApp],
            reconnect: reconnect_2012(),
            concluded: vec![],
            shutdown_kill: ShutdownKill::Immediate,
            job: AUTO,
        },
        // libvirt 1.2.7-5.x without -blockdev: save `pivot`, complete, wait for the event;
        // auto-dismiss on; the legacy refresh ignores a `<mirror>` whose job vanished.
        "complete-legacy" => Procedures {
            pivot: vec![
                MarkPivoting,
                SaveStatus,
                JobComplete,
                WaitConcluded,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                ReplyApp,
            ],
            reconnect: vec![FinishShutdown, RefreshJobsLegacy],
            concluded: vec![ApplyOutcome, SaveStatus, SaveConfig],
            shutdown_kill: ShutdownKill::Immediate,
            job: AUTO,
        },
        // libvirt 6.x with -blockdev (issue 13, point 4: the range it stands for). Its
        // intermediate status save loads again on restart; the early reset of the mirror's
        // job type in qemuBlockJobEventProcess, which makes that save unloadable (W2b), is
        // in 7.0.0 and 9.0.0 and absent from a 2020-era (6.x) tree, so from 7.0 on the
        // preset is `libvirt-9.0` and from 11.x `libvirt-11.3`. The exact release that
        // added the reset was not bisected. Auto-dismiss off; `pivoting` saved after the job-complete reply;
        // the concluded handler dismisses before it saves, then deletes the old nodes and
        // saves status and config; reconnect finishes a shutdown before refreshing jobs.
        // The order is the one real libvirt 9.0 sent (real-libvirt.md §3) and its
        // reconnect behaved so in every crash window measured there (§4, §5).
        // Since issue 13, libvirt's concluded-job semantics as its source has them
        // (qemu_blockjob.c, qemuBlockJobEventProcessConcluded and qemuBlockJobRefreshJobs):
        // JOB_STATUS_CHANGE carries no error, so `query-concluded` decides, and without
        // its answer (QEMU gone) libvirt aborts: source kept, mirror chain deleted (QEMU
        // refuses once switched), the API returning 0; the intermediate save only when
        // that query found the job (not after the reconnect's refresh read the outcome);
        // the SHUTDOWN handler saves the status before the kill (`save-immediate`).
        "blockdev-modern" => Procedures {
            pivot: vec![
                JobComplete,
                MarkPivoting,
                SaveStatus,
                WaitConcluded,
                QueryConcluded,
                JobDismiss,
                SaveStatusIfQueried,
                BlockdevDel,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                ReplyApp,
            ],
            reconnect: vec![FinishShutdown, RefreshJobs],
            concluded: vec![
                QueryConcluded,
                JobDismiss,
                SaveStatusIfQueried,
                BlockdevDel,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
            ],
            shutdown_kill: ShutdownKill::SaveImmediate,
            job: KEEP,
        },
        // domain.md V4: persist the intent before sending; keep the job (no auto-dismiss)
        // and hold its switch (no auto-finalize) so that `pending` is a visible point of
        // no return and only libvirt's `job-finalize` can cross it; on reconnect learn the
        // outcome from the jobs and the graph before any kill; persist before dismissing
        // or killing; a SHUTDOWN is handled only when no pivot is in flight.
        "write-ahead" => Procedures {
            pivot: vec![
                MarkPivoting,
                SaveStatus,
                JobComplete,
                WaitPending,
                JobFinalize,
                WaitConcluded,
                QueryBlock,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                ReplyApp,
                JobDismiss,
            ],
            // Since issue 11 the reconnect also finishes a pivot whose intent is durable:
            // it re-sends job-complete (accepted in `ready`, refused harmlessly later),
            // waits for `pending` and sends job-finalize (those three act only when the
            // status XML records `pivoting`), so a job held for libvirt's job-finalize
            // cannot stay `pending` for ever; and it dismisses the concluded job once the
            // outcome is durable. The text before the fix is
            // `scenarios/history/write-ahead-1.toml` (the freeze: guest-eventually-runs).
            reconnect: vec![
                QueryJobs,
                JobComplete,
                WaitPending,
                JobFinalize,
                QueryBlock,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                JobDismiss,
                FinishShutdown,
            ],
            concluded: vec![QueryBlock, ApplyOutcome, SaveStatus, SaveConfig, JobDismiss],
            shutdown_kill: ShutdownKill::WhenIdle,
            job: JobOptions {
                auto_finalize: false,
                auto_dismiss: false,
            },
        },
        // domain.md V5: the seed's pause kept until the job concluded and the outcome is
        // durable; the concluded handler asks the graph, not the job.
        "paused-wait" => Procedures {
            pivot: vec![
                Pause,
                JobComplete,
                WaitConcluded,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                JobDismiss,
                Resume,
                ReplyApp,
            ],
            reconnect: vec![FinishShutdown, RefreshJobs],
            concluded: vec![
                QueryJobs,
                QueryBlock,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                JobDismiss,
            ],
            shutdown_kill: ShutdownKill::Immediate,
            job: KEEP,
        },
        // libvirt 9.0.0 (Debian 9.0.0-4+deb12u2) as `pivotcheck live` captured it on the
        // monitor of a real `virsh blockjob --pivot` (reports/live-findings.md):
        //   transaction(bitmap-add) job-complete [save: pivoting] <waiting, pending,
        //   concluded> query-jobs job-dismiss [save: the intermediate status]
        //   query-named-block-nodes transaction(bitmap-remove) blockdev-del(format)
        //   blockdev-del(storage) [save: source := target; config]
        // Real libvirt writes that intermediate status with `<mirror job=''>`, which it
        // cannot load on restart (W2b in the findings): `save-status-unloadable`. The
        // concluded handler on reconnect saves nothing until its final save: a second
        // crash anywhere from its job-dismiss reply to its last blockdev-del found the
        // `pivoting` record of the pivot, and the next restart showed the W2 outcome
        // (measured with `pivotcheck live`, scenarios `query-jobs.before+...`).
        // The two bitmap transactions and query-named-block-nodes change nothing the model
        // tracks, so they have no step: a crash around them is the crash at the nearest
        // step (the live harness maps each real crash point to a model one). Reconnect, as
        // measured: query-status first and, after a guest power-off, kill QEMU with no
        // query-jobs at all; otherwise query-jobs, and a concluded job goes to the same
        // handler as in a live pivot. Unlike `blockdev-modern`, old nodes are deleted one
        // `blockdev-del` at a time (format node, then storage node): two crash points.
        // Issue 13 (libvirt's source, as for `blockdev-modern`): `query-concluded` decides
        // the outcome, and the handler's intermediate save (`-if-queried`) happens when a
        // JOB_STATUS_CHANGE(concluded) is handled (the live pivot, or a job that concludes
        // after a restart: W2b there too), not when the reconnect's refresh found the job
        // already concluded (the double crashes above measured that path).
        "libvirt-9.0" => Procedures {
            pivot: vec![
                JobComplete,
                MarkPivoting,
                SaveStatus,
                WaitConcluded,
                QueryConcluded,
                JobDismiss,
                SaveStatusUnloadableIfQueried,
                BlockdevDel,
                BlockdevDel,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                ReplyApp,
            ],
            reconnect: vec![FinishShutdown, RefreshJobs],
            concluded: vec![
                QueryConcluded,
                JobDismiss,
                SaveStatusUnloadableIfQueried,
                BlockdevDel,
                BlockdevDel,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
            ],
            shutdown_kill: ShutdownKill::SaveImmediate,
            job: KEEP,
        },
        // libvirt 11.3.0 (Debian 11.3.0-2~bpo12+1) as `pivotcheck live --libvirt 11.3`
        // captured it (reports/live-findings.md):
        //   transaction(bitmap-add) job-complete query-jobs job-dismiss
        //   query-named-block-nodes blockdev-del(storage)
        // The order is 9.0's, with two differences. A raw source has no format node in
        // 11.3, so one `blockdev-del` (and no bitmap-remove transaction): one crash point
        // fewer. The status written after job-dismiss loads again on restart (11.3 clears
        // the mirror's job type only after the concluded job is handled), so a crash
        // there is W2 (a stale `pivot` mirror), not W2b (domain dropped). Reconnect as
        // 9.0's, one blockdev-del in its concluded handler too (measured).
        // `pivotcheck capture` reproduces these lists but for `save-status-if-queried`
        // after job-dismiss: that save rewrites the record already on disk, so no
        // snapshot can show it; it is kept from libvirt's source. Without it (the capture's
        // lists, checked 2026-12-02 on the three scenarios/live/libvirt-11.3*.toml) every
        // verdict is the same but the shortest counterexamples through it are one step
        // shorter (truthful-answer 25 -> 24, libvirt-state-matches 30 -> 29), so the
        // preset is not the capture's output verbatim.
        "libvirt-11.3" => Procedures {
            pivot: vec![
                JobComplete,
                MarkPivoting,
                SaveStatus,
                WaitConcluded,
                QueryConcluded,
                JobDismiss,
                SaveStatusIfQueried,
                BlockdevDel,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                ReplyApp,
            ],
            reconnect: vec![FinishShutdown, RefreshJobs],
            concluded: vec![
                QueryConcluded,
                JobDismiss,
                SaveStatusIfQueried,
                BlockdevDel,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
            ],
            shutdown_kill: ShutdownKill::SaveImmediate,
            job: KEEP,
        },
        // The seed's upstream plan (drive-reopen-safer.txt; domain.md §5): "with the newer
        // 'block-job-complete', we need to use a persistent bitmap to make things safe; so
        // for now, we just blindly pause the guest" (LV2013's qemuDomainBlockPivot). Never
        // built; here as the follow-up to the code of its time: complete-legacy's order,
        // no pause, QEMU keeping the copy's bitmap in the images (stored on a clean exit
        // only, qcow2's `in_use` flag otherwise), and libvirt deciding from it whenever
        // QEMU is gone: `read-bitmap` before the outcome is applied, and the stop of a
        // domain whose QEMU is gone (the app's recovery reads it for a forgotten domain).
        "persistent-bitmap" => Procedures {
            pivot: vec![
                MarkPivoting,
                SaveStatus,
                JobComplete,
                WaitConcluded,
                ReadBitmap,
                ApplyOutcome,
                SaveStatus,
                SaveConfig,
                ReplyApp,
            ],
            reconnect: vec![FinishShutdown, RefreshJobsLegacy],
            concluded: vec![ReadBitmap, ApplyOutcome, SaveStatus, SaveConfig],
            shutdown_kill: ShutdownKill::Immediate,
            job: AUTO,
        },
        _ => return None,
    };
    Some(p)
}

/// App preset names (`[app] preset`), in the order `scenarios/README.md` lists them.
pub const APP_PRESET_NAMES: [&str; 1] = ["nova"];

/// A management app's procedure and recovery rule, by name.
///
/// `nova`: OpenStack Nova's swap of a volume on a running instance, read at
/// openstack/nova `nova/virt/libvirt/driver.py` `LibvirtDriver._swap_volume` (save the
/// inactive XML; `guest.delete_configuration()`; `dev.copy()`; poll
/// `dev.is_job_complete()`; `dev.abort_job(pivot=True)`; any error becomes
/// `VolumeRebaseFailed`; read the live XML; `finally: self._host.write_instance_config(xml)`),
/// `nova/virt/libvirt/guest.py` `BlockDevice.is_job_complete` (no job, or `cur == end`,
/// counts as complete), and `nova/compute/manager.py` `ComputeManager._swap_volume` /
/// `swap_volume` (on success the block device mapping is updated and saved; on failure
/// the swap is rolled back and the mapping keeps the old volume). Its hard reboot
/// (`LibvirtDriver._hard_reboot`) regenerates the domain XML from the mapping
/// (`_get_guest_xml` with `block_device_info`), defines it and boots it. The copy itself
/// is already running when the model starts, so `dev.copy()` is not a step.
pub fn app_preset(name: &str) -> Option<(AppProcedure, Recovery)> {
    use crate::config::AppStep;
    match name {
        "nova" => Some((
            AppProcedure {
                steps: vec![
                    AppStep::Undefine,
                    AppStep::Pivot,
                    AppStep::Redefine,
                    AppStep::RecordDb,
                ],
                hard_reboot: true,
                virsh_start: false,
            },
            Recovery::Nova,
        )),
        _ => None,
    }
}
