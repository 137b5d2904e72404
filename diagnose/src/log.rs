//! Reading libvirtd's debug log: the monitor traffic of one domain, the daemon's starts.
//!
//! The settings that produce what this reads (`libvirtd.conf`):
//! `log_filters="1:qemu 1:libvirt"` (at least `1:qemu.qemu_monitor 1:qemu.qemu_monitor_json
//! 1:qemu.qemu_domain 1:libvirt`) and `log_outputs="1:file:/var/log/libvirt/libvirtd.log"`.
//! Every line starts with `YYYY-MM-DD HH:MM:SS.mmm+ZZZZ: TID: LEVEL : FUNC:LINE : MESSAGE`;
//! a message can span lines (libvirt logs the `\r\n` that ends a QMP message, so
//! `QEMU_MONITOR_IO_WRITE` continues with ` len=.. ret=.. errno=..`): a line that does not
//! start with a timestamp continues the one before. The lines read:
//! - `libvirt version: ...`: a daemon start (after the first one in the log: a restart);
//! - `Entering monitor (mon=0x.. vm=0x.. name=NAME)`: which monitor belongs to which domain;
//! - `QEMU_MONITOR_IO_WRITE: mon=0x.. buf={...}`: a command written to QEMU's socket (only
//!   this one counts as sent: `QEMU_MONITOR_SEND_MSG` is logged before the write, and a
//!   daemon killed between the two never sent the command);
//! - `QEMU_MONITOR_RECV_REPLY: mon=0x.. reply={...}`: a reply libvirtd read and parsed;
//! - `QEMU_MONITOR_RECV_EVENT: mon=0x.. event={...}`: an event libvirtd read;
//! - `qemuProcessStop: Shutting down vm=0x.. name=NAME ...`: libvirtd stops the domain.
//!
//! Every other line is ignored. A log cut by a crash is normal: a line whose monitor JSON
//! is incomplete is accepted only as the last line of a daemon's run (before the next
//! `libvirt version:` line or the end of the file), and then stands for any one monitor
//! message or none (`cut_lines`, [`Kind::Cut`]).

use serde_json::Value;

/// One message of the monitor or the daemon, with its 1-based line in the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub line: usize,
    /// The timestamp as written (`2026-12-02 03:31:35.179+0000`).
    pub time: String,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `libvirt version: ...`: a libvirtd process started.
    DaemonStart { version: String },
    /// A command libvirtd wrote to the monitor `mon`.
    Sent {
        mon: String,
        execute: String,
        id: Option<String>,
        arguments: Value,
    },
    /// A reply libvirtd read on `mon` (`id` names the command).
    Reply {
        mon: String,
        id: Option<String>,
        reply: Value,
    },
    /// `qemuProcessStop: Shutting down vm=.. name=NAME`: libvirtd stops the domain.
    DomainStop { domain: String },
    /// A monitor line cut mid-message by a crash: something was written or read on `mon`,
    /// its content is lost.
    Cut { mon: String },
    /// An event libvirtd read on `mon`.
    Event {
        mon: String,
        event: String,
        data: Value,
    },
}

/// The log, read.
#[derive(Clone, Debug, Default)]
pub struct Log {
    pub entries: Vec<Entry>,
    /// Monitor pointer -> domain name, from `Entering monitor (... name=...)` lines.
    pub monitors: Vec<(String, String)>,
    /// Lines cut mid-message by a crash (ignored).
    pub cut_lines: Vec<usize>,
    /// Number of lines in the file.
    pub lines: usize,
}

impl Log {
    /// The domain a monitor belongs to.
    pub fn domain_of(&self, mon: &str) -> Option<&str> {
        self.monitors
            .iter()
            .find(|(m, _)| m == mon)
            .map(|(_, d)| d.as_str())
    }

    /// The domains with monitor traffic, in order of first appearance.
    pub fn domains(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, d) in &self.monitors {
            if !out.contains(d) {
                out.push(d.clone());
            }
        }
        out
    }
}

/// A log that is not libvirtd's debug log, or is damaged somewhere else than at a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm+ZZZZ: ` at the start of a line.
fn timestamp(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let ok = b.len() > 30
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[0..4].iter().all(u8::is_ascii_digit);
    if !ok {
        return None;
    }
    let end = line.find(": ")?;
    Some(&line[..end])
}

/// The value after `key=` up to the next space or `)`.
fn field<'a>(msg: &'a str, key: &str) -> Option<&'a str> {
    let i = msg.find(key)? + key.len();
    let rest = &msg[i..];
    let end = rest.find([' ', ')']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A logical message: its first line number, the timestamp and the text (continuation
/// lines joined with `\n`).
struct Message {
    line: usize,
    time: String,
    text: String,
}

fn messages(text: &str) -> Result<(Vec<Message>, usize), LogError> {
    let mut out: Vec<Message> = Vec::new();
    let mut n = 0;
    let segments: Vec<&str> = text.split('\n').collect();
    let count = segments.len() - usize::from(segments.last() == Some(&""));
    for (i, line) in segments.into_iter().take(count).enumerate() {
        n = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        match timestamp(line) {
            Some(t) => out.push(Message {
                line: i + 1,
                time: t.to_string(),
                text: line[t.len() + 2..].to_string(),
            }),
            None => match out.last_mut() {
                Some(m) => {
                    m.text.push('\n');
                    m.text.push_str(line);
                }
                None if line.trim().is_empty() => {}
                None => {
                    return Err(LogError {
                        line: i + 1,
                        message: format!(
                            "not a libvirtd log line (expected `YYYY-MM-DD HH:MM:SS.mmm+ZZZZ: TID: LEVEL : ...`): {:?}",
                            line.chars().take(80).collect::<String>()
                        ),
                    })
                }
            },
        }
    }
    Ok((out, n))
}

/// The JSON after `key` (`buf=`, `reply=`, `event=`) in a monitor message; `None` when the
/// JSON is incomplete (a cut line).
fn json_after(text: &str, key: &str) -> Option<Value> {
    let i = text.find(key)? + key.len();
    let rest = &text[i..];
    let mut de = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    de.next()?.ok()
}

/// Reads a libvirtd debug log.
pub fn parse(text: &str) -> Result<Log, LogError> {
    let (msgs, lines) = messages(text)?;
    let mut log = Log {
        lines,
        ..Log::default()
    };
    // A message is the last of a daemon's run when the next one starts a daemon.
    let last_of_run = |k: usize| {
        msgs.get(k + 1)
            .is_none_or(|m| m.text.contains("libvirt version: "))
    };
    for (k, m) in msgs.iter().enumerate() {
        let body = match m.text.find(" : ") {
            Some(i) => {
                // `TID: LEVEL : FUNC:LINE : MESSAGE`
                let after = &m.text[i + 3..];
                match after.find(" : ") {
                    Some(j) => &after[j + 3..],
                    None => after,
                }
            }
            None => &m.text,
        };
        if let Some(v) = body.strip_prefix("libvirt version: ") {
            log.entries.push(Entry {
                line: m.line,
                time: m.time.clone(),
                kind: Kind::DaemonStart {
                    version: v.split(',').next().unwrap_or(v).trim().to_string(),
                },
            });
            continue;
        }
        if let Some(rest) = body.strip_prefix("Shutting down vm=") {
            if let Some(name) = field(rest, "name=") {
                log.entries.push(Entry {
                    line: m.line,
                    time: m.time.clone(),
                    kind: Kind::DomainStop {
                        domain: name.trim_end_matches(',').to_string(),
                    },
                });
            }
            continue;
        }
        if let Some(rest) = body.strip_prefix("Entering monitor (") {
            if let (Some(mon), Some(name)) = (field(rest, "mon="), field(rest, "name=")) {
                if log.domain_of(mon).is_none() {
                    log.monitors.push((mon.to_string(), name.to_string()));
                }
            }
            continue;
        }
        let monitor = [
            ("QEMU_MONITOR_IO_WRITE: ", "buf="),
            ("QEMU_MONITOR_RECV_REPLY: ", "reply="),
            ("QEMU_MONITOR_RECV_EVENT: ", "event="),
        ]
        .into_iter()
        .find(|(p, _)| body.starts_with(p));
        let Some((prefix, key)) = monitor else {
            continue;
        };
        let Some(mon) = field(body, "mon=") else {
            continue;
        };
        let Some(v) = json_after(body, key) else {
            if last_of_run(k) {
                log.cut_lines.push(m.line);
                log.entries.push(Entry {
                    line: m.line,
                    time: m.time.clone(),
                    kind: Kind::Cut {
                        mon: mon.to_string(),
                    },
                });
                continue;
            }
            return Err(LogError {
                line: m.line,
                message: format!(
                    "{} carries no complete JSON message, and the daemon went on logging after it (a line cut by a crash can only be a daemon's last)",
                    prefix.trim_end_matches(": ")
                ),
            });
        };
        let mon = mon.to_string();
        let id = v.get("id").and_then(Value::as_str).map(str::to_string);
        let kind = match prefix {
            "QEMU_MONITOR_IO_WRITE: " => {
                let Some(execute) = v.get("execute").and_then(Value::as_str) else {
                    // The capabilities greeting and partial writes carry no command.
                    continue;
                };
                Kind::Sent {
                    mon,
                    execute: execute.to_string(),
                    id,
                    arguments: v.get("arguments").cloned().unwrap_or(Value::Null),
                }
            }
            "QEMU_MONITOR_RECV_REPLY: " => Kind::Reply { mon, id, reply: v },
            _ => Kind::Event {
                mon,
                event: v
                    .get("event")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                data: v.get("data").cloned().unwrap_or(Value::Null),
            },
        };
        log.entries.push(Entry {
            line: m.line,
            time: m.time.clone(),
            kind,
        });
    }
    Ok(log)
}

/// The line numbers (1-based) `diagnose` uses, with their continuation lines: daemon
/// starts, the first `Entering monitor` of each monitor, domain stops, and monitor
/// traffic, which before a domain's copy starts is only the commands that set the copy up
/// (`blockdev-add`, `blockdev-mirror`, `drive-mirror`) and the copy command's reply.
/// `pivotcheck diagnose --trim` prints these lines; the checked-in corpus is trimmed so,
/// which changes no answer (a test checks this on every corpus entry).
pub fn relevant_lines(text: &str) -> Result<Vec<usize>, LogError> {
    let (msgs, _) = messages(text)?;
    let mut owners: Vec<(String, String)> = Vec::new();
    for m in &msgs {
        if let Some(i) = m.text.find("Entering monitor (") {
            let rest = &m.text[i + 18..];
            if let (Some(mon), Some(name)) = (field(rest, "mon="), field(rest, "name=")) {
                if !owners.iter().any(|(o, _)| o == mon) {
                    owners.push((mon.to_string(), name.to_string()));
                }
            }
        }
    }
    let owner = |mon: &str| {
        owners
            .iter()
            .find(|(o, _)| o == mon)
            .map(|(_, d)| d.clone())
    };
    let mut started: Vec<String> = Vec::new();
    let mut seen_mon: Vec<String> = Vec::new();
    let mut copy_ids: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (k, m) in msgs.iter().enumerate() {
        let t = &m.text;
        let mon = field(t, "mon=").map(str::to_string);
        let dom = mon.as_deref().and_then(owner);
        let live = dom.as_ref().is_some_and(|d| started.contains(d));
        let keep = if t.contains("libvirt version: ") || t.contains(" : Shutting down vm=") {
            true
        } else if t.contains("Entering monitor (") {
            let mon = mon.clone().unwrap_or_default();
            let first = !seen_mon.contains(&mon);
            seen_mon.push(mon);
            first
        } else if t.contains("QEMU_MONITOR_IO_WRITE: ") {
            let v = json_after(t, "buf=");
            let exec = v
                .as_ref()
                .and_then(|v| v.get("execute"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let setup = matches!(exec, "blockdev-add" | "blockdev-mirror" | "drive-mirror");
            if matches!(exec, "blockdev-mirror" | "drive-mirror") {
                if let Some(id) = v.as_ref().and_then(|v| v.get("id")).and_then(Value::as_str) {
                    copy_ids.push(id.to_string());
                }
            }
            live || setup || v.is_none()
        } else if t.contains("QEMU_MONITOR_RECV_REPLY: ") {
            let v = json_after(t, "reply=");
            let id = v
                .as_ref()
                .and_then(|v| v.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let copy = id.is_some_and(|i| copy_ids.contains(&i));
            if copy && v.as_ref().is_some_and(|v| v.get("return").is_some()) {
                if let Some(d) = &dom {
                    started.push(d.clone());
                }
            }
            live || copy || v.is_none()
        } else if t.contains("QEMU_MONITOR_RECV_EVENT: ") {
            live || json_after(t, "event=").is_none()
        } else {
            false
        };
        if keep {
            let next = msgs.get(k + 1).map(|n| n.line).unwrap_or(usize::MAX);
            let extra = t.matches('\n').count();
            out.extend((m.line..=m.line + extra).take_while(|l| *l < next));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITE: &str = "2026-12-02 03:31:35.179+0000: 18085: info : qemuMonitorIOWrite:366 : QEMU_MONITOR_IO_WRITE: mon=0x7f16dc005a20 buf={\"execute\":\"job-complete\",\"arguments\":{\"id\":\"copy-vda-libvirt-1-format\"},\"id\":\"libvirt-485\"}\r\n len=94 ret=94 errno=0\n";
    const START: &str = "2026-12-02 03:31:35.306+0000: 18112: info : libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian)\n";

    #[test]
    fn reads_a_write_with_its_continuation_and_a_restart() {
        let log = parse(&format!("{WRITE}{START}")).unwrap();
        assert_eq!(log.entries.len(), 2);
        assert_eq!(log.entries[0].line, 1);
        match &log.entries[0].kind {
            Kind::Sent {
                execute, id, mon, ..
            } => {
                assert_eq!(execute, "job-complete");
                assert_eq!(id.as_deref(), Some("libvirt-485"));
                assert_eq!(mon, "0x7f16dc005a20");
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(log.entries[1].line, 3);
        assert_eq!(
            log.entries[1].kind,
            Kind::DaemonStart {
                version: "9.0.0".into()
            }
        );
    }

    #[test]
    fn a_line_cut_before_a_restart_is_ignored_but_one_in_the_middle_is_an_error() {
        let cut = &WRITE[..150];
        let log = parse(&format!("{cut}\n{START}")).unwrap();
        assert_eq!(log.cut_lines, vec![1]);
        assert_eq!(log.entries.len(), 2);
        assert!(matches!(log.entries[0].kind, Kind::Cut { .. }));
        // At the very end of the file too.
        assert_eq!(parse(cut).unwrap().cut_lines, vec![1]);
        let e = parse(&format!("{cut}\n{WRITE}")).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("no complete JSON"), "{e}");
    }

    #[test]
    fn text_that_is_not_a_libvirtd_log_is_refused_at_its_first_line() {
        let e = parse("hello\nworld\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not a libvirtd log line"), "{e}");
    }

    #[test]
    fn relevant_lines_keep_continuations_and_the_copy_from_its_start() {
        let enter = "2026-12-02 03:31:35.000+0000: 1: debug : f:1 : Entering monitor (mon=0x7f16dc005a20 vm=0x1 name=rq)\n";
        let mirror = "2026-12-02 03:31:35.010+0000: 2: info : qemuMonitorIOWrite:366 : QEMU_MONITOR_IO_WRITE: mon=0x7f16dc005a20 buf={\"execute\":\"blockdev-mirror\",\"arguments\":{\"job-id\":\"copy-vda-libvirt-1-format\"},\"id\":\"libvirt-9\"}\r\n len=1 ret=1 errno=0\n";
        let reply = "2026-12-02 03:31:35.020+0000: 2: info : qemuMonitorJSONIOProcessLine:208 : QEMU_MONITOR_RECV_REPLY: mon=0x7f16dc005a20 reply={\"return\": {}, \"id\": \"libvirt-9\"}\n";
        let other = "2026-12-02 03:31:35.100+0000: 1: debug : f:1 : other\n";
        // Before the copy's start, job-complete is not kept; after it, it is.
        let text = format!("{other}{enter}{enter}{WRITE}{mirror}{reply}{WRITE}{START}");
        assert_eq!(relevant_lines(&text).unwrap(), vec![2, 6, 7, 8, 9, 10, 11]);
    }
}
