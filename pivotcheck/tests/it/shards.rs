//! `simulate --shard I/N` and `merge`: a CI job matrix gets the result of one machine.

use crate::{pivotcheck, scenario_path, temp_dir};

fn json_of(o: &std::process::Output) -> serde_json::Value {
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        crate::stderr_of(o)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Simulates `scenario` on one machine and in `shards` shards (in `dir`, files named by
/// `tag`), merges the shards, and checks that the merge reports the same totals and the
/// same first failing run, seed, lengths and trace contents per property. Returns the
/// shard files and the number of violations.
fn shards_match_one_machine(
    dir: &std::path::Path,
    scenario: &str,
    tag: &str,
    runs: &str,
    shards: usize,
) -> (Vec<String>, usize) {
    let s = scenario_path(scenario);
    let sim = |extra: &[&str], out: &str| {
        let mut args = vec![
            "simulate", &s, "--seed", "1", "--runs", runs, "--json", "--out", out,
        ];
        args.extend_from_slice(extra);
        pivotcheck(&args, dir)
    };
    let one = json_of(&sim(&[], &format!("{tag}-one")));
    let mut files = Vec::new();
    for i in 1..=shards {
        let o = sim(
            &["--shard", &format!("{i}/{shards}")],
            &format!("{tag}-s{i}"),
        );
        let v = json_of(&o);
        assert_eq!(v["shard"], format!("{i}/{shards}"));
        let f = dir.join(format!("{tag}-s{i}.json"));
        std::fs::write(&f, &o.stdout).unwrap();
        files.push(f.display().to_string());
    }
    let mut args = vec!["merge", "--json"];
    args.extend(files.iter().map(String::as_str));
    let merged = json_of(&pivotcheck(&args, dir));
    assert_eq!(merged["runs"], one["runs"], "{scenario}");
    assert_eq!(merged["steps"], one["steps"], "{scenario}");
    let key = |v: &serde_json::Value| {
        v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let trace =
                    std::fs::read_to_string(dir.join(x["trace"].as_str().unwrap())).unwrap();
                (
                    x["property"].clone(),
                    x["run"].clone(),
                    x["seed"].clone(),
                    x["length"].clone(),
                    x["shrunk_length"].clone(),
                    trace,
                )
            })
            .collect::<Vec<_>>()
    };
    let (m, o) = (key(&merged), key(&one));
    assert_eq!(m, o, "{scenario}");
    (files, o.len())
}

/// Three shards of 3,000 runs, merged, report the same first failing run, seed, lengths
/// and trace contents per property as the whole simulation on one machine, and the same
/// totals of runs and steps.
#[test]
fn merged_shards_give_the_result_of_one_machine() {
    let dir = temp_dir("shards");
    let (files, violations) =
        shards_match_one_machine(&dir, "reopen-unpaused", "reopen", "3000", 3);
    assert!(violations > 0);
    let text = pivotcheck(&["merge", &files[0], &files[1], &files[2]], &dir);
    assert_eq!(text.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&text.stdout).contains("3000 runs in 3 shards"));
}

/// Issue 16's equivalence for swarms, beyond one scenario: a scenario of each family of
/// the suite (the default suite, the live presets, the apps), two shards of 400 runs;
/// at least one finds a violation (blockdev-modern-crash-only's uncertainty-is-frozen).
#[test]
fn merged_shards_give_the_result_of_one_machine_across_the_suite() {
    let dir = temp_dir("shards-suite");
    let mut violations = 0;
    for (scenario, tag) in [
        ("write-ahead", "wa"),
        ("blockdev-modern-crash-only", "bm"),
        ("live/libvirt-9.0", "l9"),
        ("apps/write-ahead-vdsm", "vdsm"),
    ] {
        violations += shards_match_one_machine(&dir, scenario, tag, "400", 2).1;
    }
    assert!(violations > 0);
}

#[test]
fn merge_refuses_an_incomplete_or_mixed_matrix_with_exit_2() {
    let dir = temp_dir("shards-bad");
    let s = scenario_path("reopen-unpaused");
    let shard = |seed: &str, i: u64| {
        let o = pivotcheck(
            &[
                "simulate",
                &s,
                "--seed",
                seed,
                "--runs",
                "200",
                "--json",
                "--shard",
                &format!("{i}/2"),
                "--out",
                "t",
            ],
            &dir,
        );
        let f = dir.join(format!("{seed}-{i}.json"));
        std::fs::write(&f, &o.stdout).unwrap();
        f.display().to_string()
    };
    let (a1, a2, b2) = (shard("1", 1), shard("1", 2), shard("2", 2));
    for (args, expected) in [
        (vec!["merge", &a1], "shard 2/2 is missing"),
        (vec!["merge", &a1, &b2], "root_seed is 2, expected 1"),
        (vec!["merge", &a1, &a1, &a2], "shard 1/2 is given twice"),
    ] {
        let o = pivotcheck(&args, &dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            crate::stderr_of(&o).contains(expected),
            "{}",
            crate::stderr_of(&o)
        );
    }
    for bad in ["0/2", "3/2", "2", "a/b"] {
        let o = pivotcheck(&["simulate", &s, "--shard", bad], &dir);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            crate::stderr_of(&o).contains("--shard"),
            "{}",
            crate::stderr_of(&o)
        );
    }
}

/// A shard result whose violation lacks its run number is refused, not merged with a
/// made-up one.
#[test]
fn merge_refuses_a_violation_without_its_run() {
    let dir = temp_dir("shards-malformed");
    let s = scenario_path("reopen-unpaused");
    let o = pivotcheck(
        &[
            "simulate", &s, "--seed", "1", "--runs", "300", "--json", "--shard", "1/1", "--out",
            "t",
        ],
        &dir,
    );
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v["violations"].as_array().unwrap().is_empty());
    v["violations"][0].as_object_mut().unwrap().remove("run");
    let f = dir.join("bad.json");
    std::fs::write(&f, v.to_string()).unwrap();
    let o = pivotcheck(&["merge", f.to_str().unwrap()], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        crate::stderr_of(&o).contains("violation 1: expected a `property` name and a `run` number"),
        "{}",
        crate::stderr_of(&o)
    );
}
