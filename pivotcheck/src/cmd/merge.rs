//! `pivotcheck merge`: the `simulate --shard I/N --json` results of a CI job matrix
//! combined into the result one machine would print for the whole simulation.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{json, Value};
use sim::simulate::{self, ShardFailure};

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(
    after_help = "Example: pivotcheck merge shard-1.json shard-2.json shard-3.json shard-4.json"
)]
pub struct Args {
    /// The standard output of `pivotcheck simulate --shard I/N --json`, one file per shard.
    #[arg(required = true)]
    results: Vec<PathBuf>,
    /// Print the merged result as JSON (the shape of one shard's, without `shard`).
    #[arg(long)]
    json: bool,
}

/// One shard's result, read and checked.
struct ShardResult {
    file: String,
    value: Value,
    index: u64,
    count: u64,
}

fn read(path: &PathBuf) -> Result<ShardResult, String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{file}:{}:{}: not JSON: expected the output of `simulate --shard I/N --json`",
            e.line(),
            e.column()
        )
    })?;
    for key in [
        "scenario",
        "root_seed",
        "depth",
        "swarm",
        "runs_total",
        "shard",
        "runs",
        "steps",
        "violations",
    ] {
        if value.get(key).is_none() {
            return Err(format!(
                "{file}: no `{key}`: expected the output of `simulate --shard I/N --json`"
            ));
        }
    }
    for (i, v) in value["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !(v["property"].is_string() && v["run"].is_u64()) {
            return Err(format!(
                "{file}: violation {}: expected a `property` name and a `run` number",
                i + 1
            ));
        }
    }
    if !value["violations"].is_array() {
        return Err(format!("{file}: `violations` is not a list"));
    }
    let shard = value["shard"].as_str().unwrap_or_default();
    let (index, count) = crate::flags::shard(shard)
        .map(|s| (s.index, s.count))
        .map_err(|e| format!("{file}: shard `{shard}`: {e}"))?;
    Ok(ShardResult {
        file,
        value,
        index,
        count,
    })
}

pub fn run(a: Args) -> Result<Exit> {
    let mut shards = Vec::new();
    for p in &a.results {
        match read(p) {
            Ok(s) => shards.push(s),
            Err(e) => return Ok(exit::bad_input(e)),
        }
    }
    let first = &shards[0];
    // Every shard must be a slice of the same simulation.
    for s in &shards[1..] {
        for key in ["scenario", "root_seed", "depth", "swarm", "runs_total"] {
            if s.value[key] != first.value[key] {
                return Ok(exit::bad_input(format!(
                    "{}: {key} is {}, expected {} as in {}: every shard must come from the same simulation",
                    s.file, s.value[key], first.value[key], first.file
                )));
            }
        }
        if s.count != first.count {
            return Ok(exit::bad_input(format!(
                "{}: shard {}/{}, expected one of {} shards as in {}",
                s.file,
                s.index + 1,
                s.count,
                first.count,
                first.file
            )));
        }
    }
    for i in 0..first.count {
        match shards.iter().filter(|s| s.index == i).count() {
            1 => {}
            0 => {
                return Ok(exit::bad_input(format!(
                    "shard {}/{} is missing: expected one result per shard",
                    i + 1,
                    first.count
                )))
            }
            _ => {
                return Ok(exit::bad_input(format!(
                    "shard {}/{} is given twice: expected one result per shard",
                    i + 1,
                    first.count
                )))
            }
        }
    }
    let failures: Vec<Vec<ShardFailure<Value>>> = shards
        .iter()
        .map(|s| {
            s.value["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| ShardFailure {
                    // Both checked when the file was read.
                    property: v["property"].as_str().unwrap_or_default().to_string(),
                    run: v["run"].as_u64().unwrap_or_default(),
                    rest: v.clone(),
                })
                .collect()
        })
        .collect();
    let merged = simulate::merge(&failures);
    let sum = |key: &str| {
        shards
            .iter()
            .map(|s| s.value[key].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let (runs, steps) = (sum("runs"), sum("steps"));
    let unexpected = merged
        .iter()
        .filter(|f| f.rest["expected"] == Value::Bool(false))
        .count();
    if a.json {
        let v: Vec<&Value> = merged.iter().map(|f| &f.rest).collect();
        println!(
            "{}",
            serde_json::to_string(&json!({"scenario": first.value["scenario"],
                "root_seed": first.value["root_seed"], "depth": first.value["depth"],
                "swarm": first.value["swarm"], "runs_total": first.value["runs_total"],
                "shards": first.count, "runs": runs, "steps": steps, "violations": v}))?
        );
    } else {
        println!(
            "SEED={}: {} runs in {} shards, depth {}: {}",
            first.value["root_seed"],
            runs,
            first.count,
            first.value["depth"],
            first.value["scenario"].as_str().unwrap_or_default()
        );
        for f in &merged {
            let v = &f.rest;
            println!(
                "  {} violated ({}) in run {} seed={}: {} steps, shrunk to {}",
                f.property,
                if v["expected"] == Value::Bool(true) {
                    "expected"
                } else {
                    "UNEXPECTED"
                },
                f.run,
                v["seed"],
                v["length"],
                v["shrunk_length"]
            );
            println!(
                "    replay: pivotcheck replay {}",
                v["trace"].as_str().unwrap_or_default()
            );
        }
        println!(
            "{runs} runs, {steps} steps, {} properties violated ({unexpected} unexpected)",
            merged.len()
        );
    }
    Ok(if unexpected == 0 {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}
