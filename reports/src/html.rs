//! `index.html`: one self-contained page (inline CSS and SVG, no script, no network
//! fetch) with the verdict table, the coverage of each scenario and, for each
//! counterexample, an SVG sequence diagram and a per-step table of every actor's state
//! with the step that breaks the property highlighted.

use model::describe;
use model::properties::{Kind, Status};

use crate::diagram::{self, esc};
use crate::markdown::{cell, result_word};
use crate::run::{Counterexample, Run};

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; font-size: 13px; }
th { background: #eef; position: sticky; top: 0; }
td.num { text-align: right; }
td.ok { background: #e6f6e6; } td.bad { background: #ffd9b3; font-weight: bold; }
td.violated { color: #900; } td.reached { color: #060; }
td.bad { border: 3px double #000; } td.gist { min-width: 18em; max-width: 28em; font-size: 12px; }
span.legend { padding: 0 4px; border: 1px solid #ccc; } span.legend.ok { background: #e6f6e6; }
span.legend.violated { color: #900; } span.legend.bad { background: #ffd9b3; font-weight: bold; border: 3px double #000; }
tr.breaking td { background: #ffd2d2; border-top: 2px solid #c00; border-bottom: 2px solid #c00; }
tr.fault td.label { color: #c00; font-weight: bold; }
.chg { background: #fff3a0; font-weight: bold; }
.fields { margin: 0; padding: 0; list-style: none; white-space: nowrap; }
.diagram { overflow-x: auto; border: 1px solid #ddd; padding: 4px; background: #fff; }
section.cx { margin-bottom: 2.5em; }
.meaning { font-style: italic; }
"#;

fn status_class(status: Status, matches: bool) -> &'static str {
    match status {
        _ if !matches => "bad",
        Status::Violated => "violated",
        Status::Reached => "reached",
        Status::Holds | Status::Unreached | Status::Unknown => "ok",
    }
}

/// A coverage table's rows: a window never explored (0) is marked.
fn window_rows(s: &mut String, windows: &[model::coverage::Count]) {
    for w in windows {
        s.push_str(&format!(
            "<tr><td>{}</td><td class=\"num{}\">{}</td></tr>\n",
            esc(&w.name),
            if w.count == 0 { " bad" } else { "" },
            w.count
        ));
    }
}

/// The whole page.
pub fn page(run: &Run) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&run.title),
        esc(&run.title)
    );
    if !run.scenarios.is_empty() {
        s.push_str(&format!(
            "<p id=\"summary\">{} scenarios: {} match their expectations, {} do not, {} incomplete.</p>\n",
            run.scenarios.len(),
            run.matching(),
            run.scenarios.len() - run.matching(),
            run.incomplete()
        ));
        s.push_str("<table id=\"verdicts\">\n<thead><tr><th>scenario</th><th>variant</th><th>result</th><th>in one sentence</th><th>unique states</th><th>states</th><th>depth</th><th>time</th>");
        for (name, kind) in run.property_names() {
            s.push_str(&format!(
                "<th title=\"{}\">{}{}</th>",
                kind.name(),
                esc(&name),
                if kind == Kind::Sometimes { " ◇" } else { "" }
            ));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for sc in &run.scenarios {
            s.push_str(&format!(
                "<tr data-scenario=\"{}\"><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"gist\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2} s</td>",
                esc(&sc.name),
                esc(&sc.name),
                esc(&sc.variant),
                if sc.matches { "ok" } else { "bad" },
                result_word(sc),
                esc(&sc.gist),
                sc.unique_states,
                sc.states,
                sc.max_depth,
                sc.elapsed.as_secs_f64()
            ));
            for p in &sc.properties {
                let text = esc(&cell(p).replace("**", ""));
                let inner = match p.counterexample {
                    Some(i) => format!(
                        "<a href=\"#cx-{}\">{text}</a>",
                        esc(&run.counterexamples[i].id())
                    ),
                    None => text,
                };
                s.push_str(&format!(
                    "<td class=\"{}\">{inner}</td>",
                    status_class(p.status, p.matches)
                ));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n<p id=\"legend\">Legend (every cell says its verdict in words, so the table reads in grey scale too): <span class=\"legend ok\">holds / reached</span> as expected; <span class=\"legend violated\">violated</span> as the scenario expects (a known, documented violation; the link opens its counterexample); <span class=\"legend bad\">⚠ … expected …</span> differs from the scenario's expectation (this fails the gate). ◇ marks a <em>sometimes</em> property (reached proves the model is not vacuous). A number in brackets is the length of the shortest counterexample.</p>\n");
        if run.scenarios.iter().any(|s| s.coverage.is_some()) {
            s.push_str("<h2>Coverage</h2>\n<p>The number of explored states in which each fault struck in each window; 0 means the window was never explored.</p>\n");
            for sc in &run.scenarios {
                let Some(cov) = &sc.coverage else { continue };
                s.push_str(&format!(
                    "<details><summary>{}</summary>\n<table class=\"coverage\"><tr><th>fault window</th><th>states</th></tr>\n",
                    esc(&sc.name)
                ));
                window_rows(&mut s, &cov.window_counts(&sc.config));
                let app = cov.app_window_counts(&sc.config);
                if !app.is_empty() {
                    s.push_str("</table>\n<table class=\"coverage\"><tr><th>fault window around the app's steps</th><th>states</th></tr>\n");
                }
                window_rows(&mut s, &app);
                s.push_str("</table>\n<table class=\"coverage\"><tr><th>step kind</th><th>explored</th></tr>\n");
                for a in cov.action_counts() {
                    s.push_str(&format!(
                        "<tr><td>{}</td><td class=\"num\">{}</td></tr>\n",
                        esc(&a.name),
                        a.count
                    ));
                }
                s.push_str("</table>\n</details>\n");
            }
        }
    }
    if !run.counterexamples.is_empty() {
        s.push_str("<h2>Counterexamples</h2>\n");
        for c in &run.counterexamples {
            s.push_str(&counterexample(c));
        }
    }
    s.push_str("</body>\n</html>\n");
    s
}

fn counterexample(c: &Counterexample) -> String {
    let breaking = c.actions.len();
    let mut s = format!(
        "<section class=\"cx\" id=\"cx-{}\">\n<h3>{}: {}</h3>\n<p>Variant <code>{}</code>; {}; {} steps.</p>\n<p class=\"meaning\">{}: {}</p>\n<div class=\"diagram\">\n",
        esc(&c.id()),
        esc(&c.scenario),
        esc(&c.property),
        esc(&c.variant),
        esc(&c.verdict),
        c.actions.len(),
        esc(&c.property),
        esc(&c.meaning)
    );
    s.push_str(&diagram::svg(
        &c.config,
        &c.actions,
        &c.states,
        Some(breaking),
        &c.property,
    ));
    s.push_str("</div>\n");
    // The per-step state table.
    let states = &c.states;
    let actors = ["storage", "qemu", "libvirtd", "app"];
    s.push_str("<table class=\"states\">\n<thead><tr><th>#</th><th>actor</th><th>step</th>");
    for a in actors {
        s.push_str(&format!("<th>{a}</th>"));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    let arrows = diagram::arrows(&c.config, &c.actions, &c.states);
    let mut before: Option<Vec<(&str, &str, String)>> = None;
    for (i, w) in states.iter().enumerate() {
        let fields = describe::fields(&c.config, w);
        let (actor, label, fault) = match i.checked_sub(1).map(|j| &arrows[j]) {
            Some(a) => (
                c.actions[i - 1].actor().name(),
                a.label.clone(),
                c.actions[i - 1].is_fault(),
            ),
            None => ("", "initial state".to_string(), false),
        };
        let mut classes = Vec::new();
        if i == breaking && breaking > 0 {
            classes.push("breaking");
        }
        if fault {
            classes.push("fault");
        }
        s.push_str(&format!(
            "<tr class=\"{}\" data-step=\"{i}\"><td class=\"num\">{i}</td><td>{actor}</td><td class=\"label\">{}{}</td>",
            classes.join(" "),
            esc(&label),
            if i == breaking && breaking > 0 {
                format!("<br><strong>violates {}</strong>", esc(&c.property))
            } else {
                String::new()
            }
        ));
        for a in actors {
            s.push_str("<td><ul class=\"fields\">");
            for (k, (fa, fname, v)) in fields.iter().enumerate() {
                if *fa != a {
                    continue;
                }
                let changed = before.as_ref().is_some_and(|b| b[k].2 != *v);
                s.push_str(&format!(
                    "<li{}>{}: {}</li>",
                    if changed { " class=\"chg\"" } else { "" },
                    esc(fname),
                    esc(v)
                ));
            }
            s.push_str("</ul></td>");
        }
        s.push_str("</tr>\n");
        before = Some(fields);
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
    s
}
