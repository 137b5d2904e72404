//! Model tests: per-actor transitions, pinned state counts, pinned counterexamples.
