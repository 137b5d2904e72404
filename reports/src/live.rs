//! The live suite's report (`live --report DIR`): per libvirt version, a matrix of crash
//! points (rows) by the fields the live suite compares (columns), each cell saying in
//! words whether real libvirt and the model agree, so the page reads in grey scale too.
//!
//! The input is what `live --json` writes; `reports` depends on neither `live` nor `sim`,
//! so the page renders from saved results without a real libvirt.

use std::path::Path;

use serde::Deserialize;

use crate::diagram::esc;

/// The fields `live` compares, in its order (the words of `live::observe::differences`).
pub const FIELDS: [&str; 9] = [
    "down",
    "domain",
    "live-source",
    "mirror",
    "answer",
    "config-source",
    "qemu",
    "write-down",
    "write-after",
];

/// One libvirt version's run, as `live --json` wrote it (fields the report does not show
/// are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct LiveSuite {
    pub libvirt: String,
    pub preset: String,
    pub scenarios: Vec<LiveScenario>,
    pub agree: usize,
    pub disagree: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LiveScenario {
    pub name: String,
    /// `agree`, `disagree`, `error` or `pending`.
    pub verdict: String,
    #[serde(default)]
    pub differences: Vec<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// A `live --json` file, or an error naming the file and what was expected.
pub fn read_suite(path: &Path) -> Result<LiveSuite, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not the JSON of `pivotcheck live --json` ({e})",
            path.display()
        )
    })
}

/// What one cell says: the comparison of one field in one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Agree,
    /// `real X, model Y`, as `live` wrote it.
    Differs(String),
    /// The harness failed or did not compare (error, pending).
    NotCompared,
}

impl Cell {
    fn class(&self) -> &'static str {
        match self {
            Cell::Agree => "ok",
            Cell::Differs(_) => "bad",
            Cell::NotCompared => "none",
        }
    }
    fn words(&self) -> String {
        match self {
            Cell::Agree => "agree".into(),
            Cell::Differs(d) => format!("⚠ {d}"),
            Cell::NotCompared => "not compared".into(),
        }
    }
}

/// The cells of one row, one per [`FIELDS`] entry.
pub fn cells(s: &LiveScenario) -> Vec<Cell> {
    FIELDS
        .iter()
        .map(|field| {
            if s.verdict != "agree" && s.verdict != "disagree" {
                return Cell::NotCompared;
            }
            let prefix = format!("{field}: ");
            match s.differences.iter().find(|d| d.starts_with(&prefix)) {
                Some(d) => Cell::Differs(d[prefix.len()..].to_string()),
                None => Cell::Agree,
            }
        })
        .collect()
}

fn totals(v: &LiveSuite) -> String {
    format!(
        "{} scenarios on libvirt {} (preset {}): {} agree, {} disagree, {} errors.",
        v.scenarios.len(),
        v.libvirt,
        v.preset,
        v.agree,
        v.disagree,
        v.errors
    )
}

const LEGEND_MD: &str = "A row is a crash point; a cell compares real libvirt with the model on one field: agree, ⚠ real X, model Y (a disagreement: the run fails), or not compared (the harness failed; the row's result says why).\n\n";

/// `summary.md`: one matrix per libvirt version, in the order given.
pub fn summary(versions: &[LiveSuite]) -> String {
    let mut s = String::from("# pivotcheck live: real libvirt against the model\n\n");
    s.push_str(LEGEND_MD);
    for v in versions {
        s.push_str(&format!("## libvirt {}\n\n{}\n\n", v.libvirt, totals(v)));
        s.push_str("| crash point | result |");
        for f in FIELDS {
            s.push_str(&format!(" {f} |"));
        }
        s.push_str("\n|---|---|");
        s.push_str(&"---|".repeat(FIELDS.len()));
        s.push('\n');
        for sc in &v.scenarios {
            let result = match &sc.error {
                Some(e) if sc.verdict == "error" => format!("error: {e}"),
                _ => sc.verdict.clone(),
            };
            s.push_str(&format!("| {} | {} |", md(&sc.name), md(&result)));
            for c in cells(sc) {
                s.push_str(&format!(" {} |", md(&c.words())));
            }
            s.push('\n');
        }
        s.push('\n');
    }
    s
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; font-size: 13px; }
th { background: #eef; }
td.ok, span.legend.ok { background: #e6f6e6; }
td.bad, span.legend.bad { background: #ffd9b3; font-weight: bold; border: 3px double #000; }
td.none, span.legend.none { color: #555; font-style: italic; background: repeating-linear-gradient(45deg, #fff, #fff 4px, #eee 4px, #eee 8px); }
span.legend { padding: 0 4px; border: 1px solid #ccc; }
"#;

/// `index.html`: the same matrices, self-contained (inline CSS, no script).
pub fn page(versions: &[LiveSuite]) -> String {
    let title = "pivotcheck live: real libvirt against the model";
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    s.push_str("<p id=\"legend\">Legend (every cell says its comparison in words, so the matrix reads in grey scale too): a row is a crash point, a column a field the live suite compares; <span class=\"legend ok\">agree</span> real libvirt and the model agree; <span class=\"legend bad\">⚠ real X, model Y</span> they disagree (the run fails); <span class=\"legend none\">not compared</span> the harness failed (the row's result says why).</p>\n");
    for v in versions {
        s.push_str(&format!(
            "<h2>libvirt {}</h2>\n<p class=\"totals\">{}</p>\n<table class=\"live-matrix\" data-libvirt=\"{}\">\n<thead><tr><th>crash point</th><th>result</th>",
            esc(&v.libvirt),
            esc(&totals(v)),
            esc(&v.libvirt)
        ));
        for f in FIELDS {
            s.push_str(&format!("<th>{f}</th>"));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for sc in &v.scenarios {
            let class = match sc.verdict.as_str() {
                "agree" => "ok",
                "disagree" => "bad",
                _ => "none",
            };
            let result = match &sc.error {
                Some(e) if sc.verdict == "error" => format!("error: {e}"),
                _ => sc.verdict.clone(),
            };
            s.push_str(&format!(
                "<tr data-scenario=\"{}\"><td>{}</td><td class=\"{class}\">{}</td>",
                esc(&sc.name),
                esc(&sc.name),
                esc(&result)
            ));
            for (f, c) in FIELDS.iter().zip(cells(sc)) {
                s.push_str(&format!(
                    "<td class=\"{}\" data-field=\"{f}\">{}</td>",
                    c.class(),
                    esc(&c.words())
                ));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n");
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(libvirt: &str) -> LiveSuite {
        serde_json::from_str(&format!(
            r#"{{"libvirt":"{libvirt}","preset":"p","seconds":1.0,"agree":1,"disagree":1,"errors":1,
            "scenarios":[
              {{"name":"a.reply","verdict":"agree","differences":[],"error":null,"millis":3}},
              {{"name":"b.reply","verdict":"disagree","differences":["domain: real running, model shut off"]}},
              {{"name":"c|x","verdict":"error","differences":[],"error":"timeout"}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_difference_marks_only_its_field() {
        let s = suite("9.0");
        assert_eq!(cells(&s.scenarios[0]), vec![Cell::Agree; 9]);
        let b = cells(&s.scenarios[1]);
        assert_eq!(b[1], Cell::Differs("real running, model shut off".into()));
        assert_eq!(b.iter().filter(|c| **c == Cell::Agree).count(), 8);
        assert_eq!(cells(&s.scenarios[2]), vec![Cell::NotCompared; 9]);
    }

    #[test]
    fn summary_has_one_matrix_per_version() {
        let md = summary(&[suite("9.0"), suite("11.3")]);
        assert_eq!(md.matches("## libvirt ").count(), 2);
        assert_eq!(md.matches("| crash point | result |").count(), 2);
        assert!(md.contains("## libvirt 9.0\n"));
        assert!(md.contains("## libvirt 11.3\n"));
        assert!(md.contains("| b.reply | disagree | agree | ⚠ real running, model shut off |"));
        assert!(md.contains("| c\\|x | error: timeout | not compared |"));
    }

    #[test]
    fn a_file_that_is_not_live_json_is_named() {
        let dir = std::env::temp_dir().join(format!("reports-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.json");
        std::fs::write(&p, "{\"libvirt\": 3}").unwrap();
        let e = read_suite(&p).unwrap_err();
        assert!(
            e.contains("x.json") && e.contains("pivotcheck live --json"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
