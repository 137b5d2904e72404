use std::process::Output;

use crate::{pivotcheck, scenario_path, scenarios_dir, temp_dir};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A malformed scenario exits 2 with `file:line:column: what was expected`.
fn rejects(name: &str, text: &str, expected: &str) {
    let dir = temp_dir(name);
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let o = pivotcheck(&["check", file.to_str().unwrap()], &dir);
    assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}:{expected}", file.display())),
        "{name}: got {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_scenarios_exit_2_naming_file_line_and_column() {
    rejects(
        "unknown-key",
        "variant = \"write-ahead\"\n[faults]\nlibvirtd_crsh = true\n",
        "3:1: unknown field `libvirtd_crsh`",
    );
    rejects(
        "unknown-step",
        "variant = \"write-ahead\"\n[procedure]\npivot = [\"save-status\", \"resum\"]\n",
        "3:25: unknown step `resum` in procedure.pivot",
    );
    rejects(
        "unknown-variant",
        "variant = \"reopen-pasued\"\n",
        "1:11: unknown variant `reopen-pasued`",
    );
    rejects(
        "unknown-property",
        "variant = \"write-ahead\"\n[expect]\nviolated = [\"no-lost-write\"]\n",
        "3:13: unknown property `no-lost-write`",
    );
    rejects(
        "wrong-type",
        "variant = \"write-ahead\"\nblocks = \"two\"\n",
        "2:10: invalid type",
    );
    rejects(
        "too-many-blocks",
        "variant = \"write-ahead\"\nblocks = 9\n",
        "2:10: blocks = 9: expected 1 to 4",
    );
    rejects(
        "too-many-disks",
        "variant = \"write-ahead\"\ndisks = 4\n",
        "2:9: disks = 4: expected 1 to 3",
    );
    rejects(
        "no-disks",
        "variant = \"write-ahead\"\ndisks = 0\n",
        "2:9: disks = 0: expected 1 to 3",
    );
    rejects(
        "disks-with-app-steps",
        "variant = \"write-ahead\"\ndisks = 2\n[app]\npreset = \"nova\"\n",
        "2:9: disks = 2: the app's own steps, hard_reboot and virsh_start are modelled for one disk",
    );
    rejects(
        "disks-with-the-bitmap",
        "variant = \"persistent-bitmap\"\ndisks = 2\n",
        "2:9: disks = 2: the persistent bitmap (`read-bitmap`) is modelled for one disk",
    );
    rejects(
        "bad-app-order",
        "variant = \"write-ahead\"\ndisks = 2\n[app]\norder = \"parallel\"\n",
        "4:9: unknown variant `parallel`",
    );
    rejects(
        "huge-bound",
        "variant = \"write-ahead\"\n[faults]\nqemu_crash = 99999999999\n",
        "3:14: faults.qemu_crash",
    );
    rejects("not-toml", "variant = \"write-ahead\n", "1:");
    rejects("no-variant", "blocks = 1\n", "1:1: expected `variant");
    rejects(
        "bad-mode",
        "variant = \"write-ahead\"\n[qemu]\ncopy_mode = \"fast\"\n",
        "3:13: unknown variant `fast`",
    );
}

#[test]
fn missing_paths_and_bad_flags_exit_2() {
    let dir = temp_dir("usage");
    assert_eq!(
        pivotcheck(&["check", "no/such.toml"], &dir).status.code(),
        Some(2)
    );
    assert_eq!(
        pivotcheck(
            &["check", "--timeout", "-1", &scenario_path("write-ahead")],
            &dir
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(pivotcheck(&["chekc"], &dir).status.code(), Some(2));
}

#[test]
fn json_output_follows_the_contract_and_traces_exist() {
    let dir = temp_dir("json");
    let out = dir.join("traces");
    let o = pivotcheck(
        &[
            "check",
            "--json",
            "--out",
            out.to_str().unwrap(),
            &scenario_path("reopen-unpaused"),
            &scenario_path("write-ahead"),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let scenarios = v["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2);
    for s in scenarios {
        for key in [
            "name",
            "file",
            "variant",
            "complete",
            "unique_states",
            "states",
            "elapsed_ms",
            "matches_expectation",
            "properties",
        ] {
            assert!(s.get(key).is_some(), "missing {key}");
        }
        assert_eq!(s["complete"], true);
        assert_eq!(s["matches_expectation"], true);
        for p in s["properties"].as_array().unwrap() {
            let status = p["status"].as_str().unwrap();
            assert!(["holds", "violated", "reached", "unreached"].contains(&status));
            assert!(["always", "sometimes", "eventually"].contains(&p["kind"].as_str().unwrap()));
            if status == "violated" {
                let trace: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(p["trace"].as_str().unwrap()).unwrap(),
                )
                .unwrap();
                assert_eq!(trace["format"], "pivotcheck-trace");
                assert_eq!(
                    trace["steps"].as_array().unwrap().len() as u64,
                    p["trace_len"].as_u64().unwrap()
                );
                assert!(p["trace_len"].as_u64().unwrap() > 0);
            } else {
                assert!(p["trace"].is_null());
            }
        }
    }
    assert_eq!(scenarios[0]["name"], "reopen-unpaused");
    let nlw = &scenarios[0]["properties"][0];
    assert_eq!(nlw["name"], "no-lost-writes");
    assert_eq!(nlw["status"], "violated");
    assert_eq!(nlw["trace_len"], 12);
}

#[test]
fn a_mismatch_exits_1_and_a_truncated_search_exits_3() {
    let dir = temp_dir("codes");
    let file = dir.join("claims-too-much.toml");
    std::fs::write(
        &file,
        "variant = \"reopen-unpaused\"\n[faults]\nlibvirtd_crash = true\nguest_poweroff = true\n",
    )
    .unwrap();
    let o = pivotcheck(&["check", "--brief", file.to_str().unwrap()], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("MISMATCH"));
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            "--max-states",
            "100",
            &scenario_path("write-ahead"),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(3));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("INCOMPLETE") && text.contains("unknown"),
        "{text}"
    );
}

/// One scenario with a counterexample against its expectations and another cut short:
/// the run is a failure (exit 1), not an inconclusive one, and the summary names both.
#[test]
fn a_definite_mismatch_beats_an_incomplete_search() {
    let dir = temp_dir("mismatch-beats-incomplete");
    let file = dir.join("claims-too-much.toml");
    std::fs::write(
        &file,
        "variant = \"reopen-unpaused\"\n[faults]\nlibvirtd_crash = true\nguest_poweroff = true\n",
    )
    .unwrap();
    let large = scenarios_dir()
        .join("large")
        .join("write-ahead-four-blocks.toml");
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            "--max-states",
            "1000",
            file.to_str().unwrap(),
            large.to_str().unwrap(),
        ],
        &dir,
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("MISMATCH   claims-too-much")
            && text.contains("uncertainty-is-frozen          violated in 9 steps (expected holds)")
            && text.contains("INCOMPLETE write-ahead-four-blocks [write-ahead]")
            && text.contains("2 scenarios: 0 match their expectations, 1 do not, 2 incomplete"),
        "{text}"
    );
}

#[test]
fn default_run_checks_the_suite_and_prints_counterexamples() {
    let root = scenarios_dir().join("..");
    let out = temp_dir("default");
    let o = pivotcheck(&["check", "--out", out.to_str().unwrap()], &root);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("match their expectations, 0 do not, 0 incomplete"),
        "{text}"
    );
    assert!(text.contains("counterexample to no-lost-writes (12 steps"));
    assert!(text.contains("=> violates no-lost-writes"));
}

#[test]
fn limits_end_a_search_with_exit_3_and_write_no_trace() {
    let dir = temp_dir("limits");
    let out = dir.join("traces");
    let large = scenarios_dir()
        .join("large")
        .join("write-ahead-four-blocks.toml");
    for limit in [
        ["--max-memory", "1"],
        ["--timeout", "0.001"],
        ["--max-states", "1000"],
    ] {
        let o = pivotcheck(
            &[
                "check",
                "--brief",
                "--out",
                out.to_str().unwrap(),
                limit[0],
                limit[1],
                large.to_str().unwrap(),
            ],
            &dir,
        );
        assert_eq!(o.status.code(), Some(3), "{limit:?}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("search stopped early"), "{limit:?}: {text}");
        assert!(
            !text.lines().any(|l| l.trim_end().ends_with(" holds")),
            "an incomplete search proves nothing: {text}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .map(|d| {
                d.map(|e| e.unwrap().file_name())
                    .filter(|n| n.to_string_lossy().ends_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// Each flag value that used to panic (exit 101), wrap around or be accepted silently
/// exits 2 with a message naming the flag and what was expected, before any work.
#[test]
fn bad_flag_values_exit_2_naming_the_flag() {
    let dir = temp_dir("bad-flags");
    let wa = scenario_path("write-ahead");
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["check", "--timeout", "1e20", &wa],
            "--timeout",
            "seconds above 0",
        ),
        (
            &["check", "--timeout", "0", &wa],
            "--timeout",
            "seconds above 0",
        ),
        (
            &["check", "--threads", "18446744073709551615", &wa],
            "--threads",
            "from 1 to 1024",
        ),
        (
            &["check", "--threads", "0", &wa],
            "--threads",
            "from 1 to 1024",
        ),
        (
            &["check", "--por", "yes", &wa],
            "--por",
            "expected on or off",
        ),
        (
            &["fuzz", "scenario", "--seconds", "1e20"],
            "--seconds",
            "seconds above 0",
        ),
        (
            &["check", "--max-memory", "17592186044416", &wa],
            "--max-memory",
            "from 1 to 17592186044415",
        ),
        (
            &["check", "--max-memory", "0", &wa],
            "--max-memory",
            "MiB from 1",
        ),
        (
            &["check", "--max-states", "0", &wa],
            "--max-states",
            "states from 1",
        ),
        (&["simulate", &wa, "--runs", "0"], "--runs", "runs from 1"),
        (
            &["simulate", &wa, "--depth", "0"],
            "--depth",
            "steps from 1",
        ),
        (
            &["simulate", &wa, "--seed", "x7"],
            "--seed",
            "40-hex commit hash",
        ),
        (
            &["conform", "--sync-timeout", "1e20"],
            "--sync-timeout",
            "seconds above 0",
        ),
        (
            &["live", "--list", "--scenario-timeout", "0"],
            "--scenario-timeout",
            "0",
        ),
        (
            &["live", "--list", "--report", "out"],
            "--report",
            "cannot be used with",
        ),
        (
            &["live", "--only", "job-dismiss.reply", "--report", &wa],
            "--report",
            "cannot create the folder",
        ),
        (
            &["fuzz", "sceanrio"],
            "<TARGET>",
            "expected `scenario` or `trace`",
        ),
    ];
    for (args, flag, expected) in cases {
        let o = pivotcheck(args, &dir);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(flag) && err.contains(expected),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}: no work starts");
    }
    // The largest memory limit that fits is accepted (and ends a search as usual).
    let o = pivotcheck(
        &["check", "--brief", "--max-memory", "17592186044415", &wa],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Every subcommand's `--help` ends with one example that runs that subcommand; the
/// completions and the manual page come from the same definition and name every
/// subcommand.
#[test]
fn help_has_an_example_and_completions_and_man_cover_every_subcommand() {
    let dir = temp_dir("help-examples");
    let o = pivotcheck(&["--help"], &dir);
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    let subcommands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(subcommands.len() >= 13, "{subcommands:?}");
    for c in &subcommands {
        let o = pivotcheck(&[c, "--help"], &dir);
        assert_eq!(o.status.code(), Some(0), "{c}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains(&format!("Example: pivotcheck {c}")),
            "{c} --help has no example:\n{text}"
        );
    }
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = pivotcheck(&["completions", shell], &dir);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&o.stdout);
        for c in &subcommands {
            assert!(script.contains(c), "{shell} completion lacks {c}");
        }
    }
    let o = pivotcheck(&["completions", "tcsh"], &dir);
    assert_eq!(o.status.code(), Some(2));
    let o = pivotcheck(&["man"], &dir);
    let page = String::from_utf8_lossy(&o.stdout);
    for c in &subcommands {
        assert!(
            page.contains(&format!(".TH pivotcheck-{c} 1")),
            "man lacks {c}"
        );
    }
}

/// `conform --export` writes the corpus with the one trace codec, atomically (no
/// temporary file is left), and every exported trace is read back by `replay` alike
/// (exporting needs no QEMU).
#[test]
fn conform_export_writes_traces_every_reader_accepts() {
    let dir = temp_dir("conform-export");
    let out = dir.join("corpus");
    let o = pivotcheck(&["conform", "--export", out.to_str().unwrap()], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let n = conform::corpus().unwrap().len();
    assert_eq!(files.len(), n, "{files:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{n} traces written")));
    for f in &files {
        assert!(
            f.to_string_lossy().ends_with(".trace.json"),
            "{}",
            f.display()
        );
        let o = pivotcheck(&["replay", f.to_str().unwrap()], &dir);
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("the trace names no property"));
    }
}

/// `mutate --write`, end to end: the written file of an option flip that the gate kills
/// in write-ahead itself ("option: shutdown kill flipped"; "auto-finalize flipped" was
/// the example until issue 11's reconnect made it equivalent) checks as a mismatch (exit
/// 1), not `ok` as the files rebuilt from the preset's source lines did.
#[test]
fn a_written_killed_mutant_checks_as_a_mismatch() {
    let dir = temp_dir("mutate-write");
    let out = dir.join("mutants");
    let o = pivotcheck(
        &["mutate", "write-ahead", "--write", out.to_str().unwrap()],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    let killed = report
        .lines()
        .find(|l| l.contains("option: shutdown kill flipped"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(killed.trim_start().starts_with("killed"), "{killed}");
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 130);
    let flipped = files
        .iter()
        .find(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .starts_with("# write-ahead: option: shutdown kill flipped\n")
        })
        .expect("the shutdown-kill mutant's file");
    let o = pivotcheck(&["check", "--brief", flipped.to_str().unwrap()], &dir);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("MISMATCH"));
}
