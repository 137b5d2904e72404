//! What one scenario ends with, in the same shape for real libvirt and for the model, so
//! that the two compare field by field.

use serde::Serialize;

/// Which images hold a guest write (its pattern is on the image).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Holders {
    #[default]
    /// The guest could not write (powered off, QEMU gone) or did not acknowledge it.
    NotWritten,
    Source,
    Target,
    Both,
    Neither,
}

impl Holders {
    pub fn from_flags(source: bool, target: bool) -> Holders {
        match (source, target) {
            (true, true) => Holders::Both,
            (true, false) => Holders::Source,
            (false, true) => Holders::Target,
            (false, false) => Holders::Neither,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Holders::NotWritten => "-",
            Holders::Source => "src",
            Holders::Target => "tgt",
            Holders::Both => "both",
            Holders::Neither => "neither",
        }
    }
}

/// QEMU's truth at one moment: `None` fields mean QEMU was gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct QemuView {
    pub alive: bool,
    /// `src` or `tgt`: the image behind the guest's disk (`query-block`).
    pub active: Option<String>,
    /// The mirror job's status (`query-jobs`), `none` when QEMU has no job.
    pub job: Option<String>,
}

/// One scenario's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct Observation {
    /// QEMU while libvirtd was down, before the guest acted (crash scenarios only).
    pub down: Option<QemuView>,
    /// libvirt's view of the domain after the restart: `running`, `shut off`, or
    /// `unknown` when libvirt no longer knows the domain.
    pub domain: String,
    /// The disk source in libvirt's live definition (running domains).
    pub live_source: Option<String>,
    /// The `<mirror>` in libvirt's live definition: `none`, or its `ready` attribute
    /// (`yes`, `pivot`, ...).
    pub mirror: Option<String>,
    /// The disk source of the persistent config (persistent domains).
    pub config_source: Option<String>,
    /// QEMU after the restart.
    pub qemu: QemuView,
    /// The guest's write while libvirtd was down (LBA 1).
    pub write_down: Holders,
    /// The guest's write after the restart (LBA 2).
    pub write_after: Holders,
    /// The pivot call's answer in a pause scenario (`0`, or `error`); `None` elsewhere.
    pub answer: Option<String>,
    /// The model's answer for the other order of libvirtd's threads (the monitor's EOF
    /// handled before the pivot call wakes for the concluded job), which real libvirt may
    /// take as well; only where that order exists (the pause scenarios, `predict.rs`).
    /// Either answer agrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_eof_first: Option<String>,
    /// With a power-off in a pause scenario, the model's whole observation for the other
    /// order of libvirtd's threads after the resume: the pivot call processes the
    /// concluded job and its `query-jobs` is answered before the SHUTDOWN handler kills
    /// QEMU (measured once on libvirt 11.3: config on the target). Real libvirt agrees if
    /// it matches this one in every field (`predict.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_last: Option<Box<Observation>>,
}

/// The fields on which two observations differ, as `field: real vs model` lines.
pub fn differences(real: &Observation, model: &Observation) -> Vec<String> {
    if let Some(other) = &model.shutdown_last {
        if differences(real, other).is_empty() {
            return Vec::new();
        }
    }
    let mut out = Vec::new();
    let mut cmp = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name}: real {a}, model {b}"));
        }
    };
    cmp("down", fmt_qemu(&real.down), fmt_qemu(&model.down));
    cmp("domain", real.domain.clone(), model.domain.clone());
    cmp(
        "live-source",
        opt(&real.live_source),
        opt(&model.live_source),
    );
    cmp("mirror", opt(&real.mirror), opt(&model.mirror));
    let other_order = real.answer.is_some() && real.answer == model.answer_eof_first;
    if real.answer != model.answer && !other_order {
        let model_answer = match &model.answer_eof_first {
            Some(other) => format!("{} (or {other})", opt(&model.answer)),
            None => opt(&model.answer),
        };
        cmp("answer", opt(&real.answer), model_answer);
    }
    cmp(
        "config-source",
        opt(&real.config_source),
        opt(&model.config_source),
    );
    cmp(
        "qemu",
        fmt_qemu(&Some(real.qemu.clone())),
        fmt_qemu(&Some(model.qemu.clone())),
    );
    cmp(
        "write-down",
        real.write_down.name().into(),
        model.write_down.name().into(),
    );
    cmp(
        "write-after",
        real.write_after.name().into(),
        model.write_after.name().into(),
    );
    out
}

pub fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

pub fn fmt_qemu(v: &Option<QemuView>) -> String {
    match v {
        None => "-".into(),
        Some(q) if !q.alive => "gone".into(),
        Some(q) => format!("{} job={}", opt(&q.active), opt(&q.job)),
    }
}
