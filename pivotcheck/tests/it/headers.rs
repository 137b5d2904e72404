//! The figures in the scenario files' headers (`# Checker verdict: ...`) are the
//! checker's: each `property (N steps)` is a violation of that property whose shortest
//! counterexample has N steps, every violated property is named, and `N unique states` is
//! the state count. They are compared with `pinned/suite.txt`, which the `pinned` tests keep
//! equal to what the model computes, so a model change that moves a count or a length
//! shows here too instead of leaving a header that says something the tool no longer
//! prints. `PIVOTCHECK_BLESS=1` rewrites the numbers in place (a property to add or remove
//! is reported, to be written by hand with its explanation).

use std::collections::BTreeMap;

use crate::scenarios_dir;

/// Per scenario (its path under `scenarios/`): unique states and violated properties with
/// their shortest lengths, read from the pinned suite table.
fn pinned() -> BTreeMap<String, (u64, BTreeMap<String, u64>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/pinned/suite.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: BTreeMap<String, (u64, BTreeMap<String, u64>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') {
            let (name, rest) = line.split_once(": ").expect("scenario line");
            let unique = rest.split(' ').next().unwrap().parse().unwrap();
            out.insert(name.to_string(), (unique, BTreeMap::new()));
            current = Some(name.to_string());
        } else if let Some(rest) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            if let Some((property, steps)) = rest.split_once(" violated in ") {
                let steps = steps.trim_end_matches(" steps").parse().unwrap();
                let name = current.as_ref().unwrap();
                out.get_mut(name)
                    .unwrap()
                    .1
                    .insert(property.to_string(), steps);
            }
        }
    }
    out
}

/// The header's verdict text: from `Checker verdict:` to the first `unique states.`, as
/// (byte range in the file, text).
fn verdict_text(file: &str) -> Option<(usize, usize)> {
    let start = file.find("# Checker verdict:")?;
    let end = file[start..].find("unique states.")? + start + "unique states.".len();
    Some((start, end))
}

/// `property (N steps)` pairs and the `N unique states` figure of a verdict text.
fn figures(text: &str) -> (Vec<(String, u64)>, Option<u64>) {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ':' || c == '#')
        .filter(|w| !w.is_empty())
        .collect();
    let mut pairs = Vec::new();
    let mut unique = None;
    for i in 0..words.len() {
        if let Some(n) = words[i].strip_prefix('(') {
            if words.get(i + 1).is_some_and(|w| w.starts_with("steps")) && i > 0 {
                pairs.push((words[i - 1].to_string(), n.parse().unwrap()));
            }
        }
        if words[i] == "unique" && words.get(i + 1) == Some(&"states.") && i > 0 {
            unique = Some(words[i - 1].parse().unwrap());
        }
    }
    (pairs, unique)
}

#[test]
fn scenario_headers_quote_the_checkers_figures() {
    let bless = std::env::var("PIVOTCHECK_BLESS").as_deref() == Ok("1");
    let pinned = pinned();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (name, (unique, violated)) in &pinned {
        let path = scenarios_dir().join(name);
        let file = std::fs::read_to_string(&path).unwrap();
        let Some((start, end)) = verdict_text(&file) else {
            continue;
        };
        checked += 1;
        let text = &file[start..end];
        let (pairs, header_unique) = figures(text);
        let mut fixed = text.to_string();
        for (property, steps) in &pairs {
            match violated.get(property) {
                Some(now) if now == steps => {}
                Some(now) => {
                    wrong.push(format!("{name}: {property} ({steps} steps), now {now}"));
                    fixed = fixed.replacen(
                        &format!("{property} ({steps} steps)"),
                        &format!("{property} ({now} steps)"),
                        1,
                    );
                }
                None => wrong.push(format!(
                    "{name}: names {property} ({steps} steps), which holds now (edit by hand)"
                )),
            }
        }
        for property in violated.keys() {
            if !pairs.iter().any(|(p, _)| p == property) {
                wrong.push(format!(
                    "{name}: {property} is violated ({} steps) but not named (edit by hand)",
                    violated[property]
                ));
            }
        }
        if header_unique != Some(*unique) {
            wrong.push(format!(
                "{name}: {header_unique:?} unique states, now {unique}"
            ));
            if let Some(old) = header_unique {
                fixed = fixed.replacen(
                    &format!("{old} unique states."),
                    &format!("{unique} unique states."),
                    1,
                );
            }
        }
        if bless && fixed != text {
            let mut new = file.clone();
            new.replace_range(start..end, &fixed);
            std::fs::write(&path, new).unwrap();
            eprintln!("headers: rewrote {}", path.display());
        }
    }
    assert!(checked >= 50, "only {checked} headers found");
    if !bless {
        assert!(
            wrong.is_empty(),
            "scenario headers that no longer say what the checker prints \
             (PIVOTCHECK_BLESS=1 rewrites the numbers):\n{}",
            wrong.join("\n")
        );
    }
}

#[test]
fn a_stale_figure_is_seen() {
    let (pairs, unique) = figures(
        "# Checker verdict: no-lost-writes (16 steps), truthful-answer\n# (25 steps); liveness: \
         pivot-call-returns (29 steps); every other property holds; 13446 unique states.",
    );
    assert_eq!(
        pairs,
        vec![
            ("no-lost-writes".to_string(), 16),
            ("truthful-answer".to_string(), 25),
            ("pivot-call-returns".to_string(), 29)
        ]
    );
    assert_eq!(unique, Some(13446));
}
