//! The scenario matrix: every QMP command real libvirt 9.0 sends during `virsh blockjob
//! --pivot`, killed before it is sent and when its reply arrives, crossed with transient
//! and persistent domains and with a guest power-off while libvirtd is down; plus the
//! no-crash control. Each real crash point is mapped to the model crash point with the
//! same durable state and the same QEMU-side effects.

use serde::Serialize;

/// When the trigger kills libvirtd relative to one QMP command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    /// Instead of sending it: QEMU never sees the command.
    Before,
    /// When QEMU's reply arrives, before libvirtd parses it: QEMU executed it, libvirtd
    /// never learned the result.
    Reply,
}

impl When {
    pub fn name(self) -> &'static str {
        match self {
            When::Before => "before",
            When::Reply => "reply",
        }
    }
}

/// The libvirt versions the live suite drives, each with the QMP commands it sends and
/// the model preset it is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Libvirt {
    #[serde(rename = "9.0")]
    V9_0,
    #[serde(rename = "11.3")]
    V11_3,
}

impl Libvirt {
    pub const ALL: [Libvirt; 2] = [Libvirt::V9_0, Libvirt::V11_3];

    /// `major.minor`, as `--libvirt` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Libvirt::V9_0 => "9.0",
            Libvirt::V11_3 => "11.3",
        }
    }

    pub fn parse(s: &str) -> Option<Libvirt> {
        Libvirt::ALL.into_iter().find(|v| v.name() == s)
    }

    /// The model preset this version's measurements are checked against.
    pub fn preset(self) -> &'static str {
        match self {
            Libvirt::V9_0 => "libvirt-9.0",
            Libvirt::V11_3 => "libvirt-11.3",
        }
    }

    /// The QMP commands of this version's pivot, in the order it sends them.
    pub fn pivot_commands(self) -> &'static [PivotCommand] {
        match self {
            Libvirt::V9_0 => &PIVOT_COMMANDS,
            Libvirt::V11_3 => &PIVOT_COMMANDS_11_3,
        }
    }

    /// The double crashes this version is crashed at.
    pub fn double_crashes(self) -> &'static [DoubleCrash] {
        match self {
            Libvirt::V9_0 => &DOUBLE_CRASHES,
            Libvirt::V11_3 => &DOUBLE_CRASHES_11_3,
        }
    }
}

/// One QMP command of a pivot: (real name, what it does when the name is ambiguous, the
/// model command ordinal it corresponds to or `None`).
pub type PivotCommand = (&'static str, &'static str, Option<u8>);

/// The QMP commands of a libvirt 9.0 pivot, in the order they are sent (captured by the
/// trigger's log; `pivotcheck live` checks the order again on every run), with the model
/// command each one corresponds to: `(real name, model command ordinal or None)`.
/// The model's pivot procedure (`libvirt-9.0` preset) sends job-complete (1), query-jobs
/// (2), job-dismiss (3), blockdev-del (4) and blockdev-del (5).
pub const PIVOT_COMMANDS: [PivotCommand; 8] = [
    ("transaction", "block-dirty-bitmap-add", None),
    ("job-complete", "", Some(1)),
    ("query-jobs", "", Some(2)),
    ("job-dismiss", "", Some(3)),
    ("query-named-block-nodes", "", None),
    ("transaction", "block-dirty-bitmap-remove", None),
    ("blockdev-del", "format node", Some(4)),
    ("blockdev-del", "storage node", Some(5)),
];

/// The same for libvirt 11.3, as the trigger logged it: a raw image has no format node
/// (`libvirt-1-storage` is the only node of the source), so one `blockdev-del`, and the
/// temporary bitmap, added on the target's storage node, is not removed by a second
/// transaction. The model's pivot (`libvirt-11.3` preset) sends job-complete (1),
/// query-jobs (2), job-dismiss (3) and blockdev-del (4).
pub const PIVOT_COMMANDS_11_3: [PivotCommand; 6] = [
    ("transaction", "block-dirty-bitmap-add", None),
    ("job-complete", "", Some(1)),
    ("query-jobs", "", Some(2)),
    ("job-dismiss", "", Some(3)),
    ("query-named-block-nodes", "", None),
    ("blockdev-del", "storage node", Some(4)),
];

/// The QMP commands the restarted libvirt 9.0 sends on reconnect when the pivot's crash
/// left a `pivoting` record and a concluded job in QEMU (first crash before the pivot's
/// `query-jobs`), as the trigger logged them: its concluded-job handling is the pivot's
/// tail (job-dismiss, node cleanup, blockdev-del twice).
pub const RECONNECT_PIVOTING: &[&str] = &[
    "qmp_capabilities",
    "query-migrate-capabilities",
    "query-status",
    "query-hotpluggable-cpus",
    "query-cpus-fast",
    "query-iothreads",
    "query-block",
    "query-chardev",
    "query-jobs",
    "job-dismiss",
    "query-named-block-nodes",
    "transaction",
    "blockdev-del",
    "blockdev-del",
    "qom-list",
];

/// The same after a crash at the `job-complete` reply (W1: the record still says `ready`,
/// QEMU has switched and concluded): libvirt takes the job for a copy that ended without a
/// pivot, dismisses it and deletes two nodes, without the node query and bitmap cleanup.
pub const RECONNECT_READY: &[&str] = &[
    "qmp_capabilities",
    "query-migrate-capabilities",
    "query-status",
    "query-hotpluggable-cpus",
    "query-cpus-fast",
    "query-iothreads",
    "query-block",
    "query-chardev",
    "query-jobs",
    "job-dismiss",
    "blockdev-del",
    "blockdev-del",
    "qom-list",
];

/// libvirt 11.3's reconnect after a `pivoting` record, as logged: two more probes
/// (query-target, query-machines) after query-status, and one blockdev-del.
pub const RECONNECT_PIVOTING_11_3: &[&str] = &[
    "qmp_capabilities",
    "query-migrate-capabilities",
    "query-status",
    "query-target",
    "query-machines",
    "query-hotpluggable-cpus",
    "query-cpus-fast",
    "query-iothreads",
    "query-block",
    "query-chardev",
    "query-jobs",
    "job-dismiss",
    "query-named-block-nodes",
    "blockdev-del",
    "qom-list",
];

/// libvirt 11.3's reconnect after W1 (a `ready` record, a concluded job): it dismisses the
/// job and deletes the target's storage node, which QEMU refuses (it is in use).
pub const RECONNECT_READY_11_3: &[&str] = &[
    "qmp_capabilities",
    "query-migrate-capabilities",
    "query-status",
    "query-target",
    "query-machines",
    "query-hotpluggable-cpus",
    "query-cpus-fast",
    "query-iothreads",
    "query-block",
    "query-chardev",
    "query-jobs",
    "job-dismiss",
    "blockdev-del",
    "qom-list",
];

/// A double crash: the first crash in the pivot, the reconnect's QMP commands that follow
/// it, and the second crash among them (ordinal, when) with the step of the model's
/// `concluded` handler it is (the `nth` such step).
pub struct DoubleCrash {
    pub first: (u8, When),
    pub reconnect: &'static [&'static str],
    pub second: (u8, When),
    pub step: model::Step,
    pub nth: u8,
}

pub const DOUBLE_CRASHES: [DoubleCrash; 4] = [
    DoubleCrash {
        first: (3, When::Before),
        reconnect: RECONNECT_PIVOTING,
        second: (10, When::Reply),
        step: model::Step::JobDismiss,
        nth: 1,
    },
    DoubleCrash {
        first: (3, When::Before),
        reconnect: RECONNECT_PIVOTING,
        second: (13, When::Before),
        step: model::Step::BlockdevDel,
        nth: 1,
    },
    DoubleCrash {
        first: (2, When::Reply),
        reconnect: RECONNECT_READY,
        second: (10, When::Reply),
        step: model::Step::JobDismiss,
        nth: 1,
    },
    DoubleCrash {
        first: (2, When::Reply),
        reconnect: RECONNECT_READY,
        second: (11, When::Before),
        step: model::Step::BlockdevDel,
        nth: 1,
    },
];

/// The same four double crashes on libvirt 11.3 (its reconnect has two more probes first).
pub const DOUBLE_CRASHES_11_3: [DoubleCrash; 4] = [
    DoubleCrash {
        first: (3, When::Before),
        reconnect: RECONNECT_PIVOTING_11_3,
        second: (12, When::Reply),
        step: model::Step::JobDismiss,
        nth: 1,
    },
    DoubleCrash {
        first: (3, When::Before),
        reconnect: RECONNECT_PIVOTING_11_3,
        second: (14, When::Before),
        step: model::Step::BlockdevDel,
        nth: 1,
    },
    DoubleCrash {
        first: (2, When::Reply),
        reconnect: RECONNECT_READY_11_3,
        second: (12, When::Reply),
        step: model::Step::JobDismiss,
        nth: 1,
    },
    DoubleCrash {
        first: (2, When::Reply),
        reconnect: RECONNECT_READY_11_3,
        second: (13, When::Before),
        step: model::Step::BlockdevDel,
        nth: 1,
    },
];

/// What a slow scenario's restarted libvirt sends when the job concludes after the
/// reconnect (libvirt's `JOB_STATUS_CHANGE` path, the same on 9.0 and 11.3 as logged):
/// `query-jobs`, `job-dismiss`, then the `blockdev-del`s of the mirror chain (QEMU refuses
/// them: it already runs on that chain). The trigger is armed after the reconnect.
pub const CONCLUDED_AFTER_RESTART: &[&str] = &["query-jobs", "job-dismiss", "blockdev-del"];

/// The slow scenario's second crash: before the first `blockdev-del` of that path, after
/// the status save that follows `job-dismiss` (9.0's unloadable one: W2b after a restart).
pub const SLOW_DOUBLE: DoubleCrash = DoubleCrash {
    first: (2, When::Reply),
    reconnect: CONCLUDED_AFTER_RESTART,
    second: (3, When::Before),
    step: model::Step::BlockdevDel,
    nth: 1,
};

/// A crash point in the model's `concluded` handler: at its `nth` `step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandlerPoint {
    pub step: model::Step,
    pub nth: u8,
    pub when: When,
}

/// A crash point of the model's pivot procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ModelPoint {
    /// Ordinal of the command among the commands the model's pivot sends (1-based).
    pub command: u8,
    pub when: When,
}

/// The model point a real crash point of `commands` maps to. Commands the model does not
/// have change nothing it tracks, so a crash around them equals a crash before the next
/// command the model has:
/// - around `transaction` #1 (bitmap add): before job-complete;
/// - around `query-named-block-nodes` and (9.0) `transaction` #2 (bitmap remove): before
///   the first blockdev-del. libvirt 9.0 saves the intermediate status right after it
///   handled the job-dismiss reply, before it sends query-named-block-nodes (measured: a
///   kill before query-named-block-nodes already finds the intermediate status XML).
pub fn model_point(commands: &[PivotCommand], real_ordinal: u8, when: When) -> ModelPoint {
    let k = usize::from(real_ordinal) - 1;
    if let Some(command) = commands[k].2 {
        return ModelPoint { command, when };
    }
    let command = commands[k..]
        .iter()
        .find_map(|c| c.2)
        .expect("every pivot ends with a command the model has");
    ModelPoint {
        command,
        when: When::Before,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Spec {
    /// Stable name, e.g. `job-dismiss.reply.persistent.poweroff`.
    pub name: String,
    /// The libvirt it runs against (its commands and preset).
    pub libvirt: Libvirt,
    /// `None`: the control, no crash.
    pub crash: Option<(u8, When)>,
    /// A second crash, in the reconnect after the first: the ordinal into that
    /// reconnect's commands ([`DoubleCrash::reconnect`]) and when.
    pub second: Option<(u8, When)>,
    pub persistent: bool,
    /// The guest powers off while libvirtd is down (for the control: after the pivot).
    pub poweroff: bool,
    /// Instead of a crash: libvirtd stops (SIGSTOP) when the reply to its `k`-th pivot
    /// command arrives, the guest writes, then the disturbance strikes, then libvirtd
    /// resumes (issue 13: the abort path when the concluded job cannot be queried).
    pub pause: Option<(u8, Disturb)>,
    /// The job concludes only after the restart (issue 13: "restart before the job
    /// concludes"): before the pivot the harness throttles the copy to 1 byte/s and leaves
    /// a dirty chunk behind, so QEMU accepts `job-complete` but cannot converge; libvirtd is
    /// killed at that reply, restarted, and only then is the job given its speed back, so
    /// that it concludes under the restarted libvirtd (its `JOB_STATUS_CHANGE` path).
    pub slow: bool,
}

/// What strikes QEMU while libvirtd is stopped in a pause scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disturb {
    /// The guest powers off (QEMU stays in run state `shutdown`: -no-shutdown); libvirt's
    /// SHUTDOWN handler kills it when libvirtd resumes.
    PowerOff,
    /// QEMU is SIGKILLed.
    QemuCrash,
}

impl Disturb {
    pub fn name(self) -> &'static str {
        match self {
            Disturb::PowerOff => "poweroff",
            Disturb::QemuCrash => "qemu-crash",
        }
    }
}

/// The 1-based ordinal of `job-complete` among the version's pivot commands: where the
/// pause and slow scenarios arm the trigger.
fn job_complete_ordinal(libvirt: Libvirt) -> u8 {
    libvirt
        .pivot_commands()
        .iter()
        .position(|c| c.0 == "job-complete")
        .expect("every pivot sends job-complete") as u8
        + 1
}

/// The pause scenarios of a version: libvirtd stopped at the job-complete reply, the
/// job concludes, the guest writes (to the target), then a power-off or a QEMU crash,
/// then libvirtd resumes; persistent domain.
pub fn pause_specs(libvirt: Libvirt) -> Vec<Spec> {
    let k = job_complete_ordinal(libvirt);
    [Disturb::PowerOff, Disturb::QemuCrash]
        .into_iter()
        .map(|d| Spec {
            name: format!("job-complete.pause.persistent.{}", d.name()),
            libvirt,
            crash: None,
            second: None,
            persistent: true,
            poweroff: false,
            pause: Some((k, d)),
            slow: false,
        })
        .collect()
}

/// The restart-before-the-job-concludes scenarios of a version: the W1 crash point (the
/// `job-complete` reply) with the job held back until libvirtd has restarted, transient and
/// persistent; and the same with a second crash in the concluded-job path that runs when
/// the job concludes ([`SLOW_DOUBLE`]).
pub fn slow_specs(libvirt: Libvirt) -> Vec<Spec> {
    let k = job_complete_ordinal(libvirt);
    let mut out = Vec::new();
    for second in [None, Some(SLOW_DOUBLE.second)] {
        for persistent in [false, true] {
            let first = point_name(libvirt.pivot_commands(), k, When::Reply);
            let first = match second {
                None => first,
                Some((k2, w2)) => format!(
                    "{first}+concluded.{}",
                    command_point_name(CONCLUDED_AFTER_RESTART, k2, w2)
                ),
            };
            out.push(Spec {
                name: format!(
                    "{first}.{}.slow",
                    if persistent {
                        "persistent"
                    } else {
                        "transient"
                    }
                ),
                libvirt,
                crash: Some((k, When::Reply)),
                second,
                persistent,
                poweroff: false,
                pause: None,
                slow: true,
            });
        }
    }
    out
}

impl Spec {
    pub fn model_point(&self) -> Option<ModelPoint> {
        self.crash
            .map(|(k, w)| model_point(self.libvirt.pivot_commands(), k, w))
    }

    /// The double crash this scenario is, if it is one.
    pub fn double(&self) -> Option<&'static DoubleCrash> {
        let second = self.second?;
        if self.slow {
            return Some(&SLOW_DOUBLE);
        }
        self.libvirt
            .double_crashes()
            .iter()
            .find(|d| Some(d.first) == self.crash && d.second == second)
    }

    /// The model point of the second crash, if there is one.
    pub fn second_point(&self) -> Option<HandlerPoint> {
        self.double().map(|d| HandlerPoint {
            step: d.step,
            nth: d.nth,
            when: d.second.1,
        })
    }

    /// The `pivotcheck live` command that reruns just this scenario.
    pub fn command_line(&self) -> String {
        format!(
            "pivotcheck live --libvirt {} --only {}",
            self.libvirt.name(),
            self.name
        )
    }
}

/// The name of the `k`-th command (1-based) of `commands`, with its ordinal among equals
/// for commands sent more than once (`blockdev-del1`), and when the crash is.
fn command_point_name(commands: &[&str], k: u8, when: When) -> String {
    let k = usize::from(k);
    let cmd = commands[k - 1];
    let base = if commands.iter().filter(|c| **c == cmd).count() > 1 {
        let nth = commands[..k].iter().filter(|c| **c == cmd).count();
        format!("{cmd}{nth}")
    } else {
        cmd.to_string()
    };
    format!("{base}.{}", when.name())
}

fn point_name(commands: &[PivotCommand], k: u8, when: When) -> String {
    let names: Vec<&str> = commands.iter().map(|c| c.0).collect();
    command_point_name(&names, k, when)
}

/// The whole matrix of one version. libvirt 9.0: 17 points (16 crash points and the
/// control) times transient or persistent times with or without a power-off: 68
/// scenarios; plus 8 double crashes (4 kinds, transient and persistent): 76; plus the two
/// pause and the four slow scenarios: 82. libvirt 11.3 sends two commands fewer: 13
/// points, 52 + 8 + 2 + 4 = 66.
pub fn all(libvirt: Libvirt) -> Vec<Spec> {
    let commands = libvirt.pivot_commands();
    let mut points: Vec<Option<(u8, When)>> = vec![None];
    for k in 1..=commands.len() as u8 {
        points.push(Some((k, When::Before)));
        points.push(Some((k, When::Reply)));
    }
    let mut out = Vec::new();
    for persistent in [false, true] {
        for poweroff in [false, true] {
            for p in &points {
                let point = match p {
                    None => "control".to_string(),
                    Some((k, w)) => point_name(commands, *k, *w),
                };
                let name = format!(
                    "{point}.{}{}",
                    if persistent {
                        "persistent"
                    } else {
                        "transient"
                    },
                    if poweroff { ".poweroff" } else { "" }
                );
                out.push(Spec {
                    name,
                    libvirt,
                    crash: *p,
                    second: None,
                    persistent,
                    poweroff,
                    pause: None,
                    slow: false,
                });
            }
        }
    }
    // Double crashes: the reconnect after the first crash is crashed again. Without a
    // power-off only: after one, the reconnect kills QEMU before it reaches the handler.
    for persistent in [false, true] {
        for d in libvirt.double_crashes() {
            let (k, w) = d.second;
            out.push(Spec {
                name: format!(
                    "{}+reconnect.{}.{}",
                    point_name(commands, d.first.0, d.first.1),
                    command_point_name(d.reconnect, k, w),
                    if persistent {
                        "persistent"
                    } else {
                        "transient"
                    }
                ),
                libvirt,
                crash: Some(d.first),
                second: Some(d.second),
                persistent,
                poweroff: false,
                pause: None,
                slow: false,
            });
        }
    }
    out.extend(pause_specs(libvirt));
    out.extend(slow_specs(libvirt));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_has_every_point_four_times_with_unique_names() {
        let all = all(Libvirt::V9_0);
        assert_eq!(all.len(), 82);
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 82);
        assert!(names.contains(&"job-complete.reply.transient.slow"));
        assert!(names.contains(&"job-complete.reply+concluded.blockdev-del.before.persistent.slow"));
        assert!(names.contains(&"job-complete.pause.persistent.poweroff"));
        assert!(names.contains(&"job-complete.pause.persistent.qemu-crash"));
        assert!(names.contains(&"job-complete.reply+reconnect.blockdev-del1.before.transient"));
        assert!(names.contains(&"query-jobs.before+reconnect.job-dismiss.reply.transient"));
        assert!(names.contains(&"query-jobs.before+reconnect.blockdev-del1.before.persistent"));
        assert!(names.contains(&"transaction2.before.persistent.poweroff"));
        assert!(names.contains(&"blockdev-del1.reply.transient"));
        assert!(names.contains(&"control.transient"));
    }

    #[test]
    fn the_11_3_matrix_follows_its_shorter_pivot() {
        let all = all(Libvirt::V11_3);
        assert_eq!(all.len(), 66);
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 66);
        assert!(names.contains(&"blockdev-del.reply.transient"));
        assert!(names.contains(&"job-complete.reply+reconnect.blockdev-del.before.transient"));
        assert!(names.contains(&"query-jobs.before+reconnect.job-dismiss.reply.persistent"));
        assert!(!names.iter().any(|n| n.starts_with("transaction2")));
        assert!(all.iter().all(|s| s.libvirt == Libvirt::V11_3));
        // The double crashes name the commands they were measured at.
        for d in &DOUBLE_CRASHES_11_3 {
            let c = d.reconnect[usize::from(d.second.0) - 1];
            let want = match d.step {
                model::Step::JobDismiss => "job-dismiss",
                model::Step::BlockdevDel => "blockdev-del",
                s => panic!("unexpected step {s:?}"),
            };
            assert_eq!(c, want);
        }
    }

    #[test]
    fn real_points_map_to_model_points() {
        let p = |k, w| model_point(&PIVOT_COMMANDS, k, w);
        let at = |command, when| ModelPoint { command, when };
        assert_eq!(p(1, When::Reply), at(1, When::Before));
        assert_eq!(p(2, When::Reply), at(1, When::Reply));
        assert_eq!(p(4, When::Reply), at(3, When::Reply));
        assert_eq!(p(5, When::Before), at(4, When::Before));
        assert_eq!(p(6, When::Reply), at(4, When::Before));
        assert_eq!(p(8, When::Reply), at(5, When::Reply));
        let p = |k, w| model_point(&PIVOT_COMMANDS_11_3, k, w);
        assert_eq!(p(5, When::Reply), at(4, When::Before));
        assert_eq!(p(6, When::Reply), at(4, When::Reply));
    }
}
