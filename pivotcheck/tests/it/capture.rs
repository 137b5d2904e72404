//! `pivotcheck capture`: libvirtd's procedures from the checked-in corpus of recorded live
//! runs, and from a fresh run of real libvirt 9.0 and 11.3, compared with their presets.

use std::path::{Path, PathBuf};
use std::process::Command;

use model::config::{Procedures, Step};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pivotcheck"))
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../diagnose/corpus")
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capture-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The preset's procedures as libvirt can show them: 11.3's save after job-dismiss writes
/// the record already on disk (`ready='pivot'` before and after it in every snapshot of
/// the corpus), so no recording can contain it; the preset has it from libvirt's source.
fn observable(preset: &str) -> Procedures {
    let mut p = model::presets::preset(preset).unwrap();
    if preset == "libvirt-11.3" {
        for list in [&mut p.pivot, &mut p.concluded] {
            let k = list
                .iter()
                .position(|s| *s == Step::SaveStatusIfQueried)
                .unwrap();
            assert_eq!(list[k - 1], Step::JobDismiss);
            list.remove(k);
        }
    }
    p
}

/// Runs capture with `args`, loads the scenario it wrote and compares its procedures with
/// the preset's, printing the difference.
fn capture_matches(version: &str, args: &[&str], out: &Path) -> String {
    let file = out.join(format!("captured-{version}.toml"));
    let o = bin()
        .arg("capture")
        .args(args)
        .args(["--libvirt", version, "-o"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{version}: {err}");
    let s = trace::scenario::load(&file).unwrap_or_else(|e| panic!("{e:?}"));
    let preset = format!("libvirt-{version}");
    let want = observable(&preset);
    let d = diagnose::capture::diff(&s.config.procedures, &want);
    assert!(d.is_empty(), "{version}: captured vs {preset}:\n{d}");
    assert_eq!(s.config.procedures, want);
    if version == "9.0" {
        assert!(
            err.contains("the procedures are the preset `libvirt-9.0`'s"),
            "{err}"
        );
    } else {
        assert!(
            err.contains("differ from the preset `libvirt-11.3`")
                && err.contains("job-dismiss, save-status-if-queried, blockdev-del"),
            "{err}"
        );
    }
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn corpus_capture_reproduces_the_presets() {
    let out = tmp("corpus");
    for v in ["9.0", "11.3"] {
        capture_matches(v, &["--from-recording", corpus().to_str().unwrap()], &out);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_command_no_step_expresses_is_bad_input_naming_it() {
    let rec = tmp("unknown").join("9.0");
    copy_dir(&corpus().join("9.0"), &rec);
    let log = rec.join("job-complete.reply.persistent/libvirtd.log");
    let text = std::fs::read_to_string(&log).unwrap();
    // The reconnect's concluded path deletes a node with a command libvirt never sent.
    let text = text.replacen(
        "\"execute\":\"blockdev-del\"",
        "\"execute\":\"blockdev-reopen\"",
        1,
    );
    std::fs::write(&log, text).unwrap();
    let o = bin()
        .args(["capture", "--from-recording"])
        .arg(&rec)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("QMP command `blockdev-reopen` has no step")
            && err.contains("job-complete.reply.persistent/libvirtd.log:"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn a_folder_that_is_no_recording_is_bad_input() {
    let o = bin()
        .args(["capture", "--from-recording", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not a recording of `pivotcheck live --record`"),
        "{err}"
    );
}

/// A real re-capture: only the crash points the capture reads (12 on 9.0, 10 on 11.3).
#[test]
fn real_capture_reproduces_the_presets() {
    let out = tmp("real");
    for v in ["9.0", "11.3"] {
        if crate::live::skip(v) {
            continue;
        }
        let live = capture_matches(v, &[], &out);
        let runs = if v == "9.0" { 12 } else { 10 };
        assert!(
            live.contains(&format!("{runs} scenario(s) against libvirt {v}")),
            "{live}"
        );
    }
}
