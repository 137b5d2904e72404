//! Scenario files: TOML in, a typed [`Scenario`] out, or an error that names the file,
//! the line and column, and what was expected.
//!
//! Only this module reads and writes scenario TOML ([`parse`], [`Scenario::to_toml`]).
//! Unknown keys, steps, presets and property names are errors, never silently ignored: a
//! typo in a gate's scenario must not turn into a proof of something else.

use std::ops::Range;
use std::path::{Path, PathBuf};

use model::config::{AppProcedure, AppStep, MAX_APP_STEPS};
use model::properties::{self, Kind};
use model::FaultKind;
use model::{
    presets, AppOrder, Config, CopyMode, Fault, Faults, JobOptions, Procedures, QuitCancel,
    Recovery, ShutdownKill, Step,
};
use serde::Deserialize;
use toml::Spanned;

/// A scenario that failed to load: where, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file name without `.toml`.
    pub name: String,
    pub file: PathBuf,
    /// The file's text, embedded in traces so that they replay without the file.
    pub source: String,
    /// The preset named by `variant`, or `custom` when the procedures are all given.
    pub variant: String,
    pub config: Config,
    /// Properties the scenario expects to be violated (always) ...
    pub expect_violated: Vec<String>,
    /// ... and `sometimes` properties it expects never to be reached.
    pub expect_unreached: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    variant: Option<Spanned<String>>,
    blocks: Option<Spanned<i64>>,
    disks: Option<Spanned<i64>>,
    #[serde(default)]
    qemu: QemuSection,
    #[serde(default)]
    domain: DomainSection,
    #[serde(default)]
    faults: FaultsSection,
    #[serde(default)]
    app: AppSection,
    #[serde(default)]
    procedure: ProcedureSection,
    #[serde(default)]
    expect: ExpectSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QemuSection {
    copy_mode: Option<CopyModeName>,
    no_shutdown: Option<bool>,
    quit_cancel: Option<QuitCancelName>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum CopyModeName {
    Background,
    WriteBlocking,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum QuitCancelName {
    Force,
    Soft,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DomainSection {
    persistent: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaultsSection {
    libvirtd_crash: Option<Spanned<FaultValue>>,
    guest_poweroff: Option<Spanned<FaultValue>>,
    qemu_crash: Option<Spanned<FaultValue>>,
    host_crash: Option<Spanned<FaultValue>>,
    app_crash: Option<Spanned<FaultValue>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
enum FaultValue {
    Switch(bool),
    Bound(i64),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AppSection {
    recovery: Option<RecoveryName>,
    /// An app preset (`presets::app_preset`): its steps, hard reboot and recovery rule.
    preset: Option<Spanned<String>>,
    steps: Option<Spanned<Vec<Spanned<String>>>>,
    hard_reboot: Option<bool>,
    virsh_start: Option<bool>,
    order: Option<AppOrderName>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum AppOrderName {
    Sequential,
    Concurrent,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RecoveryName {
    Seed,
    TrustLibvirt,
    Vdsm,
    Nova,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProcedureSection {
    pivot: Option<Vec<Spanned<String>>>,
    reconnect: Option<Vec<Spanned<String>>>,
    concluded: Option<Vec<Spanned<String>>>,
    shutdown_kill: Option<ShutdownKillName>,
    auto_dismiss: Option<bool>,
    auto_finalize: Option<bool>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum ShutdownKillName {
    Immediate,
    SaveImmediate,
    WhenIdle,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpectSection {
    #[serde(default)]
    violated: Vec<Spanned<String>>,
    #[serde(default)]
    unreached: Vec<Spanned<String>>,
}

/// Fault bounds above this are refused: a bound is a counter in the state, and large
/// bounds only multiply states that an unbounded fault covers already.
pub const MAX_FAULT_BOUND: i64 = 8;

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ScenarioError {
        let (line, column) = match span {
            Some(s) => line_col(self.text, s.start),
            None => (1, 1),
        };
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read the scenario: {e}"),
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .unwrap_or_else(|| "scenario".into());
    parse_bytes(&name, &file, &text).map(|mut s| {
        s.file = path.to_path_buf();
        s
    })
}

/// Parses a scenario file's bytes, refusing text that is not UTF-8 with its position.
pub fn parse_bytes(name: &str, file: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(&String::from_utf8_lossy(bytes), e.valid_up_to());
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            message: "the file is not valid UTF-8".into(),
        }
    })?;
    parse(name, file, text)
}

/// Parses a scenario's text; `file` is only used in messages.
pub fn parse(name: &str, file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let ctx = Ctx { file, text };
    let raw: File = toml::from_str(text).map_err(|e| ctx.at(e.span(), first_line(e.message())))?;

    let variant_name = raw.variant.as_ref().map(|v| v.get_ref().clone());
    let base = match &raw.variant {
        Some(v) => Some(presets::preset(v.get_ref()).ok_or_else(|| {
            ctx.at(
                Some(v.span()),
                format!(
                    "unknown variant `{}`, expected one of: {}",
                    v.get_ref(),
                    presets::PRESET_NAMES.join(", ")
                ),
            )
        })?),
        None => None,
    };

    let steps = |list: &Option<Vec<Spanned<String>>>,
                 what: &str|
     -> Result<Option<Vec<Step>>, ScenarioError> {
        let Some(list) = list else { return Ok(None) };
        let mut out = Vec::new();
        for s in list {
            let step = Step::from_name(s.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
                ctx.at(
                    Some(s.span()),
                    format!(
                        "unknown step `{}` in procedure.{what}, expected one of: {}",
                        s.get_ref(),
                        names.join(", ")
                    ),
                )
            })?;
            out.push(step);
        }
        Ok(Some(out))
    };
    let pivot = steps(&raw.procedure.pivot, "pivot")?;
    let reconnect = steps(&raw.procedure.reconnect, "reconnect")?;
    let concluded = steps(&raw.procedure.concluded, "concluded")?;

    let procedures = match base {
        Some(mut p) => {
            if let Some(v) = pivot {
                p.pivot = v;
            }
            if let Some(v) = reconnect {
                p.reconnect = v;
            }
            if let Some(v) = concluded {
                p.concluded = v;
            }
            p
        }
        None => match (pivot, reconnect) {
            (Some(pivot), Some(reconnect)) => Procedures {
                pivot,
                reconnect,
                concluded: concluded.unwrap_or_default(),
                shutdown_kill: ShutdownKill::Immediate,
                job: JobOptions { auto_finalize: true, auto_dismiss: true },
            },
            _ => {
                return Err(ctx.at(
                    None,
                    "expected `variant = \"<preset>\"`, or both procedure.pivot and procedure.reconnect",
                ))
            }
        },
    };
    let mut procedures = procedures;
    if let Some(k) = raw.procedure.shutdown_kill {
        procedures.shutdown_kill = match k {
            ShutdownKillName::Immediate => ShutdownKill::Immediate,
            ShutdownKillName::SaveImmediate => ShutdownKill::SaveImmediate,
            ShutdownKillName::WhenIdle => ShutdownKill::WhenIdle,
        };
    }
    if let Some(v) = raw.procedure.auto_dismiss {
        procedures.job.auto_dismiss = v;
    }
    if let Some(v) = raw.procedure.auto_finalize {
        procedures.job.auto_finalize = v;
    }
    if procedures.pivot.is_empty() {
        return Err(ctx.at(
            None,
            "procedure.pivot is empty: the pivot needs at least one step",
        ));
    }

    let blocks = match &raw.blocks {
        None => 1,
        Some(b) => {
            let n = *b.get_ref();
            if !(1..=i64::from(Config::MAX_BLOCKS)).contains(&n) {
                return Err(ctx.at(
                    Some(b.span()),
                    format!("blocks = {n}: expected 1 to {}", Config::MAX_BLOCKS),
                ));
            }
            n as u8
        }
    };

    let disks = match &raw.disks {
        None => 1,
        Some(d) => {
            let n = *d.get_ref();
            if !(1..=i64::from(Config::MAX_DISKS)).contains(&n) {
                return Err(ctx.at(
                    Some(d.span()),
                    format!(
                        "disks = {n}: expected 1 to {} (the disks whose copies are pivoted)",
                        Config::MAX_DISKS
                    ),
                ));
            }
            n as u8
        }
    };

    let fault = |v: &Option<Spanned<FaultValue>>, key: &str| -> Result<Fault, ScenarioError> {
        Ok(match v.as_ref().map(|s| (*s.get_ref(), s.span())) {
            None | Some((FaultValue::Switch(false), _)) => Fault::Off,
            Some((FaultValue::Switch(true), _)) => Fault::Unbounded,
            Some((FaultValue::Bound(n), span)) => {
                if !(0..=MAX_FAULT_BOUND).contains(&n) {
                    return Err(ctx.at(
                        Some(span),
                        format!("faults.{key} = {n}: expected true, false or a bound from 0 to {MAX_FAULT_BOUND}"),
                    ));
                }
                Fault::AtMost(n as u8)
            }
        })
    };
    let mut faults = Faults::OFF;
    for kind in FaultKind::ALL {
        let value = match kind {
            FaultKind::LibvirtdCrash => &raw.faults.libvirtd_crash,
            FaultKind::GuestPowerOff => &raw.faults.guest_poweroff,
            FaultKind::QemuCrash => &raw.faults.qemu_crash,
            FaultKind::HostCrash => &raw.faults.host_crash,
            FaultKind::AppCrash => &raw.faults.app_crash,
        };
        faults[kind] = fault(value, kind.key())?;
    }

    let (mut app, preset_recovery) = match &raw.app.preset {
        None => (AppProcedure::default(), None),
        Some(p) => {
            let (app, recovery) = presets::app_preset(p.get_ref()).ok_or_else(|| {
                ctx.at(
                    Some(p.span()),
                    format!(
                        "unknown app preset `{}`, expected one of: {}",
                        p.get_ref(),
                        presets::APP_PRESET_NAMES.join(", ")
                    ),
                )
            })?;
            (app, Some(recovery))
        }
    };
    if let Some(list) = &raw.app.steps {
        let mut out = Vec::new();
        for s in list.get_ref() {
            out.push(AppStep::from_name(s.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = AppStep::ALL.iter().map(|s| s.name()).collect();
                ctx.at(
                    Some(s.span()),
                    format!(
                        "unknown step `{}` in app.steps, expected one of: {}",
                        s.get_ref(),
                        names.join(", ")
                    ),
                )
            })?);
        }
        let pivots = out.iter().filter(|&&s| s == AppStep::Pivot).count();
        if !out.is_empty() && (pivots != 1 || out.len() > MAX_APP_STEPS) {
            return Err(ctx.at(
                Some(list.span()),
                format!(
                    "app.steps has {} steps with {pivots} `pivot`: expected at most {MAX_APP_STEPS} steps with exactly one `pivot` (or an empty list for the plain app)",
                    out.len()
                ),
            ));
        }
        app.steps = out;
    }
    if let Some(v) = raw.app.hard_reboot {
        app.hard_reboot = v;
    }
    if let Some(v) = raw.app.virsh_start {
        app.virsh_start = v;
    }
    // The app's own procedure, its hard reboot and the operator's `virsh start` (issue 15)
    // act on the whole domain from one disk's record: modelled for one disk.
    if disks > 1 && (!app.steps.is_empty() || app.hard_reboot || app.virsh_start) {
        return Err(ctx.at(
            raw.disks.as_ref().map(|d| d.span()),
            format!(
                "disks = {disks}: the app's own steps, hard_reboot and virsh_start are modelled for one disk; expected disks = 1 with them, or the plain app"
            ),
        ));
    }
    // The persistent bitmap's word is packed for disk 0 only (issue 15's preset came with
    // one disk).
    if disks > 1 && procedures.reads_bitmap() {
        return Err(ctx.at(
            raw.disks.as_ref().map(|d| d.span()),
            format!(
                "disks = {disks}: the persistent bitmap (`read-bitmap`) is modelled for one disk; expected disks = 1 with it"
            ),
        ));
    }

    let config = Config {
        blocks,
        disks,
        app_order: match raw.app.order.unwrap_or(AppOrderName::Sequential) {
            AppOrderName::Sequential => AppOrder::Sequential,
            AppOrderName::Concurrent => AppOrder::Concurrent,
        },
        copy_mode: match raw.qemu.copy_mode.unwrap_or(CopyModeName::Background) {
            CopyModeName::Background => CopyMode::Background,
            CopyModeName::WriteBlocking => CopyMode::WriteBlocking,
        },
        no_shutdown: raw.qemu.no_shutdown.unwrap_or(true),
        quit_cancel: match raw.qemu.quit_cancel.unwrap_or(QuitCancelName::Force) {
            QuitCancelName::Force => QuitCancel::Force,
            QuitCancelName::Soft => QuitCancel::Soft,
        },
        persistent: raw.domain.persistent.unwrap_or(true),
        faults,
        recovery: match raw.app.recovery {
            None => preset_recovery.unwrap_or(Recovery::Seed),
            Some(RecoveryName::Seed) => Recovery::Seed,
            Some(RecoveryName::TrustLibvirt) => Recovery::TrustLibvirt,
            Some(RecoveryName::Vdsm) => Recovery::Vdsm,
            Some(RecoveryName::Nova) => Recovery::Nova,
        },
        procedures,
        app,
    };

    let mut expect_violated = Vec::new();
    for p in &raw.expect.violated {
        if model::liveness::liveness(p.get_ref()).is_some() {
            expect_violated.push(p.get_ref().clone());
            continue;
        }
        match properties::property(p.get_ref()) {
            Some(def) if def.kind == Kind::Always => expect_violated.push(p.get_ref().clone()),
            Some(_) => {
                return Err(ctx.at(
                    Some(p.span()),
                    format!(
                        "`{}` is a sometimes property: list it under expect.unreached",
                        p.get_ref()
                    ),
                ))
            }
            None => return Err(unknown_property(&ctx, p, Kind::Always)),
        }
    }
    let mut expect_unreached = Vec::new();
    for p in &raw.expect.unreached {
        match properties::property(p.get_ref()) {
            Some(def) if def.kind == Kind::Sometimes => expect_unreached.push(p.get_ref().clone()),
            Some(_) => {
                return Err(ctx.at(
                    Some(p.span()),
                    format!(
                        "`{}` is an always property: list it under expect.violated",
                        p.get_ref()
                    ),
                ))
            }
            None => return Err(unknown_property(&ctx, p, Kind::Sometimes)),
        }
    }

    Ok(Scenario {
        name: name.to_string(),
        file: PathBuf::from(file),
        source: text.to_string(),
        variant: variant_name.unwrap_or_else(|| "custom".into()),
        config,
        expect_violated,
        expect_unreached,
    })
}

fn unknown_property(ctx: &Ctx, p: &Spanned<String>, kind: Kind) -> ScenarioError {
    let mut names: Vec<&str> = properties::PROPERTIES
        .iter()
        .filter(|d| d.kind == kind)
        .map(|d| d.name)
        .collect();
    if kind == Kind::Always {
        names.extend(model::liveness::LIVENESS.iter().map(|d| d.name));
    }
    ctx.at(
        Some(p.span()),
        format!(
            "unknown property `{}`, expected one of: {}",
            p.get_ref(),
            names.join(", ")
        ),
    )
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or_else(
            || "invalid TOML: a character or token the format does not allow here".to_string(),
            str::to_string,
        )
}

impl Scenario {
    /// The scenario as TOML that [`parse`] reads back to the same configuration, variant
    /// and expectations. Every setting is written out, including the preset's procedures
    /// and options, so an edited configuration (a mutant) is written as it is, not as the
    /// preset it started from. `comment` becomes the file's first lines.
    pub fn to_toml(&self, comment: &str) -> String {
        use toml::{Table, Value};
        let c = &self.config;
        let strings = |v: &[&str]| Value::Array(v.iter().map(|s| Value::from(*s)).collect());
        let steps = |v: &[Step]| strings(&v.iter().map(|s| s.name()).collect::<Vec<_>>());
        let owned = |v: &[String]| strings(&v.iter().map(String::as_str).collect::<Vec<_>>());
        let fault = |f: Fault| match f {
            Fault::Off => Value::Boolean(false),
            Fault::Unbounded => Value::Boolean(true),
            Fault::AtMost(n) => Value::Integer(i64::from(n)),
        };
        let table = |pairs: Vec<(&str, Value)>| {
            Value::Table(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        };

        let mut root = Table::new();
        if self.variant != "custom" {
            root.insert("variant".into(), Value::from(self.variant.as_str()));
        }
        root.insert("blocks".into(), Value::Integer(i64::from(c.blocks)));
        // Written only for several disks, so one-disk scenarios read as they always did.
        if c.disks > 1 {
            root.insert("disks".into(), Value::Integer(i64::from(c.disks)));
        }
        root.insert(
            "qemu".into(),
            table(vec![
                (
                    "copy_mode",
                    Value::from(match c.copy_mode {
                        CopyMode::Background => "background",
                        CopyMode::WriteBlocking => "write-blocking",
                    }),
                ),
                ("no_shutdown", Value::Boolean(c.no_shutdown)),
                (
                    "quit_cancel",
                    Value::from(match c.quit_cancel {
                        QuitCancel::Force => "force",
                        QuitCancel::Soft => "soft",
                    }),
                ),
            ]),
        );
        root.insert(
            "domain".into(),
            table(vec![("persistent", Value::Boolean(c.persistent))]),
        );
        root.insert(
            "faults".into(),
            table(
                model::action::FaultKind::ALL
                    .iter()
                    .map(|&k| (k.key(), fault(c.faults[k])))
                    .collect(),
            ),
        );
        root.insert(
            "app".into(),
            table(vec![
                (
                    "recovery",
                    Value::from(match c.recovery {
                        Recovery::Seed => "seed",
                        Recovery::TrustLibvirt => "trust-libvirt",
                        Recovery::Vdsm => "vdsm",
                        Recovery::Nova => "nova",
                    }),
                ),
                (
                    "steps",
                    strings(&c.app.steps.iter().map(|s| s.name()).collect::<Vec<_>>()),
                ),
                ("hard_reboot", Value::Boolean(c.app.hard_reboot)),
                ("virsh_start", Value::Boolean(c.app.virsh_start)),
            ]),
        );
        if c.disks > 1 {
            if let Some(Value::Table(app)) = root.get_mut("app") {
                app.insert("order".into(), Value::from(c.app_order.name()));
            }
        }
        let p = &c.procedures;
        root.insert(
            "procedure".into(),
            table(vec![
                ("pivot", steps(&p.pivot)),
                ("reconnect", steps(&p.reconnect)),
                ("concluded", steps(&p.concluded)),
                (
                    "shutdown_kill",
                    Value::from(match p.shutdown_kill {
                        ShutdownKill::Immediate => "immediate",
                        ShutdownKill::SaveImmediate => "save-immediate",
                        ShutdownKill::WhenIdle => "when-idle",
                    }),
                ),
                ("auto_dismiss", Value::Boolean(p.job.auto_dismiss)),
                ("auto_finalize", Value::Boolean(p.job.auto_finalize)),
            ]),
        );
        root.insert(
            "expect".into(),
            table(vec![
                ("violated", owned(&self.expect_violated)),
                ("unreached", owned(&self.expect_unreached)),
            ]),
        );
        let mut text: String = comment.lines().map(|l| format!("# {l}\n")).collect();
        text.push_str(&toml::to_string(&root).expect("a table of plain values serializes"));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario_files() -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut files = Vec::new();
        for sub in [
            dir.clone(),
            dir.join("live"),
            dir.join("large"),
            dir.join("disks"),
        ] {
            for e in std::fs::read_dir(&sub).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "toml") {
                    files.push(p);
                }
            }
        }
        files.sort();
        files
    }

    /// Reads `s.to_toml()` back and checks that nothing was lost, and that writing it again
    /// gives the same text.
    pub(crate) fn assert_round_trip(s: &Scenario) {
        let text = s.to_toml("written by a test");
        let back = parse(&s.name, "round-trip.toml", &text)
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", s.name));
        assert_eq!(back.config, s.config, "{}:\n{text}", s.name);
        assert_eq!(back.variant, s.variant, "{}", s.name);
        assert_eq!(back.expect_violated, s.expect_violated, "{}", s.name);
        assert_eq!(back.expect_unreached, s.expect_unreached, "{}", s.name);
        assert_eq!(back.to_toml("written by a test"), text, "{}", s.name);
    }

    #[test]
    fn every_scenario_file_round_trips_through_to_toml() {
        let files = scenario_files();
        assert!(files.len() >= 30, "only {} scenario files", files.len());
        for f in files {
            assert_round_trip(&load(&f).unwrap());
        }
    }

    #[test]
    fn to_toml_keeps_an_option_flip_a_preset_would_undo() {
        let mut s = parse("w", "w.toml", "variant = \"write-ahead\"\n").unwrap();
        let before = s.config.procedures.job.auto_finalize;
        s.config.procedures.job.auto_finalize = !before;
        s.config.faults[model::FaultKind::QemuCrash] = Fault::AtMost(2);
        let back = parse("w", "w.toml", &s.to_toml("")).unwrap();
        assert_eq!(back.config.procedures.job.auto_finalize, !before);
        assert_eq!(
            back.config.faults[model::FaultKind::QemuCrash],
            Fault::AtMost(2)
        );
        // A file naming only the preset would lose the flip: the test above can fail.
        let plain = parse("w", "w.toml", "variant = \"write-ahead\"\n").unwrap();
        assert_ne!(plain.config, s.config);
    }
}
