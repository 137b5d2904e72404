//! `summary.md`: a verdict table fit for a CI job summary, coverage per scenario, and a
//! Mermaid sequence diagram per counterexample (rendered by common code forges).

use crate::diagram;
use crate::run::{Counterexample, PropertyReport, Run, ScenarioReport};
use model::properties::{Kind, Status};

/// A table cell: the status, in bold when it breaks an `always` property, with the
/// expectation after it when they differ.
pub fn cell(p: &PropertyReport) -> String {
    let status = if p.status == Status::Violated {
        format!("**{}**", p.status)
    } else {
        p.status.to_string()
    };
    let len = p.steps.map(|n| format!(" ({n})")).unwrap_or_default();
    if p.matches {
        format!("{status}{len}")
    } else {
        format!("⚠ {status}{len}, expected {}", p.expected)
    }
}

/// The one-word result of a scenario.
pub fn result_word(s: &ScenarioReport) -> &'static str {
    if !s.complete {
        "INCOMPLETE"
    } else if s.matches {
        "ok"
    } else {
        "MISMATCH"
    }
}

fn md(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn summary(run: &Run) -> String {
    let mut s = format!("# {}\n\n", run.title);
    if !run.scenarios.is_empty() {
        let total: f64 = run.scenarios.iter().map(|s| s.elapsed.as_secs_f64()).sum();
        s.push_str(&format!(
            "{} scenarios: {} match their expectations, {} do not, {} incomplete; {total:.2} s.\n\n",
            run.scenarios.len(),
            run.matching(),
            run.scenarios.len() - run.matching(),
            run.incomplete()
        ));
        s.push_str("A cell is the verdict, with the length of the shortest counterexample (or first reach) in steps; ⚠ marks a verdict that differs from the scenario's expectation.\n\n");
        let props = run.property_names();
        s.push_str("| scenario | variant | result | unique states | states | depth | time |");
        for (name, kind) in &props {
            let k = if *kind == Kind::Sometimes {
                " (sometimes)"
            } else {
                ""
            };
            s.push_str(&format!(" {name}{k} |"));
        }
        s.push_str("\n|---|---|---|--:|--:|--:|--:|");
        for _ in &props {
            s.push_str("---|");
        }
        s.push('\n');
        for sc in &run.scenarios {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {:.2} s |",
                md(&sc.name),
                md(&sc.variant),
                result_word(sc),
                sc.unique_states,
                sc.states,
                sc.max_depth,
                sc.elapsed.as_secs_f64()
            ));
            for p in &sc.properties {
                let c = cell(p);
                match p.counterexample {
                    Some(i) => {
                        s.push_str(&format!(" [{}](#{}) |", c, anchor(&run.counterexamples[i])))
                    }
                    None => s.push_str(&format!(" {c} |")),
                }
            }
            s.push('\n');
        }
        s.push_str("\nIn one sentence (the most serious violated property, and the crash windows its shortest counterexample's faults fell into):\n\n");
        for sc in &run.scenarios {
            s.push_str(&format!("- `{}`: {}\n", md(&sc.name), md(&sc.gist)));
        }
        s.push('\n');
        if run.scenarios.iter().any(|s| s.coverage.is_some()) {
            s.push_str("## Coverage\n\nHow often the search explored each fault window: the number of states in which that fault struck there. A window with 0 was never explored.\n\n");
            for sc in &run.scenarios {
                let Some(cov) = &sc.coverage else { continue };
                s.push_str(&format!(
                    "<details><summary>{}</summary>\n\n",
                    crate::diagram::esc(&sc.name)
                ));
                let windows = cov.window_counts(&sc.config);
                if windows.is_empty() {
                    s.push_str("No fault enabled.\n\n");
                }
                for (head, counts) in [
                    ("fault window", windows),
                    (
                        "fault window around the app's steps",
                        cov.app_window_counts(&sc.config),
                    ),
                ] {
                    if counts.is_empty() {
                        continue;
                    }
                    s.push_str(&format!("| {head} | states |\n|---|--:|\n"));
                    for w in counts {
                        s.push_str(&format!("| {} | {} |\n", md(&w.name), w.count));
                    }
                    s.push('\n');
                }
                s.push_str("| step kind | explored |\n|---|--:|\n");
                for a in cov.action_counts() {
                    s.push_str(&format!("| {} | {} |\n", a.name, a.count));
                }
                s.push_str("\n</details>\n\n");
            }
        }
    }
    if !run.counterexamples.is_empty() {
        s.push_str("## Counterexamples\n\n");
        for c in &run.counterexamples {
            s.push_str(&counterexample(c));
        }
    }
    s
}

/// The heading anchor GitHub and GitLab derive from a counterexample's heading.
pub fn anchor(c: &Counterexample) -> String {
    heading(c)
        .to_lowercase()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '-' || ch == '_' {
                Some(ch)
            } else if ch == ' ' {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

fn heading(c: &Counterexample) -> String {
    format!("{} {}", c.scenario, c.property)
}

fn counterexample(c: &Counterexample) -> String {
    let mut s = format!("### {}\n\n", heading(c));
    s.push_str(&format!(
        "Variant `{}`; {}; {} steps. Violating `{}` means: {}\n\n",
        c.variant,
        c.verdict,
        c.actions.len(),
        c.property,
        c.meaning
    ));
    s.push_str("```mermaid\n");
    s.push_str(&diagram::mermaid(
        &c.config,
        &c.actions,
        &c.states,
        Some(c.actions.len()),
        &c.property,
    ));
    s.push_str("```\n\n");
    s
}

/// The README's generated block (`pivotcheck check --markdown`): the property table and
/// the verdict table of the checked scenarios. No timing enters it, so the text is the
/// same on every machine and every run, and a test can require the README to hold it.
/// `meaning` gives a property's one-line reason (the model knows it; reports do not
/// decide it).
/// One column per measured libvirt version: the verdict of each property in the version's
/// base scenario (the scenario named as its preset, `libvirt-X.Y`), so that what changed
/// between versions reads across a row. Empty when the run has no such scenario.
fn version_table(run: &Run) -> String {
    let bases: Vec<&ScenarioReport> = run
        .scenarios
        .iter()
        .filter(|sc| sc.name == sc.variant && sc.variant.starts_with("libvirt-"))
        .collect();
    let Some(first) = bases.first() else {
        return String::new();
    };
    let mut s = String::from("\n| property |");
    for b in &bases {
        s.push_str(&format!(" `{}` |", md(&b.variant)));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(bases.len()));
    s.push('\n');
    for p in &first.properties {
        s.push_str(&format!("| `{}` |", p.name));
        for b in &bases {
            let cell = match b.properties.iter().find(|q| q.name == p.name) {
                Some(q) => match (q.status, q.steps) {
                    (Status::Violated, Some(n)) => format!("violated ({n})"),
                    (status, _) => status.name().to_string(),
                },
                None => "-".to_string(),
            };
            s.push_str(&format!(" {cell} |"));
        }
        s.push('\n');
    }
    s
}

pub fn readme_tables(run: &Run, meaning: &dyn Fn(&str) -> String) -> String {
    let mut s = String::from("| property | kind | meaning |\n|---|---|---|\n");
    for (name, kind) in run.property_names() {
        s.push_str(&format!(
            "| `{name}` | {} | {} |\n",
            kind.name(),
            md(&meaning(&name))
        ));
    }
    s.push_str(
        "\n| scenario | variant | result | unique states | violated (shortest counterexample, steps) |\n|---|---|---|--:|---|\n",
    );
    for sc in &run.scenarios {
        let violated: Vec<String> = sc
            .properties
            .iter()
            .filter(|p| p.status == Status::Violated)
            .map(|p| match p.steps {
                Some(n) => format!("{} ({n})", p.name),
                None => p.name.clone(),
            })
            .collect();
        s.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            md(&sc.name),
            md(&sc.variant),
            result_word(sc),
            sc.unique_states,
            if violated.is_empty() {
                "**none**".to_string()
            } else {
                violated.join(", ")
            }
        ));
    }
    s.push_str(&version_table(run));
    let largest = run
        .scenarios
        .iter()
        .map(|s| s.unique_states)
        .max()
        .unwrap_or(0);
    s.push_str(&format!(
        "\n{} scenarios: {} match their expectations, {} do not, {} incomplete; the largest has {largest} unique states.\n",
        run.scenarios.len(),
        run.matching(),
        run.scenarios.len() - run.matching(),
        run.incomplete()
    ));
    s
}
