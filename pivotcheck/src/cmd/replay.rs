//! `pivotcheck replay`: a trace file re-executed step by step, with what changed.

use std::path::PathBuf;

use anyhow::Result;
use sim::replay::Verdict;
use trace::Scenario;

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(
    after_help = "Example: pivotcheck replay target/pivotcheck/reopen-unpaused.no-lost-writes.trace.json --step"
)]
pub struct Args {
    trace: PathBuf,
    /// Wait for Enter between steps.
    #[arg(long)]
    step: bool,
    /// Print the full state after step N (0 is the initial state).
    #[arg(long)]
    at: Option<usize>,
}

pub fn run(a: Args) -> Result<Exit> {
    let file = a.trace.display().to_string();
    let d = match trace::decode::load(&a.trace) {
        Ok(d) => d,
        Err(e) => return Ok(exit::bad_input(e)),
    };
    let (scenario, actions, states) = (&d.scenario, &d.actions, &d.states);
    if let Some(n) = a.at {
        if n > actions.len() {
            return Ok(exit::bad_input(format!(
                "--at {n}: the trace has {} steps (0 is the initial state)",
                actions.len()
            )));
        }
    }
    let seed = d
        .trace
        .seed
        .map(|s| format!(", seed {s}"))
        .unwrap_or_default();
    println!(
        "replaying {file}: scenario {} [{}], {} steps{seed}{}",
        scenario.name,
        scenario.variant,
        actions.len(),
        d.trace
            .property
            .as_deref()
            .map(|p| format!(", property {p}"))
            .unwrap_or_default()
    );
    let views = reports::text::steps(&scenario.config, actions, states);
    let stdin = std::io::stdin();
    if a.at == Some(0) {
        print_state(scenario, &states[0], 0);
    }
    for v in &views {
        println!("{:>3}. {:<8} {}", v.number, v.actor, v.label);
        for (actor, field, before, after) in &v.changes {
            println!("              {actor}.{field}: {before} -> {after}");
        }
        if a.at == Some(v.number) {
            print_state(scenario, &states[v.number], v.number);
        }
        if a.step {
            eprint!("  [Enter] ");
            let mut line = String::new();
            if stdin.read_line(&mut line).unwrap_or(0) == 0 {
                eprintln!();
            }
        }
    }
    let meaning =
        |p: &str| model::properties::property(p).expect("trace::decode checks the property");
    match sim::replay::verdict(&d) {
        Verdict::NoProperty => {
            println!(
                "=> the trace names no property: replayed {} steps",
                actions.len()
            );
            Ok(Exit::Ok)
        }
        Verdict::Shows { step, property } => {
            let def = meaning(&property);
            let verb = if def.kind == model::properties::Kind::Always {
                "violates"
            } else {
                "reaches"
            };
            println!("=> after step {step}: {verb} {property}: {}", def.meaning);
            Ok(Exit::Ok)
        }
        Verdict::Fixed { property } => {
            println!(
                "=> FIXED: the trace replays all {} steps but no longer violates {property} ({})",
                actions.len(),
                meaning(&property).meaning
            );
            Ok(Exit::Fixed)
        }
        Verdict::LassoShows {
            property,
            cycle_start,
        } => {
            println!(
                "{}",
                sim::liveness::cycle_words(cycle_start, actions.len(), "")
            );
            let def = model::liveness::liveness(&property).expect("checked by trace::decode");
            println!("=> the lasso violates {property}: {}", def.meaning);
            Ok(Exit::Ok)
        }
        Verdict::LassoFixed {
            property,
            cycle_start,
            why,
        } => {
            println!(
                "{}",
                sim::liveness::cycle_words(cycle_start, actions.len(), "")
            );
            println!(
                "=> FIXED: the trace replays all {} steps but its lasso no longer violates {property}: {}",
                actions.len(),
                why.words()
            );
            Ok(Exit::Fixed)
        }
    }
}

fn print_state(scenario: &Scenario, state: &model::World, n: usize) {
    println!("    --- full state after step {n} ---");
    for (actor, field, value) in model::describe::fields(&scenario.config, state) {
        println!("    {actor}.{field}: {value}");
    }
    println!("    ---");
}
