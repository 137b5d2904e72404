//! Live progress on a terminal: for a check, a spinner with states, unique states, states
//! per second and depth; for `simulate` and `mutate`, a bar of runs or mutants done. Shown
//! once the run has lasted about a second; never with `--json` or when standard error is
//! not a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use sim::bfs;

/// How long a run goes before the spinner appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct Progress {
    enabled: bool,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `wanted`: the caller's choice (false with `--json`); the spinner also needs a
    /// terminal on standard error.
    pub fn new(wanted: bool) -> Progress {
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            started: Instant::now(),
            bar: None,
        }
    }

    /// Updates the display with the search of scenario `name` (`i` of `n`).
    pub fn update(&mut self, name: &str, i: usize, n: usize, p: &bfs::Progress) {
        if !self.enabled || self.started.elapsed() < SHOW_AFTER {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let secs = p.elapsed.as_secs_f64().max(1e-3);
        bar.set_message(format!(
            "[{i}/{n}] {name}: {} states, {} unique, {:.0} states/s, depth {}",
            p.states,
            p.unique_states,
            p.states as f64 / secs,
            p.depth
        ));
    }

    /// Updates the display with a count: `done` of `total` `what` (runs, mutants), and a
    /// short detail such as the failures found so far.
    pub fn count(&mut self, what: &str, done: u64, total: u64, detail: &str) {
        if !self.enabled || self.started.elapsed() < SHOW_AFTER {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{elapsed} [{bar:30}] {pos}/{len} {msg}")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.set_position(done);
        bar.set_message(format!("{what}, {detail}"));
    }

    /// Runs `f` (which prints results) with the spinner hidden, so lines do not mix.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
