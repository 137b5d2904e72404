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
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One page: the answer, then a table of the behaviour's steps (actor lanes as columns)
/// with the log line each observable step explains.
pub fn html(d: &Diagnosis, log: &str) -> String {
    let lines: Vec<&str> = log.split('\n').collect();
    let mut s = String::from(
        "<!doctype html><html><head><meta charset='utf-8'><title>pivotcheck diagnose</title>\
         <style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:2px 6px;\
         vertical-align:top;font-size:13px}table{border-collapse:collapse}\
         .hidden{color:#777}.log{font-family:monospace;max-width:60em;overflow-wrap:anywhere}\
         </style></head><body>",
    );
    s.push_str(&format!(
        "<h1>pivotcheck diagnose: {}</h1><pre>{}</pre>",
        esc(&d.domain),
        esc(&text(d))
    ));
    s.push_str("<table><tr><th>#</th><th>guest</th><th>qemu</th><th>libvirtd</th><th>app</th><th>log line</th></tr>");
    for (i, st) in d.behaviour.iter().enumerate() {
        let lane = match model::Action::from_name(&st.action).map(|a| a.actor()) {
            Some(model::Actor::Guest) => 0,
            Some(model::Actor::Qemu) => 1,
            Some(model::Actor::Libvirtd) | None => 2,
            Some(model::Actor::App) => 3,
        };
        let class = if st.line.is_some() {
            ""
        } else {
            " class='hidden'"
        };
        s.push_str(&format!("<tr{class}><td>{}</td>", i + 1));
        for k in 0..4 {
            if k == lane {
                s.push_str(&format!("<td>{}</td>", esc(&st.label)));
            } else {
                s.push_str("<td></td>");
            }
        }
        match st.line {
            Some(l) => s.push_str(&format!(
                "<td class='log'>{l}: {}</td></tr>",
                esc(lines.get(l - 1).copied().unwrap_or(""))
            )),
            None => s.push_str("<td>(hidden)</td></tr>"),
        }
    }
    s.push_str("</table></body></html>\n");
    s
}
