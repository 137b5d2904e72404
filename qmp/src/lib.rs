//! A small synchronous client for the QEMU Machine Protocol (QMP), plus a helper that
//! starts a guest-less QEMU for block-copy (mirror/pivot) experiments.
//!
//! pivotcheck replays model traces against a real QEMU one step at a time, so the client
//! is deliberately blocking: every step is "send a command, wait for its reply" or "wait
//! for an event (a sync point)", and events that arrive while waiting for something else
//! are queued, never dropped, because they are the trace the model is checked against.
//!
//! Commands and replies stay untyped [`serde_json::Value`]s. The harness needs only a
//! handful of commands, and QEMU adds fields and enum values between releases; typed
//! bindings would turn such harmless additions into decode errors.
//!
//! # Why not the `qapi` crate
//!
//! `qapi` 0.15 / `qapi-qmp` 0.15 (the newest at the time of writing) do not obviously fit
//! QEMU 10.0:
//! * their bundled QAPI schema is a QEMU 9.1 snapshot (nothing in it is marked "since
//!   9.2" or "since 10.0"), and the generated enums and structs would reject or hide
//!   anything newer;
//! * they bring in `log`, `qapi-spec` and a `qapi-codegen` build step, while this crate
//!   is meant to depend on serde, serde_json and thiserror only;
//! * the part we need (line-delimited JSON over a unix socket, ids, an event queue) is a
//!   few hundred lines, and we need exact control over event queueing and timeouts.
//!
//! # Quick start
//!
//! ```no_run
//! use std::time::Duration;
//! use qmp::QemuProcess;
//! use serde_json::json;
//!
//! let mut qemu = QemuProcess::spawn("/tmp/run", "/tmp/run/src.qcow2", &[])?;
//! let mut q = qemu.connect(Duration::from_secs(10))?;
//! q.execute("stop", json!(null))?;
//! q.wait_event("STOP", Duration::from_secs(5))?;
//! # Ok::<(), qmp::QmpError>(())
//! ```

mod client;
mod process;

pub use client::{Event, Greeting, QemuVersion, Qmp, Timestamp};
pub use process::QemuProcess;

/// Everything that can go wrong talking to QEMU.
///
/// `Timeout` and `Disconnected` are separate variants because a model checker treats them
/// very differently: a timeout is a missing step (the connection is still usable), a
/// disconnect is a fault (QEMU quit or was killed).
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// QEMU answered the command with an `error` object.
    #[error("QMP command failed: {class}: {desc}")]
    Command { class: String, desc: String },
    /// Nothing suitable arrived before the deadline. The connection stays usable; a late
    /// reply to the timed-out command is discarded when it arrives.
    #[error("timed out waiting for QMP")]
    Timeout,
    /// The peer closed the connection (QEMU quit, was killed, or closed the monitor).
    #[error("QMP connection closed")]
    Disconnected,
    /// A line that is not JSON.
    #[error("QMP sent invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Well-formed JSON that does not follow the protocol (for example a bad greeting).
    #[error("QMP protocol violation: {0}")]
    Protocol(String),
    /// Starting or managing the QEMU process failed; the message includes QEMU's output.
    #[error("QEMU process: {0}")]
    Process(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
