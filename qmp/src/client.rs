use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::QmpError;

/// How long [`Qmp::connect`] sleeps between attempts while QEMU has not yet created or
/// started listening on its socket. QEMU is usually ready within 25–80 ms of spawning.
const CONNECT_RETRY: Duration = Duration::from_millis(2);

/// The QEMU version from the QMP greeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
    /// The distribution's package version, e.g. `Debian 1:10.0.2+ds-2+deb13u1~bpo12+1`.
    #[serde(default)]
    pub package: String,
}

/// The parsed `{"QMP": {...}}` greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub version: QemuVersion,
    /// Capabilities QEMU offers (e.g. `oob`). We never enable any of them.
    pub capabilities: Vec<String>,
}

/// When QEMU emitted an event (host clock, from QEMU's side of the socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    pub seconds: i64,
    pub microseconds: i64,
}

/// An asynchronous QMP event such as `STOP` or `JOB_STATUS_CHANGE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event name, e.g. `BLOCK_JOB_READY`.
    pub event: String,
    /// The event's `data`, or `Null` for events without data (e.g. `STOP`).
    #[serde(default)]
    pub data: Value,
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

impl Event {
    /// A string field of `data`; most sync points key on one (`status`, `id`, `device`).
    pub fn data_str(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }
}

/// One decoded line from the server.
enum Message {
    Event(Event),
    Greeting(Value),
    /// `id` is `None` only when QEMU could not parse a request well enough to find its id.
    Reply {
        id: Option<Value>,
        result: Result<Value, QmpError>,
    },
}

/// A synchronous QMP connection in command mode.
///
/// One command is in flight at a time. Events that arrive while waiting for a reply or for
/// another event are kept, in arrival order, for [`Qmp::events`] and the `wait_event*`
/// methods, and every event is also recorded in a history for [`Qmp::take_history`],
/// because the harness needs complete traces even of events it consumed as sync points.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Bytes of a line not yet terminated by `\n`. It lives across calls so that a
    /// timeout in the middle of a line loses nothing.
    partial: Vec<u8>,
    greeting: Greeting,
    next_id: u64,
    queue: VecDeque<Event>,
    history: Vec<Event>,
    command_timeout: Duration,
}

impl Qmp {
    /// Connects to a QMP unix socket, reads the greeting and enters command mode.
    ///
    /// `timeout` bounds the whole handshake, including retries while the socket does not
    /// exist yet or refuses connections (QEMU still starting), and becomes the default
    /// reply timeout of [`Qmp::execute`].
    pub fn connect(path: impl AsRef<Path>, timeout: Duration) -> Result<Qmp, QmpError> {
        let path = path.as_ref();
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e)
                    if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) =>
                {
                    if Instant::now() >= deadline {
                        return Err(QmpError::Timeout);
                    }
                    std::thread::sleep(CONNECT_RETRY);
                }
                Err(e) => return Err(e.into()),
            }
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut qmp = Qmp::handshake(stream, remaining)?;
        qmp.command_timeout = timeout;
        Ok(qmp)
    }

    /// Like [`Qmp::connect`] but on an already connected stream (e.g. one end of a
    /// socketpair, or a file descriptor handed over by another process).
    pub fn from_stream(stream: UnixStream, timeout: Duration) -> Result<Qmp, QmpError> {
        Qmp::handshake(stream, timeout)
    }

    fn handshake(stream: UnixStream, timeout: Duration) -> Result<Qmp, QmpError> {
        let writer = stream.try_clone()?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
            partial: Vec::new(),
            greeting: Greeting {
                version: QemuVersion {
                    major: 0,
                    minor: 0,
                    micro: 0,
                    package: String::new(),
                },
                capabilities: Vec::new(),
            },
            next_id: 1,
            queue: VecDeque::new(),
            history: Vec::new(),
            command_timeout: timeout,
        };
        let deadline = Instant::now() + timeout;
        // A client that connects while QEMU is still starting up can receive events (seen:
        // the start-up RESUME) before the greeting; they are real events, so keep them.
        let greeting = loop {
            match qmp.read_message(Some(deadline))? {
                Message::Event(e) => qmp.queue.push_back(e),
                Message::Greeting(g) => break g,
                Message::Reply { .. } => {
                    return Err(QmpError::Protocol("a reply before the greeting".into()))
                }
            }
        };
        qmp.greeting = parse_greeting(&greeting)?;
        qmp.negotiate(deadline)?;
        Ok(qmp)
    }

    /// Enters command mode and makes sure QEMU stays there.
    ///
    /// When a client connects while QEMU 10.0 is still starting up, the monitor can see
    /// the connection "opened" twice (the accept and the handler set-up in the monitor I/O
    /// thread race), so it sends a second greeting and resets the session to negotiation
    /// mode, possibly after our `qmp_capabilities` was accepted. So negotiate, probe with
    /// `query-version`, and start over if another greeting came meanwhile or the probe was
    /// refused. Repeating `qmp_capabilities` in command mode merely gives an error.
    fn negotiate(&mut self, deadline: Instant) -> Result<(), QmpError> {
        const ATTEMPTS: usize = 5;
        for _ in 0..ATTEMPTS {
            let mut reset = false;
            let caps = self.send_command("qmp_capabilities", Value::Null)?;
            match self.wait_reply(caps, deadline, &mut reset) {
                Ok(_) => {}
                Err(QmpError::Command { class, .. }) if class == "CommandNotFound" => {}
                Err(e) => return Err(e),
            }
            let probe = self.send_command("query-version", Value::Null)?;
            match self.wait_reply(probe, deadline, &mut reset) {
                Ok(_) if !reset => return Ok(()),
                Ok(_) => {}
                Err(QmpError::Command { class, .. }) if class == "CommandNotFound" => {}
                Err(e) => return Err(e),
            }
        }
        Err(QmpError::Protocol(format!(
            "QEMU kept resetting the QMP session during {ATTEMPTS} negotiation attempts"
        )))
    }

    /// The greeting QEMU sent on connect.
    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    /// The QEMU version from the greeting.
    pub fn version(&self) -> &QemuVersion {
        &self.greeting.version
    }

    /// The reply timeout used by [`Qmp::execute`] (initially the `connect` timeout).
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    pub fn set_command_timeout(&mut self, timeout: Duration) {
        self.command_timeout = timeout;
    }

    /// Runs one QMP command and returns its `return` value.
    ///
    /// `args` must be a JSON object, or `Null` for a command without arguments. The
    /// command carries a fresh numeric `id`; replies with any other id are stale answers to
    /// commands that timed out earlier and are discarded. Events that arrive before the
    /// reply are queued.
    pub fn execute(&mut self, cmd: &str, args: Value) -> Result<Value, QmpError> {
        let id = self.send_command(cmd, args)?;
        let deadline = Instant::now() + self.command_timeout;
        let mut reset = false;
        let result = self.wait_reply(id, deadline, &mut reset);
        if reset {
            return Err(session_reset());
        }
        result
    }

    /// Sends a command with a fresh id and returns the id, without waiting for the reply:
    /// a libvirtd that dies right after writing a command is replayed this way. Collect
    /// the reply later with [`Qmp::wait_reply_to`], or never (close the connection).
    pub fn send_command(&mut self, cmd: &str, args: Value) -> Result<u64, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "execute": cmd, "id": id });
        match args {
            Value::Null => {}
            Value::Object(_) => msg["arguments"] = args,
            other => {
                return Err(QmpError::Protocol(format!(
                    "arguments of '{cmd}' must be a JSON object or null, got {other}"
                )))
            }
        }
        self.send(&msg)?;
        Ok(id)
    }

    /// Waits up to `timeout` for the reply to a command sent with [`Qmp::send_command`],
    /// queueing events that arrive meanwhile.
    pub fn wait_reply_to(&mut self, id: u64, timeout: Duration) -> Result<Value, QmpError> {
        let deadline = Instant::now() + timeout;
        let mut reset = false;
        let result = self.wait_reply(id, deadline, &mut reset);
        if reset {
            return Err(session_reset());
        }
        result
    }

    /// Waits for the reply to `id`, queueing events and skipping stale replies. A greeting
    /// seen meanwhile sets `reset` (QEMU went back to negotiation mode).
    fn wait_reply(
        &mut self,
        id: u64,
        deadline: Instant,
        reset: &mut bool,
    ) -> Result<Value, QmpError> {
        loop {
            match self.read_message(Some(deadline))? {
                Message::Event(e) => self.queue.push_back(e),
                Message::Greeting(_) => *reset = true,
                Message::Reply {
                    id: Some(got),
                    result,
                } if got == json!(id) => return result,
                // QEMU omits the id only if it could not parse our request at all; with one
                // request in flight, that error can only be about this command.
                Message::Reply { id: None, result } => return result,
                Message::Reply { .. } => {}
            }
        }
    }

    /// Runs an HMP command through `human-monitor-command` and returns its text output.
    ///
    /// Note that HMP `qemu-io` prints to QEMU's stdout, not into this reply; see
    /// [`crate::QemuProcess::qemu_io`].
    pub fn hmp(&mut self, command_line: &str) -> Result<String, QmpError> {
        let out = self.execute(
            "human-monitor-command",
            json!({ "command-line": command_line }),
        )?;
        match out {
            Value::String(s) => Ok(s),
            other => Err(QmpError::Protocol(format!(
                "human-monitor-command returned a non-string: {other}"
            ))),
        }
    }

    /// Takes every queued event, including those already received on the socket but not
    /// yet read. Never blocks. After the peer has gone away it still returns what arrived
    /// before (e.g. `SHUTDOWN` and the forced job cancel on `quit`); the disconnect itself
    /// is reported by the next `execute` or `wait_event*`.
    pub fn events(&mut self) -> Result<Vec<Event>, QmpError> {
        self.poll_nonblocking()?;
        Ok(self.queue.drain(..).collect())
    }

    /// Takes every event seen since the last call (or since connecting), in arrival
    /// order, including those already taken by [`Qmp::events`] or `wait_event*`.
    pub fn take_history(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.history)
    }

    /// Waits for the first event called `name`; see [`Qmp::wait_event_matching`].
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> Result<Event, QmpError> {
        self.wait_event_matching(|e| e.event == name, timeout)
    }

    /// Returns and removes the first event, queued or new, for which `pred` is true.
    ///
    /// Already queued events are searched first, so a sync point is not missed when its
    /// event arrived while an earlier command was running. Non-matching events stay queued
    /// in order. Gives [`QmpError::Timeout`] if no match arrives within `timeout`.
    pub fn wait_event_matching(
        &mut self,
        mut pred: impl FnMut(&Event) -> bool,
        timeout: Duration,
    ) -> Result<Event, QmpError> {
        let deadline = Instant::now() + timeout;
        if let Some(pos) = self.queue.iter().position(&mut pred) {
            return Ok(self.queue.remove(pos).expect("position is in range"));
        }
        loop {
            match self.read_message(Some(deadline))? {
                Message::Event(e) if pred(&e) => return Ok(e),
                Message::Event(e) => self.queue.push_back(e),
                Message::Greeting(_) => return Err(session_reset()),
                Message::Reply { .. } => {}
            }
        }
    }

    fn send(&mut self, msg: &Value) -> Result<(), QmpError> {
        let mut line = serde_json::to_vec(msg)?;
        line.push(b'\n');
        self.writer.set_write_timeout(Some(self.command_timeout))?;
        self.writer.write_all(&line).map_err(map_io)?;
        Ok(())
    }

    /// Reads everything already available without blocking, queueing events.
    fn poll_nonblocking(&mut self) -> Result<(), QmpError> {
        self.reader.get_ref().set_nonblocking(true)?;
        let result = loop {
            match self.read_message(None) {
                Ok(Message::Event(e)) => self.queue.push_back(e),
                Ok(Message::Greeting(_)) => break Err(session_reset()),
                Ok(Message::Reply { .. }) => {}
                Err(QmpError::Timeout | QmpError::Disconnected) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        // The flag is shared with the writer (same open file); always restore it.
        self.reader.get_ref().set_nonblocking(false)?;
        result
    }

    fn read_message(&mut self, deadline: Option<Instant>) -> Result<Message, QmpError> {
        let v = self.read_json(deadline)?;
        if v.get("event").is_some() {
            let e: Event = serde_json::from_value(v)?;
            self.history.push(e.clone());
            return Ok(Message::Event(e));
        }
        if v.get("QMP").is_some() {
            return Ok(Message::Greeting(v));
        }
        let id = v.get("id").cloned();
        if let Some(ret) = v.get("return") {
            return Ok(Message::Reply {
                id,
                result: Ok(ret.clone()),
            });
        }
        if let Some(err) = v.get("error") {
            let field = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            return Ok(Message::Reply {
                id,
                result: Err(QmpError::Command {
                    class: field("class"),
                    desc: field("desc"),
                }),
            });
        }
        Err(QmpError::Protocol(format!("unexpected message: {v}")))
    }

    /// Reads one non-empty line and parses it. `deadline: None` means the socket is in
    /// non-blocking mode and "would block" is reported as `Timeout`.
    fn read_json(&mut self, deadline: Option<Instant>) -> Result<Value, QmpError> {
        loop {
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(QmpError::Timeout);
                }
                self.reader.get_ref().set_read_timeout(Some(left))?;
            }
            // read_until keeps whatever it read before an error in `partial`, so a
            // timeout mid-line is harmless and the next call carries on.
            match self.reader.read_until(b'\n', &mut self.partial) {
                Ok(0) => return Err(QmpError::Disconnected),
                Ok(_) if self.partial.last() != Some(&b'\n') => return Err(QmpError::Disconnected),
                Ok(_) => {
                    let line = std::mem::take(&mut self.partial);
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Ok(serde_json::from_slice(&line)?);
                }
                // The kernel's receive timeout is coarser than `Instant` and a signal
                // can cut a read short, so "timed out" before the deadline reads again;
                // the check at the top decides when the deadline has really passed.
                Err(e)
                    if deadline.is_some()
                        && matches!(
                            e.kind(),
                            ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                        ) =>
                {
                    continue
                }
                Err(e) => return Err(map_io(e)),
            }
        }
    }
}

fn parse_greeting(v: &Value) -> Result<Greeting, QmpError> {
    let qmp = v
        .get("QMP")
        .ok_or_else(|| QmpError::Protocol(format!("expected a QMP greeting, got {v}")))?;
    let version = qmp
        .get("version")
        .and_then(|ver| {
            let mut q: QemuVersion = serde_json::from_value(ver.get("qemu")?.clone()).ok()?;
            q.package = ver
                .get("package")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_owned();
            Some(q)
        })
        .ok_or_else(|| QmpError::Protocol(format!("greeting without a QEMU version: {v}")))?;
    let capabilities = qmp
        .get("capabilities")
        .and_then(Value::as_array)
        .map(|caps| {
            caps.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Greeting {
        version,
        capabilities,
    })
}

/// A greeting after the handshake: QEMU dropped back to negotiation mode, so later
/// commands would be refused. Reported rather than papered over, since it should only
/// happen around start-up, which [`Qmp::negotiate`] already covers.
fn session_reset() -> QmpError {
    QmpError::Protocol("QEMU sent a second greeting and reset the QMP session".into())
}

fn map_io(e: io::Error) -> QmpError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => QmpError::Timeout,
        ErrorKind::BrokenPipe
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::NotConnected
        | ErrorKind::UnexpectedEof => QmpError::Disconnected,
        _ => QmpError::Io(e),
    }
}

#[cfg(test)]
mod tests;
