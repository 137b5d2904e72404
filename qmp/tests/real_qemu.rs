//! Integration tests against a real `qemu-system-x86_64` (`-machine none`, no guest).
//!
//! They skip, with a message on the real stderr, only when QEMU is missing and `CI` is
//! unset, so a developer machine without QEMU still runs `cargo test`. Under CI they
//! fail instead, because CI installs QEMU (INSTALL-QEMU.sh) and a silent skip would hide
//! a broken install.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use qmp::{Event, QemuProcess, Qmp, QmpError};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(30);

fn tool_works(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// True if the test should run; false (after saying so) if it must be skipped.
fn qemu_available(test: &str) -> bool {
    let missing: Vec<&str> = [QemuProcess::BINARY, "qemu-img"]
        .into_iter()
        .filter(|b| !tool_works(b))
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{missing:?} not found but CI is set: CI must install QEMU (INSTALL-QEMU.sh)");
    }
    // Straight to the process's stderr: the test harness captures eprintln! of passing
    // tests, and this message must not be hidden.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {missing:?} not found (install with INSTALL-QEMU.sh; with CI set this fails)"
    );
    false
}

/// A per-test directory, removed at the end. Declare it before the `QemuProcess` so that
/// QEMU is killed before its files disappear.
struct RunDir(PathBuf);

impl RunDir {
    fn new(test: &str) -> RunDir {
        let p = std::env::temp_dir().join(format!("qmp-it-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        RunDir(p)
    }

    /// A fresh 1 MiB qcow2 image made with `qemu-img create`.
    fn image(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        let out = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&p)
            .arg("1M")
            .output()
            .unwrap();
        assert!(out.status.success(), "qemu-img create: {out:?}");
        p
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(dir: &RunDir) -> (QemuProcess, Qmp) {
    let src = dir.image("src.qcow2");
    let mut qemu = QemuProcess::spawn(dir.path(), &src, &[]).unwrap();
    let mut q = qemu.connect(T).unwrap();
    // Under load a client can get the start-up RESUME before the greeting; it belongs to
    // no test step, so drop it to keep the traces below exact.
    let startup = q.events().unwrap();
    q.take_history();
    if !startup.is_empty() {
        eprintln!(
            "start-up events before the greeting: {:?}",
            summary(&startup)
        );
    }
    (qemu, q)
}

/// Event names, with JOB_STATUS_CHANGE shown as `JSC(status)` and the standby/ready
/// pairs that every block-layer drain causes removed (see real-qemu.md §3).
fn summary(evs: &[Event]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in evs {
        let s = match e.event.as_str() {
            "JOB_STATUS_CHANGE" => format!("JSC({})", e.data_str("status").unwrap_or("?")),
            name => name.to_owned(),
        };
        if s == "JSC(ready)" && out.last().map(String::as_str) == Some("JSC(standby)") {
            out.pop();
            continue;
        }
        out.push(s);
    }
    out
}

fn status_of_job(q: &mut Qmp, id: &str) -> Option<String> {
    let jobs = q.execute("query-jobs", Value::Null).unwrap();
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .map(|j| j["status"].as_str().unwrap().to_owned())
}

fn drive0_node(q: &mut Qmp) -> String {
    let blocks = q.execute("query-block", Value::Null).unwrap();
    let drive0 = blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["device"] == "drive0")
        .expect("drive0 in query-block");
    drive0["inserted"]["node-name"].as_str().unwrap().to_owned()
}

#[test]
fn real_greeting_query_status_and_reconnect() {
    if !qemu_available("real_greeting_query_status_and_reconnect") {
        return;
    }
    let t0 = Instant::now();
    let dir = RunDir::new("status");
    let (mut qemu, mut q) = start(&dir);
    assert!(q.version().major >= 7, "{:?}", q.version());
    assert!(q.greeting().capabilities.iter().any(|c| c == "oob"));

    let st = q.execute("query-status", Value::Null).unwrap();
    assert_eq!(st["status"], "running");
    assert_eq!(st["running"], true);

    // QEMU serves one client at a time; a new one (a restarted libvirtd) gets a fresh
    // greeting and no old events.
    drop(q);
    let mut q = qemu.connect(T).unwrap();
    assert_eq!(
        q.execute("query-status", Value::Null).unwrap()["status"],
        "running"
    );
    assert!(q.events().unwrap().is_empty());

    match q.execute("no-such-command", Value::Null) {
        Err(QmpError::Command { class, .. }) => assert_eq!(class, "CommandNotFound"),
        other => panic!("expected CommandNotFound, got {other:?}"),
    }

    q.execute("quit", Value::Null).unwrap();
    let shutdown = q.wait_event("SHUTDOWN", T).unwrap();
    assert_eq!(shutdown.data_str("reason"), Some("host-qmp-quit"));
    assert!(matches!(
        q.wait_event("NEVER", T),
        Err(QmpError::Disconnected)
    ));
    let status = qemu
        .wait_timeout(T)
        .unwrap()
        .expect("QEMU exits after quit");
    assert!(status.success(), "{status}");
    eprintln!(
        "real_greeting_query_status_and_reconnect: {:?}",
        t0.elapsed()
    );
}

#[test]
fn real_stop_cont_emit_stop_and_resume() {
    if !qemu_available("real_stop_cont_emit_stop_and_resume") {
        return;
    }
    let dir = RunDir::new("stopcont");
    let (_qemu, mut q) = start(&dir);

    q.execute("stop", Value::Null).unwrap();
    q.wait_event("STOP", T).unwrap();
    let st = q.execute("query-status", Value::Null).unwrap();
    assert_eq!(
        (st["status"].as_str(), &st["running"]),
        (Some("paused"), &json!(false))
    );

    q.execute("cont", Value::Null).unwrap();
    q.wait_event("RESUME", T).unwrap();
    let st = q.execute("query-status", Value::Null).unwrap();
    assert_eq!(
        (st["status"].as_str(), &st["running"]),
        (Some("running"), &json!(true))
    );
    assert_eq!(summary(&q.take_history()), ["STOP", "RESUME"]);
    // _qemu is SIGKILLed and reaped on drop.
}

#[test]
fn real_mirror_ready_complete_pivot_and_dismiss() {
    if !qemu_available("real_mirror_ready_complete_pivot_and_dismiss") {
        return;
    }
    let t0 = Instant::now();
    let dir = RunDir::new("mirror");
    let tgt = dir.image("tgt.qcow2");
    let (mut qemu, mut q) = start(&dir);

    // A "guest" write through drive0; qemu-io reports on QEMU's stdout (the log).
    let out = qemu
        .qemu_io(&mut q, "drive0", "write -P 0x22 4k 4k")
        .unwrap();
    assert!(
        out.contains("wrote 4096/4096 bytes at offset 4096"),
        "{out:?}"
    );

    q.execute(
        "blockdev-add",
        json!({"node-name": "tgt-file", "driver": "file", "filename": tgt}),
    )
    .unwrap();
    q.execute(
        "blockdev-add",
        json!({"node-name": "tgt", "driver": "qcow2", "file": "tgt-file"}),
    )
    .unwrap();
    q.execute(
        "blockdev-mirror",
        json!({"job-id": "mirror0", "device": "drive0", "target": "tgt",
               "sync": "full", "auto-dismiss": false}),
    )
    .unwrap();
    let ready = q.wait_event("BLOCK_JOB_READY", T).unwrap();
    assert_eq!(ready.data_str("device"), Some("mirror0"));
    assert_eq!(ready.data_str("type"), Some("mirror"));
    assert_eq!(status_of_job(&mut q, "mirror0").as_deref(), Some("ready"));

    // QEMU forbids other writers on the target while the job runs.
    let out = qemu.qemu_io(&mut q, "tgt", "write -P 0x77 12k 4k").unwrap();
    assert!(out.contains("Permission conflict"), "{out:?}");

    let t_complete = Instant::now();
    q.execute("job-complete", json!({"id": "mirror0"})).unwrap();
    q.wait_event_matching(
        |e| e.event == "JOB_STATUS_CHANGE" && e.data_str("status") == Some("concluded"),
        T,
    )
    .unwrap();
    let pivot_time = t_complete.elapsed();

    // Pivoted: drive0 now reads from the target; the concluded job stays until dismissed.
    assert_eq!(drive0_node(&mut q), "tgt");
    assert_eq!(
        status_of_job(&mut q, "mirror0").as_deref(),
        Some("concluded")
    );
    q.execute("job-dismiss", json!({"id": "mirror0"})).unwrap();
    q.wait_event_matching(
        |e| e.event == "JOB_STATUS_CHANGE" && e.data_str("status") == Some("null"),
        T,
    )
    .unwrap();
    assert_eq!(q.execute("query-jobs", Value::Null).unwrap(), json!([]));

    let raw = q.take_history();
    let trace = summary(&raw);
    eprintln!("mirror trace ({} raw events): {trace:?}", raw.len());
    assert_eq!(
        trace,
        [
            "JSC(created)",
            "JSC(running)",
            "JSC(ready)",
            "BLOCK_JOB_READY",
            "JSC(waiting)",
            "JSC(pending)",
            "BLOCK_JOB_COMPLETED",
            "JSC(concluded)",
            "JSC(null)",
        ]
    );

    // A write after the pivot lands in the target.
    let out = qemu
        .qemu_io(&mut q, "drive0", "write -P 0x33 8k 4k")
        .unwrap();
    assert!(
        out.contains("wrote 4096/4096 bytes at offset 8192"),
        "{out:?}"
    );
    let out = qemu.qemu_io(&mut q, "tgt", "read -P 0x33 8k 4k").unwrap();
    assert!(
        out.contains("read 4096/4096 bytes at offset 8192"),
        "{out:?}"
    );
    assert!(!out.contains("Pattern verification failed"), "{out:?}");

    q.execute("quit", Value::Null).unwrap();
    assert!(qemu.wait_timeout(T).unwrap().unwrap().success());
    eprintln!(
        "real_mirror_ready_complete_pivot_and_dismiss: {:?} (job-complete -> concluded {:?})",
        t0.elapsed(),
        pivot_time
    );
}

#[test]
fn real_sigterm_shuts_down_cleanly() {
    if !qemu_available("real_sigterm_shuts_down_cleanly") {
        return;
    }
    let dir = RunDir::new("sigterm");
    let (mut qemu, mut q) = start(&dir);
    qemu.sigterm().unwrap();
    let ev = q.wait_event("SHUTDOWN", T).unwrap();
    assert_eq!(ev.data_str("reason"), Some("host-signal"));
    // Wait for the close without writing: a command that reaches QEMU 10.0.2 while it
    // runs monitor_cleanup() crashes it (SIGSEGV in aio_co_wake() called from the
    // monitor I/O thread's JSON parser; core dump backtrace, about 1 run in 500 when
    // `query-status` follows SIGTERM at once). CI saw that as a failed exit status here.
    // The images are closed before the monitor (qemu_cleanup), so nothing is lost.
    assert!(matches!(
        q.wait_event_matching(|_| false, T),
        Err(QmpError::Disconnected)
    ));
    let status = qemu
        .wait_timeout(T)
        .unwrap()
        .expect("QEMU exits on SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn real_sigkill_disconnects_without_events() {
    use std::os::unix::process::ExitStatusExt;
    if !qemu_available("real_sigkill_disconnects_without_events") {
        return;
    }
    let dir = RunDir::new("sigkill");
    let (mut qemu, mut q) = start(&dir);
    let pid = qemu.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    qemu.sigkill().unwrap();
    let status = qemu.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");
    assert!(matches!(
        q.execute("query-status", Value::Null),
        Err(QmpError::Disconnected)
    ));
    assert!(q.take_history().is_empty());
    // Signalling a reaped process is a no-op, never a stray kill of a reused pid.
    qemu.sigterm().unwrap();
    qemu.sigkill().unwrap();
}

#[test]
fn real_bad_option_fails_spawn_with_qemu_output() {
    if !qemu_available("real_bad_option_fails_spawn_with_qemu_output") {
        return;
    }
    let dir = RunDir::new("badopt");
    let src = dir.image("src.qcow2");
    let err = QemuProcess::spawn(dir.path(), &src, &["-no-such-option"])
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, QmpError::Process(_)), "{err:?}");
    assert!(msg.contains("no-such-option"), "{msg}");
}

#[test]
fn real_missing_image_fails_connect_with_qemu_output() {
    if !qemu_available("real_missing_image_fails_connect_with_qemu_output") {
        return;
    }
    let dir = RunDir::new("noimage");
    let missing = dir.path().join("does-not-exist.qcow2");
    // The socket comes before the drive, so spawn itself succeeds.
    let mut qemu = QemuProcess::spawn(dir.path(), &missing, &[]).unwrap();
    let err = qemu.connect(T).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, QmpError::Process(_)), "{err:?}");
    assert!(msg.contains("does-not-exist.qcow2"), "{msg}");
    assert!(!qemu.try_wait().unwrap().unwrap().success());
}
