//! `pivotcheck new` and `pivotcheck explain`: a new user's first scenario, and the words
//! of the model explained from the same strings the code uses.

use crate::{pivotcheck, scenarios_dir, temp_dir};
use model::presets::{self, PRESET_NAMES};
use model::properties::PROPERTIES;
use model::Step;
use sim::scaffold;
use trace::scenario;

/// Every preset's scaffold parses back to exactly the preset's configuration (procedures,
/// default options, the default suite's faults) and checks `ok` as written: its
/// expectations are the preset's verdicts.
#[test]
fn a_new_scenario_is_the_preset_spelled_out_and_checks_ok() {
    let dir = temp_dir("scaffold-every-preset");
    for preset in PRESET_NAMES {
        let o = pivotcheck(&["new", &format!("from-{preset}"), "--from", preset], &dir);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{preset}: {}",
            crate::stderr_of(&o)
        );
        let file = dir.join(format!("from-{preset}.toml"));
        let s = scenario::load(&file).unwrap();
        assert_eq!(
            s.config.procedures,
            presets::preset(preset).unwrap(),
            "{preset}"
        );
        assert_eq!(s.config.faults, scaffold::default_faults(), "{preset}");
        let reference = scenario::load(&scenarios_dir().join("write-ahead.toml")).unwrap();
        let mut expected = reference.config.clone();
        expected.procedures = s.config.procedures.clone();
        assert_eq!(
            s.config, expected,
            "{preset}: options differ from the defaults"
        );
        let text = std::fs::read_to_string(&file).unwrap();
        for step in Step::ALL {
            assert!(
                text.contains(step.doc()),
                "{preset}: vocabulary lacks {step}"
            );
        }
        let o = pivotcheck(&["check", "--brief", file.to_str().unwrap()], &dir);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{preset}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

/// `--disks 2 --order concurrent` starts from the same configuration as the disk
/// scenario written by hand for it (`scenarios/disks/write-ahead-2-disks-concurrent.toml`),
/// and checks `ok` with the same count.
#[test]
fn a_new_scenario_of_two_disks_is_the_disk_scenario() {
    let dir = temp_dir("scaffold-disks");
    let o = pivotcheck(
        &[
            "new",
            "two",
            "--from",
            "write-ahead",
            "--disks",
            "2",
            "--order",
            "concurrent",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", crate::stderr_of(&o));
    let s = scenario::load(&dir.join("two.toml")).unwrap();
    let by_hand =
        scenario::load(&scenarios_dir().join("disks/write-ahead-2-disks-concurrent.toml")).unwrap();
    assert_eq!(s.config, by_hand.config);
    let o = pivotcheck(&["check", "--brief", "--no-liveness", "two.toml"], &dir);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.starts_with("ok         two [custom]: 429200 unique states"),
        "{out}"
    );
}

/// The README's walk-through: start from `write-ahead`, drop the intent's save (the first
/// two steps), check: the run fails and names what broke.
#[test]
fn one_edited_step_shows_which_property_breaks() {
    let dir = temp_dir("scaffold-walkthrough");
    let o = pivotcheck(&["new", "my-order", "--from", "write-ahead"], &dir);
    assert_eq!(o.status.code(), Some(0));
    let file = dir.join("my-order.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replace(
        "pivot = [\"mark-pivoting\", \"save-status\", \"job-complete\",",
        "pivot = [\"job-complete\",",
    );
    assert_ne!(text, edited, "the walk-through's line is in the file");
    std::fs::write(&file, edited).unwrap();
    let o = pivotcheck(&["check", "--brief", "my-order.toml"], &dir);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("MISMATCH   my-order [custom]"), "{out}");
    let broken: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with('!'))
        .collect();
    assert!(
        !broken.is_empty() && broken.iter().all(|l| l.contains("(expected holds)")),
        "{out}"
    );
    // Without the durable intent the guest may write while the outcome is unknown, and the
    // reconnect cannot finish a held job: the freeze of scenarios/history/write-ahead-1.toml.
    for p in [
        "uncertainty-is-frozen          violated in 16 steps",
        "guest-eventually-runs          violated in 30 steps",
        "no-job-held-forever            violated in 30 steps",
    ] {
        assert!(broken.iter().any(|l| l.contains(p)), "{p}: {out}");
    }
    assert_eq!(broken.len(), 3, "{out}");
}

#[test]
fn explain_knows_every_step_property_preset_and_fault() {
    for step in Step::ALL {
        let text = scaffold::explain(step.name()).unwrap();
        assert!(text.starts_with(&format!("step `{}`", step.name())) && text.contains(step.doc()));
    }
    for p in PROPERTIES {
        let text = scaffold::explain(p.name).unwrap();
        assert!(text.contains(&format!("property `{}`", p.name)) && text.contains(p.meaning));
    }
    for preset in PRESET_NAMES {
        let text = scaffold::explain(preset).unwrap();
        let p = presets::preset(preset).unwrap();
        assert!(text.contains(&format!("preset `{preset}`")), "{text}");
        assert!(text.contains(p.pivot[0].name()), "{text}");
    }
    for key in [
        "libvirtd_crash",
        "guest-poweroff",
        "qemu_crash",
        "host_crash",
        "app_crash",
    ] {
        assert!(
            scaffold::explain(key).unwrap().starts_with("fault `"),
            "{key}"
        );
    }
    let dir = temp_dir("explain-cli");
    let o = pivotcheck(&["explain", "job-dismiss"], &dir);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("destroys evidence"));
    let o = pivotcheck(&["explain", "job-dismis"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::stderr_of(&o).contains("unknown term `job-dismis`"));
    let o = pivotcheck(&["explain", "--list"], &dir);
    assert!(String::from_utf8_lossy(&o.stdout).contains("presets:    reopen-unpaused"));
}

/// Every option a new scenario spells out is one `explain` knows, with the same words as
/// the comment beside it in the file (one source, `model::docs::OPTIONS`), and the table
/// the option goes in; no option line of the file is left undocumented.
#[test]
fn explain_knows_every_option_new_writes() {
    use model::docs::OPTIONS;
    let dir = temp_dir("scaffold-options");
    let o = pivotcheck(&["new", "x", "--from", "write-ahead"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", crate::stderr_of(&o));
    let text = std::fs::read_to_string(dir.join("x.toml")).unwrap();
    for o in &OPTIONS {
        let explained = scaffold::explain(o.key).unwrap();
        assert!(
            explained.starts_with(&format!("option `{}`", o.key)) && explained.contains(o.doc),
            "{explained}"
        );
        let place = if o.table.is_empty() {
            "the file's top level".to_string()
        } else {
            format!("the [{}] table", o.table)
        };
        assert!(explained.contains(&place), "{explained}");
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{} = ", o.key)))
            .unwrap_or_else(|| panic!("{} not in the new file", o.key));
        assert!(line.ends_with(&format!("# {}", o.doc)), "{line}");
    }
    let not_options = ["pivot", "reconnect", "concluded", "violated", "unreached"];
    let is_fault = |key: &str| model::FaultKind::ALL.iter().any(|k| k.key() == key);
    for line in text.lines().take_while(|l| !l.starts_with("[expect]")) {
        let Some((key, _)) = line.split_once(" = ") else {
            continue;
        };
        if is_fault(key) || not_options.contains(&key) || key.starts_with('#') {
            continue;
        }
        assert!(
            OPTIONS.iter().any(|o| o.key == key),
            "`{key}` is written by `new` but `explain` does not know it"
        );
    }
    let o = pivotcheck(&["explain", "--list"], &dir);
    assert!(String::from_utf8_lossy(&o.stdout).contains("options:    blocks, disks, "));
    let o = pivotcheck(&["explain", "disk"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::stderr_of(&o).contains("not a step, property, preset, fault or option"));
}

/// Bad input to `new` exits 2 with a message naming what was wrong and what was expected,
/// and never overwrites a file unasked.
#[test]
fn new_rejects_bad_input_with_exit_2() {
    let dir = temp_dir("scaffold-bad");
    for (args, expected) in [
        (
            vec!["new", "x", "--from", "write-head"],
            "unknown preset `write-head`",
        ),
        (
            vec![
                "new",
                "x",
                "--from",
                "write-ahead",
                "--faults",
                "disk_crash",
            ],
            "unknown fault `disk_crash`",
        ),
        (
            vec![
                "new",
                "x",
                "--from",
                "write-ahead",
                "--faults",
                "qemu_crash=9",
            ],
            "bad bound in --faults `qemu_crash=9`",
        ),
        (
            vec!["new", "../x", "--from", "write-ahead"],
            "not a valid scenario name",
        ),
        (
            vec!["new", "x", "--from", "write-ahead", "--disks", "4"],
            "--disks 4: expected 1 to 3 disks",
        ),
        (
            vec!["new", "x", "--from", "write-ahead", "--disks", "0"],
            "--disks 0: expected 1 to 3 disks",
        ),
        (
            vec!["new", "x", "--from", "write-ahead", "--order", "both"],
            "invalid value 'both' for '--order <ORDER>'",
        ),
        (
            vec!["new", "x", "--from", "write-ahead", "--dir", "missing"],
            "--dir missing: expected an existing folder",
        ),
    ] {
        let o = pivotcheck(&args, &dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            crate::stderr_of(&o).contains(expected),
            "{args:?}: {}",
            crate::stderr_of(&o)
        );
    }
    let o = pivotcheck(
        &[
            "new",
            "x",
            "--from",
            "write-ahead",
            "--faults",
            "qemu_crash=2,libvirtd_crash",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0));
    let s = scenario::load(&dir.join("x.toml")).unwrap();
    assert_eq!(
        s.config.faults[model::FaultKind::QemuCrash],
        model::Fault::AtMost(2)
    );
    assert_eq!(
        s.config.faults[model::FaultKind::GuestPowerOff],
        model::Fault::Off
    );
    let o = pivotcheck(&["new", "x", "--from", "reopen-paused"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::stderr_of(&o).contains("exists"));
    assert!(std::fs::read_to_string(dir.join("x.toml"))
        .unwrap()
        .contains("write-ahead"));
}

/// The rows of `scenarios/README.md`'s tables whose first cell names something `known`
/// accepts: (name, the cell in column `column`).
fn readme_rows(known: impl Fn(&str) -> bool, column: usize) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(scenarios_dir().join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let name = cells.first()?.trim_matches('`');
            if !known(name) {
                return None;
            }
            Some((name.to_string(), cells.get(column)?.to_string()))
        })
        .collect()
}

/// `scenarios/README.md`'s step table says for each step what `Step::doc` says (the
/// strings `explain` and `new` print), in `Step::ALL`'s order.
#[test]
fn the_readme_step_table_is_the_codes_doc() {
    let rows = readme_rows(|n| Step::from_name(n).is_some(), 2);
    let expected: Vec<(String, String)> = Step::ALL
        .iter()
        .map(|s| (s.name().to_string(), s.doc().to_string()))
        .collect();
    assert_eq!(rows, expected);
}

/// `scenarios/README.md`'s "App procedures" table says for each app step what
/// `AppStep::doc` says (what `explain` prints), in `AppStep::ALL`'s order.
#[test]
fn the_readme_app_step_table_is_the_codes_doc() {
    use model::config::AppStep;
    let rows = readme_rows(|n| AppStep::from_name(n).is_some(), 1);
    let expected: Vec<(String, String)> = AppStep::ALL
        .iter()
        .map(|s| (s.name().to_string(), s.doc().to_string()))
        .collect();
    assert_eq!(rows, expected);
}
