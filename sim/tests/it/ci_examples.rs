//! The CI examples in `examples/ci/` run as written: the script steps of the GitHub
//! Actions workflow and of the GitLab job are executed here, in a folder laid out like a
//! user's checkout, with the binary under test as `PIVOTCHECK_BIN` (the examples build it
//! themselves with cargo when that is unset).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{scenarios_dir, temp_dir};

fn examples() -> PathBuf {
    scenarios_dir().join("..").join("examples").join("ci")
}

/// A folder with `examples/` and `scenarios/` of this repository, as a job's checkout has.
fn checkout(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let root = scenarios_dir().join("..").canonicalize().unwrap();
    std::os::unix::fs::symlink(root.join("examples"), dir.join("examples")).unwrap();
    std::os::unix::fs::symlink(root.join("scenarios"), dir.join("scenarios")).unwrap();
    dir
}

/// Runs one script line of a job the way the CI system would: `bash -c`, in the checkout.
fn run_step(dir: &Path, line: &str, env: &[(&str, String)]) -> std::process::Output {
    let mut c = Command::new("bash");
    c.arg("-c").arg(line).current_dir(dir);
    c.env("PIVOTCHECK_BIN", env!("CARGO_BIN_EXE_pivotcheck"));
    c.env_remove("GITHUB_STEP_SUMMARY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The values of `key:` entries (single-line, as in our examples) and the items of a
/// `script:` list.
fn steps(yaml: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_list = false;
    for line in yaml.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix(&format!("{key}:")) {
            let v = v.trim();
            if v.is_empty() {
                in_list = true;
            } else {
                out.push(v.to_string());
            }
            continue;
        }
        if in_list {
            match t.strip_prefix("- ") {
                Some(item) => out.push(item.to_string()),
                None => in_list = false,
            }
        }
    }
    out
}

fn env_value(yaml: &str, key: &str) -> String {
    yaml.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("{key} is set in the example"))
}

fn assert_report(dir: &Path, out: &str) {
    for f in ["summary.md", "junit.xml", "index.html"] {
        assert!(dir.join(out).join(f).is_file(), "{out}/{f} missing");
    }
}

#[test]
fn the_github_actions_job_runs_and_publishes_its_summary() {
    let yaml = std::fs::read_to_string(examples().join("github-actions.yml")).unwrap();
    let runs = steps(&yaml, "run");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let out = env_value(&yaml, "PIVOTCHECK_OUT");
    let report_paths = env_value(&yaml, "report_paths");
    assert_eq!(report_paths, format!("{out}/junit.xml"));
    let dir = checkout("ci-github");
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "").unwrap();
    let o = run_step(
        &dir,
        &runs[0],
        &[
            ("PIVOTCHECK_OUT", out.clone()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_report(&dir, &out);
    let published = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        published,
        std::fs::read_to_string(dir.join(&out).join("summary.md")).unwrap()
    );
    assert!(published.contains("write-ahead"), "{published}");
}

#[test]
fn the_gitlab_job_runs_and_leaves_its_junit_report() {
    let yaml = std::fs::read_to_string(examples().join("gitlab-ci.yml")).unwrap();
    let script = steps(&yaml, "script");
    assert_eq!(script.len(), 1, "{script:?}");
    let out = env_value(&yaml, "PIVOTCHECK_OUT");
    assert_eq!(env_value(&yaml, "junit"), format!("{out}/junit.xml"));
    let dir = checkout("ci-gitlab");
    let o = run_step(&dir, &script[0], &[("PIVOTCHECK_OUT", out.clone())]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_report(&dir, &out);
}

/// The job fails on a mismatch (1) and on an incomplete search (3), and says which.
#[test]
fn the_gate_fails_the_job_on_a_mismatch_or_an_incomplete_search() {
    let dir = checkout("ci-failures");
    std::fs::write(
        dir.join("claims-too-much.toml"),
        "variant = \"reopen-unpaused\"\n[faults]\nlibvirtd_crash = true\nguest_poweroff = true\n",
    )
    .unwrap();
    let gate = "examples/ci/pivotcheck-gate.sh";
    let out = [("PIVOTCHECK_OUT", "report".to_string())];
    let o = run_step(&dir, &format!("{gate} claims-too-much.toml"), &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a verdict differs"));
    assert_report(&dir, "report");
    let junit = std::fs::read_to_string(dir.join("report").join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    let o = run_step(
        &dir,
        &format!("{gate} --max-states 100 scenarios/write-ahead.toml"),
        &out,
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("stopped early"));
}
