//! `pivotcheck diagnose` on the corpus recorded by `pivotcheck live --record`
//! (`diagnose/corpus/<libvirt version>/<scenario>/`): it must name the window and the
//! image the harness measured, never name an image the truth contradicts, and answer
//! damaged, foreign or impossible logs with the right exit code and a clear message.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::{pivotcheck, temp_dir};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("diagnose")
        .join("corpus")
}

/// Every corpus entry: (libvirt version, entry folder), sorted.
fn entries() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for v in ["9.0", "11.3"] {
        let mut dirs: Vec<PathBuf> = fs::read_dir(corpus().join(v))
            .unwrap_or_else(|e| panic!("corpus {v}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("truth.json").is_file())
            .collect();
        dirs.sort();
        out.extend(dirs.into_iter().map(|d| (v.to_string(), d)));
    }
    out
}

/// `pivotcheck diagnose` on one entry, with the XML files it has.
fn diagnose(version: &str, dir: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec![
        "diagnose".into(),
        dir.join("libvirtd.log").display().to_string(),
        "--libvirt-version".into(),
        version.into(),
    ];
    for (flag, file) in [
        ("--status-xml", "status.xml"),
        ("--config-xml", "config.xml"),
    ] {
        if dir.join(file).is_file() {
            args.push(flag.into());
            args.push(dir.join(file).display().to_string());
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    pivotcheck(&args, dir)
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Whether `named` (diagnose's data_on) holds every acknowledged write according to
/// `truth` (the images that held them, measured).
fn holds(named: &str, truth: &str) -> bool {
    match named {
        "both" => truth == "both",
        "source" | "target" => truth == named || truth == "both",
        _ => false,
    }
}

#[test]
fn corpus_diagnoses_name_the_measured_window_and_image_of_every_entry() {
    let all = entries();
    let mut named = 0;
    let mut per_version = [0usize; 2];
    let mut misses = Vec::new();
    for (v, dir) in &all {
        let truth: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
        let o = diagnose(v, dir, &["--json"]);
        let d = json(&o);
        let name = format!("{v}/{}", dir.file_name().unwrap().to_string_lossy());
        assert_eq!(o.status.code(), Some(0), "{name}: {d}");
        assert_eq!(d["consistent"], true, "{name}");
        assert_eq!(d["complete"], true, "{name}");
        assert!(d["states"].as_u64().unwrap() > 0, "{name}");
        let data = d["data_on"].as_str().unwrap();
        let t_data = truth["data_on"].as_str().unwrap();
        // Never "the data is on X" when the truth says otherwise.
        assert!(
            data == "unknown" || holds(data, t_data),
            "{name}: diagnose says the data is on {data}, the harness measured {t_data}"
        );
        let right = d["windows"] == serde_json::json!([truth["window"]])
            && d["qemu"] == truth["qemu"]
            && d["libvirt_says"] == truth["libvirt_says"]
            && holds(data, t_data);
        if right {
            named += 1;
            per_version[usize::from(v == "11.3")] += 1;
        } else {
            misses.push(format!("{name}: got {d} truth {truth}"));
        }
    }
    eprintln!(
        "diagnose names the window and the image of {named} of {} corpus entries (libvirt 9.0: {}, 11.3: {})",
        all.len(),
        per_version[0],
        per_version[1]
    );
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    // The whole live matrix of both versions is in the corpus.
    assert_eq!((all.len(), per_version), (136, [76, 60]));
}

#[test]
fn corpus_logs_are_trimmed_to_the_lines_diagnose_uses() {
    for (v, dir) in entries() {
        let log = dir.join("libvirtd.log");
        let o = pivotcheck(&["diagnose", "--trim", &log.display().to_string()], &dir);
        assert_eq!(o.status.code(), Some(0), "{v} {}", dir.display());
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            fs::read_to_string(&log).unwrap(),
            "{v} {}: not trimmed",
            dir.display()
        );
    }
}

fn entry(v: &str, name: &str) -> PathBuf {
    corpus().join(v).join(name)
}

/// A copy of a corpus entry in a temp folder, its log rewritten by `edit`.
fn edited(v: &str, name: &str, test: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let from = entry(v, name);
    let to = temp_dir(test);
    for f in ["libvirtd.log", "status.xml", "config.xml", "truth.json"] {
        if from.join(f).is_file() {
            fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
    let log = fs::read_to_string(to.join("libvirtd.log")).unwrap();
    fs::write(to.join("libvirtd.log"), edit(&log)).unwrap();
    to
}

/// The 1-based line of the first line containing all of `needles` at or after line `from`.
fn line_of(log: &str, from: usize, needles: &[&str]) -> usize {
    log.lines()
        .enumerate()
        .skip(from - 1)
        .find(|(_, l)| needles.iter().all(|n| l.contains(n)))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("no line with {needles:?}"))
}

#[test]
fn a_job_dismiss_before_job_complete_is_inconsistent_at_that_line() {
    let dir = edited("9.0", "control.transient", "diag-dismiss-first", |log| {
        log.replacen(
            "\"execute\":\"job-complete\"",
            "\"execute\":\"job-dismiss\"",
            1,
        )
    });
    let log = fs::read_to_string(dir.join("libvirtd.log")).unwrap();
    let at = line_of(&log, 1, &["QEMU_MONITOR_IO_WRITE", "job-dismiss"]);
    let o = diagnose("9.0", &dir, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let d = json(&o);
    assert_eq!(d["consistent"], false);
    assert_eq!(d["first_unexplained_line"], at);
    // The unedited log is consistent: the edit is what the model cannot explain.
    assert_eq!(
        diagnose("9.0", &entry("9.0", "control.transient"), &[])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn a_pivot_done_without_job_complete_is_inconsistent_where_the_job_concludes() {
    // libvirt never sent job-complete (its line now sends a harmless query), yet QEMU's
    // job goes pending and concludes: no model behaviour explains the first of those.
    let dir = edited("9.0", "control.transient", "diag-no-complete", |log| {
        log.replacen(
            "\"execute\":\"job-complete\",\"arguments\":{\"id\":\"copy-vda-libvirt-1-format\"}",
            "\"execute\":\"query-named-block-nodes\",\"arguments\":{}",
            1,
        )
    });
    let log = fs::read_to_string(dir.join("libvirtd.log")).unwrap();
    let edited_at = line_of(&log, 1, &["IO_WRITE", "query-named-block-nodes"]);
    let pending = line_of(&log, edited_at, &["RECV_EVENT", "\"pending\""]);
    let o = diagnose("9.0", &dir, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["first_unexplained_line"], pending);
}

#[test]
fn a_log_cut_mid_line_by_the_crash_still_gets_its_answer() {
    let name = "job-complete.reply.persistent";
    let whole = json(&diagnose("9.0", &entry("9.0", name), &["--json"]));
    // Cut the job-complete write (the dead daemon's last line) in the middle of its JSON.
    let dir = edited("9.0", name, "diag-cut", |log| {
        let at = log.find("buf={\"execute\":\"job-complete\"").unwrap() + 20;
        let end = at + log[at..].find("2026-").unwrap();
        format!("{}\n{}", &log[..at], &log[end..])
    });
    let o = diagnose("9.0", &dir, &["--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let cut = json(&o);
    for k in ["windows", "qemu", "data_on", "libvirt_says"] {
        assert_eq!(cut[k], whole[k], "{k}");
    }
    // A cut line the daemon logged past is damage, not a crash: exit 2 naming the line.
    let dir = edited("9.0", "control.transient", "diag-cut-middle", |log| {
        let at = log.find("buf={\"execute\":\"job-complete\"").unwrap() + 20;
        let end = at + log[at..].find("\n2026-").unwrap();
        format!("{}{}", &log[..at], &log[end..])
    });
    let log = fs::read_to_string(dir.join("libvirtd.log")).unwrap();
    let cut = log.find("buf={\"execute\":\"job-\n").expect("the cut line");
    let at = log[..cut].matches('\n').count() + 1;
    let o = diagnose("9.0", &dir, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("line {at}:")), "{err}");
    assert!(err.contains("no complete JSON"), "{err}");
}

#[test]
fn a_log_of_another_domain_is_refused() {
    let dir = edited("9.0", "control.transient", "diag-other-domain", |log| {
        log.replace("name=rq", "name=web1")
    });
    let o = diagnose("9.0", &dir, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no monitor traffic of domain \"rq\"") && err.contains("web1"),
        "{err}"
    );
}

#[test]
fn a_log_without_monitor_traffic_or_not_a_log_is_refused() {
    let dir = edited("9.0", "control.transient", "diag-no-monitor", |log| {
        log.lines()
            .filter(|l| l.contains("libvirt version:"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let o = diagnose("9.0", &dir, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no monitor traffic") && err.contains("log_filters"),
        "{err}"
    );

    let dir = edited("9.0", "control.transient", "diag-not-a-log", |_| {
        "{\"not\": \"a log\"}\n".into()
    });
    let o = diagnose("9.0", &dir, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1: not a libvirtd log line"), "{err}");
}

#[test]
fn a_search_too_large_for_its_limit_is_incomplete_never_a_guess() {
    let dir = entry("9.0", "job-dismiss.reply.persistent");
    let o = diagnose("9.0", &dir, &["--json", "--max-states", "40"]);
    assert_eq!(o.status.code(), Some(3));
    let d = json(&o);
    assert_eq!(d["complete"], false);
    let o = diagnose("9.0", &dir, &["--max-states", "40"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("INCOMPLETE"), "{out}");
    assert!(out.contains("stopped at 40 states"), "{out}");
}

#[test]
fn bad_flags_name_what_was_expected() {
    let dir = entry("9.0", "control.transient");
    let o = diagnose("9.0", &dir, &["--preset", "nope"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--preset conflicts with --libvirt-version"
    );
    let log = dir.join("libvirtd.log").display().to_string();
    let o = pivotcheck(&["diagnose", &log, "--libvirt-version", "8.0"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected 9.0 or 11.3"));
    let o = pivotcheck(&["diagnose", &log, "--preset", "nope"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown preset \"nope\""));
}

#[test]
fn the_report_draws_the_behaviour_beside_the_log_lines() {
    let dir = entry("9.0", "job-complete.reply.persistent");
    let out = temp_dir("diag-report");
    let o = diagnose("9.0", &dir, &["--report", &out.display().to_string()]);
    assert_eq!(o.status.code(), Some(0));
    let page = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("<svg"), "the sequence diagram");
    // The job-complete the crashed libvirtd wrote is beside the step that sent it.
    let log = fs::read_to_string(dir.join("libvirtd.log")).unwrap();
    let at = line_of(&log, 1, &["IO_WRITE", "\"execute\":\"job-complete\""]);
    assert!(
        page.contains(&format!("<td class='log'>{at}: ")),
        "log line {at} shown"
    );
    assert!(page.contains("(hidden: not in the log)"));
    assert!(page.contains("windows:      W1"));
}

/// Fresh recordings, not only the checked-in corpus: `pivotcheck live --record` on a W1
/// and a W2 crash point, then `diagnose` on what it recorded, for each libvirt version
/// (skipped only when `CI` is unset and the live prerequisites are missing).
#[test]
fn freshly_recorded_live_logs_are_diagnosed_as_measured() {
    for v in ["9.0", "11.3"] {
        if crate::live::skip(v) {
            continue;
        }
        let root = temp_dir(&format!("diag-fresh-{v}"));
        let o = pivotcheck(
            &[
                "live",
                "--libvirt",
                v,
                "--only",
                "job-complete.reply.persistent",
                "--only",
                "job-dismiss.reply.transient",
                "--record",
                &root.display().to_string(),
            ],
            &root,
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{v}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            crate::stderr_of(&o)
        );
        let mut seen = 0;
        for name in [
            "job-complete.reply.persistent",
            "job-complete.reply.persistent.poweroff",
            "job-dismiss.reply.transient",
            "job-dismiss.reply.transient.poweroff",
        ] {
            let dir = root.join(v).join(name);
            if !dir.join("truth.json").is_file() {
                continue;
            }
            seen += 1;
            let truth: Value =
                serde_json::from_str(&fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
            let d = json(&diagnose(v, &dir, &["--json"]));
            assert_eq!(
                d["windows"],
                serde_json::json!([truth["window"]]),
                "{v} {name}"
            );
            assert_eq!(d["data_on"], truth["data_on"], "{v} {name}");
            assert_eq!(d["qemu"], truth["qemu"], "{v} {name}");
        }
        assert_eq!(
            seen, 4,
            "{v}: --only selects both points, with and without power-off"
        );
    }
}

/// The README's "After an incident" example: the answer is what the command prints today,
/// and each excerpt line (date, thread and function columns dropped, `...` where cut) is
/// a line of the corpus log, in order.
#[test]
fn the_readme_example_is_what_diagnose_prints() {
    let root = corpus().join("..").join("..");
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme.find("## After an incident").expect("the section")..];
    let blocks: Vec<&str> = section.split("```").collect();
    // blocks[1]: settings, [3]: excerpt, [5]: command, [7]: answer.
    let excerpt = blocks[3].trim_start_matches('\n');
    let answer = blocks[7].trim_start_matches('\n');
    let dir = entry("9.0", "job-complete.reply.persistent");
    let o = diagnose("9.0", &dir, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        answer,
        String::from_utf8_lossy(&o.stdout),
        "README answer block"
    );
    assert!(blocks[5].contains("diagnose/corpus/9.0/job-complete.reply.persistent/libvirtd.log"));
    let log = fs::read_to_string(dir.join("libvirtd.log")).unwrap();
    let mut from = 0;
    for l in excerpt.lines() {
        let (time, rest) = l.split_once(": ").unwrap();
        let rest = rest.trim_end_matches("...");
        let at = log
            .lines()
            .skip(from)
            .position(|x| x.contains(time) && x.contains(rest));
        let at = at
            .unwrap_or_else(|| panic!("README excerpt line not in the log after line {from}: {l}"));
        from += at + 1;
    }
}

/// The JSON contract of `reports/README.md`: each field, its type, its words.
#[test]
fn the_json_answer_keeps_its_contract() {
    let d = json(&diagnose(
        "9.0",
        &entry("9.0", "job-dismiss.reply.persistent"),
        &["--json"],
    ));
    assert_eq!(d["consistent"], true);
    assert_eq!(d["windows"], serde_json::json!(["W2"]));
    assert_eq!(d["qemu"], "target");
    assert_eq!(d["data_on"], "target");
    assert_eq!(d["libvirt_says"], "source");
    assert_eq!(d["first_unexplained_line"], Value::Null);
    assert!(d["states"].as_u64().unwrap() >= 1);
    assert_eq!(d["complete"], true);
    let words = |k: &str, allowed: &[&str]| {
        let v = d[k].as_str().unwrap();
        assert!(allowed.contains(&v), "{k}: {v}");
    };
    words("qemu", &["source", "target", "gone", "unknown"]);
    words("data_on", &["source", "target", "both", "unknown"]);
    words(
        "libvirt_says",
        &["source", "target", "no domain", "shut off", "unknown"],
    );
    // Not consistent: no windows, a line number.
    let dir = edited("9.0", "control.transient", "diag-contract", |log| {
        log.replacen(
            "\"execute\":\"job-complete\"",
            "\"execute\":\"job-dismiss\"",
            1,
        )
    });
    let d = json(&diagnose("9.0", &dir, &["--json"]));
    assert_eq!(d["consistent"], false);
    assert_eq!(d["windows"], serde_json::json!([]));
    assert!(d["first_unexplained_line"].as_u64().is_some());
}
