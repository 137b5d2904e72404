//! A new user's first two questions, answered from the model's own words: "give me a
//! scenario I can edit" (`pivotcheck new`) and "what does this word mean"
//! (`pivotcheck explain`).
//!
//! `new` writes every option and fault with a one-line comment, the preset's procedures
//! as editable step lists, and the verdicts the preset has today as the expectations, so
//! that an edit that breaks a property shows as a MISMATCH naming it on the next `check`.
//! The text is a commented template, not a serialization: the test parses it back and
//! requires the same configuration as the preset.

use std::fmt::Write as _;

use model::docs::preset_doc;
use model::properties::{self, Kind, PROPERTIES};
use model::{presets, AppOrder, Config, Fault, FaultKind, Faults, ShutdownKill, Step};

use crate::check::{self, CheckOptions, Expectation, Status};
use trace::scenario;

/// What a user asked for that `new` or `explain` cannot serve, with what was expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScaffoldError {
    #[error("unknown preset `{0}`, expected one of: {1}")]
    UnknownPreset(String, String),
    #[error("unknown fault `{0}` in --faults, expected one of: {1} (optionally `=N` with a bound from 0 to 8)")]
    UnknownFault(String, String),
    #[error("bad bound in --faults `{0}`: expected a whole number from 0 to 8")]
    BadBound(String),
    #[error("`{0}` is not a valid scenario name: use letters, digits, `-`, `_` and `.`")]
    BadName(String),
    #[error("--disks {0}: expected 1 to 3 disks")]
    BadDisks(u8),
    #[error("unknown term `{0}`: not a step, property, preset, fault or option; run `pivotcheck explain --list` for every term")]
    UnknownTerm(String),
}

/// Parses `--faults` values: `libvirtd_crash`, `qemu_crash=2`, or `none`. Dashes are
/// accepted for underscores (`guest-poweroff`).
pub fn parse_faults(values: &[String]) -> Result<Faults, ScaffoldError> {
    let mut faults = Faults::OFF;
    let keys: Vec<&str> = FaultKind::ALL.iter().map(|k| k.key()).collect();
    for value in values.iter().flat_map(|v| v.split(',')) {
        let value = value.trim();
        if value == "none" || value.is_empty() {
            continue;
        }
        let (key, bound) = match value.split_once('=') {
            Some((k, b)) => (k, Some(b)),
            None => (value, None),
        };
        let kind = FaultKind::from_key(key)
            .ok_or_else(|| ScaffoldError::UnknownFault(value.to_string(), keys.join(", ")))?;
        faults[kind] = match bound {
            None => Fault::Unbounded,
            Some(b) => match b.parse::<u8>() {
                Ok(n) if n <= 8 => Fault::AtMost(n),
                _ => return Err(ScaffoldError::BadBound(value.to_string())),
            },
        };
    }
    Ok(faults)
}

/// The faults of the default suite: libvirtd crashes and guest power-off.
pub fn default_faults() -> Faults {
    Faults::OFF
        .with(FaultKind::LibvirtdCrash, Fault::Unbounded)
        .with(FaultKind::GuestPowerOff, Fault::Unbounded)
}

fn fault_value(f: Fault) -> String {
    match f {
        Fault::Off => "false".into(),
        Fault::Unbounded => "true".into(),
        Fault::AtMost(n) => n.to_string(),
    }
}

/// `key = value`, and the option's meaning as a comment in the column the other comments use.
fn option(w: &mut String, key: &str, value: String) {
    let doc = model::docs::option_doc(key).expect("the scaffold writes documented options");
    let _ = writeln!(w, "{:<32} # {}", format!("{key} = {value}"), doc.doc);
}

fn list(steps: &[Step]) -> String {
    let quoted: Vec<String> = steps.iter().map(|s| format!("\"{}\"", s.name())).collect();
    format!("[{}]", quoted.join(", "))
}

/// The text of a new scenario `name` that starts from `preset` with `faults`, `disks` disks
/// and the app's `order` for them; its `[expect]` holds the verdicts the preset has today
/// with those (found by checking it).
pub fn new_scenario(
    name: &str,
    preset: &str,
    faults: Faults,
    disks: u8,
    order: AppOrder,
) -> Result<String, ScaffoldError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    if !(1..=Config::MAX_DISKS).contains(&disks) {
        return Err(ScaffoldError::BadDisks(disks));
    }
    let p = presets::preset(preset).ok_or_else(|| {
        ScaffoldError::UnknownPreset(preset.to_string(), presets::PRESET_NAMES.join(", "))
    })?;
    let mut t = String::new();
    let w = &mut t;
    let _ = writeln!(
        w,
        "# {name}: started from the preset `{preset}` (`pivotcheck new`)."
    );
    let _ = writeln!(w, "# {}", preset_doc(preset).unwrap_or(""));
    let _ = writeln!(
        w,
        "# Edit a step list below and run `pivotcheck check {name}.toml`: a verdict that\n\
         # changes shows as MISMATCH and names the property, with its shortest counterexample.\n\
         # `pivotcheck explain WORD` says what any step, property, preset, fault or option means."
    );
    let _ = writeln!(w);
    option(w, "blocks", "1".into());
    option(w, "disks", disks.to_string());
    let _ = writeln!(w);
    let _ = writeln!(w, "[qemu]");
    option(w, "copy_mode", "\"background\"".into());
    option(w, "no_shutdown", "true".into());
    option(w, "quit_cancel", "\"force\"".into());
    let _ = writeln!(w);
    let _ = writeln!(w, "[domain]");
    option(w, "persistent", "true".into());
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "[faults]                         # true (any number), false, or a bound 0..8"
    );
    for (kind, value) in faults.iter() {
        let _ = writeln!(
            w,
            "{:<32} # {}",
            format!("{} = {}", kind.key(), fault_value(value)),
            kind.summary()
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "[app]");
    option(w, "order", format!("\"{}\"", order.name()));
    option(w, "recovery", "\"seed\"".into());
    let _ = writeln!(w);
    let _ = writeln!(w, "[procedure]                      # libvirtd's programs as step lists (vocabulary at the bottom)");
    let _ = writeln!(w, "pivot = {}", list(&p.pivot));
    let _ = writeln!(w, "reconnect = {}", list(&p.reconnect));
    let _ = writeln!(w, "concluded = {}", list(&p.concluded));
    let kill = match p.shutdown_kill {
        ShutdownKill::Immediate => "immediate",
        ShutdownKill::SaveImmediate => "save-immediate",
        ShutdownKill::WhenIdle => "when-idle",
    };
    option(w, "shutdown_kill", format!("\"{kill}\""));
    option(w, "auto_dismiss", p.job.auto_dismiss.to_string());
    option(w, "auto_finalize", p.job.auto_finalize.to_string());

    // The expectations are today's verdicts: the file checks `ok` as written.
    let skeleton = format!("{t}\n[expect]\nviolated = []\n");
    let parsed = scenario::parse(name, &format!("{name}.toml"), &skeleton)
        .expect("the template is a valid scenario");
    let result = check::check_scenario(&parsed, &CheckOptions::default());
    let violated: Vec<String> = result
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .map(|p| format!("\"{}\"", p.name))
        .collect();
    let unreached: Vec<String> = result
        .properties
        .iter()
        .filter(|p| p.status == Status::Unreached && p.expected == Expectation::Reached)
        .map(|p| format!("\"{}\"", p.name))
        .collect();
    let w = &mut t;
    let _ = writeln!(w);
    let _ = writeln!(w, "[expect]                         # the preset's verdicts today: an edit that changes one is reported");
    let _ = writeln!(w, "violated = [{}]", violated.join(", "));
    if !unreached.is_empty() {
        let _ = writeln!(w, "unreached = [{}]", unreached.join(", "));
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Properties (always: must hold unless listed in `violated`; sometimes: must be reached):"
    );
    for def in PROPERTIES {
        let _ = writeln!(
            w,
            "#   {:<28} {:<9} {}",
            def.name,
            def.kind.name(),
            def.meaning
        );
    }
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# Steps (those with a QMP command send it and wait for its reply):"
    );
    for s in Step::ALL {
        let qmp = s.command().map(|c| c.qmp_name()).unwrap_or("-");
        let _ = writeln!(w, "#   {:<24} {:<28} {}", s.name(), qmp, s.doc());
    }
    Ok(t)
}

/// What the model means by `term`: a step, property, preset, fault or option, with the kind of
/// word it is. Several kinds can share a name (none do today); each is printed.
pub fn explain(term: &str) -> Result<String, ScaffoldError> {
    let mut out = String::new();
    if let Some(step) = Step::from_name(term) {
        let qmp = step
            .command()
            .map(|c| format!(" (sends `{}` and waits for its reply)", c.qmp_name()))
            .unwrap_or_else(|| " (local to libvirtd, one atomic action)".into());
        let _ = writeln!(out, "step `{term}`{qmp}:\n  {}", step.doc());
    }
    if let Some(def) = properties::property(term) {
        let kind = match def.kind {
            Kind::Always => "always: a reachable state where it fails is a counterexample",
            Kind::Sometimes => "sometimes: some reachable state must reach it, or the model misses what it claims to cover",
            Kind::Eventually => unreachable!("PROPERTIES holds no liveness property"),
        };
        let _ = writeln!(out, "property `{term}` ({kind}):\n  {}", def.meaning);
    }
    if let Some(def) = model::liveness::liveness(term) {
        let _ = writeln!(
            out,
            "property `{term}` (eventually: a reachable fair cycle, or end state, where its goal never holds is a counterexample):\n  {}",
            def.meaning
        );
    }
    if let Some(step) = model::config::AppStep::from_name(term) {
        let _ = writeln!(out, "app step `{term}` (`[app] steps`):\n  {}", step.doc());
    }
    if let Some(doc) = model::docs::app_preset_doc(term) {
        let (app, _) = presets::app_preset(term).expect("documented app presets exist");
        let steps: Vec<&str> = app.steps.iter().map(|s| s.name()).collect();
        let _ = writeln!(
            out,
            "app preset `{term}` (`[app] preset`):\n  {doc}\n  steps = {}",
            steps.join(", ")
        );
    }
    if let Some(doc) = preset_doc(term) {
        let p = presets::preset(term).expect("documented presets exist");
        let _ = writeln!(
            out,
            "preset `{term}`:\n  {doc}\n  pivot     = {}\n  reconnect = {}\n  concluded = {}",
            list(&p.pivot),
            list(&p.reconnect),
            list(&p.concluded)
        );
    }
    if let Some(kind) = FaultKind::from_key(term) {
        let _ = writeln!(
            out,
            "fault `{}` ([faults] table):\n  {}",
            kind.key(),
            kind.doc()
        );
    }
    if let Some(o) = model::docs::option_doc(term) {
        let place = if o.table.is_empty() {
            "the file's top level".to_string()
        } else {
            format!("the [{}] table", o.table)
        };
        let _ = writeln!(out, "option `{term}` (in {place}):\n  {}", o.doc);
    }
    if out.is_empty() {
        return Err(ScaffoldError::UnknownTerm(term.to_string()));
    }
    Ok(out)
}

/// Every term `explain` knows, by kind, for `explain --list`.
pub fn terms() -> String {
    let mut out = String::new();
    let steps: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
    let props: Vec<&str> = PROPERTIES
        .iter()
        .map(|p| p.name)
        .chain(model::liveness::LIVENESS.iter().map(|p| p.name))
        .collect();
    let faults: Vec<&str> = FaultKind::ALL.iter().map(|k| k.key()).collect();
    let _ = writeln!(out, "steps:      {}", steps.join(", "));
    let _ = writeln!(out, "properties: {}", props.join(", "));
    let _ = writeln!(out, "presets:    {}", presets::PRESET_NAMES.join(", "));
    let _ = writeln!(out, "faults:     {}", faults.join(", "));
    let options: Vec<&str> = model::docs::OPTIONS.iter().map(|o| o.key).collect();
    let _ = writeln!(out, "options:    {}", options.join(", "));
    out
}
