//! Tests of several disks (issue 16): each disk's own parts, the one status XML that a
//! save for any disk writes whole, the reconnect disk by disk, packing, and that a
//! one-disk world is what it was.

use std::collections::BTreeSet;

use crate::action::*;
use crate::config::*;
use crate::packed::{pack, unpack, WORDS};
use crate::state::*;
use crate::tests::{enabled, reachable};
use crate::world;

/// The one-disk tests' configuration with `disks` disks, the app's `order`, and one
/// libvirtd crash and one power-off (bounded, so that the walks below stay small).
fn config(variant: &str, disks: u8, order: AppOrder) -> Config {
    let mut cfg = crate::tests::config(variant);
    cfg.disks = disks;
    cfg.app_order = order;
    cfg.faults = Faults::OFF
        .with(FaultKind::LibvirtdCrash, Fault::AtMost(1))
        .with(FaultKind::GuestPowerOff, Fault::AtMost(1));
    cfg
}

fn run(cfg: &Config, actions: &[Action]) -> World {
    actions.iter().fold(world::init(cfg), |w, &a| {
        assert!(
            enabled(cfg, &w).contains(&a),
            "{} is not enabled in {w:#?}",
            a.name()
        );
        world::next_state(cfg, &w, a).expect("successor")
    })
}

/// Disk `d`'s copy converges and its job becomes ready (its READY event unread).
fn converge(d: u8) -> [Action; 3] {
    [
        Action::Qemu(QemuAction::CopyRead(0)).on_disk(d),
        Action::Qemu(QemuAction::CopyWrite).on_disk(d),
        Action::Qemu(QemuAction::JobReady).on_disk(d),
    ]
}

const READ: Action = Action::Libvirtd(LibvirtdAction::Read);
const STEP: Action = Action::Libvirtd(LibvirtdAction::Step);

#[test]
fn every_disk_starts_as_disk_zero_and_one_disk_has_no_others() {
    let w = world::init(&config("write-ahead", 1, AppOrder::Sequential));
    assert!(w.others.is_empty());
    let w = world::init(&config("write-ahead", 3, AppOrder::Sequential));
    assert_eq!(w.disks(), 3);
    for d in 1..3 {
        let v = w.focused(d);
        assert_eq!(v.storage, w.storage);
        assert_eq!(v.qemu, w.qemu);
        assert_eq!(v.libvirtd.status, w.libvirtd.status);
    }
    // Each disk's own steps (disk 0's as plain actions) within each actor, the shared
    // ones once.
    let cfg = config("write-ahead", 2, AppOrder::Sequential);
    let names: Vec<String> = enabled(&cfg, &world::init(&cfg))
        .into_iter()
        .map(Action::name)
        .collect();
    assert_eq!(
        names,
        [
            "GuestWrite(0)",
            "Disk1.GuestWrite(0)",
            "GuestPowerOff",
            "QemuCopyRead(0)",
            "Disk1.QemuCopyRead(0)",
            "LibvirtdCrash"
        ]
    );
}

#[test]
fn a_disk_step_changes_only_its_disk() {
    let cfg = config("write-ahead", 2, AppOrder::Sequential);
    let w = run(&cfg, &converge(1));
    assert_eq!(
        w.qemu.job.as_ref().map(|j| j.status),
        Some(JobStatus::Running),
        "disk 0 untouched"
    );
    let d1 = w.focused(1);
    assert_eq!(
        d1.qemu.job.as_ref().map(|j| j.status),
        Some(JobStatus::Ready)
    );
    assert_eq!(d1.storage.target, 1);
    assert_eq!(w.storage.target, 0);
    // Disk 1's READY waits on the one monitor, tagged with its disk.
    assert_eq!(
        w.qemu.outbox.to_vec(),
        vec![QmpMessage::Event(Event::Ready)]
    );
    assert_eq!(w.qemu.outbox_disks, 1);
    let w = run(&cfg, &[converge(1).as_slice(), &[READ]].concat());
    assert_eq!(w.focused(1).libvirtd.live.mirror, Some(MirrorState::Ready));
    assert_eq!(w.libvirtd.live.mirror, Some(MirrorState::Copying));
}

/// The status XML is one file: a save for one disk writes the other disk's in-memory
/// record too. Here disk 0's READY handler saves while disk 1's pivot has marked
/// `pivoting` in memory and not saved it yet: disk 1's half-done pivot becomes durable
/// through disk 0's save.
#[test]
fn a_save_for_one_disk_writes_every_disks_record() {
    let mut cfg = config("blockdev-modern", 2, AppOrder::Concurrent);
    // Only the step under test: mark-pivoting with no save of its own.
    cfg.procedures.pivot = vec![Step::MarkPivoting, Step::ReplyApp];
    let mut path = converge(1).to_vec();
    path.push(READ); // disk 1 ready in libvirt
    path.extend(converge(0)); // disk 0's READY now waits on the monitor
    path.push(Action::App(AppAction::RequestPivot).on_disk(1));
    path.push(STEP); // disk 1: mark-pivoting, in memory only
    let before = run(&cfg, &path);
    assert_eq!(before.program_disk(), 1);
    assert_eq!(
        before.focused(1).libvirtd.status.and_then(|s| s.mirror),
        Some(MirrorState::Ready),
        "not saved yet"
    );
    path.push(READ); // disk 0's READY: its handler saves the status XML
    let after = run(&cfg, &path);
    assert_eq!(
        after.libvirtd.status.and_then(|s| s.mirror),
        Some(MirrorState::Ready)
    );
    assert_eq!(
        after.focused(1).libvirtd.status.and_then(|s| s.mirror),
        Some(MirrorState::Pivoting),
        "disk 0's save wrote disk 1's pivoting record"
    );
}

/// libvirt's job lock: one procedure at a time. While disk 0's pivot runs the app cannot
/// start disk 1's, even concurrently; sequentially it waits until disk 0 is settled.
#[test]
fn one_procedure_at_a_time_and_the_app_order() {
    let both_ready = [converge(0).as_slice(), &[READ], &converge(1), &[READ]].concat();
    let request1 = Action::App(AppAction::RequestPivot).on_disk(1);
    let request0 = Action::App(AppAction::RequestPivot);
    let cfg = config("write-ahead", 2, AppOrder::Concurrent);
    let w = run(&cfg, &both_ready);
    assert!(enabled(&cfg, &w).contains(&request0));
    assert!(enabled(&cfg, &w).contains(&request1));
    let w = run(&cfg, &[both_ready.as_slice(), &[request0]].concat());
    assert!(
        !enabled(&cfg, &w).contains(&request1),
        "disk 0's pivot holds the lock"
    );
    let cfg = config("write-ahead", 2, AppOrder::Sequential);
    let w = run(&cfg, &both_ready);
    assert!(enabled(&cfg, &w).contains(&request0));
    assert!(
        !enabled(&cfg, &w).contains(&request1),
        "disk 1 waits for disk 0 to settle"
    );
}

/// A libvirtd crash loses every disk's memory; the restart reads every disk's record from
/// the one status XML and reconnects disk by disk.
#[test]
fn the_restart_reads_every_disk_and_reconnects_disk_by_disk() {
    let cfg = config("write-ahead", 2, AppOrder::Sequential);
    let both_ready = [converge(0).as_slice(), &[READ], &converge(1), &[READ]].concat();
    let crashed = run(
        &cfg,
        &[
            both_ready.as_slice(),
            &[Action::Fault(FaultKind::LibvirtdCrash)],
        ]
        .concat(),
    );
    assert_eq!(crashed.focused(1).libvirtd.live.mirror, None, "forgotten");
    let w = run(
        &cfg,
        &[
            both_ready.as_slice(),
            &[
                Action::Fault(FaultKind::LibvirtdCrash),
                Action::Libvirtd(LibvirtdAction::Restart),
            ],
        ]
        .concat(),
    );
    assert_eq!(w.focused(1).libvirtd.live.mirror, Some(MirrorState::Ready));
    let p = w.libvirtd.program.expect("reconnect");
    assert_eq!((p.kind, p.disk), (ProgramKind::Reconnect, 0));
    // Run the reconnect to its end: disk 1's follows disk 0's.
    let mut w = w;
    let mut disks_seen = BTreeSet::new();
    for _ in 0..200 {
        if let Some(p) = w.libvirtd.program {
            disks_seen.insert(p.disk);
        } else {
            break;
        }
        let a = enabled(&cfg, &w)
            .into_iter()
            .find(|a| matches!(a, Action::Libvirtd(_) | Action::Qemu(QemuAction::Execute)))
            .expect("the reconnect moves");
        w = world::next_state(&cfg, &w, a).unwrap();
    }
    assert_eq!(disks_seen.into_iter().collect::<Vec<_>>(), vec![0, 1]);
}

#[test]
fn disk_action_names_parse_back_and_bad_ones_are_refused() {
    for a in Action::all_disks(2, 3) {
        assert!(a.name().starts_with("Disk"), "{}", a.name());
        assert_eq!(Action::from_name(&a.name()), Some(a), "{}", a.name());
        assert_eq!(a.base().kind(), a.kind());
    }
    assert_eq!(Action::all_disks(2, 1), vec![]);
    for bad in [
        "Disk0.QemuJobReady",
        "Disk3.QemuJobReady",
        "Disk1.LibvirtdStep",
        "Disk1.QemuExecute",
        "Disk1.LibvirtdCrash",
        "Disk1QemuJobReady",
        "Disk.QemuJobReady",
        "Disk12.QemuJobReady",
    ] {
        assert_eq!(Action::from_name(bad), None, "{bad}");
    }
}

/// Packing is exact for several disks too: every reachable state of two disks (two
/// presets, bounded faults) and states along long walks of three disks come back
/// unchanged. The two-disk counts are pinned.
#[test]
fn packing_round_trips_states_of_several_disks() {
    let mut counts = Vec::new();
    for name in ["write-ahead", "blockdev-modern"] {
        let cfg = config(name, 2, AppOrder::Concurrent);
        let mut seen: BTreeSet<[u64; WORDS]> = BTreeSet::new();
        let mut queue = vec![world::init(&cfg)];
        while let Some(s) = queue.pop() {
            let p = pack(&s);
            assert_eq!(unpack(&p), s, "{name}: {s:#?}");
            if !seen.insert(p.0) {
                continue;
            }
            for a in enabled(&cfg, &s) {
                queue.push(world::next_state(&cfg, &s, a).expect("successor"));
            }
        }
        // No two of these states share a fingerprint.
        let fingerprints: BTreeSet<u64> = seen
            .iter()
            .map(|&w| crate::packed::Packed(w).fingerprint())
            .collect();
        assert_eq!(fingerprints.len(), seen.len(), "{name}");
        counts.push((name, seen.len()));
    }
    // 240312 and 608305 before the merge of issue 13's refused job-complete (the pivot
    // ends at once) and issue 15's app model.
    assert_eq!(
        counts,
        vec![("write-ahead", 238959), ("blockdev-modern", 552388)]
    );
    // Three disks, every fault: deterministic walks (a fixed linear congruential choice).
    let mut cfg = config("blockdev-modern", 3, AppOrder::Concurrent);
    cfg.faults = Faults::OFF
        .with(FaultKind::LibvirtdCrash, Fault::AtMost(2))
        .with(FaultKind::GuestPowerOff, Fault::AtMost(1))
        .with(FaultKind::QemuCrash, Fault::AtMost(1))
        .with(FaultKind::HostCrash, Fault::AtMost(1))
        .with(FaultKind::AppCrash, Fault::AtMost(1));
    let mut seed: u64 = 1;
    let mut longest_outbox = 0;
    for _ in 0..300 {
        let mut w = world::init(&cfg);
        for _ in 0..150 {
            let p = pack(&w);
            assert_eq!(unpack(&p), w);
            longest_outbox = longest_outbox.max(w.qemu.outbox.len());
            let next = enabled(&cfg, &w);
            if next.is_empty() {
                break;
            }
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = next[(seed >> 33) as usize % next.len()];
            w = world::next_state(&cfg, &w, a).unwrap();
        }
    }
    assert!(
        longest_outbox >= 4,
        "the walks fill the monitor: {longest_outbox}"
    );
}

/// Two reachable two-disk states (write-ahead, concurrent app) whose packed forms differ
/// only in the top bits of word 0 and two bits of word 1: the fingerprint before issue 16
/// (one multiply and a shift by 32 per word) gave them the same value, and the liveness
/// search's cross-check of its exact graph against the breadth-first count failed on it.
#[test]
fn a_difference_in_a_words_top_bits_is_not_cancelled_by_the_next_word() {
    let a = crate::packed::Packed([
        0x7011_ef02_1801_9d11,
        0x4100_0004_8d0d_1812,
        0x00d1_f8c4_0040_0044,
        0,
        0,
        0,
    ]);
    let b = crate::packed::Packed([
        0xb011_ef02_1801_9d11,
        0x0100_0004_cd0d_1812,
        0x00d1_f8c4_0040_0044,
        0,
        0,
        0,
    ]);
    assert_eq!(unpack(&a).disks(), 2);
    assert_ne!(unpack(&a), unpack(&b));
    assert_ne!(a.fingerprint(), b.fingerprint());
}

/// The search's per-state views agree with what they stand for, over every reachable
/// two-disk state (write-ahead, concurrent app): each view is the focused copy, each
/// property read on the views (`holds_given`, through `PropertyDef::disk`) is its
/// condition, and each liveness goal read on them (`LivenessDef::disk`) is its goal.
#[test]
fn the_views_agree_with_the_focused_copies_and_the_conditions() {
    let cfg = config("write-ahead", 2, AppOrder::Concurrent);
    let mut seen: BTreeSet<[u64; WORDS]> = BTreeSet::new();
    let mut queue = vec![world::init(&cfg)];
    let mut violated = 0;
    while let Some(s) = queue.pop() {
        if !seen.insert(pack(&s).0) {
            continue;
        }
        let views = s.views();
        assert_eq!(views.len(), 2);
        for (d, v) in (0..).zip(&views) {
            assert_eq!(*v, s.focused(d));
        }
        let actions = enabled(&cfg, &s);
        for def in crate::properties::PROPERTIES.iter() {
            let given = crate::properties::holds_given(def, &cfg, &s, &views, &actions);
            assert_eq!(given, (def.condition)(&cfg, &s), "{} in {s:#?}", def.name);
            violated += usize::from(!given);
        }
        for l in crate::liveness::LIVENESS.iter() {
            let given = views.iter().all(|v| (l.disk)(&cfg, v));
            assert_eq!(given, (l.goal)(&cfg, &s), "{} in {s:#?}", l.name);
        }
        for a in actions {
            queue.push(world::next_state(&cfg, &s, a).expect("successor"));
        }
    }
    assert_eq!(seen.len(), 238959);
    assert!(
        violated > 1000,
        "the conditions are false somewhere: {violated}"
    );
}

/// Where a map of states and actions fails to commute with the model's steps: for each
/// reachable `s`, the steps enabled in `map(s)` must be the mapped steps of `s`, and each
/// step's successor from `map(s)` the mapped successor from `s`. Returns, per failing step
/// (named as disk 0 would take it), how many states it failed in.
fn where_it_does_not_commute(
    cfg: &Config,
    states: &[World],
    map: impl Fn(&World) -> World,
    map_action: impl Fn(Action) -> Action,
) -> std::collections::BTreeMap<String, usize> {
    let mut failures = std::collections::BTreeMap::new();
    for s in states {
        let image = map(s);
        let mapped: BTreeSet<Action> = enabled(cfg, s).into_iter().map(&map_action).collect();
        let there: BTreeSet<Action> = enabled(cfg, &image).into_iter().collect();
        for a in mapped.symmetric_difference(&there) {
            *failures
                .entry(format!("enabled {}", a.base().name()))
                .or_insert(0) += 1;
        }
        for a in enabled(cfg, s) {
            let b = map_action(a);
            if !there.contains(&b) {
                continue;
            }
            let from_image = world::next_state(cfg, &image, b).expect("successor");
            let imaged = map(&world::next_state(cfg, s, a).expect("successor"));
            if from_image != imaged {
                *failures.entry(a.base().name()).or_insert(0) += 1;
            }
        }
    }
    failures
}

/// The disk that swapping disks 0 and `d` makes of disk `x`.
fn swapped(x: u8, d: u8) -> u8 {
    match x {
        0 => d,
        x if x == d => 0,
        x => x,
    }
}

/// `w` with disks 0 and `d` swapped: their own parts, and the shared fields that name a
/// disk (the outbox's tags, the disk of libvirtd's procedure).
fn swap_disks(w: &World, d: u8) -> World {
    let mut r = w.clone();
    r.swap_focus(d);
    r.focus = 0;
    // QEMU tags a message with the disk in focus when it is written: SHUTDOWN, written by
    // the power-off (a step of the domain, disk 0 in the fields), keeps its 0.
    let tags = r.qemu.outbox.iter().enumerate().fold(0u32, |t, (i, m)| {
        let tag = ((w.qemu.outbox_disks >> (2 * i)) & 3) as u8;
        let tag = match m {
            QmpMessage::Event(Event::Shutdown) => tag,
            _ => swapped(tag, d),
        };
        t | u32::from(tag) << (2 * i)
    });
    r.qemu.outbox_disks = tags;
    if let Some(p) = r.libvirtd.program.as_mut() {
        p.disk = swapped(p.disk, d);
    }
    r
}

/// Why the search renames each disk's blocks and never the disks (`symmetry.rs`): over
/// every reachable state of two disks of two blocks, with a libvirtd crash, a power-off
/// and a QEMU crash, renaming one disk's blocks commutes with every step, while swapping
/// the two disks does not, at exactly the places where libvirt and the app take disks in
/// order. A renaming that failed to commute would make the search's merging of a class
/// unsound; `swap_disks` is checked to be a faithful swap by the block renaming's
/// agreement and by swapping twice.
#[test]
fn renaming_a_disks_blocks_commutes_with_every_step_swapping_disks_does_not() {
    use crate::symmetry::Renaming;
    let mut cfg = config("write-ahead", 2, AppOrder::Sequential);
    cfg.blocks = 2;
    let states = reachable(&cfg);
    assert_eq!(states.len(), BLOCK_STATES);
    for disk in 0..2 {
        let r = Renaming::of_disk(disk, [1, 0, 2, 3]);
        let failures =
            where_it_does_not_commute(&cfg, &states, |w| r.state(cfg.blocks, w), |a| r.action(a));
        assert!(failures.is_empty(), "disk {disk}'s blocks: {failures:?}");
    }

    let swap_action = |a: Action| match DiskStep::of(a) {
        Some(_) => a.on_disk(swapped(a.disk(), 1)),
        None => a,
    };
    // libvirtd's restart starts the reconnect with disk 0 (`LibvirtdRestart`), the
    // reconnect goes on to the next disk when one disk's is done (`LibvirtdStep`, and
    // `LibvirtdRead` of its last reply), and the SHUTDOWN handler's kill makes QEMU cancel
    // the jobs disk by disk, so their events queue in disk order (`LibvirtdKill`); the
    // sequential app asks for disk 1's pivot only after disk 0's (`AppRequestPivot`).
    let ordered = [
        "LibvirtdKill",
        "LibvirtdRead",
        "LibvirtdRestart",
        "LibvirtdStep",
    ];
    for (order, app) in [
        (AppOrder::Sequential, &["enabled AppRequestPivot"][..]),
        (AppOrder::Concurrent, &[][..]),
    ] {
        let cfg = config("write-ahead", 2, order);
        let states = reachable(&cfg);
        for s in &states {
            assert_eq!(&swap_disks(&swap_disks(s, 1), 1), s);
        }
        let failures = where_it_does_not_commute(&cfg, &states, |w| swap_disks(w, 1), swap_action);
        let names: Vec<&str> = failures.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = ordered.iter().chain(app).copied().collect();
        expected.sort();
        assert_eq!(names, expected, "{order:?}: {failures:?}");
    }
}

/// Reachable states of two disks of two blocks, a libvirtd crash and a power-off.
const BLOCK_STATES: usize = 889_084;

/// The depth at which each always property first fails and each sometimes property is
/// first reached, by a breadth-first search over `cfg`; with `merge_swapped_disks`, one
/// that stores a state and its swap of two disks as one (the smaller packing), as a
/// symmetry reduction over disks would. Also the number of states stored.
fn first_depths(
    cfg: &Config,
    merge_swapped_disks: bool,
) -> (usize, std::collections::BTreeMap<&'static str, usize>) {
    use crate::properties::{Kind, PROPERTIES};
    let key = |s: &World| {
        let p = pack(s).0;
        if merge_swapped_disks {
            p.min(pack(&swap_disks(s, 1)).0)
        } else {
            p
        }
    };
    let init = world::init(cfg);
    let mut seen = BTreeSet::from([key(&init)]);
    let mut level = vec![init];
    let mut first = std::collections::BTreeMap::new();
    let mut depth = 0;
    while !level.is_empty() {
        let mut next = Vec::new();
        for s in &level {
            for def in PROPERTIES.iter() {
                let hit = match def.kind {
                    Kind::Always => !(def.condition)(cfg, s),
                    Kind::Sometimes => (def.condition)(cfg, s),
                    Kind::Eventually => false,
                };
                if hit {
                    first.entry(def.name).or_insert(depth);
                }
            }
            for a in enabled(cfg, s) {
                let t = world::next_state(cfg, s, a).expect("successor");
                if seen.insert(key(&t)) {
                    next.push(t);
                }
            }
        }
        level = next;
        depth += 1;
    }
    (seen.len(), first)
}

/// What a symmetry reduction over disks would do to a verdict: on `reopen-paused` with two
/// disks pivoted concurrently (the most symmetric case: the app treats both alike), merging
/// each state with its swap of disks halves the states and lengthens three shortest
/// counterexamples by two steps, because from a merged state the search follows the
/// representative's disk order, which is not the state's (see the test above).
#[test]
fn merging_swapped_disks_would_lengthen_shortest_counterexamples() {
    let cfg = config("reopen-paused", 2, AppOrder::Concurrent);
    let (states, real) = first_depths(&cfg, false);
    let (merged_states, merged) = first_depths(&cfg, true);
    assert_eq!((states, merged_states), (109_713, 55_125));
    let differ: Vec<(&str, usize, Option<usize>)> = real
        .iter()
        .filter(|(k, v)| merged.get(*k) != Some(*v))
        .map(|(k, v)| (*k, *v, merged.get(k).copied()))
        .collect();
    assert_eq!(
        differ,
        [
            ("config-holds-data", 24, Some(26)),
            ("evidence-outlives-doubt", 23, Some(25)),
            ("libvirt-state-matches", 17, Some(19)),
            ("pivot-completes", 18, Some(20)),
            ("recovery-by-query-block", 14, Some(16)),
        ]
    );
    assert!(merged.keys().all(|k| real.contains_key(k)));
}

/// A step of disk 1 or 2 starts from that disk's view (`world::next_state_given`'s short
/// way); on every reachable state of two disks, sequential and concurrent, with a
/// libvirtd crash and a power-off, it gives the successor the general way gives (the move
/// on the focused disk, the reconnect's chaining, the observer over every disk's view).
/// `blockdev-modern`'s QEMU switches a disk's image in a step of that disk, and
/// `reopen-paused`'s app recovers through `query-block`, so the observer's facts of a
/// disk step are compared too.
#[test]
fn a_disk_steps_short_way_gives_the_general_successor() {
    let mut compared = 0;
    for (variant, order) in [
        ("write-ahead", AppOrder::Sequential),
        ("blockdev-modern", AppOrder::Concurrent),
        ("reopen-paused", AppOrder::Concurrent),
    ] {
        let cfg = config(variant, 2, order);
        for s in reachable(&cfg) {
            let views = s.views();
            for a in enabled(&cfg, &s) {
                if a.disk() == 0 {
                    continue;
                }
                let mut general = s.clone();
                world::apply_multi(&cfg, &mut general, a);
                crate::properties::observe_multi(&cfg, &views, a, &mut general);
                assert_eq!(
                    world::next_state_given(&cfg, &s, &views, a),
                    general,
                    "{}",
                    a.name()
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 100_000, "{compared}");
}
