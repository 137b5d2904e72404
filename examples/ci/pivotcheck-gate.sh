#!/usr/bin/env bash
# The pivotcheck gate as a CI job runs it: check the scenarios, write the report folder,
# publish the summary, and fail on a mismatch (1), bad input (2) or an incomplete search
# (3). Both examples beside this file (GitHub Actions, GitLab CI) call it, and a test runs
# it (sim/tests/it/ci_examples.rs).
#
#   examples/ci/pivotcheck-gate.sh [SCENARIO-FILE-OR-FOLDER...]   (default: scenarios/)
#
# Environment:
#   PIVOTCHECK_BIN   the pivotcheck binary; unset: built here with `cargo build --release --locked`
#   PIVOTCHECK_OUT   the report folder (default: pivotcheck-report): summary.md, junit.xml,
#                    index.html, one .itf.json per counterexample, traces/
#   GITHUB_STEP_SUMMARY  set by GitHub Actions: summary.md is appended to the job's summary
set -uo pipefail

out=${PIVOTCHECK_OUT:-pivotcheck-report}
bin=${PIVOTCHECK_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --locked --bin pivotcheck || exit 2
    bin=target/release/pivotcheck
fi

"$bin" check --brief --report "$out" --out "$out/traces" "$@"
code=$?

if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/summary.md" ]; then
    cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"
fi

case $code in
    0) echo "pivotcheck gate: every verdict matches its scenario's expectations" ;;
    1) echo "pivotcheck gate: FAILED, a verdict differs from its scenario's expectations (see $out/summary.md)" >&2 ;;
    3) echo "pivotcheck gate: FAILED, a search stopped early; raise --max-states/--timeout (no verdict is a proof)" >&2 ;;
    *) echo "pivotcheck gate: FAILED, bad input or usage (exit $code)" >&2 ;;
esac
exit $code
