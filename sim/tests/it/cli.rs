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
