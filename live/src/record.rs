//! `pivotcheck live --record DIR`: what an operator would have after each crash scenario,
//! saved beside the ground truth the harness measured, as the corpus of `pivotcheck
//! diagnose`.
//!
//! libvirtd logs monitor traffic with the settings an operator would use (written to
//! `libvirtd.conf` in the harness's namespace, [`LIBVIRTD_CONF`]). For each scenario,
//! `DIR/<libvirt version>/<scenario>/` gets:
//! - `libvirtd.log`: libvirtd's log from the scenario's start (domain start, copy, pivot,
//!   crash, restart, reconnect) up to the moment the harness starts its own queries (its
//!   `qemu-monitor-command` calls would show as monitor traffic no libvirt procedure sent);
//! - `status.xml`: the domain's status XML (`/run/libvirt/qemu/rq.xml`) at that moment,
//!   absent when libvirt has none; `status-at-crash.xml` (and `status-at-crash2.xml` for a
//!   second crash): the status XML right after libvirtd died;
//! - `config.xml`: the persistent XML (persistent domains that libvirt still defines);
//! - `truth.json`: the ground truth ([`Truth`]).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::harness::{attr, disk_xml, Work, DOMAIN};
use crate::matrix::Spec;
use crate::observe::{Holders, Observation, QemuView};

/// The log settings of the recording (and those `pivotcheck diagnose` documents): every
/// message of libvirt's QEMU driver at debug level, which includes the monitor's
/// `QEMU_MONITOR_IO_WRITE`, `QEMU_MONITOR_RECV_REPLY` and `QEMU_MONITOR_RECV_EVENT`
/// lines; the rest of libvirt at warning level.
pub const LIBVIRTD_CONF: &str = "# pivotcheck live --record: monitor traffic in the log\n\
log_filters=\"1:qemu 1:libvirt 4:object 4:json 4:event 4:util 4:rpc 4:conf\"\n\
log_outputs=\"1:file:/var/log/libvirt/libvirtd.log\"\n";

/// Where libvirtd writes its log, as seen from outside its namespace.
fn log_path(work: &Work) -> PathBuf {
    work.path("log/libvirt/libvirtd.log")
}

/// Turns on libvirtd's debug log in the harness's namespace (before libvirtd starts).
pub fn enable(work: &Work) -> Result<()> {
    fs::create_dir_all(work.path("log/libvirt"))?;
    fs::write(work.path("etc/libvirtd.conf"), LIBVIRTD_CONF)?;
    Ok(())
}

/// The ground truth of one recorded scenario: what the harness did and measured.
#[derive(Serialize, Default)]
pub struct Truth {
    pub scenario: String,
    pub libvirt: String,
    pub preset: String,
    pub persistent: bool,
    /// The crash window the measured facts put the scenario in (see [`window`]).
    pub window: String,
    /// Where QEMU's disk ran at the end: `source`, `target` or `gone`.
    pub qemu: String,
    /// The images that held every acknowledged guest write at the end: `source`,
    /// `target`, `both` (also when no write was acknowledged: both hold the copy).
    pub data_on: String,
    /// What libvirt said at the end: `source`, `target`, `no domain`, `shut off`.
    pub libvirt_says: String,
    /// Everything the harness observed (QEMU while libvirtd was down, libvirt's view,
    /// where each write landed).
    pub observation: Observation,
    /// QEMU while libvirtd was down after a second crash (double crashes).
    pub down_after_second_crash: Option<QemuView>,
}

/// One scenario being recorded.
pub struct Recording {
    dir: PathBuf,
    log_from: u64,
    crashes: u8,
    pub down2: Option<QemuView>,
    snapshot: bool,
}

impl Recording {
    /// Starts recording `spec` into `root/<version>/<name>/` (emptied first).
    pub fn start(root: &Path, work: &Work, spec: &Spec) -> Result<Recording> {
        let dir = root.join(spec.libvirt.name()).join(&spec.name);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let log_from = fs::metadata(log_path(work)).map(|m| m.len()).unwrap_or(0);
        Ok(Recording {
            dir,
            log_from,
            crashes: 0,
            down2: None,
            snapshot: false,
        })
    }

    /// libvirtd just died: keep its status XML as it was then.
    pub fn crashed(&mut self, work: &Work) -> Result<()> {
        self.crashes += 1;
        let name = if self.crashes == 1 {
            "status-at-crash.xml".to_string()
        } else {
            format!("status-at-crash{}.xml", self.crashes)
        };
        if let Ok(x) = fs::read_to_string(work.status_xml()) {
            fs::write(self.dir.join(name), x)?;
        }
        Ok(())
    }

    /// What the operator has now: the log so far, the status XML, the persistent XML.
    /// Called once, before the harness's own monitor queries.
    pub fn snapshot(&mut self, work: &Work, persistent: bool) -> Result<()> {
        if self.snapshot {
            return Ok(());
        }
        self.snapshot = true;
        let log = fs::read(log_path(work)).unwrap_or_default();
        let from = (self.log_from as usize).min(log.len());
        fs::write(self.dir.join("libvirtd.log"), &log[from..])?;
        if let Ok(x) = fs::read_to_string(work.status_xml()) {
            fs::write(self.dir.join("status.xml"), x)?;
        }
        let config = work.path(&format!("etc/qemu/{DOMAIN}.xml"));
        if persistent {
            if let Ok(x) = fs::read_to_string(config) {
                fs::write(self.dir.join("config.xml"), x)?;
            }
        }
        Ok(())
    }

    /// Writes `truth.json` from the scenario's observation.
    pub fn finish(self, spec: &Spec, obs: &Observation) -> Result<()> {
        let status_at_crash = |n: &str| fs::read_to_string(self.dir.join(n)).ok();
        let truth = Truth {
            scenario: spec.name.clone(),
            libvirt: spec.libvirt.name().into(),
            preset: spec.libvirt.preset().into(),
            persistent: spec.persistent,
            window: window(
                spec,
                obs,
                status_at_crash("status-at-crash.xml").as_deref(),
                status_at_crash("status-at-crash2.xml").as_deref(),
                self.down2.as_ref(),
            ),
            qemu: match (&obs.qemu.alive, obs.qemu.active.as_deref()) {
                (false, _) => "gone".into(),
                (true, Some("src")) => "source".into(),
                (true, Some("tgt")) => "target".into(),
                (true, other) => format!("{other:?}"),
            },
            data_on: data_on(obs),
            libvirt_says: libvirt_says(obs),
            observation: obs.clone(),
            down_after_second_crash: self.down2.clone(),
        };
        let mut text = serde_json::to_string_pretty(&truth)?;
        text.push('\n');
        fs::write(self.dir.join("truth.json"), text)?;
        Ok(())
    }
}

/// The images holding every acknowledged write (`both` when none was acknowledged).
fn data_on(obs: &Observation) -> String {
    let mut src = true;
    let mut tgt = true;
    for h in [obs.write_down, obs.write_after] {
        match h {
            Holders::NotWritten | Holders::Both => {}
            Holders::Source => tgt = false,
            Holders::Target => src = false,
            Holders::Neither => {
                src = false;
                tgt = false;
            }
        }
    }
    match (src, tgt) {
        (true, true) => "both",
        (true, false) => "source",
        (false, true) => "target",
        (false, false) => "neither",
    }
    .into()
}

fn libvirt_says(obs: &Observation) -> String {
    match obs.domain.as_str() {
        "shut off" => "shut off".into(),
        "unknown" => "no domain".into(),
        _ => match obs.live_source.as_deref() {
            Some("src") => "source".into(),
            Some("tgt") => "target".into(),
            other => format!("{other:?}"),
        },
    }
}

/// The crash window of a scenario, from what was measured at each crash: the status XML
/// libvirtd left (its disk source, its `<mirror ready=...>`, a `job=''` libvirt 9.0
/// cannot load), QEMU while libvirtd was down (its image, its job), and a power-off
/// while libvirtd was down. The names are those of `reports/live-findings.md`:
/// - `W2b`: the status XML left has `<mirror ... job=''>` (unloadable);
/// - `W3`: the guest powered off while libvirtd was down, QEMU on the target, the record
///   saying source;
/// - `W2`: QEMU on the target with no job left, the record saying source with a `pivot`
///   mirror;
/// - `W1`: QEMU on the target (or about to switch), the record saying source with a
///   `ready` mirror;
/// - `none`: no crash, QEMU still on the source, or a record the restart finishes from.
///
/// With two crashes the more serious window counts (W2b, W3, W2, W1, none).
pub fn window(
    spec: &Spec,
    obs: &Observation,
    status1: Option<&str>,
    status2: Option<&str>,
    down2: Option<&QemuView>,
) -> String {
    if spec.crash.is_none() {
        return "none".into();
    }
    let one = |status: Option<&str>, down: Option<&QemuView>, poweroff: bool| -> u8 {
        let Some(x) = status else { return 0 };
        let Some(disk) = disk_xml(x) else { return 0 };
        let source_is_src = attr(disk, "source", "file").is_some_and(|f| f.ends_with("/src.raw"));
        let mirror = disk.contains("<mirror");
        if mirror && disk.contains("job=''") {
            return 4;
        }
        let on_target = down.is_some_and(|d| d.active.as_deref() == Some("tgt"));
        if !source_is_src || !on_target {
            return 0;
        }
        if poweroff {
            return 3;
        }
        let ready = attr(disk, "mirror", "ready");
        let job = down.and_then(|d| d.job.as_deref());
        match (ready.as_deref(), job) {
            (Some("pivot"), Some("none")) => 2,
            (Some("yes"), _) => 1,
            _ => 0,
        }
    };
    let first = one(status1, obs.down.as_ref(), spec.poweroff);
    let second = one(status2.or(status1), down2, false);
    ["none", "W1", "W2", "W3", "W2b"][usize::from(first.max(second))].into()
}
