//! The outputs of issue 4: `check --report` (Markdown and JUnit snapshots, JUnit read
//! back by two independent consumers, ITF read back by the `itf` crate, the HTML page in
//! headless Chromium), `report TRACE...`, `--coverage`, live progress on a terminal, and
//! the explorer's state listing over HTTP.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::{pivotcheck, scenario_files, scenarios_dir, temp_dir};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `check --report DIR` on the default suite, run from the workspace so that scenario
/// paths are relative (`scenarios/x.toml`) and the outputs hold no absolute path.
fn default_suite_report(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let out = dir.join("traces");
    let report = dir.join("report");
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            "--out",
            out.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        &workspace(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    report
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn default_suite_report_writes_all_four_outputs_and_matches_snapshots() {
    let report = default_suite_report("suite");
    let summary = read(&report.join("summary.md"));
    let junit = read(&report.join("junit.xml"));
    assert!(report.join("index.html").is_file());
    // One ITF file per counterexample: as many as the summary links to.
    let itf: Vec<_> = std::fs::read_dir(&report)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".itf.json"))
        .collect();
    let mermaid = summary.matches("```mermaid").count();
    assert!(mermaid > 0);
    assert_eq!(itf.len(), mermaid);
    assert!(!summary.contains(&workspace().display().to_string()));
    assert!(!junit.contains(&workspace().display().to_string()));
    // No temporary file is left behind by the atomic writes.
    assert!(std::fs::read_dir(&report).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));

    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        filters => vec![
            (r"\d+\.\d\d s", "[time]"),
            (r#"time="[0-9.]+""#, r#"time="[time]""#),
            (r#"timestamp="[^"]*""#, r#"timestamp="[timestamp]""#),
        ],
    }, {
        insta::assert_snapshot!("default_suite_summary_md", summary);
        insta::assert_snapshot!("default_suite_junit_xml", junit);
    });
}

/// Counts of a JUnit file as a consumer sees them.
#[derive(Debug, PartialEq)]
struct JunitCounts {
    suites: usize,
    cases: usize,
    failures: usize,
}

/// Reads a JUnit file with two independent consumers, `junit-parser` and `quick-junit`'s
/// reader; both must agree on the counts. Returns each failure's message and text (as
/// `quick-junit` reads them: `junit-parser` 1.7 splits text at character entities).
fn junit_counts(xml: &str) -> (JunitCounts, Vec<String>) {
    let parsed = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes()))
        .expect("junit-parser reads the file");
    let mut cases = 0;
    let mut failures = 0;
    let mut messages = Vec::new();
    for s in &parsed.suites {
        for c in &s.cases {
            cases += 1;
            if let junit_parser::TestStatus::Failure(f) = &c.status {
                failures += 1;
                messages.push(f.message.clone());
            }
        }
    }
    let a = JunitCounts {
        suites: parsed.suites.len(),
        cases,
        failures,
    };
    let q = quick_junit::Report::deserialize_from_str(xml).expect("quick-junit reads the file");
    let b = JunitCounts {
        suites: q.test_suites.len(),
        cases: q.test_suites.iter().map(|s| s.test_cases.len()).sum(),
        failures: q.test_suites.iter().map(|s| s.failures).sum(),
    };
    assert_eq!(a, b, "the two JUnit readers disagree");
    let mut texts = Vec::new();
    for s in &q.test_suites {
        for c in &s.test_cases {
            if let quick_junit::TestCaseStatus::NonSuccess {
                message,
                description,
                ..
            } = &c.status
            {
                let message = message.as_ref().map(|m| m.to_string()).unwrap_or_default();
                assert!(messages.contains(&message), "{message} not in {messages:?}");
                let text = description
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                texts.push(format!("{message}\n{text}"));
            }
        }
    }
    (a, texts)
}

#[test]
fn junit_of_the_default_suite_validates_and_a_wrong_expectation_is_a_failure() {
    let report = default_suite_report("junit");
    let (counts, _) = junit_counts(&read(&report.join("junit.xml")));
    let scenarios = scenario_files().len();
    assert_eq!(
        counts,
        JunitCounts {
            suites: scenarios,
            cases: scenarios
                * (model::properties::PROPERTIES.len() + model::liveness::LIVENESS.len()),
            failures: 0
        }
    );

    // A scenario that wrongly expects reopen-unpaused to keep every write: one failure,
    // whose text is the readable counterexample.
    let dir = temp_dir("reports-junit-failure");
    let file = dir.join("wrong.toml");
    std::fs::write(
        &file,
        "variant = \"reopen-unpaused\"\n[faults]\nlibvirtd_crash = true\nguest_poweroff = true\n[expect]\nviolated = [\"libvirt-state-matches\", \"uncertainty-is-frozen\", \"uncertainty-keeps-qemu\", \"config-holds-data\", \"evidence-outlives-doubt\", \"libvirt-eventually-agrees\"]\n",
    )
    .unwrap();
    let rep = dir.join("report");
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            file.to_str().unwrap(),
            "--out",
            dir.join("t").to_str().unwrap(),
            "--report",
            rep.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let (counts, failures) = junit_counts(&read(&rep.join("junit.xml")));
    assert_eq!(counts.failures, 1);
    let f = &failures[0];
    assert!(f.contains("no-lost-writes violated, expected holds"), "{f}");
    assert!(f.contains("guest powers off"), "{f}");
    assert!(f.contains("libvirtd's SHUTDOWN handler kills QEMU"), "{f}");
    let summary = read(&rep.join("summary.md"));
    assert!(
        summary.contains("⚠ **violated** (12), expected holds"),
        "{summary}"
    );
}

#[derive(Debug, Deserialize)]
struct ItfQemu {
    alive: bool,
    active: String,
    run_state: String,
}

#[derive(Debug, Deserialize)]
struct ItfStorage {
    source: String,
    target: String,
}

#[derive(Debug, Deserialize)]
struct ItfState {
    step: i64,
    action: String,
    actor: String,
    label: String,
    storage: ItfStorage,
    qemu: ItfQemu,
    libvirtd: ItfLibvirtd,
    app: ItfApp,
}

#[derive(Debug, Deserialize)]
struct ItfLibvirtd {
    up: bool,
    #[serde(rename = "status_XML")]
    status_xml: String,
    persistent_config: String,
}

#[derive(Debug, Deserialize)]
struct ItfApp {
    phase: String,
}

#[test]
fn itf_traces_read_back_with_the_itf_crate() {
    let dir = temp_dir("reports-itf");
    let rep = dir.join("report");
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            &scenarios_dir()
                .join("reopen-unpaused.toml")
                .display()
                .to_string(),
            "--out",
            dir.join("t").to_str().unwrap(),
            "--report",
            rep.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut read_back = 0;
    for e in std::fs::read_dir(&rep).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".itf.json") else {
            continue;
        };
        let trace: itf::Trace<ItfState> = itf::trace_from_str(&read(&p))
            .unwrap_or_else(|e| panic!("{name}: the itf crate rejects it: {e}"));
        // The pivotcheck trace of the same counterexample, written by `check --out`.
        let ours: trace::Trace =
            serde_json::from_str(&read(&dir.join("t").join(format!("{stem}.trace.json")))).unwrap();
        assert_eq!(trace.states.len(), ours.steps.len() + 1, "{name}");
        assert_eq!(trace.vars, reports::itf::VARS.to_vec());
        let first = &trace.states[0].value;
        assert_eq!(first.step, 0);
        assert_eq!(first.action, "");
        assert!(first.qemu.alive);
        assert_eq!(first.qemu.active, "source");
        assert_eq!(first.qemu.run_state, "running");
        assert_eq!(first.storage.source, "all writes");
        assert_eq!(first.storage.target, "stale block 0");
        assert_eq!(first.app.phase, "waiting for ready");
        assert!(first.libvirtd.up);
        assert_eq!(first.libvirtd.status_xml, "source=S, mirror copying");
        assert_eq!(first.libvirtd.persistent_config, "S");
        for (i, (s, step)) in trace.states[1..].iter().zip(&ours.steps).enumerate() {
            assert_eq!(s.meta.index, Some(i as u64 + 1));
            assert_eq!(s.value.step, i as i64 + 1);
            assert_eq!(s.value.action, step.action);
            assert_eq!(s.value.actor, step.actor);
            assert_eq!(s.value.label, step.label);
        }
        assert_eq!(
            trace.meta.other.get("property").map(String::as_str),
            ours.property.as_deref()
        );
        read_back += 1;
    }
    assert_eq!(
        read_back, 7,
        "reopen-unpaused violates six always properties and libvirt-eventually-agrees"
    );
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// Runs headless Chromium with the flags of issue 4 and a fresh profile.
fn run_chromium(bin: &Path, profile: &Path, extra: &[&str], url: &str) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("chromium starts")
}

/// Chromium, or `None` after saying on stderr that `test` is skipped; with `CI` set, a
/// missing Chromium fails the test instead.
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let bin = chromium();
    if bin.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium: .ci/run installs it"
        );
        eprintln!("SKIPPED {test}: chromium is not installed (apt-get install chromium)");
    }
    bin
}

/// A screenshot of the top of `url` at `size` (`W,H`), kept in the test artefacts
/// (CARGO_TARGET_TMPDIR/`name`); its bytes, checked to be a PNG.
fn screenshot(bin: &Path, dir: &Path, name: &str, size: &str, url: &str) -> Vec<u8> {
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&png);
    let shot = run_chromium(
        bin,
        &dir.join("profile-shot"),
        &[
            &format!("--window-size={size}"),
            &format!("--screenshot={}", png.display()),
        ],
        url,
    );
    assert!(shot.status.success(), "{}", text(&shot));
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    bytes
}

#[test]
fn html_report_renders_in_headless_chromium_with_its_sequence_diagram() {
    let Some(bin) = chromium_or_skip("html_report_renders_in_headless_chromium") else {
        return;
    };
    let dir = temp_dir("reports-html");
    let rep = dir.join("report");
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            &scenarios_dir()
                .join("reopen-unpaused.toml")
                .display()
                .to_string(),
            "--out",
            dir.join("t").to_str().unwrap(),
            "--report",
            rep.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = read(&rep.join("index.html"));
    // Self-contained: no script, no stylesheet or image fetched from anywhere.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src="));
    assert!(!html.contains("href=\"http"));
    let url = format!("file://{}", rep.join("index.html").display());

    // The DOM as Chromium built it: the verdict table and the no-lost-writes diagram
    // with its four lifelines and the breaking step.
    let dom = run_chromium(&bin, &dir.join("profile-dom"), &["--dump-dom"], &url);
    assert!(dom.status.success(), "{}", text(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    assert!(
        dom.contains("<table id=\"verdicts\">"),
        "no verdict table in the DOM"
    );
    // The matrix at a glance: each row's verdict in one sentence, and the legend.
    assert!(
        dom.contains("<td class=\"gist\">loses acknowledged writes (no-lost-writes, 12 steps) when the guest powered off between QEMU executing the pivot command and libvirtd reading its reply</td>"),
        "no one-sentence verdict in the DOM"
    );
    assert!(dom.contains("<p id=\"legend\">"), "no legend in the DOM");
    let start = dom
        .find("id=\"cx-reopen-unpaused.no-lost-writes\"")
        .expect("the no-lost-writes counterexample section");
    let section = &dom[start..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains("<svg"), "no SVG diagram");
    for actor in ["guest", "qemu", "libvirtd", "app"] {
        assert!(
            section.contains(&format!("data-actor=\"{actor}\"")),
            "lifeline {actor}"
        );
    }
    assert!(section.contains("class=\"step breaking-step\" data-step=\"12\""));
    assert!(section.contains("step 12 violates no-lost-writes"));
    assert!(section.contains("<tr class=\"breaking\" data-step=\"12\">"));

    // A screenshot of the top of the page: the table and the first diagram.
    let bytes = screenshot(&bin, &dir, "report-reopen-unpaused.png", "1400,1600", &url);
    // Width and height from the IHDR chunk.
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (1400, 1600));
    // A page with a table, a diagram and a state table compresses far worse than a blank one.
    assert!(
        bytes.len() > 50_000,
        "screenshot only {} bytes",
        bytes.len()
    );
    println!(
        "screenshot: {}",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("report-reopen-unpaused.png")
            .display()
    );
}

#[test]
fn report_subcommand_replays_traces_and_rejects_bad_ones() {
    let dir = temp_dir("reports-report-cmd");
    let traces = dir.join("t");
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            &scenarios_dir()
                .join("reopen-unpaused.toml")
                .display()
                .to_string(),
            "--out",
            traces.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let trace = traces.join("reopen-unpaused.no-lost-writes.trace.json");
    let rep = dir.join("rep");
    let o = pivotcheck(
        &[
            "report",
            trace.to_str().unwrap(),
            "--out",
            rep.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("replays: step 12 violates no-lost-writes"));
    for f in [
        "summary.md",
        "junit.xml",
        "index.html",
        "reopen-unpaused.no-lost-writes.itf.json",
    ] {
        assert!(rep.join(f).is_file(), "{f}");
    }
    let (counts, _) = junit_counts(&read(&rep.join("junit.xml")));
    assert_eq!(
        counts,
        JunitCounts {
            suites: 1,
            cases: 1,
            failures: 0
        }
    );

    // A trace cut short no longer reaches the violation: exit 1 and a JUnit failure.
    let mut t: serde_json::Value = serde_json::from_str(&read(&trace)).unwrap();
    t["steps"].as_array_mut().unwrap().pop();
    let short = dir.join("short.trace.json");
    std::fs::write(&short, serde_json::to_string(&t).unwrap()).unwrap();
    let o = pivotcheck(
        &[
            "report",
            short.to_str().unwrap(),
            "--out",
            dir.join("rep2").to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no longer violates no-lost-writes"));

    // Bad input: exit 2 naming the file and what was expected, never a panic.
    t["steps"][0]["index"] = 99.into();
    let bad = dir.join("bad-index.trace.json");
    std::fs::write(&bad, serde_json::to_string(&t).unwrap()).unwrap();
    let not_json = dir.join("not-json.trace.json");
    std::fs::write(
        &not_json,
        "{\n  \"format\": \"pivotcheck-trace\",\n  oops\n}\n",
    )
    .unwrap();
    for (file, expected) in [
        (&bad, ": step 1 does not replay: the trace expects QemuCopyRead(0) (action index 99), but the enabled actions are: 0:GuestWrite(0)"),
        (&not_json, ":3:3: expected a pivotcheck trace (JSON): key must be a string"),
    ] {
        let o = pivotcheck(&["report", file.to_str().unwrap(), "--out", "r"], &dir);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(
            err.contains(&format!("{}{expected}", file.display())),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `pivotcheck check --coverage` of one scenario file: the JSON of its scenario, and the
/// terminal text of the same check.
fn coverage_of(scenario: &Path, out: &str) -> (serde_json::Value, String) {
    let file = scenario.display().to_string();
    let json_dir = temp_dir(&format!("{out}-json"));
    let o = pivotcheck(
        &[
            "check",
            "--json",
            "--coverage",
            &file,
            "--out",
            json_dir.to_str().unwrap(),
        ],
        &workspace(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text_dir = temp_dir(&format!("{out}-text"));
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            "--coverage",
            &file,
            "--out",
            text_dir.to_str().unwrap(),
        ],
        &workspace(),
    );
    (
        v["scenarios"][0].clone(),
        String::from_utf8_lossy(&o.stdout).to_string(),
    )
}

/// A coverage object's count called `name` (a test failure if there is none).
fn count_of(counts: &serde_json::Map<String, serde_json::Value>, name: &str) -> u64 {
    counts
        .get(name)
        .unwrap_or_else(|| panic!("no window `{name}` in {counts:?}"))
        .as_u64()
        .unwrap()
}

/// The sum of a coverage object's counts whose names start with `prefix` (one fault's).
fn sum_of(counts: &serde_json::Map<String, serde_json::Value>, prefix: &str) -> u64 {
    counts
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum()
}

#[test]
fn coverage_counts_the_pivot_window_and_adds_up() {
    let (sc, out) = coverage_of(
        &scenarios_dir().join("reopen-unpaused.toml"),
        "reports-coverage",
    );
    let cov = &sc["coverage"];
    let windows = cov["windows"].as_object().unwrap();
    let steps = cov["steps"].as_object().unwrap();
    let window = |name: &str| count_of(windows, name);
    // The window the seed patch is about was explored, in both halves.
    assert!(window("libvirtd crashed between sending the pivot command and QEMU reading it") > 0);
    assert!(
        window("libvirtd crashed between QEMU executing the pivot command and libvirtd reading its reply")
            > 0
    );
    assert!(window("the guest powered off while libvirtd was down") > 0);
    // reopen-unpaused has no concluded-job handler, and QEMU crashes are off.
    assert!(!windows.keys().any(|k| k.contains("concluded-job handler")));
    assert!(!windows.keys().any(|k| k.starts_with("QEMU crashed")));
    // Every explored crash falls in exactly one window.
    assert_eq!(
        sum_of(windows, "libvirtd crashed"),
        steps["LibvirtdCrash"].as_u64().unwrap()
    );
    assert_eq!(
        sum_of(windows, "the guest powered off"),
        steps["GuestPowerOff"].as_u64().unwrap()
    );
    // The step counts add up to the transitions the search generated.
    let total: u64 = steps.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, sc["states"].as_u64().unwrap());
    // The plain app has no steps of its own to place faults around.
    assert_eq!(cov["app_windows"], serde_json::json!({}));

    // The text form.
    assert!(out.contains("coverage of reopen-unpaused:"), "{out}");
    assert!(out.contains(&format!(
        "libvirtd crashed between QEMU executing the pivot command and libvirtd reading its reply: {} states",
        window("libvirtd crashed between QEMU executing the pivot command and libvirtd reading its reply")
    )));
}

/// Faults around Nova's own steps (issue 15): each fault's explored crashes fall in one
/// window of libvirtd's pivot and in one place of the app's procedure, and the window the
/// scenario's counterexample is about (nova-compute dies after `abort_job` returned and
/// before its `finally`) was explored.
#[test]
fn coverage_places_faults_around_the_apps_own_steps() {
    let (sc, out) = coverage_of(
        &workspace().join("scenarios/apps/write-ahead-nova.toml"),
        "reports-coverage-app",
    );
    let cov = &sc["coverage"];
    let windows = cov["windows"].as_object().unwrap();
    let app = cov["app_windows"].as_object().unwrap();
    let steps = cov["steps"].as_object().unwrap();
    for (prefix, kind) in [
        ("libvirtd crashed", "LibvirtdCrash"),
        ("the guest powered off", "GuestPowerOff"),
        ("the app crashed", "AppCrash"),
    ] {
        let n = steps[kind].as_u64().unwrap();
        assert!(n > 0, "{kind} explored");
        assert_eq!(sum_of(windows, prefix), n, "{prefix}: libvirtd windows");
        assert_eq!(sum_of(app, prefix), n, "{prefix}: app windows");
    }
    let place = |name: &str| count_of(app, name);
    assert!(place("the app crashed between the app's `pivot` and `redefine`") > 0);
    assert!(place("libvirtd crashed between the app's `pivot` and `redefine`") > 0);
    assert!(place("the app crashed while the app's `pivot` call was in flight") > 0);
    // The app's crash is not explored where it changes nothing.
    assert!(!app.contains_key("the app crashed before the app's `undefine`"));
    assert!(!app.contains_key("the app crashed after the app's last step, `record-db`"));
    // A fault that can strike anywhere has all eight places of Nova's procedure.
    let names: Vec<&String> = app
        .keys()
        .filter(|k| k.starts_with("libvirtd crashed"))
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");

    let at = out
        .find("around the app's own steps:")
        .unwrap_or_else(|| panic!("{out}"));
    let first = out[at..].find("before the app's `undefine`").unwrap();
    let last = out[at..]
        .find("after the app's last step, `record-db`")
        .unwrap();
    assert!(first < last, "{out}");
}

/// Runs `pivotcheck` under `script`, which gives it a pseudo-terminal as standard error.
fn on_a_terminal(args: &str, dir: &Path) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        return None;
    }
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_pivotcheck"));
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    Some(String::from_utf8_lossy(&o.stdout).to_string())
}

#[test]
fn progress_shows_on_a_terminal_after_a_second_and_never_with_json() {
    let dir = temp_dir("reports-progress");
    // The large configuration without the symmetry reduction, on one thread, lasts several
    // seconds even in an optimized build; the default suite now checks in well under one.
    let s = scenarios_dir()
        .join("large")
        .join("write-ahead-four-blocks.toml")
        .display()
        .to_string();
    let args = format!(
        "check --brief --no-symmetry --threads 1 {s} --out {}",
        dir.join("t").display()
    );
    let Some(tty) = on_a_terminal(&args, &dir) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have `script` (util-linux)"
        );
        println!("SKIPPED progress test: `script` is not installed");
        return;
    };
    assert!(
        tty.contains("states/s"),
        "no progress on a terminal:\n{tty}"
    );
    assert!(tty.contains("unique, "), "{tty}");
    assert!(tty.contains("depth "), "{tty}");

    let json = on_a_terminal(&format!("{args} --json"), &dir).unwrap();
    assert!(!json.contains("states/s"), "progress in --json mode");
    // Not a terminal: no progress either (the captured standard error is a pipe).
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            "--no-symmetry",
            "--threads",
            "1",
            &s,
            "--out",
            dir.join("t").to_str().unwrap(),
        ],
        &dir,
    );
    assert!(!text(&o).contains("states/s"));
}

fn free_port() -> u16 {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// Kills the explorer child when the test ends, pass or fail.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn explorer_answers_its_state_listing_on_localhost() {
    let port = free_port();
    let scenario = scenarios_dir().join("reopen-unpaused.toml");
    let _child = Child(
        Command::new(env!("CARGO_BIN_EXE_pivotcheck"))
            .args([
                "explore",
                scenario.to_str().unwrap(),
                "--port",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    let (code, body) = loop {
        match http_get(port, "/.states") {
            Ok(r) => break r,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the explorer does not answer on 127.0.0.1:{port}: {e}"),
        }
    };
    assert_eq!(code, 200, "{body}");
    let init: serde_json::Value = serde_json::from_str(&body).unwrap();
    let init = &init.as_array().unwrap()[0];
    assert!(init["state"].as_str().unwrap().contains("libvirtd"));
    assert!(init["svg"]
        .as_str()
        .unwrap()
        .contains("data-actor=\"qemu\""));

    // The actions from the initial state, with readable labels and outcomes.
    let (code, body) = http_get(port, "/.states/0").unwrap();
    assert_eq!(code, 200, "{body}");
    let next: serde_json::Value = serde_json::from_str(&body).unwrap();
    let next = next.as_array().unwrap();
    let actions: Vec<&str> = next.iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"guest writes block 0"), "{actions:?}");
    assert!(actions.contains(&"FAULT libvirtd crashes"), "{actions:?}");
    assert!(next.iter().any(|s| s["outcome"]
        .as_str()
        .unwrap()
        .contains("mirror reads dirty block 0 from the source")));
    // A path of two steps: its diagram has two numbered steps.
    let (code, body) = http_get(port, "/.states/0/0").unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let svg = v[0]["svg"].as_str().unwrap();
    assert!(svg.contains("data-step=\"1\"") && svg.contains("data-step=\"2\""));

    // The same port again: a clear error, exit 2.
    let o = pivotcheck(
        &[
            "explore",
            scenario.to_str().unwrap(),
            "--port",
            &port.to_string(),
        ],
        &workspace(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A scenario that does not load: exit 2 naming the file, before any port is opened.
    let o = pivotcheck(
        &["explore", "no-such-scenario.toml", "--port", "1"],
        &workspace(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-scenario.toml:"));
}

/// Each row of the report says its verdict in one sentence: the most serious violated
/// property and the crash windows of its shortest counterexample (pinned for
/// `blockdev-modern`, the W1/W3 story), or that every property holds.
#[test]
fn each_row_has_its_verdict_in_one_sentence() {
    let check = |name: &str| {
        let s =
            trace::scenario::load(&crate::scenarios_dir().join(format!("{name}.toml"))).unwrap();
        sim::check::check_scenario(&s, &Default::default())
    };
    assert_eq!(
        sim::reporting::gist(&check("blockdev-modern")),
        "loses acknowledged writes (no-lost-writes, 16 steps) when libvirtd crashed between \
         QEMU executing the pivot command and libvirtd reading its reply, then the guest \
         powered off during the reconnect procedure"
    );
    assert_eq!(
        sim::reporting::gist(&check("write-ahead")),
        "every property holds"
    );
    let run = sim::reporting::run_of_check(&[(check("reopen-paused"), None)]);
    let html = reports::html::page(&run);
    assert!(html.contains("<th>in one sentence</th>"), "{html}");
    assert!(
        html.contains("<td class=\"gist\">leaves the persistent config on an image without the data (config-holds-data, 23 steps) when libvirtd crashed"),
        "{html}"
    );
    assert!(html.contains("<p id=\"legend\">"), "{html}");
    let md = reports::markdown::summary(&run);
    assert!(
        md.contains("- `reopen-paused`: leaves the persistent config"),
        "{md}"
    );
}

/// `simulate` and `mutate` show a bar of runs or mutants done on a terminal once they
/// last a second (these workloads last several), never with `--json` or off a terminal.
#[test]
fn simulate_and_mutate_show_progress_on_a_terminal() {
    let dir = temp_dir("progress-simulate-mutate");
    let out = dir.join("t").display().to_string();
    let s = scenarios_dir()
        .join("blockdev-modern.toml")
        .display()
        .to_string();
    let sim = format!("simulate {s} --seed 1 --runs 60000 --out {out}");
    let Some(tty) = on_a_terminal(&sim, &dir) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have `script` (util-linux)"
        );
        eprintln!("SKIPPED simulate/mutate progress test: `script` is not installed");
        return;
    };
    assert!(
        tty.contains("/60000 runs, "),
        "no simulate progress:\n{tty}"
    );
    let json = on_a_terminal(&format!("{sim} --json"), &dir).unwrap();
    assert!(!json.contains("/60000 runs, "), "progress in --json mode");
    let o = pivotcheck(
        &[
            "simulate", &s, "--seed", "1", "--runs", "60000", "--out", &out,
        ],
        &dir,
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("runs, "));

    let m = scenarios_dir()
        .join("write-ahead.toml")
        .display()
        .to_string();
    let tty = on_a_terminal(&format!("mutate {m}"), &dir).unwrap();
    assert!(
        tty.contains("/130 mutants, checked across 8 scenarios"),
        "no mutate progress:\n{tty}"
    );
}

/// `conform` shows a bar of traces replayed on a terminal once it lasts a second (twelve
/// corpus traces against a real QEMU last about three), never off a terminal. Needs QEMU:
/// skipped without it only when `CI` is unset.
#[test]
fn conform_shows_progress_on_a_terminal() {
    let dir = temp_dir("progress-conform");
    let corpus = dir.join("corpus");
    let o = pivotcheck(&["conform", "--export", corpus.to_str().unwrap()], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", crate::stderr_of(&o));
    let mut traces: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    traces.sort();
    traces.truncate(12);
    let args = format!("conform {}", traces.join(" "));
    let Some(tty) = on_a_terminal(&args, &dir) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have `script` (util-linux)"
        );
        eprintln!("SKIPPED conform progress test: `script` is not installed");
        return;
    };
    if tty.contains("QEMU") && !tty.contains("traces: ") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run conform against QEMU:\n{tty}"
        );
        eprintln!("SKIPPED conform progress test: QEMU cannot run here:\n{tty}");
        return;
    }
    assert!(
        tty.contains("12 traces: 12 conform, 0 disagree"),
        "the run itself:\n{tty}"
    );
    assert!(
        tty.contains("/12 traces replayed against QEMU, 0 disagree so far"),
        "no conform progress:\n{tty}"
    );
    let argv: Vec<&str> = args.split(' ').collect();
    let o = pivotcheck(&argv, &dir);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("traces replayed"),
        "progress off a terminal"
    );
}

/// `live --report`'s matrices, rendered from a fixed pair of `live --json` results (one
/// per libvirt version, `tests/it/live-report/`), so no real libvirt is needed.
fn live_fixture() -> Vec<reports::live::LiveSuite> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/live-report");
    ["live-9.0.json", "live-11.3.json"]
        .iter()
        .map(|f| reports::live::read_suite(&dir.join(f)).unwrap())
        .collect()
}

#[test]
fn live_summary_has_one_matrix_per_libvirt_version() {
    let md = reports::live::summary(&live_fixture());
    assert_eq!(md.matches("| crash point | result |").count(), 2);
    let nine = md.find("## libvirt 9.0\n").expect("9.0's matrix");
    let eleven = md.find("## libvirt 11.3\n").expect("11.3's matrix");
    assert!(nine < eleven);
    assert!(md.contains(
        "3 scenarios on libvirt 9.0 (preset libvirt-9.0): 2 agree, 1 disagree, 0 errors."
    ));
    assert!(md.contains(
        "| job-complete.reply.transient | disagree | agree | agree | ⚠ real tgt, model src | ⚠ real none, model yes | agree |"
    ));
    assert!(md.contains("| job-dismiss.reply.transient | error: libvirtd did not restart within 60 s | not compared |"));
}

#[test]
fn live_report_renders_in_headless_chromium_one_matrix_per_version() {
    let Some(bin) = chromium_or_skip("live_report_renders_in_headless_chromium") else {
        return;
    };
    let dir = temp_dir("live-report-html");
    let page = dir.join("index.html");
    std::fs::write(&page, reports::live::page(&live_fixture())).unwrap();
    let url = format!("file://{}", page.display());
    let dom = run_chromium(&bin, &dir.join("profile-dom"), &["--dump-dom"], &url);
    assert!(dom.status.success(), "{}", text(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    assert!(dom.contains("<p id=\"legend\">"), "no legend in the DOM");
    assert_eq!(dom.matches("<table class=\"live-matrix\"").count(), 2);
    let table = |v: &str| {
        let start = dom
            .find(&format!("data-libvirt=\"{v}\""))
            .unwrap_or_else(|| panic!("no matrix for libvirt {v}"));
        let t = &dom[start..];
        t[..t.find("</table>").unwrap()].to_string()
    };
    let (nine, eleven) = (table("9.0"), table("11.3"));
    assert_eq!(nine.matches("<tr data-scenario=").count(), 3);
    assert_eq!(eleven.matches("<tr data-scenario=").count(), 2);
    // Disagreements say so in words on the field that differs, and only there.
    assert_eq!(nine.matches("<td class=\"bad\"").count(), 3, "{nine}");
    assert!(
        nine.contains("<td class=\"bad\" data-field=\"live-source\">⚠ real tgt, model src</td>")
    );
    assert!(nine.contains("<td class=\"bad\" data-field=\"mirror\">⚠ real none, model yes</td>"));
    assert_eq!(
        nine.matches("<td class=\"ok\" data-field=").count(),
        3 * 9 - 2
    );
    assert_eq!(eleven.matches("<td class=\"none\" data-field=").count(), 9);
    assert!(eleven.contains("error: libvirtd did not restart within 60 s"));

    let bytes = screenshot(&bin, &dir, "live-report.png", "1400,900", &url);
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!(h, 900);
}
