//! What the model means by each word a user writes in a scenario: steps, presets, faults, options.
//!
//! These strings are the one source for `pivotcheck explain`, the step vocabulary that
//! `pivotcheck new` writes at the bottom of a scenario, and the step table of
//! `scenarios/README.md` (a test in `sim` fails when that table and [`Step::doc`]
//! differ), so the user-facing words cannot drift from each other. Properties carry their
//! meaning in [`crate::properties::PropertyDef::meaning`].

use crate::action::FaultKind;
use crate::config::Step;

impl Step {
    /// What libvirtd does when it runs this step, as `scenarios/README.md`'s step table
    /// says it.
    pub fn doc(self) -> &'static str {
        match self {
            Step::Pause => "Pauses the guest and remembers that it did. If QEMU refuses, the procedure ends with a \"failed\" answer (as `qemuDomainBlockPivot` did).",
            Step::Resume => "Resumes the guest, only if libvirt paused it.",
            Step::DriveReopen => "Synchronous pivot: ok means switched, error means QEMU abandoned the mirror and stayed on the source.",
            Step::JobComplete => "Asynchronous pivot: ok means accepted; the switch happens at finalize.",
            Step::JobFinalize => "Finalizes a pending job (with `auto_finalize = false`): the switch.",
            Step::JobCancel => "Soft cancel (`virsh blockjob --abort`): in `ready` the job drains, concludes without error and never switches; in another live state QEMU forces the cancel.",
            Step::JobDismiss => "Removes a concluded job: destroys evidence of the outcome.",
            Step::BlockdevDel => "Deletes the node no longer used: the old source after a pivot (destroys evidence); on the abort path (outcome failed or `concluded`) the mirror chain, which QEMU refuses (\"in use\") once the graph switched to it, so that deletion destroys nothing.",
            Step::QueryJobs => "Learns the job's status; a concluded job gives the outcome (success counts as a pivot only if libvirt recorded `pivoting` or had its complete accepted).",
            Step::QueryConcluded => "libvirt's concluded-job query (-blockdev): JOB_STATUS_CHANGE carries no error, so this reply alone decides. The job listed: pivoted or failed by its error (success counts as a pivot as for `query-jobs`). No reply (QEMU gone) or no such job: the outcome stays `concluded`, handled as an abort (`apply-outcome` keeps the source and drops the mirror, `blockdev-del` targets the mirror chain) while `reply-app` still answers pivoted (the API fails only on a failed job). Skipped when the reconnect's `refresh-jobs` already read the outcome, or when QEMU vanished before the job concluded.",
            Step::QueryBlock => "Learns the active image: target means pivoted; source means failed once the job is gone or concluded, or cannot switch without libvirt's `job-finalize`.",
            Step::WaitConcluded => "Waits until libvirtd has seen the job conclude (event or query), the job vanish, a failure, or QEMU gone.",
            Step::WaitPending => "Waits until libvirtd has seen JOB_STATUS_CHANGE `pending` (or the above).",
            Step::MarkPivoting => "Records the intent in the live definition: mirror state `pivoting`.",
            Step::ApplyOutcome => "Applies the known outcome to the live definition: pivoted, the disk source becomes the target and the mirror is dropped; failed or `concluded` (libvirt's abort path), the mirror is dropped; unknown, nothing.",
            Step::SaveStatus => "Writes the live definition to the status XML (one atomic rename).",
            Step::SaveStatusUnloadable => "Writes a status XML libvirtd cannot load: on restart it drops the domain (a persistent one shows shut off, a transient one is forgotten) and leaves QEMU running, unmanaged. libvirt 9.0 does this after the pivot's `job-dismiss` (`<mirror job=''>`, W2b in `reports/live-findings.md`), not on the reconnect path (measured with double crashes). STOP/RESUME rewrites keep the record unloadable.",
            Step::SaveStatusIfQueried => "`save-status`, only if `query-concluded` found the job in its reply (libvirt saves after its `job-dismiss` only then): not after a `refresh-jobs` that read the outcome, not when QEMU was gone.",
            Step::SaveStatusUnloadableIfQueried => "`save-status-unloadable`, only if `query-concluded` found the job: libvirt 9.0's W2b save, on the live pivot and in the handler of a concluded event that arrives after a restart.",
            Step::SaveConfig => "Writes the live disk source to the persistent config (persistent domains).",
            Step::ReplyApp => "Answers the app: pivoted, failed, or an error that tells nothing (QEMU gone).",
            Step::FinishShutdown => "Reconnect: if the guest powered off, kills QEMU and skips the rest of the reconnect.",
            Step::RefreshJobsLegacy => "Reconnect before -blockdev: a ready job marks the mirror ready; a vanished job is ignored.",
            Step::ReadBitmap => "When QEMU is gone: read the copy's persistent bitmap from the images and, if QEMU stored it on a clean exit, take the image it names as the outcome (an unclean exit leaves it in use, unreadable). Listing it anywhere also makes libvirt set the config from the bitmap when it stops a domain whose QEMU is gone.",
            Step::RefreshJobs => "Reconnect with -blockdev: a concluded job goes to the `concluded` handler with the outcome read from this reply (its `query-concluded` is skipped); a ready job libvirtd had not marked ready is marked and the status XML saved; a vanished tracked job is unregistered and its `<mirror>` stays.",
        }
    }
}

/// One preset in a line: what real software (or which proposal) it stands for. `None`
/// for an unknown name. Where each step list comes from is written beside it in
/// `presets.rs`.
pub fn preset_doc(name: &str) -> Option<&'static str> {
    Some(match name {
        "reopen-unpaused" => "RHEL 6.3's libvirt before the seed patch: `__com.redhat_drive-reopen` with the guest running, no status save in the pivot path.",
        "reopen-paused-2012" => "The 2012 seed patch \"blockjob: make drive-reopen safer\" as merged: pause, reopen, update the live definition, resume; the status XML is written only by the STOP/RESUME handlers.",
        "reopen-paused" => "The seed patch with the outcome saved (status XML and config) before the guest resumes.",
        "complete-paused-async" => "The seed's pause around upstream's asynchronous `block-job-complete`: the reply means accepted, not switched.",
        "complete-legacy" => "libvirt 1.2.7 to 5.x: intent saved as `pivoting`, `block-job-complete`, wait for the job's end, then save; reconnect refreshes jobs with `query-block-jobs`.",
        "blockdev-modern" => "libvirt 6.x with -blockdev (before 7.0.0, whose early reset of the mirror's job type makes the intermediate status unloadable: see libvirt-9.0), in real libvirt 9.0's order: `job-complete`, wait for conclusion, `query-jobs` (the only source of the outcome), `job-dismiss`, `blockdev-del`, then save (windows W1-W3).",
        "write-ahead" => "A proposed safe order: persist the intent first, hold the switch (`auto-finalize=false`) until `job-finalize`, and decide the outcome from the block graph (`query-block`).",
        "paused-wait" => "Pause the guest until the job has concluded, then save; the seed's `query-block` recovery.",
        "libvirt-9.0" => "Real libvirt 9.0 as `pivotcheck live` measured it: blockdev-modern plus the unloadable status XML written after `job-dismiss` (W2b) and two `blockdev-del`s.",
        "libvirt-11.3" => "Real libvirt 11.3 as `pivotcheck live --libvirt 11.3` measured it: libvirt-9.0's order with a loadable status XML after `job-dismiss` (no W2b; W2 instead) and one `blockdev-del`.",
        "persistent-bitmap" => "The seed's upstream plan, never built: complete-legacy's order without the pause, QEMU storing the copy's persistent bitmap in the images on a clean exit, and libvirt (and the app) taking the outcome from it whenever QEMU is gone (`read-bitmap`).",
        _ => return None,
    })
}

impl crate::config::AppStep {
    /// What the app does when it runs this step, as `scenarios/README.md`'s "App
    /// procedures" table says it (a test compares them).
    pub fn doc(self) -> &'static str {
        use crate::config::AppStep;
        match self {
            AppStep::Undefine => "deletes the domain's persistent config (the copy then runs on a transient domain; if it stops now, libvirt forgets it); waits for an idle libvirtd",
            AppStep::Pivot => "polls until libvirt shows the mirror ready, then calls virDomainBlockJobAbort(PIVOT); if no job is left (the domain stopped, or a restarted libvirtd dropped it) the call fails at once. \"pivoted\" moves on; \"failed\", or a lost answer, goes through the `recovery` rule",
            AppStep::Redefine => "the `finally`: defines the domain again, from the live XML after a pivot that returned (libvirt's live source), else from the XML saved before the undefine (the source); when libvirtd is down the redefine is lost, the swap counts as failed and the app keeps the source",
            AppStep::RecordDb => "writes the image the app settled on into its own database (the record its hard reboot boots)",
        }
    }
}

/// One app preset in a line; `None` for an unknown name.
pub fn app_preset_doc(name: &str) -> Option<&'static str> {
    Some(match name {
        "nova" => "OpenStack Nova's swap of a volume on a running instance (`_swap_volume`): undefine, pivot, redefine in a `finally`, then the block device mapping; a failed or lost pivot answer rolls back to the old volume; hard reboot from the mapping.",
        _ => return None,
    })
}

impl FaultKind {
    /// One line: the comment `pivotcheck new` writes beside the fault's key.
    pub fn summary(self) -> &'static str {
        match self {
            FaultKind::LibvirtdCrash => {
                "libvirtd dies at any step; a restart follows at any later step"
            }
            FaultKind::GuestPowerOff => "the guest powers itself off while its vCPUs run",
            FaultKind::QemuCrash => "QEMU is killed (SIGKILL) at any step: no cleanup",
            FaultKind::HostCrash => {
                "QEMU and libvirtd die together and /run (the status XML) is lost"
            }
            FaultKind::AppCrash => {
                "the management app dies mid-call and restarts: the answer is lost, its record kept"
            }
        }
    }

    /// What the fault does to the model's state, for `pivotcheck explain`. Every value of
    /// the `[faults]` table is `true` (unbounded), `false`, or a bound 0..8.
    pub fn doc(self) -> &'static str {
        match self {
            FaultKind::LibvirtdCrash => "libvirtd dies at any step: its memory, monitor connection and unread replies are lost, the status XML and config survive. A restart follows at any later step and runs the reconnect procedure.",
            FaultKind::GuestPowerOff => "The guest powers itself off while its vCPUs run. With -no-shutdown QEMU stays in run state `shutdown` until libvirtd kills it; without, QEMU exits.",
            FaultKind::QemuCrash => "QEMU is killed (SIGKILL) at any step: no cleanup, the job and its unread events are gone, and libvirtd sees the monitor close.",
            FaultKind::HostCrash => "The host dies: QEMU and libvirtd die together and /run (the status XML) is lost; the images and the persistent config survive.",
            FaultKind::AppCrash => "The management app's process dies while its pivot call is in flight and its service manager starts it again at once: libvirt's answer reaches no one, the app's durable record (it asked for a pivot) survives, and the restarted app runs its recovery rule as for a lost answer. Crashes before the call or after the app settled change nothing and are not explored.",
        }
    }

    /// The fault whose `[faults]` key is `key` (dashes accepted for underscores).
    pub fn from_key(key: &str) -> Option<FaultKind> {
        let key = key.replace('-', "_");
        FaultKind::ALL.into_iter().find(|k| k.key() == key)
    }
}

/// A scenario file's option: the table it is written in and what it means, the one source
/// for the comment `pivotcheck new` writes beside it and for `pivotcheck explain`.
pub struct OptionDoc {
    pub key: &'static str,
    /// The TOML table the option belongs to; empty for the file's top level.
    pub table: &'static str,
    /// Its values and what they mean, in one line.
    pub doc: &'static str,
}

/// Every option `pivotcheck new` writes, in the order it writes them.
pub const OPTIONS: [OptionDoc; 11] = [
    OptionDoc { key: "blocks", table: "", doc: "guest blocks, 1 to 4: two let a write race the copy of another" },
    OptionDoc { key: "disks", table: "", doc: "disks copied and pivoted together, 1 to 3: each its own job, <mirror> record and app progress; one status XML for all" },
    OptionDoc { key: "copy_mode", table: "qemu", doc: "\"background\": writes go to the source, the job copies later | \"write-blocking\": once ready, writes reach both images before the ack" },
    OptionDoc { key: "no_shutdown", table: "qemu", doc: "libvirt's -no-shutdown: a powered-off guest leaves QEMU alive until libvirtd kills it" },
    OptionDoc { key: "quit_cancel", table: "qemu", doc: "what a clean QEMU exit does to the mirror: \"force\" (QEMU >= 6.2) | \"soft\" (older: final sync, no pivot)" },
    OptionDoc { key: "persistent", table: "domain", doc: "a persistent domain keeps a config when QEMU is gone; a transient one vanishes" },
    OptionDoc { key: "order", table: "app", doc: "with several disks: \"sequential\" (the next disk's pivot once the app settled the last) | \"concurrent\" (a worker per disk)" },
    OptionDoc { key: "recovery", table: "app", doc: "after a lost answer: \"seed\" (ask query-block while the guest is paused) | \"trust-libvirt\" | \"vdsm\" (VDSM's replica record: retry while the job is ready, else the source)" },
    OptionDoc { key: "shutdown_kill", table: "procedure", doc: "when libvirtd kills QEMU after a guest power-off: \"immediate\" (real libvirt) | \"save-immediate\" (libvirt 9.0/11.3: status saved first) | \"when-idle\"" },
    OptionDoc { key: "auto_dismiss", table: "procedure", doc: "QEMU removes the concluded job by itself (false: libvirt must `job-dismiss`)" },
    OptionDoc { key: "auto_finalize", table: "procedure", doc: "QEMU switches by itself when converged (false: libvirt must `job-finalize`)" },
];

/// The option named `key`, if there is one.
pub fn option_doc(key: &str) -> Option<&'static OptionDoc> {
    OPTIONS.iter().find(|o| o.key == key)
}
