use model::{Image, PivotModel};
use proptest::prelude::*;
use sim::check::{check_scenario, CheckOptions, Status};
use sim::replay;
use sim::shrink;
use sim::simulate::{self, SimOptions};
use trace::scenario;

use crate::{pivotcheck, scenario_files, scenario_path, scenarios_dir, temp_dir};

/// `pivotcheck` with absolute paths: the folder it runs in does not matter.
fn run(args: &[&str]) -> std::process::Output {
    pivotcheck(args, &scenarios_dir())
}

/// Every counterexample of the default suite, written as a trace file and read back,
/// replays to the property it was found for, at its last step.
#[test]
fn every_suite_counterexample_replays_to_its_property() {
    let dir = temp_dir("trace-suite");
    let mut replayed = 0;
    for f in scenario_files() {
        let s = scenario::load(&f).unwrap();
        for p in check_scenario(&s, &CheckOptions::default()).properties {
            let Some(trace) = p.trace else { continue };
            let path = dir.join(format!("{}.{}.json", s.name, p.name));
            trace::encode::write(&trace, &path).unwrap();
            let file = path.display().to_string();
            let back = trace::decode::load(&path).unwrap();
            assert_eq!(back.trace, trace);
            let actions = &back.actions;
            assert_eq!(Some(actions), p.actions.as_ref(), "{file}");
            assert_eq!(back.states, replay::states(&s.config, actions), "{file}");
            if let Some(def) = model::liveness::liveness(p.name) {
                let model = PivotModel::new(back.scenario.config.clone());
                let start = back.trace.cycle_start.expect("a lasso names its cycle");
                assert_eq!(
                    sim::liveness::check_lasso(&model, def, actions, &back.states, start),
                    sim::liveness::LassoCheck::Violates,
                    "{file}"
                );
                replayed += 1;
                continue;
            }
            assert_eq!(
                replay::first_discovery(&back.scenario.config, p.name, &back.states),
                Some(actions.len()),
                "{file}"
            );
            replayed += 1;
        }
    }
    assert!(replayed > 100, "only {replayed} traces");
}

#[test]
fn replay_exits_0_when_reproduced_2_when_edited_and_4_when_fixed() {
    let dir = temp_dir("trace-codes");
    let out = dir.join("traces");
    let o = run(&[
        "check",
        "--brief",
        "--out",
        out.to_str().unwrap(),
        &scenario_path("reopen-unpaused"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let trace_path = out.join("reopen-unpaused.no-lost-writes.trace.json");
    let o = run(&["replay", trace_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("=> after step 12: violates no-lost-writes"),
        "{text}"
    );
    assert!(
        text.contains("qemu.active: source -> target"),
        "a diff, not a dump: {text}"
    );

    // Edit step 7 to another action: replay stops there and says what was enabled.
    let mut trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace_path).unwrap()).unwrap();
    trace["steps"][6]["action"] = "GuestPowerOff".into();
    let edited = dir.join("edited.json");
    std::fs::write(&edited, serde_json::to_string_pretty(&trace).unwrap()).unwrap();
    let o = run(&["replay", edited.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("step 7 does not replay: the trace expects GuestPowerOff"),
        "{err}"
    );
    assert!(
        err.contains("QemuExecute"),
        "names the enabled actions: {err}"
    );

    // The same steps no longer violating the named property: exit 4.
    trace["steps"][6]["action"] = "QemuExecute".into();
    trace["property"] = "qemu-is-managed".into();
    let fixed = dir.join("fixed.json");
    std::fs::write(&fixed, serde_json::to_string_pretty(&trace).unwrap()).unwrap();
    let o = run(&["replay", fixed.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("FIXED"));

    let o = run(&["replay", "--at", "3", trace_path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--- full state after step 3 ---"));
}

#[test]
fn bad_trace_files_exit_2_with_a_location() {
    let dir = temp_dir("trace-bad");
    let cases = [
        ("truncated.json", "{\"format\": \"pivotcheck-trace\", \"version\": 1, \"steps\": [", ":1:"),
        ("not-a-trace.json", "{\"format\": \"other\", \"version\": 1, \"scenario\": {\"name\": \"x\", \"file\": \"x\", \"toml\": \"\"}, \"seed\": null, \"property\": null, \"kind\": null, \"steps\": []}", "format is `other`"),
        ("wrong-type.json", "{\"format\": \"pivotcheck-trace\", \"version\": \"one\"}", ":1:"),
    ];
    for (name, text, expected) in cases {
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        let o = run(&["replay", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(expected) && err.contains(name),
            "{name}: {err}"
        );
    }
}

#[test]
fn the_same_seed_gives_byte_identical_output() {
    let dir = temp_dir("trace-determinism");
    let args = |out: &str| {
        vec![
            "simulate".to_string(),
            scenario_path("reopen-unpaused"),
            "--seed".into(),
            "1".into(),
            "--runs".into(),
            "3000".into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    let a_out = dir.join("a").display().to_string();
    let b_out = dir.join("b").display().to_string();
    let simulate_into = |out: &str| {
        let a: Vec<String> = args(out);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&refs)
    };
    let a = simulate_into(&a_out);
    let b = simulate_into(&b_out);
    assert_eq!(a.status.code(), Some(0));
    let norm = |o: &std::process::Output, out: &str| {
        String::from_utf8_lossy(&o.stdout).replace(out, "OUT")
    };
    assert_eq!(norm(&a, &a_out), norm(&b, &b_out));
    assert!(norm(&a, &a_out).contains("violated (expected)"));
    let mut names: Vec<_> = std::fs::read_dir(&a_out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for n in names {
        let x = std::fs::read(dir.join("a").join(&n)).unwrap();
        let y = std::fs::read(dir.join("b").join(&n)).unwrap();
        assert_eq!(x, y, "trace {n:?} differs");
    }
    // A fixed seed pins the first failing runs, so a change of PRNG or walk shows here.
    let json = run(&[
        "simulate",
        &scenario_path("reopen-unpaused"),
        "--seed",
        "1",
        "--runs",
        "3000",
        "--json",
        "--out",
        &a_out,
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["runs"], 3000);
    assert!(v["distinct_states"].as_u64().unwrap() > 100);
    assert!(!v["violations"].as_array().unwrap().is_empty());
}

#[test]
fn run_seeds_are_a_pure_function_of_root_and_run() {
    assert_eq!(simulate::run_seed(7, 3), simulate::run_seed(7, 3));
    assert_ne!(simulate::run_seed(7, 3), simulate::run_seed(7, 4));
    assert_ne!(simulate::run_seed(7, 3), simulate::run_seed(8, 3));
}

/// `simulate` finds a violation of reopen-unpaused within 10,000 runs, and shrinking brings
/// it within 1.5 times the checker's shortest counterexample.
#[test]
fn simulation_finds_and_shrinks_reopen_unpaused() {
    let s = scenario::load(&scenarios_dir().join("reopen-unpaused.toml")).unwrap();
    let shortest: Vec<(&str, usize)> = check_scenario(&s, &CheckOptions::default())
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .map(|p| (p.name, p.actions.as_ref().unwrap().len()))
        .collect();
    for root in [1, 2, 3] {
        let r = simulate::simulate(
            &s,
            &SimOptions {
                root_seed: root,
                runs: 10_000,
                depth: 200,
                swarm: false,
                shard: simulate::Shard::WHOLE,
            },
        );
        assert!(!r.failures.is_empty(), "seed {root} found nothing");
        for f in &r.failures {
            let best = shortest.iter().find(|(n, _)| *n == f.property).unwrap().1;
            assert!(f.shrunk.len() <= f.actions.len());
            assert!(
                f.shrunk.len() * 2 <= best * 3,
                "{}: shrunk {} vs {best}",
                f.property,
                f.shrunk.len()
            );
        }
    }
}

fn walk(model: &PivotModel, choices: &[u8]) -> Vec<model::World> {
    let mut states = vec![model.init_state()];
    for &c in choices {
        let s = states.last().unwrap();
        let enabled = model.enabled(s);
        if enabled.is_empty() {
            break;
        }
        let next = model.step(s, enabled[c as usize % enabled.len()]);
        states.push(next);
    }
    states
}

fn model_of(name: &str) -> PivotModel {
    PivotModel::new(
        scenario::load(&scenarios_dir().join(format!("{name}.toml")))
            .unwrap()
            .config,
    )
}

proptest! {
    #![proptest_config(crate::proptest_config(300))]

    /// While QEMU runs, the image the guest uses holds every acknowledged write: the
    /// storage abstraction never loses a write by itself.
    #[test]
    fn the_active_image_holds_every_acknowledged_write(choices in prop::collection::vec(any::<u8>(), 0..80),
                                                        variant in prop::sample::select(vec!["reopen-unpaused-qemu-crash", "blockdev-modern-write-blocking", "write-ahead-two-blocks", "reopen-paused-two-blocks"])) {
        let m = model_of(variant);
        for s in walk(&m, &choices) {
            if s.qemu.alive {
                prop_assert_eq!(s.storage.fresh(s.qemu.active), m.config.all_blocks());
            }
        }
    }

    /// Once QEMU uses the target it never goes back to the source.
    #[test]
    fn the_active_image_never_flips_back(choices in prop::collection::vec(any::<u8>(), 0..80),
                                          variant in prop::sample::select(vec!["blockdev-modern-qemu-crash", "write-ahead-host-crash", "paused-wait", "complete-legacy"])) {
        let m = model_of(variant);
        let mut switched = false;
        for s in walk(&m, &choices) {
            if switched {
                prop_assert_eq!(s.qemu.active, Image::Target);
            }
            switched |= s.qemu.active == Image::Target;
        }
    }

    /// A shrunk trace is never longer than the run it came from and still fails the same way.
    /// Every seed asserts: the swarm runs grow until one fails (20 runs leave about one root
    /// seed in sixteen without a failure on `blockdev-modern`; 80 left none of 1,000).
    #[test]
    fn shrinking_keeps_the_failure(root in any::<u64>()) {
        let s = scenario::load(&scenarios_dir().join("blockdev-modern.toml")).unwrap();
        let mut runs = 20;
        let r = loop {
            let r = simulate::simulate(&s, &SimOptions { root_seed: root, runs, depth: 60, swarm: true, shard: simulate::Shard::WHOLE });
            if !r.failures.is_empty() || runs >= 20 * 1024 {
                break r;
            }
            runs *= 4;
        };
        prop_assert!(!r.failures.is_empty(), "no failure in {} swarm runs from root seed {}", runs, root);
        for f in &r.failures {
            prop_assert!(f.shrunk.len() <= f.actions.len());
            prop_assert!(!f.shrunk.is_empty());
            let model = PivotModel::new(f.scenario.config.clone());
            prop_assert!(shrink::execute(&model, f.property, &f.actions).is_some());
            let again = shrink::execute(&model, f.property, &f.shrunk);
            prop_assert_eq!(again.as_deref(), Some(f.shrunk.as_slice()));
        }
    }
}

/// A swarm simulation's traces go through every reader alike. Before one codec, `replay`
/// applied the run's swarm switches and `report` and `conform` ignored them, so
/// `report` rejected these traces (exit 2, "expected a trace of this model version").
#[test]
fn swarm_traces_go_through_replay_report_and_conform_alike() {
    let dir = temp_dir("swarm-readers");
    let out = dir.join("traces");
    let o = run(&[
        "simulate",
        &scenario_path("blockdev-modern"),
        "--swarm",
        "--seed",
        "7",
        "--runs",
        "300",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut traces: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    traces.sort();
    // Three since issue 13: the abort path's "pivoted" answer (truthful-answer) joins.
    assert_eq!(traces.len(), 3, "{traces:?}");
    for t in &traces {
        let text = std::fs::read_to_string(t).unwrap();
        assert!(text.contains("\"swarm\""), "a swarm trace: {}", t.display());
        let o = run(&["replay", t.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "replay {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report = dir.join("report");
        let o = run(&[
            "report",
            "--out",
            report.to_str().unwrap(),
            t.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "report {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("replays: step"));
        // conform needs a real QEMU to run; its decoder is what refused the trace.
        let r = conform::load(t).unwrap_or_else(|e| panic!("conform: {e}"));
        let d = trace::decode::load(t).unwrap();
        assert_eq!(r.actions, d.actions);
        assert_eq!(r.config, d.scenario.config);
        // The swarm's switches are applied: the scenario's own config differs.
        let plain = trace::scenario::parse("x", "x.toml", &d.trace.scenario.toml).unwrap();
        assert_ne!(plain.config.faults, r.config.faults, "{}", t.display());
    }
    // Against a real QEMU where there is one (CI installs it).
    match conform::suite::qemu_missing() {
        None => {
            // The truthful-answer trace powers the guest off under -no-shutdown, which a
            // guest-less QEMU cannot replay (conform says NOT-REPLAYED): the other two run.
            let mut args = vec!["conform"];
            args.extend(
                traces
                    .iter()
                    .map(|t| t.to_str().unwrap())
                    .filter(|t| !t.contains("truthful-answer")),
            );
            let o = run(&args);
            let text = String::from_utf8_lossy(&o.stdout);
            assert_eq!(o.status.code(), Some(0), "{text}");
            assert!(text.contains("2 traces: 2 conform"), "{text}");
        }
        Some(why) if std::env::var_os("CI").is_some() => panic!("{why}; CI installs QEMU"),
        Some(why) => {
            eprintln!("SKIPPED conform of the swarm traces: {why} (with CI set this fails)")
        }
    }
}

/// A trace's `kind`, `actor` and `label` are checked, not ignored: an edited one is
/// refused by every reader with the step and what was expected.
#[test]
fn edited_kind_actor_or_label_is_refused_with_exit_2() {
    let dir = temp_dir("trace-fields");
    let out = dir.join("traces");
    let o = run(&[
        "check",
        "--brief",
        "--out",
        out.to_str().unwrap(),
        &scenario_path("reopen-unpaused"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let path = out.join("reopen-unpaused.no-lost-writes.trace.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 5] = [
        (
            "kind",
            |t| t["kind"] = "sometimes".into(),
            "expected `always` (the kind of property no-lost-writes)",
        ),
        (
            "no-kind",
            |t| t["kind"] = serde_json::Value::Null,
            "kind is null, expected `always`",
        ),
        (
            "stray-kind",
            |t| {
                t["property"] = serde_json::Value::Null;
                t["kind"] = "always".into();
            },
            "the trace names no property: expected null or `conformance`",
        ),
        (
            "actor",
            |t| t["steps"][2]["actor"] = "guest".into(),
            "step 3 (QemuJobReady): the trace says actor `guest`, but this model's actor is `qemu`",
        ),
        (
            "label",
            |t| t["steps"][0]["label"] = "something else".into(),
            "step 1 (QemuCopyRead(0)): the trace says label `something else`",
        ),
    ];
    for (name, edit, expected) in cases {
        let mut t = original.clone();
        edit(&mut t);
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_string_pretty(&t).unwrap()).unwrap();
        for cmd in ["replay", "report"] {
            let mut args = vec![cmd, file.to_str().unwrap()];
            let report = dir.join("report");
            if cmd == "report" {
                args.extend(["--out", report.to_str().unwrap()]);
            }
            let o = run(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{cmd} {name}: {err}");
            assert!(
                err.contains(expected) && err.contains(&format!("{name}.json")),
                "{cmd} {name}: {err}"
            );
        }
        assert!(conform::load(&file).is_err(), "{name}");
    }
}

/// Issue 11's freeze: the write-ahead preset as it was (`scenarios/history/write-ahead-1.toml`)
/// leaves a job `pending` for ever after a libvirtd crash; the checker reports it as a
/// liveness violation, and `pivotcheck replay` reproduces the lasso (exit 0). Moving the
/// cycle to where the guest still ran makes replay say FIXED (exit 4).
#[test]
fn the_write_ahead_freeze_is_a_replayable_lasso() {
    let dir = temp_dir("trace-freeze");
    let out = dir.join("traces");
    let file = scenarios_dir().join("history").join("write-ahead-1.toml");
    let o = run(&[
        "check",
        "--out",
        out.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("guest-eventually-runs          violated in 26 steps"),
        "{text}"
    );
    assert!(
        text.contains("no-job-held-forever            violated in 26 steps"),
        "{text}"
    );
    assert!(text.contains("stays for ever after step 26"), "{text}");
    let path = out.join("write-ahead-1.guest-eventually-runs.trace.json");
    let trace = trace::decode::load(&path).unwrap().trace;
    assert_eq!(trace.cycle_start, Some(26));
    assert_eq!(trace.kind.as_deref(), Some("eventually"));
    let labels: Vec<&str> = trace.steps.iter().map(|s| s.label.as_str()).collect();
    assert!(labels[10].contains("job pending"), "{labels:?}");
    assert!(labels[11].contains("libvirtd crashes"), "{labels:?}");
    assert!(
        labels[18].contains("active image is the source"),
        "{labels:?}"
    );
    assert!(labels[25].contains("settles on the source"), "{labels:?}");
    let o = run(&["replay", path.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("the lasso violates guest-eventually-runs"));

    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edited["cycle_start"] = 3.into();
    let fixed = dir.join("open.json");
    std::fs::write(&fixed, serde_json::to_string(&edited).unwrap()).unwrap();
    let o = run(&["replay", fixed.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("goal holds"));

    // The fixed preset holds both.
    let o = run(&["check", "--brief", &scenario_path("write-ahead")]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("guest-eventually-runs          holds"),
        "{text}"
    );
    assert!(
        text.contains("no-job-held-forever            holds"),
        "{text}"
    );
}
