//! `*.itf.json`: a path in the Informal Trace Format of Apalache and Quint (ADR-015), so
//! that existing trace tools can read it.
//!
//! Variables: `step` (0 for the initial state), `action` (the model's action name, empty
//! for the initial state; Quint's `mbt::actionTaken` plays the same role), `actor`,
//! `label` (what happened, in words), and one record per actor (`storage`, `qemu`,
//! `libvirtd`, `app`) whose fields are `model::describe::fields` with `snake_case` keys;
//! `true`/`false` become booleans, everything else stays the readable string.

use serde_json::{json, Map, Value};

use model::describe;

use crate::run::Counterexample;

/// The ITF variables, in order.
pub const VARS: [&str; 8] = [
    "step", "action", "actor", "label", "storage", "qemu", "libvirtd", "app",
];

fn key(field: &str) -> String {
    field
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn value(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        s => Value::String(s.to_string()),
    }
}

/// The ITF trace of a counterexample.
pub fn trace(c: &Counterexample) -> Value {
    let states = &c.states;
    let mut out = Vec::with_capacity(states.len());
    for (i, w) in states.iter().enumerate() {
        let mut st = Map::new();
        st.insert("#meta".into(), json!({ "index": i }));
        st.insert("step".into(), json!(i));
        let (action, actor, label) = match i.checked_sub(1).and_then(|j| c.trace.steps.get(j)) {
            Some(t) => (t.action.clone(), t.actor.clone(), t.label.clone()),
            None => (String::new(), String::new(), "initial state".to_string()),
        };
        st.insert("action".into(), Value::String(action));
        st.insert("actor".into(), Value::String(actor));
        st.insert("label".into(), Value::String(label));
        for a in ["storage", "qemu", "libvirtd", "app"] {
            st.insert(a.into(), Value::Object(Map::new()));
        }
        for (actor, field, v) in describe::fields(&c.config, w) {
            if let Some(Value::Object(rec)) = st.get_mut(actor) {
                rec.insert(key(field), value(&v));
            }
        }
        out.push(Value::Object(st));
    }
    json!({
        "#meta": {
            "format": "ITF",
            "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
            "source": c.trace.scenario.file,
            "description": format!("pivotcheck: {} of scenario {} ({}): {}", c.property, c.scenario, c.variant, c.verdict),
            "scenario": c.scenario,
            "property": c.property,
        },
        "vars": VARS,
        "states": out,
    })
}

/// The ITF trace as pretty JSON text.
pub fn text(c: &Counterexample) -> String {
    let mut s = serde_json::to_string_pretty(&trace(c)).expect("JSON values serialize");
    s.push('\n');
    s
}
