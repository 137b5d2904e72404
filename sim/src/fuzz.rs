//! A small mutation fuzzer for the two parsers users feed: scenario files and trace files.
//!
//! Why our own loop and not `cargo fuzz`: cargo-fuzz needs a nightly toolchain with
//! sanitizer support, and this project's machines have one stable toolchain and no way to
//! fetch another. The loop below is deterministic (ChaCha8, seeded), mutates a corpus of
//! valid and malformed inputs with byte edits and a dictionary of the formats' tokens,
//! and checks that every input either parses or is rejected with an error; a panic or an
//! execution slower than [`HANG`] is a finding, saved for replay.

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use trace::scenario;

use crate::replay;

/// One execution slower than this counts as a hang.
pub const HANG: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Scenario,
    Trace,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Scenario => "scenario",
            Target::Trace => "trace",
        }
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub executions: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Inputs that panicked, with the panic message.
    pub panics: Vec<(Vec<u8>, String)>,
    /// Inputs that took longer than [`HANG`].
    pub hangs: Vec<Vec<u8>>,
    pub slowest: Duration,
}

const SCENARIO_TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "\n",
    ",",
    "#",
    "{",
    "}",
    ".",
    "true",
    "false",
    "-1",
    "0",
    "3",
    "9",
    "99999999999999999999",
    "1e309",
    "nan",
    "inf",
    "variant",
    "blocks",
    "[qemu]",
    "[domain]",
    "[faults]",
    "[app]",
    "[procedure]",
    "[expect]",
    "copy_mode",
    "\"write-blocking\"",
    "no_shutdown",
    "quit_cancel",
    "persistent",
    "libvirtd_crash",
    "guest_poweroff",
    "qemu_crash",
    "host_crash",
    "app_crash",
    "recovery",
    "\"trust-libvirt\"",
    "\"vdsm\"",
    "pivot",
    "reconnect",
    "concluded",
    "shutdown_kill",
    "auto_dismiss",
    "auto_finalize",
    "violated",
    "unreached",
    "\"reopen-paused\"",
    "\"write-ahead\"",
    "\"save-status\"",
    "\"save-status-unloadable\"",
    "\"resume\"",
    "\"no-lost-writes\"",
    "\"pivot-completes\"",
    "\u{0}",
    "\u{feff}",
    "\u{fffd}",
];

const TRACE_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "null",
    "true",
    "false",
    "-1",
    "0",
    "1",
    "18446744073709551616",
    "1e999",
    "\"format\"",
    "\"pivotcheck-trace\"",
    "\"version\"",
    "\"scenario\"",
    "\"toml\"",
    "\"steps\"",
    "\"index\"",
    "\"action\"",
    "\"LibvirtdStep\"",
    "\"GuestWrite(0)\"",
    "\"QemuExecute\"",
    "\"property\"",
    "\"no-lost-writes\"",
    "\"seed\"",
    "\"swarm\"",
    "\\n",
    "\\u0000",
    "\\ud800",
];

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize
    }
}

fn mutate(rng: &mut ChaCha8Rng, target: Target, corpus: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let tokens = match target {
        Target::Scenario => SCENARIO_TOKENS,
        Target::Trace => TRACE_TOKENS,
    };
    let mut v = input.to_vec();
    for _ in 0..1 + below(rng, 4) {
        let len = v.len();
        match below(rng, 9) {
            0 if len > 0 => {
                let i = below(rng, len);
                v[i] ^= 1 << below(rng, 8);
            }
            1 if len > 0 => {
                let i = below(rng, len);
                let j = (i + 1 + below(rng, 16)).min(len);
                v.drain(i..j);
            }
            2 => {
                let i = below(rng, len + 1);
                let t = tokens[below(rng, tokens.len())].as_bytes();
                v.splice(i..i, t.iter().copied());
            }
            3 => {
                let i = below(rng, len + 1);
                let n = 1 + below(rng, 8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u32() as u8).collect();
                v.splice(i..i, bytes);
            }
            4 if len > 0 => {
                v.truncate(below(rng, len));
            }
            5 if len > 0 => {
                // Duplicate a range: repeated keys, deep nesting, long lists.
                let i = below(rng, len);
                let j = (i + 1 + below(rng, 64)).min(len);
                let piece = v[i..j].to_vec();
                let times = 1 + below(rng, 64);
                let at = below(rng, v.len() + 1);
                for _ in 0..times {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            6 if !corpus.is_empty() => {
                // Splice with another corpus entry.
                let other = &corpus[below(rng, corpus.len())];
                let cut = below(rng, other.len() + 1);
                let at = below(rng, v.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[cut..]);
            }
            7 => {
                let i = below(rng, len + 1);
                let open = if target == Target::Scenario {
                    b'['
                } else {
                    b'{'
                };
                let n = 1 + below(rng, 300);
                v.splice(i..i, std::iter::repeat_n(open, n));
            }
            _ => {
                let i = below(rng, len + 1);
                let digits: String = (0..1 + below(rng, 40))
                    .map(|_| char::from(b'0' + below(rng, 10) as u8))
                    .collect();
                v.splice(i..i, digits.into_bytes());
            }
        }
    }
    v.truncate(1 << 16);
    v
}

/// Runs one input through the whole reading path of `target`: `Ok(true)` accepted,
/// `Ok(false)` rejected with an error, `Err` a panic message.
pub fn execute(target: Target, input: &[u8]) -> Result<bool, String> {
    let run = || match target {
        Target::Scenario => scenario::parse_bytes("fuzz", "fuzz.toml", input).is_ok(),
        Target::Trace => {
            let text = String::from_utf8_lossy(input);
            match trace::decode::decode("fuzz.json", &text) {
                Ok(decoded) => {
                    let _ = replay::verdict(&decoded);
                    true
                }
                Err(_) => false,
            }
        }
    };
    panic::catch_unwind(AssertUnwindSafe(run)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

/// Fuzzes `target` from `corpus` until `budget` runs out (a time, or a number of
/// executions when `max_executions` is set).
pub fn fuzz(
    target: Target,
    corpus: &[Vec<u8>],
    seed: u64,
    budget: Duration,
    max_executions: Option<u64>,
) -> Stats {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats = Stats::default();
    let started = Instant::now();
    // Panics are findings, recorded with their message; keep the default hook quiet.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let empty = [Vec::new()];
    let pool = if corpus.is_empty() {
        &empty[..]
    } else {
        corpus
    };
    while started.elapsed() < budget && max_executions.is_none_or(|m| stats.executions < m) {
        let base = &pool[below(&mut rng, pool.len())];
        let input = mutate(&mut rng, target, pool, base);
        let t = Instant::now();
        let outcome = execute(target, &input);
        let took = t.elapsed();
        stats.executions += 1;
        stats.slowest = stats.slowest.max(took);
        // A slow execution on a loaded machine may only have waited for a core: run it
        // again, and count it as a hang only if it is slow twice.
        if took > HANG {
            let again = Instant::now();
            let _ = execute(target, &input);
            if again.elapsed() > HANG {
                stats.hangs.push(input.clone());
            }
        }
        match outcome {
            Ok(true) => stats.accepted += 1,
            Ok(false) => stats.rejected += 1,
            Err(msg) => stats.panics.push((input, msg)),
        }
    }
    panic::set_hook(hook);
    stats
}
