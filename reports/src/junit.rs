//! `junit.xml`: one test suite per scenario, one test case per property; a failure (the
//! readable counterexample as its text) where the verdict differs from the scenario's
//! expectation. Serialized by `quick-junit`, the writer cargo-nextest uses.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::run::{Counterexample, Run};
use crate::text;

fn readable(c: &Counterexample) -> String {
    format!(
        "{} ({}): {}\n{}=> {} {}: {}\n",
        c.scenario,
        c.variant,
        c.verdict,
        text::counterexample(&c.config, &c.actions, "  "),
        if c.property.is_empty() {
            "trace"
        } else {
            "violates"
        },
        c.property,
        c.meaning
    )
}

/// The JUnit report of `run`.
pub fn report(run: &Run) -> Report {
    let mut report = Report::new("pivotcheck");
    for sc in &run.scenarios {
        let mut suite = TestSuite::new(sc.name.as_str());
        suite.set_time(sc.elapsed);
        suite.add_properties([
            Property::new("file", sc.file.as_str()),
            Property::new("variant", sc.variant.as_str()),
            Property::new("complete", sc.complete.to_string()),
            Property::new("unique_states", sc.unique_states.to_string()),
            Property::new("states", sc.states.to_string()),
        ]);
        for p in &sc.properties {
            let cx = p.counterexample.map(|i| &run.counterexamples[i]);
            let status = if p.matches && sc.complete {
                let mut st = TestCaseStatus::success();
                st.set_message(format!("{} (expected {})", p.status, p.expected));
                st
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let why = if sc.complete {
                    format!("{} {}, expected {}", p.name, p.status, p.expected)
                } else {
                    format!(
                        "{} {}: the search stopped before it was exhaustive (expected {})",
                        p.name, p.status, p.expected
                    )
                };
                st.set_message(why.as_str());
                st.set_type(p.status.name());
                let body = match cx {
                    Some(c) => readable(c),
                    None => format!("{why}\nno counterexample: the property was not violated in the states explored\n"),
                };
                st.set_description(body);
                st
            };
            let mut case = TestCase::new(p.name.as_str(), status);
            case.set_classname(format!("pivotcheck.{}", sc.name));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    let traces: Vec<&Counterexample> = if run.scenarios.is_empty() {
        run.counterexamples.iter().collect()
    } else {
        Vec::new()
    };
    if !traces.is_empty() {
        let mut suite = TestSuite::new("traces");
        for c in traces {
            let name = format!("{} {}", c.scenario, c.property);
            let status = if c.expected {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(c.verdict.as_str());
                st.set_description(readable(c));
                st
            };
            let mut case = TestCase::new(name, status);
            case.set_classname(format!("pivotcheck.trace.{}", c.scenario));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
}

/// The report as XML text.
pub fn xml(run: &Run) -> String {
    report(run)
        .to_string()
        .expect("quick-junit serializes any report built from strings")
}
