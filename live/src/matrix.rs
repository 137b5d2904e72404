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

/// The QMP commands of a libvirt 9.0 pivot, in the order they are sent (captured by the
/// trigger's log; `pivotcheck live` checks the order again on every run), with the model
/// command each one corresponds to: `(real name, model command ordinal or None)`.
/// The model's pivot procedure (`libvirt-9.0` preset) sends job-complete (1), query-jobs
/// (2), job-dismiss (3), blockdev-del (4) and blockdev-del (5).
pub const PIVOT_COMMANDS: [(&str, &str, Option<u8>); 8] = [
    ("transaction", "block-dirty-bitmap-add", None),
    ("job-complete", "", Some(1)),
    ("query-jobs", "", Some(2)),
    ("job-dismiss", "", Some(3)),
    ("query-named-block-nodes", "", None),
    ("transaction", "block-dirty-bitmap-remove", None),
    ("blockdev-del", "format node", Some(4)),
    ("blockdev-del", "storage node", Some(5)),
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

/// The model point a real crash point maps to. Commands the model does not have change
/// nothing it tracks, so a crash around them equals a crash at the neighbouring point:
/// - around `transaction` #1 (bitmap add): before job-complete;
/// - around `query-named-block-nodes` and `transaction` #2 (bitmap remove): before the
///   first blockdev-del. libvirt saves the intermediate status right after it handled the
///   job-dismiss reply, before it sends query-named-block-nodes (measured: a kill before
///   query-named-block-nodes already finds the intermediate status XML).
pub fn model_point(real_ordinal: u8, when: When) -> ModelPoint {
    let (command, when) = match (real_ordinal, when) {
        (1, _) => (1, When::Before),
        (5 | 6, _) => (4, When::Before),
        (k, w) => (
            PIVOT_COMMANDS[usize::from(k) - 1]
                .2
                .expect("mapped commands have a model ordinal"),
            w,
        ),
    };
    ModelPoint { command, when }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Spec {
    /// Stable name, e.g. `job-dismiss.reply.persistent.poweroff`.
    pub name: String,
    /// `None`: the control, no crash.
    pub crash: Option<(u8, When)>,
    /// A second crash, in the reconnect after the first: the ordinal into that
    /// reconnect's commands ([`DoubleCrash::reconnect`]) and when.
    pub second: Option<(u8, When)>,
    pub persistent: bool,
    /// The guest powers off while libvirtd is down (for the control: after the pivot).
    pub poweroff: bool,
}

impl Spec {
    pub fn model_point(&self) -> Option<ModelPoint> {
        self.crash.map(|(k, w)| model_point(k, w))
    }

    /// The double crash this scenario is, if it is one.
    pub fn double(&self) -> Option<&'static DoubleCrash> {
        let second = self.second?;
        DOUBLE_CRASHES
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

    /// The `pivotcheck live` command that reruns just this scenario against libvirt
    /// `version`.
    pub fn command_line(&self, version: &str) -> String {
        format!("pivotcheck live --libvirt {version} --only {}", self.name)
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

fn point_name(k: u8, when: When) -> String {
    let names: Vec<&str> = PIVOT_COMMANDS.iter().map(|c| c.0).collect();
    command_point_name(&names, k, when)
}

/// The whole matrix: 17 points (16 crash points and the control) times transient or
/// persistent times with or without a power-off: 68 scenarios; plus 8 double crashes
/// (4 kinds, transient and persistent): 76.
pub fn all() -> Vec<Spec> {
    let mut points: Vec<Option<(u8, When)>> = vec![None];
    for k in 1..=PIVOT_COMMANDS.len() as u8 {
        points.push(Some((k, When::Before)));
        points.push(Some((k, When::Reply)));
    }
    let mut out = Vec::new();
    for persistent in [false, true] {
        for poweroff in [false, true] {
            for p in &points {
                let point = match p {
                    None => "control".to_string(),
                    Some((k, w)) => point_name(*k, *w),
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
                    crash: *p,
                    second: None,
                    persistent,
                    poweroff,
                });
            }
        }
    }
    // Double crashes: the reconnect after the first crash is crashed again. Without a
    // power-off only: after one, the reconnect kills QEMU before it reaches the handler.
    for persistent in [false, true] {
        for d in &DOUBLE_CRASHES {
            let (k, w) = d.second;
            out.push(Spec {
                name: format!(
                    "{}+reconnect.{}.{}",
                    point_name(d.first.0, d.first.1),
                    command_point_name(d.reconnect, k, w),
                    if persistent {
                        "persistent"
                    } else {
                        "transient"
                    }
                ),
                crash: Some(d.first),
                second: Some(d.second),
                persistent,
                poweroff: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_has_every_point_four_times_with_unique_names() {
        let all = all();
        assert_eq!(all.len(), 76);
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 76);
        assert!(names.contains(&"job-complete.reply+reconnect.blockdev-del1.before.transient"));
        assert!(names.contains(&"query-jobs.before+reconnect.job-dismiss.reply.transient"));
        assert!(names.contains(&"query-jobs.before+reconnect.blockdev-del1.before.persistent"));
        assert!(names.contains(&"transaction2.before.persistent.poweroff"));
        assert!(names.contains(&"blockdev-del1.reply.transient"));
        assert!(names.contains(&"control.transient"));
    }

    #[test]
    fn real_points_map_to_model_points() {
        assert_eq!(
            model_point(1, When::Reply),
            ModelPoint {
                command: 1,
                when: When::Before
            }
        );
        assert_eq!(
            model_point(2, When::Reply),
            ModelPoint {
                command: 1,
                when: When::Reply
            }
        );
        assert_eq!(
            model_point(4, When::Reply),
            ModelPoint {
                command: 3,
                when: When::Reply
            }
        );
        assert_eq!(
            model_point(5, When::Before),
            ModelPoint {
                command: 4,
                when: When::Before
            }
        );
        assert_eq!(
            model_point(6, When::Reply),
            ModelPoint {
                command: 4,
                when: When::Before
            }
        );
        assert_eq!(
            model_point(8, When::Reply),
            ModelPoint {
                command: 5,
                when: When::Reply
            }
        );
    }
}
