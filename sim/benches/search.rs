//! Benchmarks of the model's hot paths and of whole searches.
//!
//! `cargo bench -p sim` runs them; the README's "Performance" section shows how and the
//! figures measured on the project's 2-core machine.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use model::{symmetry, PivotModel, World};
use sim::bfs::{self, Limits, Options};
use trace::scenario;

fn load(name: &str) -> scenario::Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios");
    scenario::load(&root.join(name)).expect("bench scenario loads")
}

/// A few hundred states from the middle of a search, to time the per-state operations on
/// realistic states rather than on the initial one.
fn sample_states(model: &PivotModel) -> Vec<World> {
    let mut states = vec![model.init_state()];
    let mut i = 0;
    while states.len() < 400 && i < states.len() {
        let s = states[i].clone();
        for a in model.enabled(&s) {
            states.push(model.step(&s, a));
        }
        i += 1;
    }
    states
}

fn hot_paths(c: &mut Criterion) {
    let s = load("write-ahead-two-blocks.toml");
    let model = PivotModel::new(s.config.clone());
    let states = sample_states(&model);
    c.bench_function("enumerate actions (400 states)", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for st in &states {
                out.clear();
                model::world::actions(&model.config, black_box(st), &mut out);
            }
        })
    });
    let pairs: Vec<(World, model::Action)> = states
        .iter()
        .flat_map(|st| model.enabled(st).into_iter().map(move |a| (st.clone(), a)))
        .take(1000)
        .collect();
    c.bench_function("next state (1000 transitions)", |b| {
        b.iter(|| {
            for (st, a) in &pairs {
                black_box(model.step(st, *a));
            }
        })
    });
    c.bench_function("fingerprint (400 states)", |b| {
        b.iter(|| {
            for st in &states {
                black_box(bfs::fingerprint(st));
            }
        })
    });
    let packed: Vec<model::packed::Packed> = states.iter().map(model::packed::pack).collect();
    c.bench_function("fingerprint of a packed state (400 states)", |b| {
        b.iter(|| {
            for p in &packed {
                black_box(p.fingerprint());
            }
        })
    });
    c.bench_function("unpack (400 states)", |b| {
        b.iter(|| {
            for p in &packed {
                black_box(model::packed::unpack(p));
            }
        })
    });
    c.bench_function("symmetry representative (400 states)", |b| {
        b.iter(|| {
            for st in &states {
                black_box(symmetry::canonical(&model.config, st));
            }
        })
    });
    c.bench_function("all properties (400 states)", |b| {
        b.iter(|| {
            for st in &states {
                for p in model::properties::PROPERTIES.iter() {
                    black_box((p.condition)(&model.config, st));
                }
            }
        })
    });
}

/// The per-state work of several disks (issue 16), as the search does it: each disk's
/// view once per state (`World::views`), the enabled steps and successors given them, and
/// packing (six words) and unpacking.
fn two_disk_paths(c: &mut Criterion) {
    let s = load("disks/write-ahead-2-disks.toml");
    let model = PivotModel::new(s.config.clone());
    let states = sample_states(&model);
    let cfg = &model.config;
    c.bench_function("two disks: views and enumerate actions (400 states)", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for st in &states {
                out.clear();
                let views = black_box(st).views();
                model::world::actions_given(cfg, st, &views, &mut out);
            }
        })
    });
    let pairs: Vec<(World, model::Action)> = states
        .iter()
        .flat_map(|st| model.enabled(st).into_iter().map(move |a| (st.clone(), a)))
        .take(1000)
        .collect();
    let views: Vec<_> = pairs.iter().map(|(st, _)| st.views()).collect();
    c.bench_function("two disks: next state (1000 transitions)", |b| {
        b.iter(|| {
            for ((st, a), v) in pairs.iter().zip(&views) {
                black_box(model::world::next_state_given(cfg, st, v, *a));
            }
        })
    });
    c.bench_function("two disks: pack and unpack (400 states)", |b| {
        b.iter(|| {
            for st in &states {
                black_box(model::packed::unpack(&model::packed::pack(black_box(st))));
            }
        })
    });
}

fn whole_searches(c: &mut Criterion) {
    let mut g = c.benchmark_group("check");
    g.sample_size(10);
    for name in [
        "reopen-paused.toml",
        "blockdev-modern.toml",
        "write-ahead-two-blocks.toml",
    ] {
        let s = load(name);
        let model = PivotModel::new(s.config.clone());
        for threads in [1, 2] {
            g.bench_function(format!("{name}, {threads} thread(s)"), |b| {
                b.iter(|| {
                    bfs::explore(
                        &model,
                        &Options {
                            threads,
                            exact: false,
                            symmetry: true,
                            por: false,
                        },
                        &Limits::default(),
                    )
                })
            });
        }
        // The search with the partial-order reduction (sleep sets), 2 threads.
        let opts = |por| Options {
            threads: 2,
            exact: false,
            symmetry: true,
            por,
        };
        g.bench_function(format!("{name}, 2 thread(s), por"), |b| {
            b.iter(|| bfs::explore(&model, &opts(true), &Limits::default()))
        });
        // The whole check with liveness, as `check` runs it (issue 16): the search
        // records the graph, then Tarjan per liveness property and lassos.
        g.bench_function(format!("{name}, 2 thread(s), with liveness"), |b| {
            b.iter(|| {
                let (_, graph) =
                    bfs::explore_with_graph(&model, &opts(false), &Limits::default(), &mut |_| {});
                sim::liveness::explore_graph(&model, true, 2, graph.expect("complete"))
            })
        });
        // The fair-cycle search's own exploration over whole states (before issue 16,
        // the second exploration the check ran; now the cross-check).
        g.bench_function(format!("{name}, liveness by its own exploration"), |b| {
            b.iter(|| sim::liveness::explore(&model, true, &Limits::default(), Default::default()))
        });
    }
    g.finish();
}

criterion_group!(benches, hot_paths, two_disk_paths, whole_searches);
criterion_main!(benches);
