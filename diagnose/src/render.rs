//! The answer as text, and as an HTML page: the behaviour found, step by step, with the
//! log line each observable step explains beside it.

use crate::Diagnosis;

pub fn text(d: &Diagnosis) -> String {
    let mut s = String::new();
    let verdict = match (d.consistent, d.complete) {
        (_, false) => "INCOMPLETE",
        (true, true) => "consistent",
        (false, true) => "NOT consistent",
    };
    s.push_str(&format!(
        "{verdict}: domain {} against preset {} ({} observable log lines)\n",
        d.domain, d.preset, d.observed
    ));
    if d.consistent {
        s.push_str(&format!("  windows:      {}\n", d.windows.join(", ")));
        s.push_str(&format!("  qemu runs on: {}\n", d.qemu));
        s.push_str(&format!("  data on:      {}\n", d.data_on));
        s.push_str(&format!("  libvirt says: {}\n", d.libvirt_says));
        s.push_str(&format!("  states:       {}\n", d.states));
        s.push_str(&format!("  advice:       {}\n", d.advice));
    }
    if let Some(l) = d.first_unexplained_line {
        s.push_str(&format!("  first unexplained line: {l}\n"));
    }
    if let Some(r) = &d.reason {
        s.push_str(&format!("  {r}\n"));
    }
    if !d.consistent && d.complete {
        // The nearest behaviour's last steps: where the model and the log part.
        let from = d.behaviour.len().saturating_sub(8);
        s.push_str("  the behaviour that explains the most, its last steps:\n");
        for (i, st) in d.behaviour.iter().enumerate().skip(from) {
            let at = st
                .line
                .map(|l| format!("line {l}"))
                .unwrap_or("hidden".into());
            s.push_str(&format!("    {:>3}. {} ({at})\n", i + 1, st.label));
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One page: the answer, the behaviour found as a sequence diagram (`svg`, drawn by
/// `reports::diagram`), and a table of its steps with the log line each observable step
/// explains beside it (hidden steps in grey).
pub fn html(d: &Diagnosis, log: &str, svg: &str) -> String {
    let lines: Vec<&str> = log.split('\n').collect();
    let mut s = String::from(
        "<!doctype html><html><head><meta charset='utf-8'><title>pivotcheck diagnose</title>\
         <style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:2px 6px;\
         vertical-align:top;font-size:13px}table{border-collapse:collapse}\
         .hidden{color:#777}.log{font-family:monospace;max-width:70em;overflow-wrap:anywhere}\
         </style></head><body>",
    );
    s.push_str(&format!(
        "<h1>pivotcheck diagnose: domain {}</h1><pre>{}</pre>",
        esc(&d.domain),
        esc(&text(d))
    ));
    s.push_str(svg);
    s.push_str("<table><tr><th>step</th><th>model</th><th>log line</th></tr>");
    for (i, st) in d.behaviour.iter().enumerate() {
        let class = if st.line.is_some() {
            ""
        } else {
            " class='hidden'"
        };
        let log = match st.line {
            Some(l) => format!(
                "{l}: {}",
                esc(lines.get(l - 1).copied().unwrap_or("").trim_end())
            ),
            None => "(hidden: not in the log)".into(),
        };
        s.push_str(&format!(
            "<tr{class}><td>{}</td><td>{}</td><td class='log'>{log}</td></tr>",
            i + 1,
            esc(&st.label)
        ));
    }
    s.push_str("</table></body></html>\n");
    s
}
