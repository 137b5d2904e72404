//! Several disks (issue 16) through the command line: the window one disk does not have
//! (a worker settled on its own disk resumes a guest another disk's pivot paused), shown
//! with the concurrent app and absent with the sequential one; the disk scenarios'
//! expectations are well-formed; symmetry over each disk's blocks; the three-disk
//! configuration's figures.

use crate::{pivotcheck, scenarios_dir, temp_dir};

/// The seed patch with two disks and two libvirtd crashes: `check --brief` lines.
fn seed_two_disks(order: &str) -> String {
    let dir = temp_dir(&format!("disks-{order}"));
    let file = dir.join(format!("seed-{order}.toml"));
    std::fs::write(
        &file,
        format!(
            "variant = \"reopen-paused\"\ndisks = 2\n\n[faults]\nlibvirtd_crash = 2\n\n\
             [app]\norder = \"{order}\"\n\n[expect]\nviolated = [\"no-lost-writes\", \"libvirt-state-matches\", \
             \"uncertainty-is-frozen\"]\n"
        ),
    )
    .unwrap();
    let o = pivotcheck(
        &["check", "--brief", "--no-liveness", file.to_str().unwrap()],
        &dir,
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let code = o.status.code();
    format!("exit {code:?}\n{out}")
}

#[test]
fn a_worker_per_disk_resumes_a_guest_another_disks_pivot_paused() {
    let concurrent = seed_two_disks("concurrent");
    assert!(concurrent.starts_with("exit Some(0)"), "{concurrent}");
    assert!(concurrent.contains("108570 unique states"), "{concurrent}");
    assert!(
        concurrent.contains("no-lost-writes                 violated in 32 steps"),
        "{concurrent}"
    );
    // The sequential app resumes before it moves on: no such window.
    let sequential = seed_two_disks("sequential");
    assert!(sequential.starts_with("exit Some(1)"), "{sequential}");
    assert!(sequential.contains("42523 unique states"), "{sequential}");
    assert!(
        sequential.contains("no-lost-writes                 holds (expected violated)"),
        "{sequential}"
    );
}

/// Every disk scenario loads and says how many disks it has; their headers carry a
/// verdict line (`Checker verdict:`), as every scenario's does.
#[test]
fn the_disk_scenarios_load_and_carry_their_verdicts() {
    let dir = scenarios_dir().join("disks");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let s = trace::scenario::load(&path).unwrap();
        assert!(s.config.disks >= 2, "{}", path.display());
        assert!(
            s.source.contains("# Checker verdict:"),
            "{}",
            path.display()
        );
        names.push(s.name);
    }
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
}

/// Symmetry over each disk's blocks with two disks of two blocks: the same verdicts and
/// shortest lengths (liveness lassos included, lifted through the renaming) with and
/// without it, over fewer states (64,869 when only disk 0's blocks were renamed), and with
/// the partial-order reduction too; every counterexample found on representatives replays
/// on concrete states.
#[test]
fn block_symmetry_with_two_disks_keeps_verdicts_and_lengths() {
    let dir = temp_dir("disks-symmetry");
    let file = dir.join("two-disks-two-blocks.toml");
    std::fs::write(
        &file,
        "variant = \"reopen-paused\"\ndisks = 2\nblocks = 2\n\n[faults]\nlibvirtd_crash = 1\n\n\
         [expect]\nviolated = [\"libvirt-state-matches\", \"uncertainty-is-frozen\", \
         \"libvirt-eventually-agrees\"]\n",
    )
    .unwrap();
    let run = |extra: &[&str]| -> (String, Vec<String>) {
        let mut args = vec!["check", "--brief"];
        args.extend(extra);
        args.push(file.to_str().unwrap());
        let o = pivotcheck(&args, &dir);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(0), "{out}");
        let mut lines = out.lines();
        let head = lines.next().unwrap().to_string();
        let verdicts = lines
            .take_while(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        (head, verdicts)
    };
    let traces = dir.join("traces");
    let (with_head, with) = run(&["--out", traces.to_str().unwrap()]);
    let (without_head, without) = run(&["--no-symmetry"]);
    assert_eq!(with, without);
    assert!(with_head.contains("39147 unique states"), "{with_head}");
    // The sleep sets name the steps to skip as in the successor's representative, a disk's
    // blocks renamed on that disk: the same states and verdicts, fewer transitions.
    let (por_head, por) = run(&["--por", "on"]);
    assert_eq!(por, with);
    assert!(
        por_head.contains("39147 unique states, 144116 states"),
        "{por_head}"
    );
    assert!(with_head.contains("187183 states"), "{with_head}");
    assert!(
        without_head.contains("102706 unique states"),
        "{without_head}"
    );
    assert!(
        with.iter()
            .any(|l| l.contains("uncertainty-is-frozen          violated in 16 steps")),
        "{with:?}"
    );
    let mut replayed = Vec::new();
    for entry in std::fs::read_dir(&traces).unwrap() {
        let path = entry.unwrap().path();
        let o = pivotcheck(&["replay", path.to_str().unwrap()], &dir);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&o.stdout)
        );
        replayed.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    replayed.sort();
    assert_eq!(
        replayed,
        [
            "two-disks-two-blocks.libvirt-eventually-agrees.trace.json",
            "two-disks-two-blocks.libvirt-state-matches.trace.json",
            "two-disks-two-blocks.uncertainty-is-frozen.trace.json"
        ]
    );
}

/// Issue 16's three-disk configuration (`scenarios/large/disks/`), as its header and the
/// README's performance section describe it, in the mode they were measured in (liveness
/// and `--por on`): its counts, the transitions the reduction skipped, each verdict with
/// its shortest length, and its expectations met. The same counts and lengths as without
/// the reduction are shown on the smaller disk scenarios (`suite::reduction_threads_...`);
/// this run alone takes about half a minute.
#[test]
fn the_three_disk_configuration_is_as_its_header_says() {
    let root = scenarios_dir().join("..");
    let o = pivotcheck(
        &[
            "check",
            "--brief",
            "--stats",
            "--por",
            "on",
            "scenarios/large/disks/write-ahead-three-disks.toml",
        ],
        &root,
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    for want in [
        "ok         write-ahead-three-disks [write-ahead]: 19006993 unique states, 57988168 states",
        "no-lost-writes                 violated in 18 steps",
        "uncertainty-is-frozen          violated in 13 steps",
        "uncertainty-keeps-qemu         violated in 12 steps",
        "config-holds-data              violated in 18 steps",
        "libvirt-eventually-agrees      violated in 20 steps",
        "partial-order reduction on (1066263 transitions skipped)",
        "30397389 owed edges",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    let violated = out.lines().filter(|l| l.contains(" violated in ")).count();
    assert_eq!(violated, 5, "{out}");
}
